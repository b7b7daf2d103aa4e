//! `$cbs` on a hub's own host: a device puts a SAS token for `{host}/devices/{id}` (a service
//! or a gateway may put a policy token for the hub), checked exactly as the HTTPS side checks
//! one (`hub::authorize`: signature, expiry, scope, rights). The connection remembers what each
//! token allows and until when; a device's link and each of its messages are checked against
//! that. Replies carry an integer `status-code`: 200, 401 for a token refused (with why, never
//! the token), 400 for a malformed request.

use hubsetup_core::sas::{without_scheme, SasToken};
use percent_encoding::percent_decode_str;

use super::HubConnection;
use crate::amqp::{Reply, Request};
use crate::eventhubs::{timestamp_text, SAS_TOKEN_TYPE};
use crate::hub::{authorize, network_refusal, Access};
use crate::state::now_ms;

/// What one token put on `$cbs` allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Grant {
    /// The device it was put for; `None` for a policy token for the whole hub.
    device: Option<String>,
    /// A hub-wide token may connect any device (DeviceConnect).
    device_connect: bool,
    /// A hub-wide token may read the built-in endpoint (ServiceConnect).
    service_connect: bool,
    /// The token's expiry, in seconds since the Unix epoch.
    expires_at: u64,
}

/// What a put-token request's `name` names.
#[derive(Debug, PartialEq, Eq)]
enum Audience {
    Hub,
    Device(String),
}

/// Answers a put-token request and, when the token is good, records what it allows.
pub(super) fn put_token(request: &Request<'_>, connection: &HubConnection) -> Reply {
    if request.text("operation").as_deref() != Some("put-token") {
        return Reply::status(400, "The $cbs node only supports the put-token operation.");
    }
    if request.text("type").as_deref() != Some(SAS_TOKEN_TYPE) {
        return Reply::status(
            400,
            "IoT Hub takes shared access signatures on $cbs: set the request's type to servicebus.windows.net:sastoken.",
        );
    }
    let Some(name) = request.text("name") else {
        return Reply::status(
            400,
            "The put-token request names no audience: set its 'name' property to {host}/devices/{id}.",
        );
    };
    let Some(token) = request.body_text() else {
        return Reply::status(
            400,
            "The put-token request carries no token: send the shared access signature as the message's value (a string).",
        );
    };
    match grant(&token, &name, connection) {
        Ok(grant) => {
            connection.grants.lock().expect("grants").push(grant);
            Reply::status(200, "OK")
        }
        Err(reason) => Reply::status(401, &reason),
    }
}

/// The audience `name` names on `host`: sent URL-encoded (as a token's `sr`) or not, with or
/// without a scheme; the host compared in any case.
fn audience(name: &str, host: &str) -> Result<Audience, String> {
    let decoded = percent_decode_str(name).decode_utf8_lossy();
    let bare = without_scheme(&decoded).trim_end_matches('/');
    let (named, path) = bare.split_once('/').unwrap_or((bare, ""));
    if !named.eq_ignore_ascii_case(host) {
        return Err(format!(
            "Unauthorized: the token's audience '{bare}' is not this IoT hub ({host})."
        ));
    }
    match path.split('/').collect::<Vec<_>>().as_slice() {
        [""] => Ok(Audience::Hub),
        ["devices", id] if !id.is_empty() => Ok(Audience::Device((*id).to_owned())),
        _ => Err(format!(
            "Unauthorized: the audience '{bare}' names neither this IoT hub nor one of its devices ({host}/devices/{{id}})."
        )),
    }
}

