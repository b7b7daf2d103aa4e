//! `hubsetup provision --keep-data ACCOUNT`: after the hub and its devices, each device's data
//! stream is routed into its own folder of a storage container (see `hubsetup-keep`).

use clap::ValueEnum;
use hubsetup_core::ConnectionString;
use hubsetup_keep::{find_stored, keep_data, AccountChoice, KeepData, KeepError, KeptData, Stored};
use hubsetup_livetest::{Options, Verifier};
use hubsetup_provision::{Azure, Request};
use hubsetup_storage::routing::{Encoding, BUILT_IN_ROUTE};

use crate::login::cli_error;
use crate::CliError;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// One JSON object per line; JSON bodies stay readable.
    Json,
    /// Apache Avro, IoT Hub's default.
    Avro,
}

/// Keeping the data in storage.
#[derive(Debug, clap::Args)]
pub struct KeepArgs {
    /// Route each device's messages into its own folder of this storage account, created (in
    /// the hub's resource group and region) if it does not exist.
    #[arg(long, value_name = "ACCOUNT")]
    keep_data: Option<String>,
    /// The resource group of an existing storage account in another group than the hub's.
    #[arg(long, value_name = "NAME", requires = "keep_data")]
    storage_resource_group: Option<String>,
    /// The container the data goes to (made if missing).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "iot-data",
        requires = "keep_data"
    )]
    container: String,
    /// How the files are written.
    #[arg(long, value_enum, default_value_t = Format::Json, requires = "keep_data")]
    storage_format: Format,
    /// How long the hub gathers messages before it writes a file (60 to 720 seconds).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(60..=720), requires = "keep_data")]
    batch_seconds: u32,
    /// Then send a test message as the first device and wait (at least a batch) until it is
    /// found in storage: the "Stored" stage.
    #[arg(long, requires = "keep_data")]
    wait_stored: bool,
    /// Let Azure's trusted services (the hub, as its identity) through the storage account's
    /// firewall if it keeps them out, without asking.
    #[arg(long, requires = "keep_data")]
    fix_storage_firewall: bool,
    /// How many days the hub's built-in endpoint keeps messages (Azure's default is 1; paid
    /// tiers keep up to 7), so that a reader that stops for a weekend loses nothing.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=7), requires = "keep_data")]
    retention_days: Option<u32>,
}

/// What keeping the data did, and the Stored stage's outcome when it ran.
#[derive(Debug)]
pub struct Kept {
    pub data: KeptData,
    /// Where the test message was found, or why it was not.
    pub stored: Option<Result<Stored, String>>,
}

impl Kept {
    /// The summary JSON's `keep_data`: what was made, and `stored` (where) or `not_stored` (why).
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::json!(self.data);
        match &self.stored {
            Some(Ok(stored)) => value["stored"] = serde_json::json!(stored),
            Some(Err(why)) => value["not_stored"] = serde_json::json!(why),
            None => {}
        }
        value
    }
}

/// Keeps the request's devices' data as the flags ask, then (`--wait-stored`) proves it with
/// the first device's string; nothing when `--keep-data` is absent.
pub async fn run(
    azure: &Azure,
    args: &KeepArgs,
    request: &Request,
    first_device: Option<&ConnectionString>,
) -> Result<Option<Kept>, CliError> {
    let Some(account) = &args.keep_data else {
        return Ok(None);
    };
    let hub = azure
        .find_hub(&request.subscription_id, request.hub.name())
        .await
        .map_err(cli_error)?;
    let choice = KeepData {
        account: match &args.storage_resource_group {
            Some(group) => AccountChoice::Existing {
                name: account.clone(),
                resource_group: group.clone(),
            },
            None => AccountChoice::Create {
                name: account.clone(),
            },
        },
        container: args.container.clone(),
        encoding: match args.storage_format {
            Format::Json => Encoding::Json,
            Format::Avro => Encoding::Avro,
        },
        batch_seconds: args.batch_seconds,
        streams: request.devices.clone(),
        fix_firewall: args.fix_storage_firewall,
        retention_days: args.retention_days,
    };
    eprintln!(
        "Keeping the data in storage account {account}, container {} …",
        args.container
    );
    let data = match keep_data(azure, &hub, &choice).await {
        Ok(kept) => kept,
        Err(KeepError::Azure(e)) => return Err(cli_error(e)),
        Err(
            e @ (KeepError::AccountName { .. }
            | KeepError::Plan(_)
            | KeepError::Firewall(_)
            | KeepError::Retention { .. }),
        ) => return Err(CliError::BadInput(e.to_string())),
        Err(e) => return Err(CliError::Failure(e.to_string())),
    };
    let stored = match (args.wait_stored, first_device) {
        (true, Some(device)) => Some(prove_stored(azure, &data, device).await),
        _ => None,
    };
    Ok(Some(Kept { data, stored }))
}

/// The live test's send, then the Stored stage.
async fn prove_stored(
    azure: &Azure,
    kept: &KeptData,
    device: &ConnectionString,
) -> Result<Stored, String> {
    let verifier = Verifier::new(azure.network().clone(), Options::default());
    let report = verifier.verify(device).await;
    let (true, Some(message_id)) = (report.accepted, report.message_id.clone()) else {
        return Err("the test message was not accepted; run `hubsetup verify` with the device's string to see why".to_owned());
    };
    let sent = std::time::SystemTime::now();
    let stream = report.device_id.clone().unwrap_or_default();
    // A batch window, and two minutes for the write and the clocks.
    let wait = std::time::Duration::from_secs(u64::from(kept.batch_seconds) + 120);
    eprintln!("Sent test message {message_id}; waiting for the hub's next batch to reach storage (up to {} s) …", wait.as_secs());
    find_stored(azure, kept, &stream, &message_id, sent, wait, &|_| {})
        .await
        .map_err(|e| e.to_string())
}

/// The summary's lines about the kept data, and the Stored stage.
pub fn describe(kept: &Kept) -> String {
    let mut text = describe_data(&kept.data);
    match &kept.stored {
        Some(Ok(stored)) => text.push_str(&format!(
            "✓ Stored: the test message is in {} ({:.0} s after the send)\n",
            stored.blob, stored.after_secs
        )),
        Some(Err(why)) => text.push_str(&format!("✗ Stored: {why}\n")),
        None => {}
    }
    text
}

fn describe_data(kept: &KeptData) -> String {
    let how = match kept.authentication.as_str() {
        "identity" => "the hub writes as its managed identity (Storage Blob Data Contributor on the account)",
        _ => "the hub writes with the account's key (you may not assign roles there); rotating that key stops the writes until the endpoints get the new one",
    };
    let mut text = format!(
        "Data kept in storage account {} ({}), container {}:\n  {how}\n",
        kept.account, kept.blob_endpoint, kept.container
    );
    for (endpoint, route) in kept.endpoints.iter().zip(&kept.routes) {
        text.push_str(&format!("  endpoint {endpoint}, route {route}\n"));
    }
    let built_in = if kept.routes.iter().any(|r| r == BUILT_IN_ROUTE) {
        format!("route {BUILT_IN_ROUTE}")
    } else {
        "the hub's own route to the built-in endpoint".to_owned()
    };
    text.push_str(&format!(
        "  {built_in} keeps every message flowing to the built-in endpoint (Watch, your consumers)\n"
    ));
    text
}
