//! `hubsetup provision`: create or reuse an IoT hub, its device entries and optionally the
//! restricted policy, then print a summary (and, if asked, the connection strings). Choices
//! not given as flags are asked on a terminal; without one, missing choices are errors.

use std::path::PathBuf;

use hubsetup_provision::{
    check_policy_name, suggested_region, Azure, Decide, HubChoice, HubInfo, ReachProblem, Records,
    Request, Tier, DEFAULT_DEVICE_ID, DEFAULT_POLICY_NAME, OWN_CONSUMER_GROUP,
};

use crate::cloud_args::CloudArgs;
use crate::login::{cli_error, progress_printer, session, SignInArgs};
use crate::runtime::Load;
use crate::{prompt, CliError};

mod report;
use report::report;

/// Create or reuse an IoT hub, its devices and (optionally) a restricted policy.
///
/// Prints a summary with resource IDs and no secret. Connection strings are shown masked
/// unless --reveal is given; --save-to-vault keeps them in the OS keychain.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The subscription ID.
    #[arg(long)]
    subscription: Option<String>,
    /// The name of the hub to create.
    #[arg(long, conflicts_with = "existing_hub")]
    hub: Option<String>,
    /// Reuse this existing hub instead of creating one.
    #[arg(long, value_name = "NAME")]
    existing_hub: Option<String>,
    /// The resource group of the new hub.
    #[arg(long, value_name = "NAME")]
    resource_group: Option<String>,
    /// Create the resource group (in --region) if it does not exist.
    #[arg(long)]
    create_resource_group: bool,
    /// The region of the new hub, e.g. westeurope.
    #[arg(long)]
    region: Option<String>,
    /// The tier of the new hub: F1 (free), B1-B3 (basic), S1-S3 (standard). Default S1.
    #[arg(long)]
    tier: Option<String>,
    /// The number of units of the new hub. Default 1.
    #[arg(long)]
    units: Option<u32>,
    /// A tag for the new hub, KEY=VALUE (repeatable), besides those it inherits from its
    /// resource group; Azure Policy may require some.
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    /// A device ID to create or reuse; repeat for several. Default: io.microshare.contact.unpacked.event.
    #[arg(long = "device", value_name = "ID")]
    devices: Vec<String>,
    /// Add a policy with exactly RegistryRead, RegistryWrite and DeviceConnect (NAME defaults
    /// to partner-registry).
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = DEFAULT_POLICY_NAME)]
    policy: Option<String>,
    /// Add a consumer group for reading the hub's messages without disturbing its other readers
    /// (NAME defaults to hubsetup-watch, the one `hubsetup watch --hub` uses).
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = OWN_CONSUMER_GROUP)]
    consumer_group: Option<String>,
    /// Register the Microsoft.Devices resource provider if the subscription needs it, without asking.
    #[arg(long)]
    register_provider: bool,
    /// Fix hub settings that stop partners from connecting, without asking.
    #[arg(long)]
    fix_network: bool,
    /// Print what would be created or changed, and change nothing.
    #[arg(long)]
    plan: bool,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// Also write the equivalent `az` commands to FILE.
    #[arg(long, value_name = "FILE")]
    az_commands: Option<PathBuf>,
    /// Also write an ARM template of the hub to FILE.
    #[arg(long, value_name = "FILE")]
    arm_template: Option<PathBuf>,
    /// Also write a Terraform configuration (azurerm provider) of what was made to FILE.
    #[arg(long, value_name = "FILE")]
    terraform: Option<PathBuf>,
    /// Print the connection strings and policy key in clear text.
    #[arg(long)]
    reveal: bool,
    /// Save the connection strings in the OS keychain (see `hubsetup vault`).
    #[arg(long)]
    save_to_vault: bool,
    /// Where hub creations in progress are recorded, to resume them after an interruption
    /// (default: the app's config folder).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    #[command(flatten)]
    keep: crate::keep::KeepArgs,
    #[command(flatten)]
    sign_in: SignInArgs,
    #[command(flatten)]
    cloud: CloudArgs,
}

/// Answers provisioning's questions from the flags, or by asking on a terminal.
struct Answers {
    register: bool,
    fix: bool,
    interactive: bool,
}

impl Decide for Answers {
    fn register_provider(&self, subscription_id: &str) -> bool {
        eprintln!(
            "Subscription {subscription_id} is not yet registered for IoT Hub (resource provider \
             Microsoft.Devices). Registering is a one-time step that costs nothing."
        );
        self.register
            || (self.interactive && prompt::confirm("Register it now?", true).unwrap_or(false))
    }

