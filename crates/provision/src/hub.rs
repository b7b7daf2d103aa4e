//! Creating a hub and changing its settings, both long-running on Azure's side.
//!
//! Creation always reads before it writes: the hub's current state on Azure decides whether
//! to send the create request, follow a creation already under way (after a restart, through
//! the [`Records`]), or report the hub ready. The create request itself is never repeated
//! blindly; after any failure the next step is another read.
//!
//! Updates follow Azure's rule that PUT replaces the whole hub: read the hub and its keys, change
//! only what is asked, send everything back with `If-Match`, and start over when someone else
//! changed the hub meanwhile (412).

use std::collections::BTreeMap;

use std::time::Duration;

use hubsetup_core::SharedAccessKey;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};
use zeroize::Zeroize;

use crate::arm::{secret_body, ArmFailure, Azure, IOTHUB_API};
use crate::catalog::{hub_path, sentence, HubInfo, NameCheck, NAME_TAKEN};
use crate::http::{backoff, wait, Repeat, MAX_ATTEMPTS};
use crate::progress::Progress;
use crate::record::{now_secs, CreationRecord, Records};
use crate::tier::Tier;
use crate::Error;

/// How often to look at a busy hub when Azure did not say.
const DEFAULT_POLL: Duration = Duration::from_secs(10);
/// Read-only properties of a hub that a PUT should not carry back.
const READ_ONLY_PROPERTIES: &[&str] = &["provisioningState", "state", "hostName", "locations"];

/// A hub to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewHub {
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
    pub location: String,
    pub tier: Tier,
    pub units: u32,
    /// Tags besides IoT Hub Setup's own `created-by`.
    pub tags: BTreeMap<String, String>,
}

/// The hub after [`Azure::create_hub`]: `created` is false when it already existed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HubCreation {
    pub hub: HubInfo,
    pub created: bool,
}

/// A shared access policy with its keys, as `listkeys` gives it.
#[derive(Debug, Clone)]
pub(crate) struct PolicyKeys {
    pub(crate) name: String,
    pub(crate) rights: String,
    pub(crate) primary: SharedAccessKey,
}

impl PolicyKeys {
    pub(crate) fn has_right(&self, right: &str) -> bool {
        self.rights.split(',').any(|r| r.trim() == right)
    }
}

/// Zeroizes every key string in a JSON value (listkeys answers, PUT bodies) before it is
/// dropped, since `serde_json` strings are not zeroized on their own.
pub(crate) fn scrub_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, item) in map.iter_mut() {
                match item {
                    Value::String(text) if name == "primaryKey" || name == "secondaryKey" => {
                        text.zeroize()
                    }
                    other => scrub_keys(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub_keys),
        _ => {}
    }
}

/// The hub as a PUT body: what GET returned, minus read-only parts, with every policy's keys
/// (so no policy is re-keyed).
fn put_body(mut hub: Value, policies: Value) -> Value {
    if let Some(object) = hub.as_object_mut() {
        for read_only in ["id", "name", "type", "systemData"] {
            object.remove(read_only);
        }
    }
    if let Some(properties) = hub.get_mut("properties").and_then(Value::as_object_mut) {
        for read_only in READ_ONLY_PROPERTIES {
            properties.remove(*read_only);
        }
        if let Some(endpoints) = properties
            .get_mut("eventHubEndpoints")
            .and_then(Value::as_object_mut)
        {
            for endpoint in endpoints.values_mut().filter_map(Value::as_object_mut) {
                for read_only in ["partitionIds", "path", "endpoint"] {
                    endpoint.remove(read_only);
                }
            }
        }
        properties.insert("authorizationPolicies".into(), policies);
    }
    hub
}

/// A long-running operation on a hub to follow until it ends.
struct Operation {
    url: String,
    hub: String,
    subscription: String,
    /// Seconds since the epoch, for the elapsed time shown.
    started_at: u64,
    poll: Duration,
}

