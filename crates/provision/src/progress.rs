//! What provisioning reports while it works, for a progress line in the CLI and events in the
//! GUI. Nothing here is secret: a device code is shown to the person on purpose, and the sign-in
//! URL carries only public values.

use std::sync::Arc;

use serde::Serialize;

use hubsetup_identity::SignInProgress;

/// One step or wait, in the order they happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Progress {
    RegisteringProvider {
        subscription_id: String,
    },
    CreatingResourceGroup {
        name: String,
        location: String,
    },
    /// Asking Azure to create the hub (again, after a refusal for now); creation usually
    /// takes a minute or two.
    CreatingHub {
        hub: String,
    },
    /// The hub's creation or update is still running.
    HubProvisioning {
        hub: String,
        status: String,
        elapsed_secs: u64,
    },
    HubReady {
        hub: String,
    },
    /// About to send a change of the hub's settings (attempt counts from 1).
    UpdatingHub {
        hub: String,
        change: String,
        attempt: u32,
    },
    /// Waiting before trying again, and why.
    Retrying {
        reason: String,
        after_secs: u64,
    },
    DeviceCreated {
        device_id: String,
    },
    DeviceReused {
        device_id: String,
    },
    PolicyCreated {
        name: String,
    },
    PolicyReused {
        name: String,
    },
    ConsumerGroupCreated {
        name: String,
    },
    ConsumerGroupReused {
        name: String,
    },
    /// Signing in, which comes first; its events keep their own `kind`s.
    #[serde(untagged)]
    SignIn(SignInProgress),
}

impl From<SignInProgress> for Progress {
    fn from(step: SignInProgress) -> Progress {
        Progress::SignIn(step)
    }
}

/// Where progress goes: a closure called for each step (it should return quickly).
pub type Reporter = Arc<dyn Fn(Progress) + Send + Sync>;

/// A reporter that drops everything.
pub fn silent() -> Reporter {
    Arc::new(|_| {})
}

#[cfg(test)]
mod tests {
    use super::*;
    use hubsetup_identity::SignInMethod;

    #[test]
    fn sign_in_events_keep_their_own_kind() {
        let event = Progress::from(SignInProgress::SignedIn {
            method: SignInMethod::DeviceCode,
        });
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::json!({ "kind": "signed_in", "method": "device_code" })
        );
        assert_eq!(
            serde_json::to_value(Progress::HubReady { hub: "h".into() }).unwrap(),
            serde_json::json!({ "kind": "hub_ready", "hub": "h" })
        );
    }
}