    fn fix_reachability(&self, hub: &HubInfo, problems: &[ReachProblem]) -> Vec<ReachProblem> {
        eprintln!(
            "Hub {} has settings that stop partners' devices from connecting:",
            hub.name
        );
        for problem in problems {
            eprintln!("  ✗ {problem}");
        }
        if self.fix {
            return problems.to_vec();
        }
        if !self.interactive {
            eprintln!("Nothing was changed; run again with --fix-network to fix them.");
            return vec![];
        }
        problems
            .iter()
            .filter(|p| prompt::confirm(&format!("{} Fix it?", p.fix()), true).unwrap_or(false))
            .cloned()
            .collect()
    }
}

pub fn run(args: Args) -> Result<(), CliError> {
    let interactive = prompt::interactive();
    check_flags(&args, interactive)?;
    crate::runtime::start(Load::Heavy)?.block_on(async {
        let azure = session(&args.sign_in, &args.cloud, &progress_printer()).await?;
        let request = complete_request(&azure, &args, interactive).await?;
        if args.plan {
            let summary = azure.plan(&request).await.map_err(cli_error)?;
            return report(&args, &summary, None, None);
        }
        let records = Records::new(state_dir(&args)?);
        for pending in records.pending().map_err(cli_error)? {
            if pending.hub_name.eq_ignore_ascii_case(request.hub.name()) {
                eprintln!(
                    "Resuming the creation of hub {} started earlier.",
                    pending.hub_name
                );
            }
        }
        let answers = Answers {
            register: args.register_provider,
            fix: args.fix_network,
            interactive,
        };
        let outcome = azure
            .provision(&request, &records, &answers)
            .await
            .map_err(cli_error)?;
        let first_device = outcome.devices.first().map(|d| &d.connection_string);
        let kept = crate::keep::run(&azure, &args.keep, &request, first_device).await?;
        report(&args, &outcome.summary, Some(&outcome), kept.as_ref())
    })
}

/// Refuses, before signing in, flags that are wrong or missing without a terminal to ask.
fn check_flags(args: &Args, interactive: bool) -> Result<(), CliError> {
    if let Some(tier) = &args.tier {
        let tier = Tier::parse(tier).map_err(cli_error)?;
        tier.check_units(args.units.unwrap_or(1))
            .map_err(cli_error)?;
    }
    if let Some(policy) = &args.policy {
        check_policy_name(policy).map_err(cli_error)?;
    }
    if interactive {
        return Ok(());
    }
    let mut missing = Vec::new();
    if args.subscription.is_none() {
        missing.push("--subscription ID (list them with `hubsetup login`)");
    }
    if args.hub.is_none() && args.existing_hub.is_none() {
        missing.push("--hub NAME to create a hub, or --existing-hub NAME to reuse one");
    }
    if args.hub.is_some() && args.resource_group.is_none() {
        missing.push("--resource-group NAME");
    }
    if args.hub.is_some() && args.region.is_none() {
        missing.push("--region (e.g. westeurope)");
    }
    match missing.is_empty() {
        true => Ok(()),
        false => Err(CliError::BadInput(format!(
            "Without a terminal to ask on, these choices must be given: {}.",
            missing.join("; ")
        ))),
    }
}

