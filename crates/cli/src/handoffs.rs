//! `hubsetup handoffs`: the register of hand-offs (see `hubsetup-lifecycle`), who received
//! which key and when, with a reminder for keys past the age at which they should be rotated.

use std::path::PathBuf;

use hubsetup_lifecycle::{Handoff, KeySlot, Register, Target, DEFAULT_ROTATION_DAYS};
use time::OffsetDateTime;

use crate::format::local_time_of;
use crate::CliError;

/// List every encrypted hand-off: the hub, the device or policy, which key (by a short hash,
/// never the key), the recipients, the file and when; and which keys are due for rotation.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remind of keys handed off more than this many days ago.
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_ROTATION_DAYS)]
    rotate_after: u32,
    /// The register as JSON, one array.
    #[arg(long)]
    json: bool,
}

/// The register in the app's state folder, which the app and the CLI share.
pub fn register() -> Result<Register, CliError> {
    let dir: PathBuf =
        hubsetup_platform::paths::state_dir().map_err(|e| CliError::Failure(e.to_string()))?;
    Ok(Register::in_dir(&dir))
}

pub fn run(args: Args) -> Result<(), CliError> {
    let handoffs = register()?
        .list()
        .map_err(|e| CliError::Failure(e.to_string()))?;
    if args.json {
        let json =
            serde_json::to_string(&handoffs).map_err(|e| CliError::Failure(e.to_string()))?;
        println!("{json}");
    } else {
        print!(
            "{}",
            render(&handoffs, OffsetDateTime::now_utc(), args.rotate_after)
        );
    }
    Ok(())
}

fn render(handoffs: &[Handoff], now: OffsetDateTime, rotate_after: u32) -> String {
    if handoffs.is_empty() {
        return "No hand-off is recorded yet: `hubsetup export` and the app's Hand-off step record each one.\n".to_owned();
    }
    let mut text = String::new();
    for handoff in handoffs {
        let to: Vec<String> = handoff
            .recipients
            .iter()
            .map(|r| match r.user_ids.first() {
                Some(user_id) => format!("{user_id} ({})", r.fingerprint),
                None => r.fingerprint.clone(),
            })
            .collect();
        text.push_str(&format!(
            "{}  {} / {}, {}\n  to {}\n  file {}{}{}\n",
            local_time_of(&handoff.handed_at),
            handoff.hub,
            target(&handoff.target),
            key(handoff),
            if to.is_empty() {
                "nobody recorded".to_owned()
            } else {
                to.join(", ")
            },
            handoff.file,
            handoff
                .note
                .as_ref()
                .map(|note| format!(", sent by {note}"))
                .unwrap_or_default(),
            handoff
                .revoked_at
                .as_ref()
                .map(|at| format!("\n  revoked on {}", local_time_of(at)))
                .unwrap_or_default(),
        ));
        if handoff.needs_rotation(now, rotate_after) {
            text.push_str(&format!(
                "  ! this key was handed off {} days ago, more than {} days: time to rotate it.\n",
                hubsetup_locale::count(handoff.age_days(now).unwrap_or_default().into()),
                hubsetup_locale::count(rotate_after.into())
            ));
        }
    }
    text
}

fn target(target: &Target) -> String {
    match target {
        Target::Device { device_id } => format!("device {device_id}"),
        Target::Policy { name } => format!("policy {name}"),
    }
}

fn key(handoff: &Handoff) -> String {
    let slot = match handoff.slot {
        Some(KeySlot::Primary) => "primary key",
        Some(KeySlot::Secondary) => "secondary key",
        None => "key",
    };
    format!("{slot} {}", handoff.key_id)
}

#[cfg(test)]
mod tests {
    use hubsetup_lifecycle::Recipient;

    use super::*;

    #[test]
    fn old_keys_are_called_out() {
        let handoff = Handoff {
            hub: "contoso.azure-devices.net".into(),
            target: Target::Device {
                device_id: "meter-1".into(),
            },
            slot: Some(KeySlot::Primary),
            key_id: "3f2a91c07b1e".into(),
            recipients: vec![Recipient {
                fingerprint: "0123 4567".into(),
                user_ids: vec!["Sam Support <sam@partner.example>".into()],
            }],
            file: "/tmp/partner.asc".into(),
            handed_at: "2026-01-01T12:00:00Z".into(),
            note: None,
            revoked_at: None,
        };
        let now = time::macros::datetime!(2026-12-08 12:00 UTC);
        let text = render(std::slice::from_ref(&handoff), now, DEFAULT_ROTATION_DAYS);
        assert!(text.contains("  contoso.azure-devices.net / device meter-1, primary key 3f2a91c07b1e\n  to Sam Support <sam@partner.example> (0123 4567)\n  file /tmp/partner.asc\n"), "{text}");
        assert!(text.ends_with("  ! this key was handed off 341 days ago, more than 180 days: time to rotate it.\n"), "{text}");
        assert!(!render(&[handoff], now, 400).contains("time to rotate"));
        assert!(render(&[], now, 1).starts_with("No hand-off is recorded yet"));
    }
}