impl Operation {
    fn of(record: &CreationRecord) -> Option<Operation> {
        Some(Operation {
            url: record.operation_url.clone()?,
            hub: record.hub_name.clone(),
            subscription: record.subscription_id.clone(),
            started_at: record.started_at,
            poll: Duration::from_secs(record.poll_secs),
        })
    }
}

fn is_settled(provisioning_state: &str) -> bool {
    ["Succeeded", "Failed", "Canceled"].contains(&provisioning_state)
}

impl Azure {
    /// The hub `name` in a subscription's group, as JSON with its etag, or `None`.
    pub(crate) async fn get_hub_json(
        &self,
        subscription: &str,
        group: &str,
        name: &str,
    ) -> Result<Option<Value>, Error> {
        let url = self.url(&hub_path(subscription, group, name), IOTHUB_API);
        let answer = self
            .call(Method::GET, &url, None, None, Repeat::Safe)
            .await?;
        match answer.status {
            StatusCode::NOT_FOUND => match ArmFailure::of(&answer).code.as_str() {
                "ResourceGroupNotFound" => Err(Error::ResourceGroupNotFound {
                    subscription: subscription.to_owned(),
                    group: group.to_owned(),
                }),
                _ => Ok(None),
            },
            status if status.is_success() => answer.json().map(Some),
            _ => Err(self.explain(ArmFailure::of(&answer), subscription).await),
        }
    }

    /// Creates the hub, or finds it already created or being created and follows it until it
    /// is ready. Safe to call again after a crash or cancellation at any point.
    pub async fn create_hub(&self, new: &NewHub, records: &Records) -> Result<HubCreation, Error> {
        let (sub, group, name) = (&new.subscription_id, &new.resource_group, &new.name);
        let mut started_here = false;
        let mut failures = 0;
        loop {
            if let Some(json) = self.get_hub_json(sub, group, name).await? {
                let hub = HubInfo::from_json(&json)?;
                let record = records.load(name)?;
                match hub.provisioning_state.as_str() {
                    "Succeeded" => {
                        records.remove(name)?;
                        self.report(Progress::HubReady {
                            hub: hub.name.clone(),
                        });
                        let created = started_here || record.is_some();
                        return Ok(HubCreation { hub, created });
                    }
                    "Failed" | "Canceled" => {
                        records.remove(name)?;
                        return Err(Error::HubCreationFailed {
                            hub: hub.name,
                            detail: format!(
                                "Azure reports its creation as {}",
                                hub.provisioning_state
                            ),
                        });
                    }
                    state => match record.as_ref().and_then(Operation::of) {
                        Some(operation) => self.follow_operation(&operation).await?,
                        None => {
                            self.report(Progress::HubProvisioning {
                                hub: hub.name.clone(),
                                status: state.to_owned(),
                                elapsed_secs: record.map_or(0, |r| r.seconds_since_start()),
                            });
                            tokio::time::sleep(DEFAULT_POLL).await;
                        }
                    },
                }
                continue;
            }
            self.refuse_unusable_name(sub, name).await?;
            if new.tier == Tier::F1 {
                self.refuse_second_free_hub(sub).await?;
            }
            let mut record = CreationRecord {
                subscription_id: sub.clone(),
                resource_group: group.clone(),
                hub_name: name.clone(),
                location: new.location.clone(),
                sku: new.tier.name().to_owned(),
                units: new.units,
                started_at: now_secs(),
                operation_url: None,
                poll_secs: DEFAULT_POLL.as_secs(),
            };
            records.save(&record)?;
            let mut tags = new.tags.clone();
            tags.insert("created-by".to_owned(), "IoT Hub Setup".to_owned());
            let body = json!({
                "location": new.location,
                "sku": { "name": new.tier.name(), "capacity": new.units },
                "properties": {},
                "tags": tags,
            });
            let body = serde_json::to_vec(&body).unwrap_or_default();
            let url = self.url(&hub_path(sub, group, name), IOTHUB_API);
            self.report(Progress::CreatingHub { hub: name.clone() });
            let sent = self
                .call(Method::PUT, &url, Some(&body), None, Repeat::Never)
                .await;
            let answer = match sent {
                Err(Error::Network(_)) if failures < MAX_ATTEMPTS => {
                    failures += 1;
                    let reason = format!("The connection was lost while asking Azure to create '{name}'; checking whether it arrived.");
                    wait(self.reporter(), reason, backoff(failures)).await;
                    continue;
                }
                other => other?,
            };
            match answer.status.as_u16() {
                200 | 201 => {
                    started_here = true;
                    record.operation_url = answer.header("azure-asyncoperation").map(str::to_owned);
                    if let Some(poll) = answer.retry_after() {
                        record.poll_secs = poll.as_secs();
                    }
                    records.save(&record)?;
                    if let Some(operation) = Operation::of(&record) {
                        self.follow_operation(&operation).await?;
                    }
                }
                // Created meanwhile (by an earlier request of ours that seemed lost): read it.
                412 => {}
                _ if answer.is_transient() && failures < MAX_ATTEMPTS => {
                    failures += 1;
                    let delay = answer.retry_after().unwrap_or_else(|| backoff(failures));
                    let reason = format!(
                        "Azure is busy (HTTP {}); checking the hub before asking again.",
                        answer.status.as_u16()
                    );
                    wait(self.reporter(), reason, delay).await;
                }
                _ => {
                    records.remove(name)?;
                    let failure = ArmFailure::of(&answer);
                    return Err(match failure.code.as_str() {
                        "IotHubNameNotAvailable" => Error::HubNameUnavailable {
                            name: name.clone(),
                            reason: NAME_TAKEN.to_owned(),
                        },
                        "InvalidIotHubName" => Error::HubNameUnavailable {
                            name: name.clone(),
                            reason: sentence(&failure.message),
                        },
                        _ => self.explain(failure, sub).await,
                    });
                }
            }
        }
    }