/// The request from the flags, with the rest asked on the terminal.
async fn complete_request(
    azure: &Azure,
    args: &Args,
    interactive: bool,
) -> Result<Request, CliError> {
    let subscription_id = match &args.subscription {
        Some(id) => id.clone(),
        None => choose_subscription(azure).await?,
    };
    let hub = match (&args.existing_hub, &args.hub) {
        (Some(name), _) => HubChoice::Existing { name: name.clone() },
        (None, Some(name)) => new_hub(azure, args, &subscription_id, Some(name.clone())).await?,
        (None, None) => {
            let choices = [
                "Create a new hub".to_owned(),
                "Reuse an existing hub".to_owned(),
            ];
            match prompt::choose("IoT hub:", &choices, 0)? {
                0 => new_hub(azure, args, &subscription_id, None).await?,
                _ => HubChoice::Existing {
                    name: choose_hub(azure, &subscription_id).await?,
                },
            }
        }
    };
    let devices = match (args.devices.is_empty(), interactive) {
        (false, _) => args.devices.clone(),
        (true, false) => vec![DEFAULT_DEVICE_ID.to_owned()],
        (true, true) => prompt::text("Device IDs, separated by commas", Some(DEFAULT_DEVICE_ID))?
            .split(',')
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty())
            .collect(),
    };
    let policy = match (&args.policy, interactive) {
        (Some(name), _) => Some(name.clone()),
        (None, false) => None,
        (None, true) => {
            let wanted = prompt::confirm(
                "Add a shared access policy with exactly RegistryRead, RegistryWrite and \
                 DeviceConnect (for partners that manage devices themselves)?",
                false,
            )?;
            match wanted {
                true => Some(prompt::text("Policy name", Some(DEFAULT_POLICY_NAME))?),
                false => None,
            }
        }
    };
    let consumer_group = match (&args.consumer_group, interactive) {
        (Some(name), _) => Some(name.clone()),
        (None, false) => None,
        (None, true) => prompt::confirm(
            &format!(
                "Add the consumer group {OWN_CONSUMER_GROUP}, so that `hubsetup watch` reads the \
                 hub's messages without disturbing its other readers?"
            ),
            true,
        )?
        .then(|| OWN_CONSUMER_GROUP.to_owned()),
    };
    let request = Request {
        subscription_id,
        hub,
        devices,
        policy,
        consumer_group,
    };
    request.validate().map_err(cli_error)?;
    Ok(request)
}

async fn choose_subscription(azure: &Azure) -> Result<String, CliError> {
    let subscriptions = azure.subscriptions().await.map_err(cli_error)?;
    if subscriptions.is_empty() {
        return Err(CliError::BadInput(
            "This account can use no subscription; ask an Azure administrator for access.".into(),
        ));
    }
    let items: Vec<String> = subscriptions
        .iter()
        .map(|s| format!("{} ({}, {})", s.name, s.id, s.state))
        .collect();
    let default = subscriptions
        .iter()
        .position(|s| s.is_usable())
        .unwrap_or(0);
    Ok(
        subscriptions[prompt::choose("Subscription:", &items, default)?]
            .id
            .clone(),
    )
}

async fn choose_hub(azure: &Azure, subscription: &str) -> Result<String, CliError> {
    let hubs = azure.hubs(subscription).await.map_err(cli_error)?;
    if hubs.is_empty() {
        return Err(CliError::BadInput(
            "This subscription has no IoT hub you can see; create one instead.".into(),
        ));
    }
    let items: Vec<String> = hubs
        .iter()
        .map(|h| {
            format!(
                "{} ({} × {}, {}, group {})",
                h.name, h.sku, h.units, h.location, h.resource_group
            )
        })
        .collect();
    Ok(hubs[prompt::choose("Hub to reuse:", &items, 0)?]
        .name
        .clone())
}

