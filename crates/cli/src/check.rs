//! `hubsetup check`: every field of a connection string, masked, and every problem found.

use hubsetup_core::connection_string::{inspect, Credential, Inspection};
use serde_json::json;

use crate::{input, CliError};

/// Check a connection string field by field; the key is never printed.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The connection string; `-` or nothing reads stdin or HUBSETUP_CONNECTION_STRING.
    connection_string: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let text = input::connection_string(args.connection_string.as_deref())?;
    let inspection = inspect(&text);
    if args.json {
        println!("{}", to_json(&inspection));
    } else {
        print!("{}", to_text(&inspection));
    }
    match &inspection.result {
        Ok(_) => Ok(()),
        Err(errors) => Err(CliError::BadInput(format!(
            "the connection string has {} problem{}.",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        ))),
    }
}

fn kind(inspection: &Inspection) -> Option<&'static str> {
    inspection
        .result
        .as_ref()
        .ok()
        .map(|cs| match cs.credential() {
            Credential::DeviceKey { identity, .. } if identity.module_id.is_some() => "module key",
            Credential::DeviceKey { .. } => "device key",
            Credential::PolicyKey {
                identity: Some(_), ..
            } => "policy key for one device",
            Credential::PolicyKey { .. } => "shared access policy key",
            Credential::X509 { .. } => "X.509 certificate (no key)",
        })
}

fn to_text(inspection: &Inspection) -> String {
    let mut out = String::new();
    match (&inspection.result, kind(inspection)) {
        (Ok(_), Some(kind)) => out.push_str(&format!("Valid connection string: {kind}\n")),
        (Err(errors), _) => out.push_str(&format!(
            "Not a usable connection string: {} problem{}\n",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        )),
        _ => {}
    }
    let width = inspection
        .fields
        .iter()
        .map(|f| f.name.len())
        .max()
        .unwrap_or(0);
    for field in &inspection.fields {
        out.push_str(&format!("  {:width$}  {}\n", field.name, field.value));
    }
    if let Ok(cs) = &inspection.result {
        out.push_str(&format!("  {:width$}  {}\n", "(hub)", cs.hub_name()));
        if cs.key().is_some() {
            out.push_str(&format!(
                "  {:width$}  {}\n",
                "(token scope)",
                cs.resource_uri()
            ));
        }
    }
    if let Err(errors) = &inspection.result {
        out.push_str("Problems:\n");
        for error in errors {
            out.push_str(&format!("  ✗ {error}\n"));
        }
    }
    if !inspection.warnings.is_empty() {
        out.push_str("Warnings:\n");
        for warning in &inspection.warnings {
            out.push_str(&format!("  ! {warning}\n"));
        }
    }
    out
}

fn to_json(inspection: &Inspection) -> serde_json::Value {
    let fields: Vec<_> = inspection
        .fields
        .iter()
        .map(|f| json!({ "name": f.name, "value": f.value }))
        .collect();
    let errors: Vec<String> = match &inspection.result {
        Ok(_) => vec![],
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    };
    let parsed = inspection.result.as_ref().ok();
    json!({
        "valid": parsed.is_some(),
        "kind": kind(inspection),
        "masked": parsed.map(|cs| cs.masked()),
        "hub": parsed.map(|cs| cs.hub_name()),
        "device_id": parsed.and_then(|cs| cs.device_id()),
        "policy_name": parsed.and_then(|cs| cs.policy_name()),
        "fields": fields,
        "errors": errors,
        "warnings": inspection.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}
