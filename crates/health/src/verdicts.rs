//! What a hub's health means, in sentences an admin acts on, most urgent first: a storage
//! endpoint that stopped taking data, a data stream gone quiet, throttling, a quota nearly
//! spent, messages that went nowhere; else that data is arriving.

use serde::Serialize;
use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::OffsetDateTime;
use ts_rs::TS;

use crate::read::Health;

/// A stream with no activity for this long has stopped (an hour: the alert's default window).
const QUIET_SECS: i64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Level {
    Bad,
    Warn,
    Good,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Verdict {
    pub level: Level,
    pub text: String,
}

fn verdict(level: Level, text: String) -> Verdict {
    Verdict { level, text }
}

/// The verdicts on `health` at `now` (seconds since the epoch), most urgent first.
pub fn verdicts(health: &Health, now: i64) -> Vec<Verdict> {
    let mut found = Vec::new();
    if let Some(routing) = &health.routing {
        for endpoint in &routing.endpoints {
            if matches!(endpoint.status.as_str(), "unhealthy" | "degraded" | "dead") {
                let since = endpoint
                    .last_error_time
                    .as_deref()
                    .map(|t| format!(" since {}", clock(t)))
                    .unwrap_or_default();
                let why = endpoint
                    .last_error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                found.push(verdict(
                    Level::Bad,
                    format!(
                        "The storage endpoint {} has been {}{since}{why}",
                        endpoint.name, endpoint.status
                    ),
                ));
            }
        }
        if routing.dropped > 0 {
            found.push(verdict(
                Level::Bad,
                format!(
                    "Routing dropped {} messages in the last 24 hours: an endpoint could not take them.",
                    hubsetup_locale::count(routing.dropped)
                ),
            ));
        }
    }
    for stream in health.streams.iter().filter(|s| s.enabled) {
        match stream.last_activity.as_deref().and_then(seconds) {
            None => found.push(verdict(
                Level::Warn,
                format!("No messages from {} yet.", stream.device_id),
            )),
            Some(last) if now - last >= QUIET_SECS => found.push(verdict(
                Level::Bad,
                format!(
                    "No messages from {} for {} (last at {}).",
                    stream.device_id,
                    span(now - last),
                    clock(stream.last_activity.as_deref().unwrap_or_default())
                ),
            )),
            Some(_) => {}
        }
    }
    let throttled: u64 = health.hourly.iter().map(|h| h.throttled).sum();
    if throttled > 0 {
        found.push(verdict(
            Level::Warn,
            format!(
                "Throttled {} times in the last 24 hours: {}.",
                hubsetup_locale::count(throttled),
                more_capacity(&health.tier)
            ),
        ));
    }
    if health.daily_quota > 0 && health.messages_today * 100 >= health.daily_quota * 80 {
        let level = if health.messages_today >= health.daily_quota {
            Level::Bad
        } else {
            Level::Warn
        };
        found.push(verdict(
            level,
            format!(
                "{} of {} messages used today ({}%): at the limit the hub refuses messages until midnight UTC; {}.",
                hubsetup_locale::count(health.messages_today),
                hubsetup_locale::count(health.daily_quota),
                health.messages_today * 100 / health.daily_quota,
                more_capacity(&health.tier)
            ),
        ));
    }
    if let Some(routing) = health.routing.as_ref().filter(|r| r.orphaned > 0) {
        found.push(verdict(
            Level::Warn,
            format!(
                "{} messages matched no route in the last 24 hours and were kept nowhere: add a route for them, or the route to the built-in endpoint.",
                hubsetup_locale::count(routing.orphaned)
            ),
        ));
    }
    if found.is_empty() {
        found.push(arriving(health));
    }
    found.sort_by_key(|v| v.level);
    found
}

/// Whether messages came in the current clock hour (or, just after the hour, the one before).
fn arriving(health: &Health) -> Verdict {
    let messages = |n: u64| {
        format!(
            "{} message{}",
            hubsetup_locale::count(n),
            if n == 1 { "" } else { "s" }
        )
    };
    let mut hours = health.hourly.iter().rev();
    let (Some(current), previous) = (hours.next(), hours.next()) else {
        return verdict(Level::Warn, "No messages yet.".to_owned());
    };
    if current.sent > 0 {
        return verdict(
            Level::Good,
            format!(
                "Data is arriving: {} since {}.",
                messages(current.sent),
                clock(&current.start)
            ),
        );
    }
    match previous {
        Some(before) if before.sent > 0 => verdict(
            Level::Good,
            format!(
                "Data is arriving: {} between {} and {}.",
                messages(before.sent),
                clock(&before.start),
                clock(&current.start)
            ),
        ),
        Some(before) => verdict(
            Level::Warn,
            format!("No messages since {}.", clock(&before.start)),
        ),
        None => verdict(
            Level::Warn,
            format!("No messages since {}.", clock(&current.start)),
        ),
    }
}

/// What gives a hub of `tier` more capacity.
fn more_capacity(tier: &str) -> String {
    let next = match tier.to_ascii_uppercase().as_str() {
        "F1" => return "move to a paid tier (B1 or S1)".to_owned(),
        "B1" => "B2",
        "B2" => "B3",
        "S1" => "S2",
        "S2" => "S3",
        _ => return "add a unit".to_owned(),
    };
    format!("add a unit or move to {next}")
}

/// Seconds since the epoch of an RFC 3339 or RFC 1123 time.
fn seconds(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(text, &Rfc2822))
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// `09:12 UTC` of a time, or the text as it is when it cannot be read.
fn clock(text: &str) -> String {
    match OffsetDateTime::parse(text, &Rfc3339).or_else(|_| OffsetDateTime::parse(text, &Rfc2822)) {
        Ok(t) => format!("{:02}:{:02} UTC", t.hour(), t.minute()),
        Err(_) => text.to_owned(),
    }
}

/// `45 min`, `3 h`, `2 days`.
fn span(secs: i64) -> String {
    match secs {
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 48 * 3600 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::{EndpointHealth, Hour, RoutingHealth, Stream};

    /// 2026-12-07T12:15:00Z
    const NOW: i64 = 1_796_645_700;

    fn healthy() -> Health {
        Health {
            hub: "plant".into(),
            tier: "S1".into(),
            read_at: "2026-12-07T12:15:00Z".into(),
            streams: vec![Stream {
                device_id: "io.microshare.contact.unpacked.event".into(),
                enabled: true,
                connected: true,
                last_activity: Some("2026-12-07T12:10:00Z".into()),
            }],
            hourly: vec![Hour {
                start: "2026-12-07T12:00:00Z".into(),
                sent: 1200,
                attempted: 1200,
                throttled: 0,
            }],
            messages_today: 5_000,
            daily_quota: 400_000,
            connected_devices: 1,
            routing: None,
            verdicts: Vec::new(),
        }
    }

    fn texts(health: &Health) -> Vec<String> {
        verdicts(health, NOW).into_iter().map(|v| v.text).collect()
    }

    #[test]
    fn a_healthy_hub_says_data_is_arriving() {
        assert_eq!(
            texts(&healthy()),
            ["Data is arriving: 1,200 messages since 12:00 UTC."]
        );
        let mut just_after_the_hour = healthy();
        just_after_the_hour.hourly.push(Hour {
            start: "2026-12-07T13:00:00Z".into(),
            sent: 0,
            attempted: 0,
            throttled: 0,
        });
        assert_eq!(
            texts(&just_after_the_hour),
            ["Data is arriving: 1,200 messages between 12:00 UTC and 13:00 UTC."]
        );
        just_after_the_hour.hourly[0].sent = 0;
        just_after_the_hour.streams.clear();
        assert_eq!(
            texts(&just_after_the_hour),
            ["No messages since 12:00 UTC."]
        );
    }

    #[test]
    fn a_quiet_stream_a_dead_endpoint_throttling_and_the_quota_are_said_most_urgent_first() {
        let mut health = healthy();
        health.streams[0].last_activity = Some("2026-12-07T09:12:00Z".into());
        health.streams.push(Stream {
            device_id: "new.stream".into(),
            enabled: true,
            connected: false,
            last_activity: None,
        });
        health.hourly[0].throttled = 120;
        health.messages_today = 390_000;
        health.routing = Some(RoutingHealth {
            delivered_to_storage: 10,
            dropped: 0,
            orphaned: 0,
            invalid: 0,
            endpoints: vec![EndpointHealth {
                name: "store-io.microshare.contact.unpacked.event".into(),
                status: "dead".into(),
                last_error: Some(
                    "ContainerNotFound: The specified container does not exist.".into(),
                ),
                last_error_time: Some("Mon, 07 Dec 2026 10:05:00 GMT".into()),
            }],
        });
        assert_eq!(
            texts(&health),
            [
                "The storage endpoint store-io.microshare.contact.unpacked.event has been dead since 10:05 UTC: ContainerNotFound: The specified container does not exist.",
                "No messages from io.microshare.contact.unpacked.event for 3 h (last at 09:12 UTC).",
                "No messages from new.stream yet.",
                "Throttled 120 times in the last 24 hours: add a unit or move to S2.",
                "390,000 of 400,000 messages used today (97%): at the limit the hub refuses messages until midnight UTC; add a unit or move to S2.",
            ]
        );
    }

    #[test]
    fn a_free_hub_is_told_to_move_to_a_paid_tier_and_disabled_devices_are_not_missed() {
        let mut health = healthy();
        health.tier = "F1".into();
        health.hourly[0].throttled = 3;
        health.streams[0].enabled = false;
        health.streams[0].last_activity = None;
        assert_eq!(
            texts(&health),
            ["Throttled 3 times in the last 24 hours: move to a paid tier (B1 or S1)."]
        );
    }
}
