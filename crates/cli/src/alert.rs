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
}

/// The hub an alert is about, and how to reach it.
#[derive(Debug, clap::Args)]
struct HubArgs {
    /// The hub's name.
    #[arg(long)]
    hub: String,
    /// The subscription the hub is in.
    #[arg(long)]
    subscription: String,
    #[command(flatten)]
    sign_in: SignInArgs,
    #[command(flatten)]
    cloud: CloudArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Set up the alert (again): who is e-mailed, after how long without messages.
    SetUp {
        #[command(flatten)]
        target: HubArgs,
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
        /// Write the `az` commands that make the same alert to FILE.
        #[arg(long, value_name = "FILE")]
        az_commands: Option<std::path::PathBuf>,
        /// Write an ARM template of the action group and alert rules to FILE.
        #[arg(long, value_name = "FILE")]
        arm_template: Option<std::path::PathBuf>,
    },
    /// Send a test e-mail to everyone the alert tells.
    Test {
        #[command(flatten)]
        target: HubArgs,
    },
    /// Show the alert and whether it is firing.
    Show {
        #[command(flatten)]
        target: HubArgs,
    },
    /// Remove the alert rules and the action group IoT Hub Setup made.
    Remove {
        #[command(flatten)]
        target: HubArgs,
    },
}

pub fn run(args: Args) -> Result<(), CliError> {
    let target = match &args.action {
        Action::SetUp { target, .. }
        | Action::Test { target }
        | Action::Show { target }
        | Action::Remove { target } => target,
    };
    let choice = match &args.action {
        Action::SetUp {
            emails,
            quiet_minutes,
            quota_warning,
            dropped_warning,
            ..
        } => Some(AlertChoice {
            emails: emails.clone(),
            quiet_minutes: *quiet_minutes,
            quota_warning: *quota_warning,
            dropped_warning: *dropped_warning,
        }),
        _ => None,
    };
    if let Some(problem) = choice.as_ref().and_then(hubsetup_health::choice_problem) {
        return Err(CliError::BadInput(problem));
    }
    crate::runtime::start(Load::Light)?.block_on(async {
        let azure = session(&target.sign_in, &target.cloud, &progress_printer()).await?;
        let hub = azure
            .find_hub(&target.subscription, &target.hub)
            .await
            .map_err(cli_error)?;
        match (&args.action, &choice) {
            (
                Action::SetUp {
                    az_commands,
                    arm_template,
                    ..
                },
                Some(choice),
            ) => {
                let facts = azure.hub_facts(&hub).await.map_err(cli_error)?;
                let set_up = set_up_alerts(&azure, &hub, choice, facts.daily_quota)
                    .await
                    .map_err(health_error)?;
                print!("{}", render(&set_up));
                let (commands, template) =
                    hubsetup_health::alert_records(&hub, choice, facts.daily_quota);
                let write = |path: &std::path::Path, text: String| {
                    std::fs::write(path, text).map_err(|e| {
                        CliError::Failure(format!(
                            "The alert is set up, but {} could not be written: {e}. Check the folder and that it may be written to.",
                            path.display()
                        ))
                    })
                };
                if let Some(path) = az_commands {
                    write(path, commands)?;
                }
                if let Some(path) = arm_template {
                    write(path, format!("{template:#}\n"))?;
                }
                println!(
                    "Send a test e-mail with: hubsetup alert test --hub {} --subscription {}",
                    target.hub, target.subscription
                );
            }
            (Action::Test { .. }, _) => {
                let reached = send_test_email(&azure, &hub).await.map_err(health_error)?;
                println!("A test e-mail was sent to {}.", reached.join(" and "));
            }
            (Action::Show { .. }, _) => {
                match read_alerts(&azure, &hub).await.map_err(health_error)? {
                    Some(set_up) => print!("{}", render(&set_up)),
                    None => println!("No alert is set up on hub '{}'.", target.hub),
                }
            }
            (Action::Remove { .. }, _) => {
                remove_alerts(&azure, &hub).await.map_err(health_error)?;
                println!("The alert on hub '{}' was removed.", target.hub);
            }
            (Action::SetUp { .. }, None) => {}
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
