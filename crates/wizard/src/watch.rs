//! The Watch screen's work: which hub to read and with which consumer group (the signed-in
//! hub with the app's own group, or a pasted Event Hub-compatible string), and the stream of
//! what arrives, reconnecting without duplicates. Keys stay here; the webview gets messages,
//! states and sentences.

use std::time::{Duration, SystemTime};

use hubsetup_core::ConnectionString;
use hubsetup_events::{
    named_host, watch, BodyView, Event, EventHubAddress, StartAt, WatchUpdate,
    DEFAULT_CONSUMER_GROUP,
};
use hubsetup_livetest::ReadBack;
use hubsetup_net::Network;
use hubsetup_provision::{HubInfo, OWN_CONSUMER_GROUP};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use ts_rs::TS;
use zeroize::Zeroizing;

use crate::admin::failed;
use crate::session::{FieldRow, Session, SessionError};

/// Which hub the Watch screen reads.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum WatchSource {
    /// The hub the wizard created or chose, through the signed-in account.
    SignedIn,
    /// An Event Hub-compatible or hub service connection string the user pasted.
    Pasted { text: String },
}

/// Where reading starts.
#[derive(Debug, Clone, Copy, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum WatchSince {
    Now,
    MinutesBack {
        minutes: u32,
    },
    /// Everything the endpoint still holds (a day or more).
    Beginning,
}

impl WatchSince {
    fn start(self) -> StartAt {
        match self {
            WatchSince::Now => StartAt::Latest,
            WatchSince::MinutesBack { minutes } => {
                StartAt::Time(SystemTime::now() - Duration::from_secs(u64::from(minutes) * 60))
            }
            WatchSince::Beginning => StartAt::Beginning,
        }
    }
}

/// What the Watch screen asks for.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct WatchRequest {
    pub source: WatchSource,
    /// None: the app's own group when the hub has it, else `$Default` (with a warning).
    pub consumer_group: Option<String>,
    pub since: WatchSince,
}

/// What the Watch screen offers before it starts: the signed-in hub, if any, and its groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct WatchOptions {
    /// The hub the wizard created or chose, when signed in.
    pub hub: Option<String>,
    pub consumer_groups: Vec<String>,
    /// The group the app creates when asked (`hubsetup-watch`).
    pub own_group: String,
    pub own_group_exists: bool,
}

/// A message body as the screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
#[ts(export)]
pub enum ShownBody {
    /// Pretty-printed JSON.
    Json(String),
    Text(String),
    /// Bytes in hexadecimal, 16 to a line.
    Hex(String),
}

/// One message as a row of the screen's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct WatchedMessage {
    pub device: String,
    pub partition: String,
    #[ts(type = "number")]
    pub sequence_number: i64,
    /// When the hub stored it (RFC 3339, UTC; the screen shows it in local time).
    pub enqueued: String,
    /// From the hub storing it to this computer seeing it, in milliseconds; None for what
    /// was stored before the watch began (read back, not seen live).
    #[ts(type = "number | null")]
    pub latency_ms: Option<i64>,
    pub properties: Vec<FieldRow>,
    pub system_properties: Vec<FieldRow>,
    pub body: ShownBody,
    /// The message as one line of a saved JSON-lines file (as `hubsetup watch --json`).
    pub json_line: String,
}

/// What the screen hears while it watches.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum WatchEvent {
    Connected {
        hub: String,
        consumer_group: String,
        transport: String,
        /// A warning for `$Default`.
        warning: Option<String>,
    },
    Message {
        message: WatchedMessage,
    },
    Reconnecting {
        reason: String,
        attempt: u32,
        seconds: f64,
    },
    /// The watch ended with this sentence; nothing more follows.
    Ended {
        message: String,
    },
}

impl Session {
    /// The hub the wizard created or chose, when signed in.
    pub(crate) fn signed_in_hub(&self) -> Option<HubInfo> {
        self.created_hub
            .lock()
            .expect("hub lock")
            .as_ref()
            .map(|(hub, _)| hub.clone())
            .filter(|_| self.azure.lock().expect("azure lock").is_some())
    }