/// A new hub's choices: flags first, the rest asked (only reached on a terminal for what
/// `check_flags` did not require).
async fn new_hub(
    azure: &Azure,
    args: &Args,
    subscription: &str,
    name: Option<String>,
) -> Result<HubChoice, CliError> {
    let groups = azure
        .resource_groups(subscription)
        .await
        .map_err(cli_error)?;
    let (resource_group, create_resource_group) = match &args.resource_group {
        Some(group) => (group.clone(), args.create_resource_group),
        None => {
            let mut items: Vec<String> = groups
                .iter()
                .map(|g| format!("{} ({})", g.name, g.location))
                .collect();
            items.push("Create a new resource group".into());
            let index = prompt::choose("Resource group:", &items, 0)?;
            match groups.get(index) {
                Some(group) => (group.name.clone(), false),
                None => (
                    prompt::text("Name of the new resource group", Some("iot-hub-setup"))?,
                    true,
                ),
            }
        }
    };
    let region = match &args.region {
        Some(region) => region.clone(),
        None => {
            let (_, regions) = azure
                .iot_hub_provider(subscription)
                .await
                .map_err(cli_error)?;
            let group_location = groups
                .iter()
                .find(|g| g.name.eq_ignore_ascii_case(&resource_group))
                .map(|g| g.location.clone());
            let items: Vec<String> = regions
                .iter()
                .map(|r| format!("{} ({})", r.display_name, r.name))
                .collect();
            let default = group_location
                .or_else(|| suggested_region(&regions).map(|r| r.name.clone()))
                .and_then(|name| regions.iter().position(|r| r.name == name))
                .unwrap_or(0);
            regions
                .get(prompt::choose("Region:", &items, default)?)
                .map(|r| r.name.clone())
                .unwrap_or_default()
        }
    };
    let name = match name {
        Some(name) => name,
        None => loop {
            let candidate = prompt::text(
                "Hub name (3-50 letters, digits, hyphens; unique in all of Azure)",
                None,
            )?;
            match azure
                .check_hub_name(subscription, &candidate)
                .await
                .map_err(cli_error)?
                .reason
            {
                None => break candidate,
                Some(reason) => eprintln!("  ✗ {reason}"),
            }
        },
    };
    let tier = match (&args.tier, prompt::interactive()) {
        (Some(tier), _) => Tier::parse(tier).map_err(cli_error)?,
        (None, false) => Tier::S1,
        (None, true) => {
            let items: Vec<String> = Tier::ALL.iter().map(|t| describe_tier(*t)).collect();
            let default = Tier::ALL.iter().position(|t| *t == Tier::S1).unwrap_or(0);
            Tier::ALL[prompt::choose("Tier:", &items, default)?]
        }
    };
    let units = match (args.units, prompt::interactive() && tier.max_units() > 1) {
        (Some(units), _) => units,
        (None, false) => 1,
        (None, true) => {
            let answer = prompt::text(&format!("Units (1 to {})", tier.max_units()), Some("1"))?;
            answer
                .parse()
                .map_err(|_| CliError::BadInput(format!("'{answer}' is not a number of units.")))?
        }
    };
    Ok(HubChoice::New {
        resource_group,
        create_resource_group,
        name,
        region,
        tier,
        units,
        tags: args.tags.iter().cloned().collect(),
    })
}

/// `S1: 400,000 messages/day per unit, up to 200 units. Suits most …`
fn describe_tier(tier: Tier) -> String {
    let facts = tier.facts();
    let mut text = format!(
        "{tier}: {} messages/day per unit, up to {} unit{}.",
        hubsetup_locale::count(facts.messages_per_day_per_unit),
        facts.max_units,
        if facts.max_units == 1 { "" } else { "s" }
    );
    if !facts.lacks.is_empty() {
        text.push_str(&format!(" Lacks {}.", facts.lacks.join(", ")));
    }
    for note in facts.notes {
        text.push(' ');
        text.push_str(&note);
    }
    text
}

fn state_dir(args: &Args) -> Result<PathBuf, CliError> {
    match &args.state_dir {
        Some(dir) => Ok(dir.clone()),
        None => hubsetup_platform::paths::state_dir()
            .map(|dir| dir.join("hub-creations"))
            .map_err(|e| CliError::Failure(e.to_string())),
    }
}

/// `KEY=VALUE`, as Azure allows tags: a name of 1 to 512 characters without `<>%&\?/`.
fn parse_tag(text: &str) -> Result<(String, String), String> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(format!(
            "'{text}' is not a tag; write KEY=VALUE, e.g. costCenter=4711"
        ));
    };
    if key.is_empty() || key.len() > 512 || key.contains(['<', '>', '%', '&', '\\', '?', '/']) {
        return Err(format!(
            "'{key}' cannot be a tag name: use 1 to 512 characters without < > % & \\ ? /"
        ));
    }
    Ok((key.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_described_with_what_decides() {
        assert_eq!(
            describe_tier(Tier::S1),
            "S1: 400,000 messages/day per unit, up to 200 units. Cannot be changed to the basic \
             tier later. Suits most installations under 1,000 devices."
        );
        assert!(describe_tier(Tier::B1).contains(" Lacks cloud-to-device messages, "));
        assert!(
            describe_tier(Tier::F1).starts_with("F1: 8,000 messages/day per unit, up to 1 unit.")
        );
    }

    #[test]
    fn tags_are_key_equals_value() {
        assert_eq!(
            parse_tag("costCenter=4711"),
            Ok(("costCenter".into(), "4711".into()))
        );
        assert_eq!(parse_tag("note=a=b"), Ok(("note".into(), "a=b".into())));
        assert_eq!(
            parse_tag("costCenter"),
            Err("'costCenter' is not a tag; write KEY=VALUE, e.g. costCenter=4711".into())
        );
        assert_eq!(
            parse_tag("a/b=c"),
            Err(
                "'a/b' cannot be a tag name: use 1 to 512 characters without < > % & \\ ? /".into()
            )
        );
    }
}