/// Checks `token` for the audience `name`, as the HTTPS side checks a token, and says what it
/// allows; or why it is refused, in IoT Hub's words.
fn grant(token: &str, name: &str, connection: &HubConnection) -> Result<Grant, String> {
    let host = &connection.host;
    let audience = audience(name, host)?;
    let parsed = SasToken::parse(token).map_err(|_| {
        "Unauthorized: the token is not a shared access signature (SharedAccessSignature sr=…&sig=…&se=…).".to_owned()
    })?;
    let state = connection.endpoints.state.lock().expect("state lock");
    let now = now_ms();
    let hub = state
        .hubs
        .get(&connection.hub)
        .filter(|h| h.is_active(now))
        .ok_or_else(|| format!("IotHub {} not found.", connection.hub))?;
    if let Some(reason) = network_refusal(hub) {
        return Err(reason.to_owned());
    }
    let check = |access: Access<'_>, resource: &str| {
        authorize(Some(token), hub, &access, resource, now / 1000).map_err(|r| r.detail)
    };
    let grant = match audience {
        Audience::Device(device) => {
            check(
                Access::DeviceConnect { device_id: &device },
                &format!("{host}/devices/{device}"),
            )?;
            Grant {
                device: Some(device),
                device_connect: true,
                service_connect: false,
                expires_at: parsed.expiry(),
            }
        }
        Audience::Hub => {
            if parsed.key_name().is_none() {
                return Err(format!("Unauthorized: a token signed with a device's key covers that device only: put it for {host}/devices/{{id}}."));
            }
            let device_connect = check(Access::DeviceConnect { device_id: "" }, host);
            let service_connect = check(Access::ServiceConnect, host);
            if let (Err(reason), Err(_)) = (&device_connect, &service_connect) {
                return Err(reason.clone());
            }
            Grant {
                device: None,
                device_connect: device_connect.is_ok(),
                service_connect: service_connect.is_ok(),
                expires_at: parsed.expiry(),
            }
        }
    };
    Ok(grant)
}

impl HubConnection {
    /// Whether a token put on `$cbs`, still valid at `now` (seconds), lets this connection
    /// send as `device`; or why not.
    pub(super) fn may_send(&self, device: &str, now: u64) -> Result<(), String> {
        let grants = self.grants.lock().expect("grants");
        let covering: Vec<&Grant> = grants
            .iter()
            .filter(|g| match &g.device {
                Some(granted) => granted == device,
                None => g.device_connect,
            })
            .collect();
        let Some(latest) = covering.iter().map(|g| g.expires_at).max() else {
            return Err(format!(
                "Unauthorized: no token for device '{device}' was put on $cbs; put one for {}/devices/{device} first.",
                self.host
            ));
        };
        if latest <= now {
            return Err(format!(
                "Unauthorized: the token put on $cbs for device '{device}' expired at {}; put a new one.",
                timestamp_text(latest * 1000)
            ));
        }
        Ok(())
    }

    /// Whether a token with ServiceConnect, still valid, was put on `$cbs`.
    pub(super) fn has_service_grant(&self) -> bool {
        let now = now_ms() / 1000;
        let grants = self.grants.lock().expect("grants");
        grants
            .iter()
            .any(|g| g.service_connect && g.expires_at > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "plant.azure-devices.sandbox.test";

    #[test]
    fn the_audience_is_read_encoded_or_not_with_the_host_in_any_case() {
        for name in [
            "plant.azure-devices.sandbox.test%2Fdevices%2Fd1",
            "plant.azure-devices.sandbox.test/devices/d1",
            "PLANT.azure-devices.sandbox.test/devices/d1/",
            "amqps://plant.azure-devices.sandbox.test/devices/d1",
        ] {
            assert_eq!(
                audience(name, HOST),
                Ok(Audience::Device("d1".into())),
                "{name}"
            );
        }
        assert_eq!(audience(HOST, HOST), Ok(Audience::Hub));
        assert_eq!(
            audience("other.azure-devices.sandbox.test%2Fdevices%2Fd1", HOST),
            Err("Unauthorized: the token's audience 'other.azure-devices.sandbox.test/devices/d1' is not this IoT hub (plant.azure-devices.sandbox.test).".into())
        );
        assert!(audience(&format!("{HOST}/devices/d1/modules/m1"), HOST)
            .unwrap_err()
            .contains("names neither this IoT hub nor one of its devices"));
        assert!(audience(&format!("{HOST}/devices/"), HOST).is_err());
    }
}
