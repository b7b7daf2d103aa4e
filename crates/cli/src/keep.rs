//! `hubsetup provision --keep-data ACCOUNT`: after the hub and its devices, each device's data
//! stream is routed into its own folder of a storage container (see `hubsetup-keep`).

use clap::ValueEnum;
use hubsetup_keep::{keep_data, AccountChoice, KeepData, KeepError, KeptData};
use hubsetup_provision::{Azure, Request};
use hubsetup_storage::routing::Encoding;

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
}

/// Keeps the request's devices' data as the flags ask; nothing when `--keep-data` is absent.
pub async fn run(
    azure: &Azure,
    args: &KeepArgs,
    request: &Request,
) -> Result<Option<KeptData>, CliError> {
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
    };
    eprintln!(
        "Keeping the data in storage account {account}, container {} …",
        args.container
    );
    match keep_data(azure, &hub, &choice).await {
        Ok(kept) => Ok(Some(kept)),
        Err(KeepError::Azure(e)) => Err(cli_error(e)),
        Err(e @ (KeepError::AccountName { .. } | KeepError::Plan(_))) => {
            Err(CliError::BadInput(e.to_string()))
        }
        Err(e) => Err(CliError::Failure(e.to_string())),
    }
}

/// The summary's lines about the kept data.
pub fn describe(kept: &KeptData) -> String {
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
    text.push_str("  route hubsetup-built-in keeps every message flowing to the built-in endpoint (Watch, your consumers)\n");
    text
}
