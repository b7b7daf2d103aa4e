//! `hubsetup alert`: the alarm for when a hub's data stops (see `hubsetup-health`): set it up
//! (an Azure Monitor action group that e-mails, and alert rules on the hub), send a test
//! e-mail, show it, remove it.

use hubsetup_health::{
    read_alerts, remove_alerts, send_test_email, set_up_alerts, AlertChoice, AlertSetUp,
    HealthError,
};

use crate::cloud_args::CloudArgs;
use crate::login::{cli_error, progress_printer, session, SignInArgs};
use crate::runtime::Load;
use crate::CliError;

/// Be told by e-mail when a hub's data stops arriving.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    /// The hub's name.
    #[arg(long, global = true)]
    hub: Option<String>,
    /// The subscription the hub is in.
    #[arg(long, global = true)]
    subscription: Option<String>,
    #[command(flatten)]
    sign_in: SignInArgs,
    #[command(flatten)]
    cloud: CloudArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Set up the alert (again): who is e-mailed, after how long without messages.
    SetUp {
        /// An address to e-mail; give it again for more (the admin, the partner's support).
        #[arg(long = "email", required = true)]
        emails: Vec<String>,
        /// Minutes without a message before the alert fires: 5, 15, 30, 60, 360, 720 or 1440.
        #[arg(long, default_value_t = 60)]
        quiet_minutes: u32,
        /// Also alert when the day's messages pass 80 % of the tier's quota.
        #[arg(long)]
        quota_warning: bool,
        /// Also alert when routing drops messages.
        #[arg(long)]
        dropped_warning: bool,
    },
    /// Send a test e-mail to everyone the alert tells.
    Test,
    /// Show the alert and whether it is firing.
    Show,
    /// Remove the alert rules and the action group IoT Hub Setup made.
    Remove,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let (Some(hub_name), Some(subscription)) = (args.hub.clone(), args.subscription.clone()) else {
        return Err(CliError::BadInput(
            "Name the hub with --hub NAME and its subscription with --subscription ID.".into(),
        ));
    };
    crate::runtime::start(Load::Light)?.block_on(async {
        let azure = session(&args.sign_in, &args.cloud, &progress_printer()).await?;
        let hub = azure.find_hub(&subscription, &hub_name).await.map_err(cli_error)?;
        match args.action {
            Action::SetUp { emails, quiet_minutes, quota_warning, dropped_warning } => {
                let choice = AlertChoice { emails, quiet_minutes, quota_warning, dropped_warning };
                if let Some(problem) = hubsetup_health::choice_problem(&choice) {
                    return Err(CliError::BadInput(problem));
                }
                let facts = azure.hub_facts(&hub).await.map_err(cli_error)?;
                let set_up = set_up_alerts(&azure, &hub, &choice, facts.daily_quota)
                    .await
                    .map_err(health_error)?;
                print!("{}", render(&set_up));
                println!("Send a test e-mail with: hubsetup alert test --hub {hub_name} --subscription {subscription}");
            }
            Action::Test => {
                let reached = send_test_email(&azure, &hub).await.map_err(health_error)?;
                println!("A test e-mail was sent to {}.", reached.join(" and "));
            }
            Action::Show => match read_alerts(&azure, &hub).await.map_err(health_error)? {
                Some(set_up) => print!("{}", render(&set_up)),
                None => println!("No alert is set up on hub '{hub_name}'."),
            },
            Action::Remove => {
                remove_alerts(&azure, &hub).await.map_err(health_error)?;
                println!("The alert on hub '{hub_name}' was removed.");
            }
        }
        Ok(())
    })
}

fn health_error(e: HealthError) -> CliError {
    match e {
        HealthError::Azure(e) => cli_error(e),
        HealthError::Choice(problem) => CliError::BadInput(problem),
        other => CliError::Failure(other.to_string()),
    }
}

fn render(set_up: &AlertSetUp) -> String {
    let mut text = format!(
        "Alert for hub data, e-mailing {} (action group {}):\n",
        set_up.emails.join(", "),
        set_up.action_group
    );
    for rule in &set_up.rules {
        let state = match (rule.enabled, rule.firing) {
            (false, _) => "off",
            (true, true) => "FIRING",
            (true, false) => "watching",
        };
        text.push_str(&format!("  {}: {} ({state})\n", rule.name, rule.watches));
    }
    text
}
