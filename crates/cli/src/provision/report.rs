//! What `hubsetup provision` prints and writes when it is done: the summary (text or JSON), the
//! connection strings as asked, the record files (az commands, ARM template, Terraform) and the
//! vault.

use std::path::PathBuf;

use hubsetup_provision::{Outcome, Summary};
use serde_json::json;
use zeroize::Zeroizing;

use super::Args;
use crate::CliError;

/// Prints the summary (and strings as asked), writes the record files, fills the vault.
pub(super) fn report(
    args: &Args,
    summary: &Summary,
    outcome: Option<&Outcome>,
    kept: Option<&crate::keep::Kept>,
) -> Result<(), CliError> {
    let write = |path: &PathBuf, text: &str| {
        std::fs::write(path, text)
            .map_err(|e| CliError::Failure(format!("Could not write {}: {e}.", path.display())))
    };
    if let Some(path) = &args.az_commands {
        let kept_commands = kept.map(|k| k.data.az_commands()).unwrap_or_default();
        write(path, &(summary.az_commands() + &kept_commands))?;
    }
    if let Some(path) = &args.terraform {
        let identity = kept.is_some_and(|k| k.data.authentication == "identity");
        let kept_resources = kept.map(|k| k.data.terraform()).unwrap_or_default();
        write(path, &(summary.terraform(identity) + &kept_resources))?;
    }
    if let Some(path) = &args.arm_template {
        let mut template = summary.arm_template();
        if let Some(kept) = kept {
            kept.data.extend_template(&mut template);
        }
        write(
            path,
            &serde_json::to_string_pretty(&template).unwrap_or_default(),
        )?;
    }
    let strings = outcome.map(secrets).unwrap_or_default();
    if args.json {
        let mut value = json!({ "summary": summary });
        if let Some(kept) = kept {
            value["keep_data"] = kept.to_json();
        }
        if args.reveal {
            let revealed: Vec<_> = strings
                .iter()
                .map(|(label, cs)| {
                    let mut item =
                        json!({ "for": label, "connection_string": cs.expose().as_str() });
                    if let (Some(name), Some(key)) = (cs.policy_name(), cs.key()) {
                        item["policy_name"] = json!(name);
                        item["policy_key"] = json!(key.expose_base64().as_str());
                    }
                    item
                })
                .collect();
            value["connection_strings"] = json!(revealed);
        }
        println!(
            "{}",
            Zeroizing::new(serde_json::to_string_pretty(&value).unwrap_or_default()).as_str()
        );
    } else {
        print!("{}", summary.to_text());
        if let Some(kept) = kept {
            print!("{}", crate::keep::describe(kept));
        }
        if !strings.is_empty() {
            let how = if args.reveal {
                "in clear text"
            } else {
                "masked; --reveal prints them"
            };
            println!("Connection strings (secrets, {how}):");
            let width = strings
                .iter()
                .map(|(label, _)| label.chars().count())
                .max()
                .unwrap_or(0);
            for (label, cs) in &strings {
                let shown = if args.reveal {
                    cs.expose()
                } else {
                    Zeroizing::new(cs.masked())
                };
                println!("  {label:<width$}  {}", shown.as_str());
                if let (true, Some(key)) = (args.reveal && cs.policy_name().is_some(), cs.key()) {
                    println!(
                        "  {:<width$}  {}",
                        "  its key",
                        key.expose_base64().as_str()
                    );
                }
            }
        }
    }
    if !summary.reachability.remaining.is_empty() {
        eprintln!("warning: the hub still has settings that stop partners from connecting (see NOT FIXED).");
    }
    if args.save_to_vault && !strings.is_empty() {
        let vault = hubsetup_vault::Vault::open().map_err(crate::vault::vault_error)?;
        for (label, cs) in &strings {
            match vault.save(cs, None, false) {
                Ok(entry) => eprintln!("Saved {label} in the vault as '{}'.", entry.label),
                Err(hubsetup_vault::VaultError::AlreadyStored { label: stored, .. }) => {
                    eprintln!("{label} is already in the vault as '{stored}'; left as it is.")
                }
                Err(e) => return Err(crate::vault::vault_error(e)),
            }
        }
    }
    Ok(())
}

/// The connection strings of an outcome, labelled.
fn secrets(outcome: &Outcome) -> Vec<(String, hubsetup_core::ConnectionString)> {
    let devices = outcome.devices.iter().map(|d| {
        (
            format!("device {}", d.device_id),
            d.connection_string.clone(),
        )
    });
    let policy = outcome
        .policy
        .iter()
        .map(|p| (format!("policy {}", p.name), p.connection_string.clone()));
    devices.chain(policy).collect()
}
