//! `hubsetup login`: sign in to Azure and show the subscriptions the account can use, and the
//! sign-in options that `hubsetup provision` shares. Nothing is saved: tokens live in memory
//! for one command, and `provision` signs in again (reusing the Azure CLI's login when it has
//! one, which is the way to sign in once for many commands).

use std::io::IsTerminal;
use std::sync::Arc;

use hubsetup_identity::{
    is_home_tenant_alias, sign_in, AzureCli, Error as SignInError, SignInMethod, SignInOptions,
    SignInProgress, SystemBrowser, DEFAULT_CLIENT_ID, DEFAULT_TENANT,
};
use hubsetup_provision::{Azure, Error, Progress, Reporter};
use serde_json::json;

use crate::cloud_args::CloudArgs;
use crate::runtime::Load;
use crate::CliError;

/// Sign in to Azure and list the subscriptions you can use (nothing is saved).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    sign_in: SignInArgs,
    #[command(flatten)]
    cloud: CloudArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// How to sign in; shared with `hubsetup provision`.
#[derive(Debug, Clone, clap::Args)]
pub struct SignInArgs {
    /// How to sign in; default: the Azure CLI when it is installed and signed in, else the
    /// browser (with --sandbox: a device code, which the sandbox approves by itself; `cli`
    /// works once the sandbox is registered as a cloud in `az`).
    #[arg(long, value_enum)]
    method: Option<Method>,
    /// The Entra ID tenant: organizations, common, a tenant ID or a domain.
    #[arg(long, default_value = DEFAULT_TENANT)]
    tenant: String,
    /// The public client (application) ID to sign in as.
    #[arg(long, default_value = DEFAULT_CLIENT_ID)]
    client_id: String,
}

/// The sign-in methods as the command line names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Method {
    /// Reuse the Azure CLI's `az login`.
    Cli,
    /// Sign in in the browser (authorization code with PKCE).
    Browser,
    /// Enter a code on another device.
    DeviceCode,
}

impl From<Method> for SignInMethod {
    fn from(method: Method) -> SignInMethod {
        match method {
            Method::Cli => SignInMethod::AzureCli,
            Method::Browser => SignInMethod::Browser,
            Method::DeviceCode => SignInMethod::DeviceCode,
        }
    }
}

/// The CLI's words for an error: choices a person can change are bad input (exit 2).
pub fn cli_error(error: Error) -> CliError {
    if error.is_bad_input() {
        CliError::BadInput(error.to_string())
    } else {
        CliError::Failure(error.to_string())
    }
}

/// Progress as lines on standard error, so standard output stays the result.
pub fn progress_printer() -> Reporter {
    Arc::new(|progress| {
        match progress {
        Progress::SignIn(SignInProgress::OpenBrowser { url }) => eprintln!(
            "Opening your browser to sign in. If no browser opens, visit this address:\n  {url}"
        ),
        Progress::SignIn(SignInProgress::DeviceCode {
            user_code,
            verification_uri,
            expires_in_secs,
        }) => eprintln!(
            "To sign in, open {verification_uri} and enter the code {user_code} (valid for {} minutes).",
            expires_in_secs.div_ceil(60)
        ),
        Progress::SignIn(SignInProgress::MoreProofNeeded { method }) => eprintln!(
            "Azure asks for more proof of who you are (Conditional Access, e.g. multi-factor \
             authentication): signing in again with {}.",
            method.label()
        ),
        Progress::SignIn(SignInProgress::SignedIn { method }) => eprintln!("Signed in with {}.", method.label()),
        Progress::RegisteringProvider { subscription_id } => {
            eprintln!("Registering Microsoft.Devices in subscription {subscription_id} …")
        }
        Progress::CreatingResourceGroup { name, location } => {
            eprintln!("Creating resource group {name} in {location} …")
        }
        Progress::CreatingHub { hub } => {
            eprintln!("Asking Azure to create hub {hub} (this usually takes a minute or two) …")
        }
        Progress::HubProvisioning {
            hub,
            status,
            elapsed_secs,
        } => eprintln!("  hub {hub}: {status} ({elapsed_secs} s)"),
        Progress::HubReady { hub } => eprintln!("Hub {hub} is ready."),
        Progress::UpdatingHub { hub, change, .. } => eprintln!("Updating hub {hub}: {change}"),
        Progress::Retrying { reason, after_secs } => {
            eprintln!("  {reason} Trying again in {after_secs} s.")
        }
        Progress::DeviceCreated { device_id } => eprintln!("Created device {device_id}."),
        Progress::DeviceReused { device_id } => {
            eprintln!("Device {device_id} exists; reusing it and its keys.")
        }
        Progress::PolicyCreated { name } => eprintln!("Added policy {name}."),
        Progress::PolicyReused { name } => {
            eprintln!("Policy {name} exists with the right permissions; reusing it.")
        }
        Progress::ConsumerGroupCreated { name } => eprintln!("Added consumer group {name}."),
        Progress::ConsumerGroupReused { name } => {
            eprintln!("Consumer group {name} exists; reusing it.")
        }
    }
    })
}