    pub async fn watch_options(&self) -> Result<WatchOptions, SessionError> {
        let Some(hub) = self.signed_in_hub() else {
            return Ok(WatchOptions {
                hub: None,
                consumer_groups: Vec::new(),
                own_group: OWN_CONSUMER_GROUP.to_owned(),
                own_group_exists: false,
            });
        };
        let consumer_groups = self.azure()?.consumer_groups(&hub).await.map_err(failed)?;
        Ok(WatchOptions {
            own_group_exists: consumer_groups
                .iter()
                .any(|g| g.eq_ignore_ascii_case(OWN_CONSUMER_GROUP)),
            hub: Some(hub.name),
            consumer_groups,
            own_group: OWN_CONSUMER_GROUP.to_owned(),
        })
    }

    /// Creates the app's own consumer group on the signed-in hub (the screen asks first).
    pub async fn create_consumer_group(&self) -> Result<WatchOptions, SessionError> {
        let hub = self.need_signed_in_hub()?;
        self.azure()?
            .create_consumer_group(&hub, OWN_CONSUMER_GROUP)
            .await
            .map_err(failed)?;
        self.update(|s| s.own_consumer_group = Some(hub.name.clone()))?;
        self.watch_options().await
    }

    /// Deletes the app's own consumer group from the signed-in hub.
    pub async fn delete_consumer_group(&self) -> Result<WatchOptions, SessionError> {
        let hub = self.need_signed_in_hub()?;
        self.azure()?
            .delete_consumer_group(&hub, OWN_CONSUMER_GROUP)
            .await
            .map_err(failed)?;
        self.update(|s| s.own_consumer_group = None)?;
        self.watch_options().await
    }

    fn need_signed_in_hub(&self) -> Result<HubInfo, SessionError> {
        self.signed_in_hub().ok_or_else(|| {
            SessionError::new(
                "watch",
                "Sign in and create or choose a hub first, or paste an Event Hub-compatible connection string.",
            )
        })
    }

    /// The endpoint and consumer group of a request, and the network to read it through: the
    /// one of the cloud the string or hub belongs to (an endpoint's own host may not name it).
    async fn watch_target(
        &self,
        request: &WatchRequest,
    ) -> Result<(EventHubAddress, String, Network), SessionError> {
        let (address, network) = match &request.source {
            WatchSource::Pasted { text } => {
                let text = Zeroizing::new(text.clone());
                let host = named_host(&text).unwrap_or_default();
                let network = self.network_for_host(&host)?;
                let address = EventHubAddress::resolve(&network, &text)
                    .await
                    .map_err(|e| SessionError::new("watch", e))?;
                (address, network)
            }
            WatchSource::SignedIn => {
                let hub = self.need_signed_in_hub()?;
                let address = self
                    .azure()?
                    .event_hub_address(&hub)
                    .await
                    .map_err(failed)?;
                (address, self.network_for_host(&hub.host_name)?)
            }
        };
        let group = match (&request.consumer_group, &request.source) {
            (Some(group), _) if !group.trim().is_empty() => group.trim().to_owned(),
            (_, WatchSource::SignedIn) if self.watch_options().await?.own_group_exists => {
                OWN_CONSUMER_GROUP.to_owned()
            }
            _ => DEFAULT_CONSUMER_GROUP.to_owned(),
        };
        Ok((address, group, network))
    }

