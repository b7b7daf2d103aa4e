//! Device entries in the hub's registry (data plane, api-version 2021-04-12), reached with a
//! short-lived SAS token of a policy that may write the registry. A new device gets keys the
//! hub generates; an existing one is reused with its keys as they are.

use std::time::Duration;

use hubsetup_core::{sas, ConnectionString, SharedAccessKey};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, IF_MATCH};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::arm::Azure;
use crate::catalog::HubInfo;
use crate::http::{self, backoff, wait, Answer, Repeat, MAX_ATTEMPTS};
use crate::hub::{scrub_keys, PolicyKeys};
use crate::progress::Progress;
use crate::record::now_secs;
use crate::renew::{RenewKey, RenewedKeys};
use crate::Error;

const HUB_API: &str = "2021-04-12";
/// Registry tokens live long enough for a batch of devices, and no longer.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// The least privileged default policy that may create devices, tried first.
const PREFERRED_REGISTRY_POLICY: &str = "registryReadWrite";

/// A device entry and its primary connection string (the secret: print it only masked).
#[derive(Debug, Clone)]
pub struct DeviceCredentials {
    pub device_id: String,
    /// False when the device existed and was reused.
    pub created: bool,
    /// A disabled device cannot connect; its string is given all the same.
    pub enabled: bool,
    pub connection_string: ConnectionString,
}

/// The facts of a device entry, without its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceSummary {
    pub device_id: String,
    pub created: bool,
    pub enabled: bool,
}

impl DeviceCredentials {
    pub fn summary(&self) -> DeviceSummary {
        DeviceSummary {
            device_id: self.device_id.clone(),
            created: self.created,
            enabled: self.enabled,
        }
    }
}

/// What the registry says of a device's activity (no keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceActivity {
    pub device_id: String,
    pub enabled: bool,
    /// `Connected` or `Disconnected` (devices over HTTPS are never connected).
    pub connected: bool,
    /// When it last connected or sent (RFC 3339), `None` when never.
    pub last_activity: Option<String>,
}

/// How many device entries one listing reads: the registry's largest page.
const LISTED_DEVICES: u32 = 1000;

/// A session with one hub's registry.
struct Registry<'a> {
    azure: &'a Azure,
    hub: &'a HubInfo,
    host: String,
    /// The `Authorization` value, marked sensitive so it never shows in debug output.
    authorization: HeaderValue,
}

impl Azure {
    /// Creates the devices that do not exist and reads the keys of those that do.
    pub async fn ensure_devices(
        &self,
        hub: &HubInfo,
        device_ids: &[String],
    ) -> Result<Vec<DeviceCredentials>, Error> {
        let registry = self.registry(hub).await?;
        let mut devices = Vec::new();
        for id in device_ids {
            devices.push(registry.ensure(id).await?);
        }
        Ok(devices)
    }

