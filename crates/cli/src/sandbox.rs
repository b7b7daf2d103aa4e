//! `hubsetup sandbox`: the local stand-in for Azure as a process, for scripts, other languages'
//! clients and people trying the tool without an Azure account.

use std::path::PathBuf;
use std::time::Duration;

use hubsetup_sandbox::{Sandbox, SandboxConfig};
use serde_json::json;

use crate::CliError;

/// Run the sandbox (Entra ID, ARM and IoT Hub stand-ins over HTTPS on loopback) until stopped.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The loopback port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The loopback port of the hubs' Event Hub-compatible endpoints (AMQP over TLS, Azure's
    /// 5671); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    amqp_port: u16,
    /// The loopback port of the hubs' MQTT endpoints for devices (over TLS, Azure's 8883); 0
    /// picks a free one.
    #[arg(long, default_value_t = 0)]
    mqtt_port: u16,
    /// Keep state (hubs, devices, sign-ins, the CA) here so that it survives a restart.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// How long hub creation and updates take, in seconds.
    #[arg(long, default_value_t = 8)]
    provisioning_seconds: u64,
    /// How much faster than Azure routing writes its storage batches: 60 writes a 60-second
    /// batch after one second (for tests and demonstrations).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=3600))]
    routing_time_scale: u32,
    /// Azurite's `azurite-blob` program (npm package `azurite`), which holds the storage
    /// accounts' blobs; found on PATH when not given.
    #[arg(long, env = "HUBSETUP_AZURITE")]
    azurite: Option<PathBuf>,
    /// Print the cloud description as one JSON line instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let config = SandboxConfig {
        port: args.port,
        amqp_port: args.amqp_port,
        mqtt_port: args.mqtt_port,
        state_dir: args.state_dir.clone(),
        hub_provisioning_time: Duration::from_secs(args.provisioning_seconds),
        azurite: hubsetup_sandbox::find_azurite(args.azurite),
        routing_time_scale: args.routing_time_scale,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).map_err(|e| CliError::Failure(e.to_string()))?;
    let ca_path = write_ca(&sandbox, args.state_dir)?;
    let cloud = sandbox.cloud();
    if args.json {
        // The cloud as `--sandbox FILE` reads it back, plus the CA as a file for other clients.
        let mut description =
            serde_json::to_value(&cloud).map_err(|e| CliError::Failure(e.to_string()))?;
        description["ca_path"] = json!(ca_path.display().to_string());
        description["storage"] = json!(sandbox.has_storage());
        println!("{description}");
    } else {
        println!("IoT Hub Setup sandbox is running; stop it with Ctrl-C.");
        println!(
            "  Address    {}  (every sandbox host is served here)",
            sandbox.address()
        );
        println!("  Sign-in    {}", cloud.login_endpoint);
        println!("  ARM        {}", cloud.arm_endpoint);
        println!("  Hub hosts  *.{}", cloud.iot_hub_suffix);
        println!(
            "  AMQP       {}  (the hubs' Event Hub-compatible endpoints, Azure's port 5671)",
            sandbox.amqp_address()
        );
        println!(
            "  MQTT       {}  (the hubs' MQTT endpoints for devices, Azure's port 8883)",
            sandbox.mqtt_address()
        );
        println!(
            "  CA         {}  (clients must trust it)",
            ca_path.display()
        );
        if sandbox.has_storage() {
            println!("  Storage    *.blob.{}  (Azurite)", cloud.storage_suffix);
        } else {
            println!(
                "  Storage    none: storage accounts hold no data. {}",
                hubsetup_sandbox::WITHOUT_AZURITE
            );
        }
    }
    // The sandbox stops with its Azurite processes when asked to, by Ctrl-C or a service
    // manager's (or a test's) SIGTERM.
    crate::runtime::start(crate::runtime::Load::Light)?.block_on(stopped());
    drop(sandbox);
    Ok(())
}

#[cfg(unix)]
async fn stopped() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn stopped() {
    let _ = tokio::signal::ctrl_c().await;
}

/// The CA certificate as a file for clients: in the state directory, or a private temporary
/// folder of this process.
fn write_ca(sandbox: &Sandbox, state_dir: Option<PathBuf>) -> Result<PathBuf, CliError> {
    let dir = state_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("hubsetup-sandbox-{}", std::process::id()))
    });
    let path = dir.join("ca.pem");
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, sandbox.ca_pem()))
        .map_err(|e| {
            CliError::Failure(format!(
                "Could not write the sandbox CA to {}: {e}.",
                path.display()
            ))
        })?;
    Ok(path)
}