    /// Watches until [`Session::watch_stop`] or another watch starts, telling `on_event`
    /// everything as it happens. Returns when the watch ends.
    pub async fn watch(
        &self,
        request: WatchRequest,
        on_event: &(dyn Fn(WatchEvent) + Sync),
    ) -> Result<(), SessionError> {
        let (address, group, network) = self.watch_target(&request).await?;
        let (stop, stopped) = oneshot::channel();
        // A watch already running stops: its sender is dropped here.
        *self.watch_stop.lock().expect("watch lock") = Some(stop);
        let warning = (group == DEFAULT_CONSUMER_GROUP).then(|| {
            "Reading on $Default, which the hub's other readers (Stream Analytics, Functions) may use too: one that asks for exclusive access ends this watch, and all share a limit of 5 readers. Create a consumer group of your own to leave them undisturbed.".to_owned()
        });
        let hub = address.entity.clone();
        let began = SystemTime::now();
        let mut updates = watch(network, address, group.clone(), request.since.start());
        let mut stopped = stopped;
        loop {
            let update = tokio::select! {
                update = updates.recv() => update,
                _ = &mut stopped => return Ok(()),
            };
            let event = match update {
                None => return Ok(()),
                Some(WatchUpdate::Connected { transport }) => WatchEvent::Connected {
                    hub: hub.clone(),
                    consumer_group: group.clone(),
                    transport: transport.to_string(),
                    warning: warning.clone(),
                },
                Some(WatchUpdate::Event(event)) => WatchEvent::Message {
                    message: watched(&event, began, SystemTime::now()),
                },
                Some(WatchUpdate::Reconnecting {
                    reason,
                    attempt,
                    delay,
                }) => WatchEvent::Reconnecting {
                    reason: reason.to_string(),
                    attempt,
                    seconds: delay.as_secs_f64(),
                },
                Some(WatchUpdate::Ended(error)) => {
                    on_event(WatchEvent::Ended {
                        message: error.to_string(),
                    });
                    return Ok(());
                }
            };
            on_event(event);
        }
    }

    /// Where the live test reads its message back when signed in: the hub the string is for,
    /// on the app's own consumer group when the hub has it. None (the stage then says "not
    /// checked") when not signed in, for another hub, or when Azure does not give access.
    pub(crate) async fn signed_in_read_back(&self, cs: &ConnectionString) -> Option<ReadBack> {
        let hub = self
            .signed_in_hub()
            .filter(|hub| hub.host_name.eq_ignore_ascii_case(cs.host_name()))?;
        let azure = self.azure().ok()?;
        let address = azure.event_hub_address(&hub).await.ok()?;
        let consumer_group = match azure
            .has_consumer_group(&hub, OWN_CONSUMER_GROUP)
            .await
            .ok()?
        {
            true => OWN_CONSUMER_GROUP,
            false => DEFAULT_CONSUMER_GROUP,
        };
        Some(ReadBack {
            address,
            consumer_group: consumer_group.to_owned(),
        })
    }

    /// Stops the watch under way, if any.
    pub fn watch_stop(&self) {
        self.watch_stop.lock().expect("watch lock").take();
    }

    /// Writes messages the screen kept (their `json_line`s) to a JSON-lines file.
    pub fn watch_save(&self, path: &std::path::Path, lines: &[String]) -> Result<(), SessionError> {
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(path, text).map_err(|e| {
            SessionError::new(
                "watch",
                format!(
                    "The messages could not be saved to {}: {e}. Choose a folder you may write to.",
                    path.display()
                ),
            )
        })
    }
}