    /// Refuses a name Azure would refuse, with the reason `checkNameAvailability` gives.
    pub(crate) async fn refuse_unusable_name(
        &self,
        subscription: &str,
        name: &str,
    ) -> Result<(), Error> {
        match self.check_hub_name(subscription, name).await? {
            NameCheck {
                available: false,
                reason,
            } => Err(Error::HubNameUnavailable {
                name: name.to_owned(),
                reason: reason.unwrap_or_else(|| "Azure does not accept it.".to_owned()),
            }),
            NameCheck { .. } => Ok(()),
        }
    }

    /// Refuses a second free hub in a subscription, naming the one it has.
    pub(crate) async fn refuse_second_free_hub(&self, subscription: &str) -> Result<(), Error> {
        let hubs = self.hubs(subscription).await?;
        match hubs.iter().find(|h| h.sku == Tier::F1.name()) {
            Some(free) => Err(Error::FreeHubLimit {
                existing: format!(", '{}' (resource group {})", free.name, free.resource_group),
            }),
            None => Ok(()),
        }
    }

    /// Polls an `Azure-AsyncOperation` until it ends, reporting as it goes.
    async fn follow_operation(&self, operation: &Operation) -> Result<(), Error> {
        loop {
            let answer = self
                .call(Method::GET, &operation.url, None, None, Repeat::Safe)
                .await?;
            if answer.status == StatusCode::NOT_FOUND {
                // The operation is gone (kept only for a while): the hub's own state tells.
                return Ok(());
            }
            if !answer.status.is_success() {
                return Err(self
                    .explain(ArmFailure::of(&answer), &operation.subscription)
                    .await);
            }
            let result = answer.json()?;
            let status = result
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("Running");
            match status {
                "Succeeded" => return Ok(()),
                "Failed" | "Canceled" => {
                    let detail = result
                        .pointer("/error/message")
                        .and_then(Value::as_str)
                        .unwrap_or(status)
                        .to_owned();
                    return Err(Error::HubCreationFailed {
                        hub: operation.hub.clone(),
                        detail,
                    });
                }
                _ => {
                    self.report(Progress::HubProvisioning {
                        hub: operation.hub.clone(),
                        status: status.to_owned(),
                        elapsed_secs: now_secs().saturating_sub(operation.started_at),
                    });
                    tokio::time::sleep(answer.retry_after().unwrap_or(operation.poll)).await;
                }
            }
        }
    }

