//! `hubsetup revoke`: cut a handed-off string off now, when a contact leaves or a laptop is
//! lost. Either both keys are replaced (every string of the device or policy stops working;
//! its owner needs a new one) or the device is disabled (it cannot connect whatever key it
//! holds; the keys stay, so enabling it again restores it). The register of hand-offs then
//! says "revoked on …".

use hubsetup_lifecycle::Target;
use hubsetup_provision::RenewKey;

use crate::cloud_args::CloudArgs;
use crate::login::{cli_error, progress_printer, session, SignInArgs};
use crate::runtime::Load;
use crate::CliError;

/// Stop a handed-off string working at once: replace both keys of a device or policy
/// (--renew-keys), or disable a device (--disable), and mark its hand-offs revoked.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["device", "policy"])))]
#[command(group(clap::ArgGroup::new("how").required(true).args(["renew_keys", "disable"])))]
pub struct Args {
    /// The hub's name.
    #[arg(long)]
    hub: String,
    /// The subscription the hub is in.
    #[arg(long)]
    subscription: String,
    /// The device whose string is revoked.
    #[arg(long)]
    device: Option<String>,
    /// The shared access policy whose string is revoked.
    #[arg(long)]
    policy: Option<String>,
    /// Replace both keys: every string of it stops working; whoever should keep access needs a
    /// new one.
    #[arg(long)]
    renew_keys: bool,
    /// Disable the device: it cannot connect with any key until it is enabled again.
    #[arg(long, conflicts_with = "policy")]
    disable: bool,
    #[command(flatten)]
    sign_in: SignInArgs,
    #[command(flatten)]
    cloud: CloudArgs,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let register = crate::handoffs::register()?;
    // Read first: a register that cannot be read is said before anything changes.
    register
        .list()
        .map_err(|e| CliError::Failure(e.to_string()))?;
    crate::runtime::start(Load::Light)?.block_on(async {
        let azure = session(&args.sign_in, &args.cloud, &progress_printer()).await?;
        let hub = azure
            .find_hub(&args.subscription, &args.hub)
            .await
            .map_err(cli_error)?;
        let (target, done) = match (&args.device, &args.policy) {
            (Some(device), _) if args.disable => {
                azure.disable_device(&hub, device).await.map_err(cli_error)?;
                (
                    Target::Device { device_id: device.clone() },
                    format!("Disabled device '{device}': it cannot connect with any key until it is enabled again."),
                )
            }
            (Some(device), _) => {
                azure
                    .renew_device_keys(&hub, device, RenewKey::Both)
                    .await
                    .map_err(cli_error)?;
                (
                    Target::Device { device_id: device.clone() },
                    format!("Replaced both keys of device '{device}': every string of it handed off no longer works."),
                )
            }
            (None, Some(policy)) => {
                azure
                    .renew_policy_keys(&hub, policy, RenewKey::Both)
                    .await
                    .map_err(cli_error)?;
                (
                    Target::Policy { name: policy.clone() },
                    format!("Replaced both keys of policy '{policy}': every string of it handed off no longer works."),
                )
            }
            (None, None) => {
                return Err(CliError::BadInput(
                    "Name the --device or the --policy whose string to revoke.".into(),
                ))
            }
        };
        let host = args.cloud.cloud()?.hub_host(&hub.name);
        let marked = register
            .mark_revoked(&host, &target)
            .map_err(|e| CliError::Failure(e.to_string()))?;
        println!("{done}");
        println!(
            "{} hand-off{} in the register marked revoked (hubsetup handoffs).",
            hubsetup_locale::count(marked as u64),
            if marked == 1 { "" } else { "s" }
        );
        Ok(())
    })
}