fn rows(map: &std::collections::BTreeMap<String, String>) -> Vec<FieldRow> {
    map.iter()
        .map(|(name, value)| FieldRow {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

/// An event as a row, seen at `now` by a watch that `began` then.
fn watched(event: &Event, began: SystemTime, now: SystemTime) -> WatchedMessage {
    let ms = |time: SystemTime| {
        time.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    };
    let body = match event.body_view() {
        BodyView::Json(json) => {
            ShownBody::Json(serde_json::to_string_pretty(&json).unwrap_or_default())
        }
        BodyView::Text(text) => ShownBody::Text(text),
        BodyView::Base64(_) => ShownBody::Hex(hex_lines(&event.body)),
    };
    WatchedMessage {
        device: event.device_id.clone().unwrap_or_default(),
        partition: event.partition.clone(),
        sequence_number: event.sequence_number,
        enqueued: hubsetup_events::rfc3339(event.enqueued_ms),
        latency_ms: (event.enqueued_ms >= ms(began)).then(|| (ms(now) - event.enqueued_ms).max(0)),
        properties: rows(&event.properties),
        system_properties: rows(&event.system_properties),
        body,
        json_line: event.to_json().to_string(),
    }
}

/// `00 ff 10 …`, 16 bytes to a line.
fn hex_lines(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .map(|line| {
            line.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::session::tests::{pasted_sandbox_string, DEVICE, HUB};

    #[tokio::test(flavor = "multi_thread")]
    async fn a_pasted_service_string_is_watched_on_default_with_a_warning_until_stopped() {
        let (_dir, session, sandbox, handle) = pasted_sandbox_string();
        let (hub, device) = (HUB, DEVICE);
        assert!(
            session
                .verify(&handle, &crate::session::TestChoice::default(), &|_| {})
                .await
                .unwrap()
                .accepted
        );

        let heard = Arc::new(Mutex::new(Vec::new()));
        let request = WatchRequest {
            source: WatchSource::Pasted {
                text: sandbox
                    .policy_connection_string(hub, "service")
                    .unwrap()
                    .expose()
                    .to_string(),
            },
            consumer_group: None,
            since: WatchSince::Beginning,
        };
        let watching = {
            let (session, heard) = (session.clone(), heard.clone());
            tokio::spawn(async move {
                session
                    .watch(request, &|event| heard.lock().unwrap().push(event))
                    .await
            })
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !heard
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, WatchEvent::Message { .. }))
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        session.watch_stop();
        tokio::time::timeout(Duration::from_secs(5), watching)
            .await
            .expect("the watch stops when asked")
            .unwrap()
            .unwrap();
        let heard = heard.lock().unwrap();
        let WatchEvent::Connected {
            hub: entity,
            consumer_group,
            warning,
            ..
        } = &heard[0]
        else {
            panic!("the screen hears of the connection first: {:?}", heard[0]);
        };
        assert_eq!(
            (entity.as_str(), consumer_group.as_str()),
            (hub, "$Default")
        );
        assert!(warning
            .as_deref()
            .unwrap()
            .contains("Create a consumer group of your own"));
        let WatchEvent::Message { message } = &heard[1] else {
            panic!("then the message: {:?}", heard[1]);
        };
        assert_eq!(message.device, device);
        assert_eq!(message.latency_ms, None, "stored before the watch began");
    }

    fn event(body: &[u8]) -> Event {
        Event {
            partition: "2".into(),
            sequence_number: 41,
            offset: "8192".into(),
            enqueued_ms: 1_764_700_000_000,
            device_id: Some("meter-7".into()),
            properties: [("run".to_owned(), "a".to_owned())].into(),
            system_properties: [("message-id".to_owned(), "m1".to_owned())].into(),
            body: body.to_vec(),
        }
    }

    #[test]
    fn rows_show_json_pretty_text_as_is_and_binary_in_hex() {
        let at = |ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        let (began, seen) = (at(1_764_699_990_000), at(1_764_700_000_250));
        let row = watched(&event(br#"{"t":21.5}"#), began, seen);
        assert_eq!(row.body, ShownBody::Json("{\n  \"t\": 21.5\n}".into()));
        assert_eq!(row.latency_ms, Some(250));
        // Stored before the watch began: read back, so no latency.
        let later_watch = at(1_764_700_000_100);
        assert_eq!(watched(&event(b"{}"), later_watch, seen).latency_ms, None);
        assert_eq!(row.device, "meter-7");
        assert_eq!(row.enqueued, "2025-12-02T18:26:40.000Z");
        assert_eq!(
            row.properties,
            [FieldRow {
                name: "run".into(),
                value: "a".into()
            }]
        );
        let line: serde_json::Value = serde_json::from_str(&row.json_line).unwrap();
        assert_eq!(line["sequence_number"], 41);
        assert_eq!(
            watched(&event(b"ok"), began, seen).body,
            ShownBody::Text("ok".into())
        );
        let binary: Vec<u8> = (0..18).map(|b| b * 15).collect();
        assert_eq!(
            watched(&event(&[0xff, 0x00, 0x80]), began, seen).body,
            ShownBody::Hex("ff 00 80".into())
        );
        let ShownBody::Hex(hex) = watched(&event(&binary), began, seen).body else {
            panic!("binary shows in hex");
        };
        assert_eq!(hex.lines().count(), 2);
        assert!(hex.starts_with("00 0f 1e"), "{hex}");
    }
}
