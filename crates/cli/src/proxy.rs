//! `hubsetup proxy`: which proxy each of the cloud's hosts goes through and where that was
//! set; and a login for a proxy that asks for a user name and password, typed once, checked
//! with the proxy and kept in the system's credential store for every command and the app.

use hubsetup_core::cloud::host_of;
use hubsetup_net::{Network, ProxyLogin};
use hubsetup_vault::{ProxyLogins, ProxySignInError, KEYCHAIN_NAME};

use crate::cloud_args::CloudArgs;
use crate::runtime::Load;
use crate::{prompt, CliError};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Show the proxy each of the cloud's hosts goes through, and where it is set.
    Show {
        #[command(flatten)]
        cloud: CloudArgs,
    },
    /// Sign in to the proxy: asks for its user name and password (the password from standard
    /// input when that is not a terminal), checks them with the proxy, and keeps them in the
    /// system's credential store.
    SignIn {
        /// The proxy (HOST:PORT); by default the one the cloud's hosts go through.
        #[arg(long, value_name = "HOST:PORT")]
        proxy: Option<String>,
        /// The user name, as the proxy expects it (often DOMAIN\user).
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        cloud: CloudArgs,
    },
    /// List the proxies with a login kept (never their passwords).
    List,
    /// Remove the login kept for a proxy.
    Forget {
        #[arg(value_name = "HOST:PORT")]
        proxy: String,
    },
}

pub fn run(args: Args) -> Result<(), CliError> {
    match args.action {
        Action::Show { cloud } => show(&cloud),
        Action::SignIn { proxy, user, cloud } => sign_in(proxy, user, &cloud),
        Action::List => {
            let proxies = logins()?.proxies().map_err(failure)?;
            if proxies.is_empty() {
                println!("No proxy login is kept in the {KEYCHAIN_NAME}.");
            }
            for proxy in proxies {
                println!("{proxy}");
            }
            Ok(())
        }
        Action::Forget { proxy } => match logins()?.forget(&proxy).map_err(failure)? {
            true => {
                println!("Removed the login for the proxy {proxy} from the {KEYCHAIN_NAME}.");
                Ok(())
            }
            false => Err(CliError::BadInput(format!(
                "No login is kept for the proxy {proxy}. `hubsetup proxy list` shows the proxies \
                 that have one."
            ))),
        },
    }
}

fn logins() -> Result<ProxyLogins<hubsetup_vault::OsKeychain>, CliError> {
    ProxyLogins::open().map_err(failure)
}

fn failure(error: hubsetup_vault::VaultError) -> CliError {
    CliError::Failure(error.to_string())
}

/// The hosts a command reaches: sign-in, ARM, and a hub's.
fn hosts(network: &Network) -> Vec<String> {
    let cloud = network.cloud();
    vec![
        host_of(&cloud.login_endpoint),
        host_of(&cloud.arm_endpoint),
        cloud.hub_host("your-hub"),
    ]
}

fn show(cloud: &CloudArgs) -> Result<(), CliError> {
    let network = cloud.network()?;
    let settings = network.proxy_settings();
    match (settings.origin(), settings.script_url()) {
        (None, _) => println!("No proxy is set: this computer connects directly."),
        (Some(origin), None) => println!("Proxy settings from {origin}."),
        (Some(origin), Some(script)) => {
            println!(
                "Proxy settings from {origin}, with the automatic configuration script {script}."
            )
        }
    }
    for host in hosts(&network) {
        let through = match network.proxy_for(&host) {
            Some(proxy) if proxy.has_login() => {
                format!("proxy {} (with a login)", proxy.authority())
            }
            Some(proxy) => format!("proxy {}", proxy.authority()),
            None => "direct".to_owned(),
        };
        println!("  {host}: {through}");
        if let Some(failure) = settings.script_failure(&host) {
            println!("    ({failure}; the settings beside it are used)");
        }
    }
    Ok(())
}

fn sign_in(proxy: Option<String>, user: Option<String>, cloud: &CloudArgs) -> Result<(), CliError> {
    let network = cloud.network()?;
    let checked_host = hosts(&network).swap_remove(1);
    let proxy = match proxy {
        Some(given) => hubsetup_net::ProxySettings::parse(Some(&given), None)
            .map_err(|e| CliError::BadInput(e.to_string()))?
            .https
            .expect("a proxy was given"),
        None => network.proxy_for(&checked_host).ok_or_else(|| {
            CliError::BadInput(format!(
                "No proxy is set for {checked_host}: this computer connects directly. Give the \
                 proxy with --proxy HOST:PORT."
            ))
        })?,
    };
    let authority = proxy.authority();
    let user = match user {
        Some(user) => user,
        None if prompt::interactive() => {
            prompt::text(&format!("User name for the proxy {authority}"), None)?
        }
        None => {
            return Err(CliError::BadInput(
                "Give the proxy's user name with --user (standard input is not a terminal, so \
                 it cannot be asked for)."
                    .into(),
            ))
        }
    };
    let password = prompt::password(&format!("Password for {user} at the proxy {authority}:"))?;
    let login = ProxyLogin { user, password };
    crate::runtime::start(Load::Light)?
        .block_on(logins()?.sign_in(&proxy, &login, &checked_host))
        .map_err(|e| match e {
            ProxySignInError::WindowsSignInOnly { .. } | ProxySignInError::Refused { .. } => {
                CliError::BadInput(e.to_string())
            }
            other => CliError::Failure(other.to_string()),
        })?;
    println!(
        "Signed in to the proxy {authority} as {}; the login is kept in the {KEYCHAIN_NAME} and \
         used by every hubsetup command and the app.",
        login.user
    );
    Ok(())
}