    /// The hub's shared access policies with their keys.
    pub(crate) async fn list_keys(&self, hub: &HubInfo) -> Result<Vec<PolicyKeys>, Error> {
        let mut listed = self.list_keys_json(hub).await?;
        let policies = listed
            .as_array()
            .map(|items| items.iter().filter_map(policy_keys).collect())
            .unwrap_or_default();
        scrub_keys(&mut listed);
        Ok(policies)
    }

    /// The `value` list of `listkeys`, keys included: scrub it when done.
    pub(crate) async fn list_keys_json(&self, hub: &HubInfo) -> Result<Value, Error> {
        let url = self.url(&format!("{}/listkeys", hub.path()), IOTHUB_API);
        // listkeys is a read, safe to repeat.
        let answer = self
            .call(Method::POST, &url, None, None, Repeat::Safe)
            .await?;
        if !answer.status.is_success() {
            return Err(self
                .explain(ArmFailure::of(&answer), &hub.subscription_id)
                .await);
        }
        let mut page = answer.json()?;
        let list = page.get_mut("value").map(Value::take).unwrap_or(json!([]));
        scrub_keys(&mut page);
        Ok(list)
    }

    /// The hub's resource as Azure has it now; a hub deleted meanwhile is an error.
    pub(crate) async fn current_hub_json(&self, hub: &HubInfo) -> Result<Value, Error> {
        self.get_hub_json(&hub.subscription_id, &hub.resource_group, &hub.name)
            .await?
            .ok_or_else(|| Error::HubNotFound {
                name: hub.name.clone(),
                subscription: hub.subscription_id.clone(),
            })
    }

    /// Reads the hub until no creation or update is running on it.
    async fn settled_hub_json(&self, hub: &HubInfo) -> Result<Value, Error> {
        loop {
            let json = self.current_hub_json(hub).await?;
            let state = HubInfo::from_json(&json)?.provisioning_state;
            if is_settled(&state) {
                return Ok(json);
            }
            self.report(Progress::HubProvisioning {
                hub: hub.name.clone(),
                status: state,
                elapsed_secs: 0,
            });
            tokio::time::sleep(DEFAULT_POLL).await;
        }
    }

