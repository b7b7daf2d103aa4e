//! The admin's half of the session: sign in, pick where the hub goes and what it is called,
//! create (or reuse) it with its devices and restricted policy, check that partners can reach
//! it, and put the resulting connection strings on the shelf.

use hubsetup_core::Cloud;
use hubsetup_identity::{
    sign_in, AzureCli, SignInMethod, SignInOptions, SystemBrowser, DEFAULT_TENANT,
};
use hubsetup_net::Network;
use hubsetup_provision::{
    suggested_region, Azure, Decide, HubChoice, HubFacts, HubInfo, NameCheck, Permissions,
    PolicyRequirements, Progress, ReachProblem, Records, Region, Request, ResourceGroup,
    Subscription, Tenant, Tier, TierFacts, OWN_CONSUMER_GROUP,
};
use serde::Serialize;
use ts_rs::TS;

use crate::flow::{HubPlan, WizardView};
use crate::session::{Session, SessionError};

pub(crate) fn failed(error: hubsetup_provision::Error) -> SessionError {
    SessionError {
        kind: error.kind().to_owned(),
        message: error.to_string(),
    }
}

/// The regions a subscription offers for IoT hubs, and whether it is registered for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct RegionList {
    pub registered: bool,
    pub regions: Vec<Region>,
    /// The region nearest the person (from the computer's time zone), to choose first.
    pub suggested: Option<String>,
}

/// A setting that stops partners from connecting, with what fixing it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ReachIssue {
    pub index: u32,
    pub problem: String,
    pub fix: String,
}

/// What creating (or reusing) the hub gave: the wizard, and problems to offer to fix.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct CreateOutcome {
    pub view: WizardView,
    pub hub: HubInfo,
    pub reach: Vec<ReachIssue>,
}

fn issues(problems: &[ReachProblem]) -> Vec<ReachIssue> {
    problems
        .iter()
        .enumerate()
        .map(|(index, p)| ReachIssue {
            index: index as u32,
            problem: p.to_string(),
            fix: p.fix().to_owned(),
        })
        .collect()
}

/// The questions provisioning may ask, answered on the wizard's own screens: the provider is
/// registered (with consent) on the Hub screen, and network fixes are offered after creation.
struct AnsweredOnScreens;

impl Decide for AnsweredOnScreens {
    fn register_provider(&self, _subscription_id: &str) -> bool {
        false
    }

    fn fix_reachability(&self, _hub: &HubInfo, _problems: &[ReachProblem]) -> Vec<ReachProblem> {
        Vec::new()
    }
}

impl Session {
    /// The chosen cloud.
    fn cloud(&self) -> Result<Cloud, SessionError> {
        match self.view().state.cloud.as_deref() {
            Some("sandbox") => self.sandbox_cloud(),
            Some(id) => Cloud::azure(id)
                .ok_or_else(|| SessionError::new("cloud", format!("Unknown cloud '{id}'."))),
            None => Err(SessionError::new("cloud", "Choose a cloud first.")),
        }
    }

    /// The chosen cloud, reached as every client reaches it.
    pub(crate) fn network(&self) -> Result<Network, SessionError> {
        crate::session::network_for(&self.cloud()?)
    }

    pub(crate) fn azure(&self) -> Result<Azure, SessionError> {
        self.azure
            .lock()
            .expect("azure lock")
            .clone()
            .ok_or_else(|| SessionError::new("sign_in", "Sign in first."))
    }

    fn report(&self, progress: Progress) {
        (self.reporter.lock().expect("reporter lock"))(progress);
    }

    /// Sign-in methods in order of preference; the Azure CLI only when it is installed.
    pub fn sign_in_methods(&self) -> Result<Vec<SignInMethod>, SessionError> {
        Ok(SignInMethod::offered(&self.cloud()?, &AzureCli::default()))
    }

    pub async fn sign_in(&self, method: SignInMethod) -> Result<WizardView, SessionError> {
        self.cancellable(self.sign_in_now(method, None)).await
    }

    /// Signs in again, with the same method, to another of the user's tenants; the Hub
    /// screen then starts from that tenant's subscriptions.
    pub async fn switch_tenant(&self, tenant: &Tenant) -> Result<WizardView, SessionError> {
        let method = self.azure()?.credential().method();
        self.cancellable(self.sign_in_now(method, Some(tenant)))
            .await?;
        self.update(|s| s.hub.subscription_id = None)?;
        Ok(self.view())
    }

    /// The tenants the user may sign in to, the guest ones marked.
    pub async fn tenants(&self) -> Result<Vec<Tenant>, SessionError> {
        let home = self.home_tenant.lock().expect("home tenant lock").clone();
        self.azure()?.tenants(home.as_deref()).await.map_err(failed)
    }