    /// The registry's devices (the first 1,000) with their activity, by device ID.
    pub async fn device_activity(&self, hub: &HubInfo) -> Result<Vec<DeviceActivity>, Error> {
        let registry = self.registry(hub).await?;
        let answer = registry.list().await?;
        let listed = answer.json()?;
        let mut devices: Vec<DeviceActivity> = listed
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                let text = |key: &str| d.get(key).and_then(Value::as_str).unwrap_or_default();
                DeviceActivity {
                    device_id: text("deviceId").to_owned(),
                    enabled: text("status").eq_ignore_ascii_case("enabled"),
                    connected: text("connectionState").eq_ignore_ascii_case("Connected"),
                    // The registry's "never" is the first instant of year 1.
                    last_activity: Some(text("lastActivityTime"))
                        .filter(|t| !t.is_empty() && !t.starts_with("0001-"))
                        .map(str::to_owned),
                }
            })
            .collect();
        devices.sort_by(|a, b| a.device_id.cmp(&b.device_id));
        Ok(devices)
    }

    /// Gives device `device_id` new keys (`which`) in the hub's registry, guarded by its etag;
    /// requests signed with a replaced key are refused at once.
    pub async fn renew_device_keys(
        &self,
        hub: &HubInfo,
        device_id: &str,
        which: RenewKey,
    ) -> Result<RenewedKeys, Error> {
        self.registry(hub).await?.renew(device_id, which).await
    }

    /// Disables device `device_id`, guarded by its etag: it can no longer connect, whatever
    /// key it holds, until it is enabled again.
    pub async fn disable_device(&self, hub: &HubInfo, device_id: &str) -> Result<(), Error> {
        let mut device = self
            .registry(hub)
            .await?
            .change(device_id, |device| {
                device["status"] = "disabled".into();
            })
            .await?;
        scrub_keys(&mut device);
        Ok(())
    }

    /// Which of `device_ids` already exist (for a plan).
    pub(crate) async fn existing_devices(
        &self,
        hub: &HubInfo,
        device_ids: &[String],
    ) -> Result<Vec<bool>, Error> {
        let registry = self.registry(hub).await?;
        let mut found = Vec::new();
        for id in device_ids {
            found.push(registry.get(id).await?.is_some());
        }
        Ok(found)
    }

    async fn registry<'a>(&'a self, hub: &'a HubInfo) -> Result<Registry<'a>, Error> {
        let policies = self.list_keys(hub).await?;
        let policy = choose_registry_policy(&policies).ok_or_else(|| Error::NoRegistryPolicy {
            hub: hub.name.clone(),
        })?;
        let host = self.hub_host(hub);
        let expiry = now_secs() + TOKEN_LIFETIME.as_secs();
        let token = Zeroizing::new(
            sas::generate(&policy.primary, &host, expiry, Some(&policy.name)).expose(),
        );
        let mut authorization =
            HeaderValue::from_str(&token).map_err(|_| Error::UnexpectedAnswer {
                what: "a registry token that is not a valid header".to_owned(),
            })?;
        authorization.set_sensitive(true);
        Ok(Registry {
            azure: self,
            hub,
            host,
            authorization,
        })
    }
}

fn choose_registry_policy(policies: &[PolicyKeys]) -> Option<&PolicyKeys> {
    policies
        .iter()
        .filter(|p| p.has_right("RegistryWrite"))
        .min_by_key(|p| p.name != PREFERRED_REGISTRY_POLICY)
}