    /// Changes the hub's settings with `change`, which edits a PUT body and says whether it
    /// changed anything (so a change that already happened is not sent again). Returns
    /// whether a change was sent.
    pub(crate) async fn update_hub(
        &self,
        hub: &HubInfo,
        description: &str,
        change: impl Fn(&mut Value) -> bool,
    ) -> Result<bool, Error> {
        let url = self.url(&hub.path(), IOTHUB_API);
        for attempt in 1..=MAX_ATTEMPTS {
            let current = self.settled_hub_json(hub).await?;
            let etag = current
                .get("etag")
                .and_then(Value::as_str)
                .map(|e| format!("\"{}\"", e.trim_matches('"')))
                .ok_or_else(|| Error::UnexpectedAnswer {
                    what: "a hub without an etag".to_owned(),
                })?;
            let mut body = put_body(current, self.list_keys_json(hub).await?);
            let changed = change(&mut body);
            let bytes = secret_body(&body);
            scrub_keys(&mut body);
            if !changed {
                return Ok(false);
            }
            self.report(Progress::UpdatingHub {
                hub: hub.name.clone(),
                change: description.to_owned(),
                attempt,
            });
            let answer = match self
                .call(Method::PUT, &url, Some(&bytes), Some(&etag), Repeat::Never)
                .await
            {
                Err(Error::Network(_)) => {
                    let reason =
                        "The connection was lost while updating the hub; reading it again."
                            .to_owned();
                    wait(self.reporter(), reason, backoff(attempt)).await;
                    continue;
                }
                other => other?,
            };
            match answer.status.as_u16() {
                200 | 201 => {
                    if let Some(url) = answer.header("azure-asyncoperation") {
                        let operation = Operation {
                            url: url.to_owned(),
                            hub: hub.name.clone(),
                            subscription: hub.subscription_id.clone(),
                            started_at: now_secs(),
                            poll: answer.retry_after().unwrap_or(DEFAULT_POLL),
                        };
                        self.follow_operation(&operation).await?;
                    }
                    self.settled_hub_json(hub).await?;
                    return Ok(true);
                }
                412 => {
                    let reason = "The hub was changed by someone else meanwhile; reading it again."
                        .to_owned();
                    wait(self.reporter(), reason, Duration::ZERO).await;
                }
                409 => {
                    let reason =
                        "Another change to the hub is still running; waiting for it.".to_owned();
                    wait(
                        self.reporter(),
                        reason,
                        answer.retry_after().unwrap_or(DEFAULT_POLL),
                    )
                    .await;
                }
                _ if answer.is_transient() => {
                    let reason = format!("Azure is busy (HTTP {}).", answer.status.as_u16());
                    let delay = answer.retry_after().unwrap_or_else(|| backoff(attempt));
                    wait(self.reporter(), reason, delay).await;
                }
                _ => {
                    return Err(self
                        .explain(ArmFailure::of(&answer), &hub.subscription_id)
                        .await)
                }
            }
        }
        Err(Error::HubKeptChanging {
            hub: hub.name.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }
}

fn policy_keys(item: &Value) -> Option<PolicyKeys> {
    let text = |field: &str| item.get(field).and_then(Value::as_str);
    Some(PolicyKeys {
        name: text("keyName")?.to_owned(),
        rights: text("rights").unwrap_or_default().to_owned(),
        primary: SharedAccessKey::from_base64(text("primaryKey")?).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_body_drops_read_only_parts_and_carries_keys() {
        let hub = json!({
            "id": "/x", "name": "h", "type": "Microsoft.Devices/IotHubs", "etag": "AAA",
            "location": "westeurope", "sku": { "name": "S1", "capacity": 1 }, "tags": {},
            "properties": {
                "provisioningState": "Succeeded", "state": "Active", "hostName": "h.azure-devices.net",
                "publicNetworkAccess": "Enabled",
                "eventHubEndpoints": { "events": { "retentionTimeInDays": 1, "partitionCount": 4, "partitionIds": ["0"], "path": "h", "endpoint": "sb://x/" } },
            }
        });
        let policies = json!([{ "keyName": "iothubowner", "primaryKey": "k1", "secondaryKey": "k2", "rights": "RegistryWrite" }]);
        let mut body = put_body(hub, policies);
        assert_eq!(
            body,
            json!({
                "etag": "AAA", "location": "westeurope", "sku": { "name": "S1", "capacity": 1 }, "tags": {},
                "properties": {
                    "publicNetworkAccess": "Enabled",
                    "eventHubEndpoints": { "events": { "retentionTimeInDays": 1, "partitionCount": 4 } },
                    "authorizationPolicies": [{ "keyName": "iothubowner", "primaryKey": "k1", "secondaryKey": "k2", "rights": "RegistryWrite" }],
                }
            })
        );
        scrub_keys(&mut body);
        assert_eq!(
            body.pointer("/properties/authorizationPolicies/0/primaryKey"),
            Some(&json!(""))
        );
        assert_eq!(
            body.pointer("/properties/authorizationPolicies/0/keyName"),
            Some(&json!("iothubowner"))
        );
    }
}