/// Signs in as the arguments say and opens an ARM session.
pub async fn session(
    sign_in_args: &SignInArgs,
    cloud: &CloudArgs,
    report: &Reporter,
) -> Result<Azure, CliError> {
    let cloud_chosen = cloud.cloud()?;
    let network = cloud.network()?;
    let options = SignInOptions {
        client_id: sign_in_args.client_id.clone(),
        tenant: sign_in_args.tenant.clone(),
        ..SignInOptions::default()
    };
    let cli = AzureCli::default();
    let sign_in_report = |step: SignInProgress| report(step.into());
    let attempt = |method| {
        sign_in(
            method,
            &network,
            &options,
            &cli,
            &SystemBrowser,
            &sign_in_report,
        )
    };
    let credential = match sign_in_args.method {
        Some(method) => attempt(method.into()).await,
        None => {
            let first = SignInMethod::offered(&cloud_chosen, &cli)[0];
            match attempt(first).await {
                Err(SignInError::AzureCliNotSignedIn { .. }) => {
                    eprintln!("note: the Azure CLI is not signed in; signing in another way.");
                    attempt(fallback_method()).await
                }
                other => other,
            }
        }
    }
    .map_err(|e| cli_error(e.into()))?;
    Azure::new(&network, credential, report.clone()).map_err(cli_error)
}

/// Without a terminal there is nobody at a browser on this machine for sure; a device code
/// can be entered anywhere.
fn fallback_method() -> SignInMethod {
    if std::io::stdin().is_terminal() {
        SignInMethod::Browser
    } else {
        SignInMethod::DeviceCode
    }
}

pub fn run(args: Args) -> Result<(), CliError> {
    crate::runtime::start(Load::Heavy)?.block_on(async {
        let azure = session(&args.sign_in, &args.cloud, &progress_printer()).await?;
        let subscriptions = azure.subscriptions().await.map_err(cli_error)?;
        // Signed in without naming a tenant, the session is in the account's own: the others
        // are guest tenants.
        let home = match is_home_tenant_alias(&args.sign_in.tenant) {
            true => azure.credential().tenant().await,
            false => None,
        };
        let tenants = azure.tenants(home.as_deref()).await.map_err(cli_error)?;
        if args.json {
            let value = json!({
                "cloud": azure.cloud().id,
                "method": azure.credential().method(),
                "tenants": tenants,
                "subscriptions": subscriptions,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
            return Ok(());
        }
        println!(
            "Signed in to {} with {}.",
            azure.cloud().display_name,
            azure.credential().method().label()
        );
        if subscriptions.is_empty() {
            println!(
                "This account can use no subscription; ask an Azure administrator for access."
            );
        } else {
            println!("Subscriptions this account can use:");
            for s in &subscriptions {
                let note = if s.is_usable() { "" } else { "  (read-only)" };
                println!("  {}  {} [{}]{note}", s.id, s.name, s.state);
            }
        }
        if tenants.len() > 1 {
            println!(
                "Tenants (directories) this account may use; sign in to another with --tenant ID:"
            );
            for t in &tenants {
                let note = match (t.current, t.guest) {
                    (true, true) => "  (current, guest)",
                    (true, false) => "  (current)",
                    (false, true) => "  (guest)",
                    (false, false) => "",
                };
                println!("  {}  {} ({}){note}", t.id, t.name, t.default_domain);
            }
        }
        println!(
            "Nothing was saved. `hubsetup provision` signs in again; sign in with `az login` to \
             sign in once for many commands."
        );
        Ok(())
    })
}