    async fn sign_in_now(
        &self,
        method: SignInMethod,
        tenant: Option<&Tenant>,
    ) -> Result<WizardView, SessionError> {
        let network = self.network()?;
        let reporter = self.reporter.lock().expect("reporter lock").clone();
        let options = SignInOptions {
            // The domain reads better than the ID in any message about the tenant.
            tenant: tenant.map_or(DEFAULT_TENANT.to_owned(), |t| {
                if t.default_domain.is_empty() {
                    t.id.clone()
                } else {
                    t.default_domain.clone()
                }
            }),
            ..SignInOptions::default()
        };
        let credential = sign_in(
            method,
            &network,
            &options,
            &AzureCli::default(),
            &SystemBrowser,
            &|step| reporter(step.into()),
        )
        .await
        .map_err(|e| failed(e.into()))?;
        if tenant.is_none() {
            // The account's own directory: a sign-in to `organizations` lands there.
            *self.home_tenant.lock().expect("home tenant lock") = credential.tenant().await;
        }
        let azure = Azure::new(&network, credential, reporter).map_err(failed)?;
        *self.azure.lock().expect("azure lock") = Some(azure);
        let account = match tenant {
            Some(t) if t.guest => {
                format!("Signed in with {} to {} (guest)", method.label(), t.name)
            }
            Some(t) => format!("Signed in with {} to {}", method.label(), t.name),
            None => format!("Signed in with {}", method.label()),
        };
        self.update(|s| s.signed_in(account))?;
        Ok(self.view())
    }

    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, SessionError> {
        self.azure()?.subscriptions().await.map_err(failed)
    }

    pub async fn resource_groups(
        &self,
        subscription: &str,
    ) -> Result<Vec<ResourceGroup>, SessionError> {
        self.azure()?
            .resource_groups(subscription)
            .await
            .map_err(failed)
    }

    pub async fn regions(&self, subscription: &str) -> Result<RegionList, SessionError> {
        let (registered, regions) = self
            .azure()?
            .iot_hub_provider(subscription)
            .await
            .map_err(failed)?;
        Ok(RegionList {
            registered,
            suggested: suggested_region(&regions).map(|r| r.name.clone()),
            regions,
        })
    }

    /// Registers the subscription for IoT Hub; only called after the person agreed.
    pub async fn register_provider(&self, subscription: &str) -> Result<RegionList, SessionError> {
        self.azure()?
            .register_iot_hub_provider(subscription)
            .await
            .map_err(failed)?;
        self.regions(subscription).await
    }

    pub async fn hubs(&self, subscription: &str) -> Result<Vec<HubInfo>, SessionError> {
        self.azure()?.hubs(subscription).await.map_err(failed)
    }

    pub async fn check_hub_name(
        &self,
        subscription: &str,
        name: &str,
    ) -> Result<NameCheck, SessionError> {
        self.azure()?
            .check_hub_name(subscription, name)
            .await
            .map_err(failed)
    }

    /// What an admin decides a reuse by: the hub's devices, quota use, tiers and consumer groups.
    pub async fn hub_facts(
        &self,
        subscription: &str,
        name: &str,
    ) -> Result<HubFacts, SessionError> {
        let azure = self.azure()?;
        let hub = azure.find_hub(subscription, name).await.map_err(failed)?;
        azure.hub_facts(&hub).await.map_err(failed)
    }

    /// The regions and tags Azure Policy requires of a new hub in `group`.
    pub async fn policy_requirements(
        &self,
        subscription: &str,
        group: &str,
    ) -> Result<PolicyRequirements, SessionError> {
        Ok(self.azure()?.policy_requirements(subscription, group).await)
    }

    /// What the user may do in the subscription and (an existing) resource group, before
    /// anything else is asked of them there.
    pub async fn permissions(
        &self,
        subscription: &str,
        resource_group: Option<&str>,
    ) -> Result<Permissions, SessionError> {
        self.azure()?
            .permissions(subscription, resource_group)
            .await
            .map_err(failed)
    }

    /// Every tier with the facts that decide between them.
    pub fn tiers(&self) -> Vec<TierFacts> {
        Tier::ALL.into_iter().map(Tier::facts).collect()
    }