impl Registry<'_> {
    fn url(&self, id: &str) -> String {
        let mut url =
            url::Url::parse(&format!("https://{}/", self.host)).expect("a host name makes a URL");
        url.path_segments_mut()
            .expect("https URLs have paths")
            .push("devices")
            .push(id);
        url.query_pairs_mut().append_pair("api-version", HUB_API);
        url.to_string()
    }

    async fn send(
        &self,
        method: Method,
        id: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
        repeat: Repeat,
    ) -> Result<Answer, Error> {
        let url = self.url(id);
        let build = || {
            let mut request = self
                .azure
                .http()
                .request(method.clone(), &url)
                .header(AUTHORIZATION, self.authorization.clone())
                .header(ACCEPT, "application/json");
            if let Some(etag) = if_match {
                request = request.header(IF_MATCH, format!("\"{etag}\""));
            }
            match body {
                Some(body) => request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_string()),
                None => request,
            }
        };
        http::send(build, repeat, self.azure.reporter()).await
    }

    /// The registry's first page of devices (`GET /devices?top=1000`).
    async fn list(&self) -> Result<Answer, Error> {
        let url = format!(
            "https://{}/devices?top={LISTED_DEVICES}&api-version={HUB_API}",
            self.host
        );
        let build = || {
            self.azure
                .http()
                .get(&url)
                .header(AUTHORIZATION, self.authorization.clone())
                .header(ACCEPT, "application/json")
        };
        let answer = http::send(build, Repeat::Safe, self.azure.reporter()).await?;
        if answer.status == StatusCode::OK {
            Ok(answer)
        } else {
            Err(self.refusal(&answer))
        }
    }

    /// The device's JSON (with keys: scrub it), or `None` if it is not registered.
    async fn get(&self, id: &str) -> Result<Option<Value>, Error> {
        let answer = self.send(Method::GET, id, None, None, Repeat::Safe).await?;
        match answer.status {
            StatusCode::OK => answer.json().map(Some),
            StatusCode::NOT_FOUND if hub_error_code(&answer) == "DeviceNotFound" => Ok(None),
            _ => Err(self.refusal(&answer)),
        }
    }

    async fn ensure(&self, id: &str) -> Result<DeviceCredentials, Error> {
        for attempt in 1..=MAX_ATTEMPTS {
            if let Some(mut device) = self.get(id).await? {
                let credentials = self.credentials(id, &device, false);
                scrub_keys(&mut device);
                let credentials = credentials?;
                self.azure.report(Progress::DeviceReused {
                    device_id: id.to_owned(),
                });
                return Ok(credentials);
            }
            // Keys left empty: the hub generates them.
            let body = json!({
                "deviceId": id,
                "status": "enabled",
                "authentication": { "type": "sas", "symmetricKey": { "primaryKey": null, "secondaryKey": null } },
                "capabilities": { "iotEdge": false },
            });
            let answer = match self
                .send(Method::PUT, id, Some(&body), None, Repeat::Never)
                .await
            {
                Err(Error::Network(_)) => {
                    let reason = format!("The connection was lost while creating device '{id}'; checking whether it arrived.");
                    wait(self.azure.reporter(), reason, backoff(attempt)).await;
                    continue;
                }
                other => other?,
            };
            match answer.status {
                StatusCode::OK | StatusCode::CREATED => {
                    let mut device = answer.json()?;
                    let credentials = self.credentials(id, &device, true);
                    scrub_keys(&mut device);
                    let credentials = credentials?;
                    self.azure.report(Progress::DeviceCreated {
                        device_id: id.to_owned(),
                    });
                    return Ok(credentials);
                }
                // Registered meanwhile (by a request of ours that seemed lost): read it.
                StatusCode::CONFLICT => {}
                _ if answer.is_transient() => {
                    let delay = answer.retry_after().unwrap_or_else(|| backoff(attempt));
                    let reason =
                        format!("{} is busy (HTTP {}).", self.host, answer.status.as_u16());
                    wait(self.azure.reporter(), reason, delay).await;
                }
                _ => return Err(self.refusal(&answer)),
            }
        }
        Err(Error::Busy {
            service: format!("The hub '{}'", self.hub.name),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Gives device `id` new keys, guarded by the etag it was read with.
    async fn renew(&self, id: &str, which: RenewKey) -> Result<RenewedKeys, Error> {
        let renewed = self
            .change(id, |device| {
                if let Some(keys) = device.pointer_mut("/authentication/symmetricKey") {
                    which.apply(keys, "primaryKey", "secondaryKey");
                }
            })
            .await?;
        let key = |field: &str| {
            renewed
                .pointer(&format!("/authentication/symmetricKey/{field}"))
                .and_then(Value::as_str)
                .and_then(|k| SharedAccessKey::from_base64(k).ok())
                .map(|k| ConnectionString::for_device(&self.host, id, k))
                .ok_or_else(|| Error::UnexpectedAnswer {
                    what: format!("device '{id}' without its {field} after renewal"),
                })
        };
        Ok(RenewedKeys {
            primary: key("primaryKey")?,
            secondary: key("secondaryKey")?,
        })
    }

    /// Reads device `id`, changes it and writes it back guarded by the etag it was read with:
    /// a device deleted or changed meanwhile is refused in words, and nothing is changed. The
    /// device as the hub now has it (with keys: scrub it).
    async fn change(&self, id: &str, edit: impl FnOnce(&mut Value)) -> Result<Value, Error> {
        let gone = || Error::DeviceGone {
            hub: self.hub.name.clone(),
            device: id.to_owned(),
        };
        let mut device = self.get(id).await?.ok_or_else(gone)?;
        let etag = device
            .get("etag")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::UnexpectedAnswer {
                what: format!("device '{id}' without an etag"),
            })?;
        edit(&mut device);
        let answer = self
            .send(Method::PUT, id, Some(&device), Some(&etag), Repeat::Never)
            .await;
        scrub_keys(&mut device);
        let answer = answer?;
        match answer.status {
            StatusCode::OK => answer.json(),
            StatusCode::PRECONDITION_FAILED => Err(Error::DeviceChanged {
                hub: self.hub.name.clone(),
                device: id.to_owned(),
            }),
            StatusCode::NOT_FOUND => Err(gone()),
            _ => Err(self.refusal(&answer)),
        }
    }

    fn credentials(
        &self,
        id: &str,
        device: &Value,
        created: bool,
    ) -> Result<DeviceCredentials, Error> {
        let key = device
            .pointer("/authentication/symmetricKey/primaryKey")
            .and_then(Value::as_str)
            .and_then(|k| SharedAccessKey::from_base64(k).ok())
            .ok_or_else(|| Error::UnexpectedAnswer {
                what: format!(
                    "device '{id}' without a usable primary key (is it an X.509 device?)"
                ),
            })?;
        Ok(DeviceCredentials {
            device_id: id.to_owned(),
            created,
            enabled: device.get("status").and_then(Value::as_str) != Some("disabled"),
            connection_string: ConnectionString::for_device(&self.host, id, key),
        })
    }

    /// A registry refusal in our words.
    fn refusal(&self, answer: &Answer) -> Error {
        let detail = hub_error_detail(answer);
        match answer.status.as_u16() {
            401 | 403 => Error::HubRefused {
                hub: self.hub.name.clone(),
                detail,
            },
            _ if answer.is_transient() => Error::Busy {
                service: format!("The hub '{}'", self.hub.name),
                attempts: MAX_ATTEMPTS,
            },
            status => Error::Azure {
                status,
                code: hub_error_code(answer),
                message: detail,
            },
        }
    }
}

/// `DeviceNotFound` from `iothub-errorcode`, or from `{"Message":"ErrorCode:DeviceNotFound;…"}`.
fn hub_error_code(answer: &Answer) -> String {
    if let Some(code) = answer.header("iothub-errorcode") {
        return code.to_owned();
    }
    message(answer)
        .strip_prefix("ErrorCode:")
        .and_then(|m| m.split(';').next())
        .unwrap_or_default()
        .to_owned()
}

/// The human part of a data-plane error: after `ErrorCode:X;`, before the tracking ID.
fn hub_error_detail(answer: &Answer) -> String {
    let message = message(answer);
    let detail = message.split_once(';').map_or(message.as_str(), |(_, d)| d);
    let detail = detail.split("\r\nTracking").next().unwrap_or(detail).trim();
    if detail.is_empty() {
        format!("HTTP {}.", answer.status.as_u16())
    } else {
        detail.to_owned()
    }
}

fn message(answer: &Answer) -> String {
    serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .and_then(|b| b.get("Message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_plane_errors_are_read() {
        let answer = Answer {
            status: StatusCode::FORBIDDEN,
            headers: Default::default(),
            body: Zeroizing::new(
                br#"{"Message":"ErrorCode:IpFilterRejected;Public network access to this IoT hub is disabled.","ExceptionMessage":"Tracking ID:1"}"#.to_vec(),
            ),
        };
        assert_eq!(hub_error_code(&answer), "IpFilterRejected");
        assert_eq!(
            hub_error_detail(&answer),
            "Public network access to this IoT hub is disabled."
        );
    }

    #[test]
    fn the_least_privileged_registry_policy_is_chosen() {
        let key = SharedAccessKey::from_bytes(vec![7u8; 32]).unwrap();
        let policy = |name: &str, rights: &str| PolicyKeys {
            name: name.into(),
            rights: rights.into(),
            primary: key.clone(),
        };
        let all = [
            policy(
                "iothubowner",
                "RegistryWrite, ServiceConnect, DeviceConnect",
            ),
            policy("service", "ServiceConnect"),
            policy("registryReadWrite", "RegistryWrite"),
        ];
        assert_eq!(
            choose_registry_policy(&all).unwrap().name,
            "registryReadWrite"
        );
        assert_eq!(
            choose_registry_policy(&all[..2]).unwrap().name,
            "iothubowner"
        );
        assert!(choose_registry_policy(&all[1..2]).is_none());
    }
}
