//! What provisioning reports while it works, for a progress line in the CLI and events in the
//! GUI. Nothing here is secret: a device code is shown to the person on purpose, and the sign-in
//! URL carries only public values.

use std::sync::Arc;

use serde::Serialize;

use crate::signin::SignInMethod;

/// One step or wait, in the order they happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Progress {
    /// The browser was asked to open `url`; show it too, in case no browser opened.
    OpenBrowser {
        url: String,
    },
    /// Device-code sign-in: the person opens `verification_uri` and enters `user_code`.
    DeviceCode {
        user_code: String,
        verification_uri: String,
        expires_in_secs: u64,
    },
    SignedIn {
        method: SignInMethod,
    },
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
}

/// Where progress goes: a closure called for each step (it should return quickly).
pub type Reporter = Arc<dyn Fn(Progress) + Send + Sync>;

/// A reporter that drops everything.
pub fn silent() -> Reporter {
    Arc::new(|_| {})
}