    /// Records the person's choices for the hub, devices and policy.
    pub fn plan(
        &self,
        hub: HubPlan,
        devices: Vec<String>,
        policy: Option<String>,
    ) -> Result<WizardView, SessionError> {
        self.update(|s| {
            s.hub = hub;
            s.devices = devices
                .into_iter()
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty())
                .collect();
            s.policy = policy.filter(|p| !p.trim().is_empty());
        })?;
        Ok(self.view())
    }

    /// Creates the hub (or follows a creation already under way, or reuses it), then its
    /// devices and policy, whose connection strings go on the shelf. Cancellable, and safe to
    /// run again after a cancel or a crash.
    pub async fn create(&self) -> Result<CreateOutcome, SessionError> {
        self.cancellable(self.create_now()).await
    }

    async fn create_now(&self) -> Result<CreateOutcome, SessionError> {
        let azure = self.azure()?;
        let state = self.view().state;
        let plan = &state.hub;
        let missing = |what: &str| SessionError::new("plan", format!("Choose {what} first."));
        let subscription_id = plan
            .subscription_id
            .clone()
            .ok_or_else(|| missing("a subscription"))?;
        let name = plan.name.clone().ok_or_else(|| missing("a hub name"))?;
        let hub = if plan.reuse {
            HubChoice::Existing { name }
        } else {
            HubChoice::New {
                resource_group: plan
                    .resource_group
                    .clone()
                    .ok_or_else(|| missing("a resource group"))?,
                create_resource_group: true,
                name,
                region: plan.region.clone().ok_or_else(|| missing("a region"))?,
                tier: Tier::parse(&plan.sku).map_err(failed)?,
                units: plan.units,
                tags: plan.tags.clone(),
            }
        };
        let request = Request {
            subscription_id,
            hub,
            devices: state.devices.clone(),
            policy: state.policy.clone(),
            consumer_group: plan.consumer_group.then(|| OWN_CONSUMER_GROUP.to_owned()),
        };
        let records = Records::new(self.state_dir.join("creations"));
        let outcome = azure
            .provision(&request, &records, &AnsweredOnScreens)
            .await
            .map_err(failed)?;
        for device in outcome.devices {
            self.shelve(device.connection_string, None)?;
        }
        if let Some(policy) = outcome.policy {
            self.shelve(policy.connection_string, None)?;
        }
        let hub = azure
            .find_hub(&request.subscription_id, &outcome.summary.hub.name)
            .await
            .map_err(failed)?;
        let problems = outcome.summary.reachability.remaining;
        let id = hub.id.clone();
        let own_group = outcome.summary.consumer_group.map(|_| hub.name.clone());
        self.update(|s| {
            s.hub_id = Some(id);
            s.own_consumer_group = own_group;
        })?;
        *self.created_hub.lock().expect("hub lock") = Some((hub.clone(), problems.clone()));
        self.keep_now(&azure, &hub).await?;
        Ok(CreateOutcome {
            view: self.view(),
            hub,
            reach: issues(&problems),
        })
    }

    /// Fixes the reachability problems the person agreed to (by index), changing nothing
    /// else, and returns what remains.
    pub async fn fix_reach(&self, agreed: &[u32]) -> Result<Vec<ReachIssue>, SessionError> {
        let azure = self.azure()?;
        let (hub, problems) = self
            .created_hub
            .lock()
            .expect("hub lock")
            .clone()
            .ok_or_else(|| SessionError::new("plan", "Create or choose the hub first."))?;
        let chosen: Vec<ReachProblem> = problems
            .iter()
            .enumerate()
            .filter(|(i, _)| agreed.contains(&(*i as u32)))
            .map(|(_, p)| p.clone())
            .collect();
        self.report(Progress::UpdatingHub {
            hub: hub.name.clone(),
            change: "network settings".into(),
            attempt: 1,
        });
        azure
            .fix_reachability(&hub, &chosen)
            .await
            .map_err(failed)?;
        let remaining = azure.reachability(&hub).await.map_err(failed)?;
        *self.created_hub.lock().expect("hub lock") = Some((hub, remaining.clone()));
        Ok(issues(&remaining))
    }

    /// Stops the sign-in wait, hub creation or live test under way. Azure keeps creating a hub
    /// whose request was sent; running Create again follows it instead of creating another.
    pub fn cancel(&self) {
        self.cancel.notify_waiters();
    }

    pub(crate) async fn cancellable<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, SessionError>>,
    ) -> Result<T, SessionError> {
        tokio::select! {
            outcome = work => outcome,
            () = self.cancel.notified() => Err(SessionError::new("cancelled", "Cancelled. Nothing was lost: start again when you are ready.")),
        }
    }

    /// Where progress events go (the desktop app forwards them to the webview).
    pub fn set_reporter(&self, reporter: hubsetup_provision::Reporter) {
        *self.reporter.lock().expect("reporter lock") = reporter;
    }
}
