//! Reading a hub's health from Azure: the registry (each device's activity), Azure Monitor's
//! metrics for the last 24 hours (`…/providers/Microsoft.Insights/metrics`, one query), the
//! quota used today and, where the hub routes to custom endpoints, their health.

use std::time::SystemTime;

use hubsetup_provision::{Azure, Error, HubInfo};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use ts_rs::TS;

use crate::verdicts::{verdicts, Verdict};
use crate::HealthError;

const MONITOR_API: &str = "2024-02-01";
const IOTHUB_API: &str = "2023-06-30";
const HOURS: i64 = 24;
const METRICS: &str = "d2c.telemetry.ingress.success,d2c.telemetry.ingress.allProtocol,d2c.telemetry.ingress.sendThrottle,connectedDeviceCount,d2c.endpoints.egress.storage,d2c.telemetry.egress.dropped,d2c.telemetry.egress.orphaned,d2c.telemetry.egress.invalid";

/// A hub's health at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export, rename = "HubHealth")]
pub struct Health {
    pub hub: String,
    pub tier: String,
    /// When it was read (RFC 3339, UTC).
    pub read_at: String,
    /// Each device (data stream) of the registry.
    pub streams: Vec<Stream>,
    /// Messages per hour over the last 24 hours, oldest first; the last hour is the current one.
    pub hourly: Vec<Hour>,
    #[ts(type = "number")]
    pub messages_today: u64,
    #[ts(type = "number")]
    pub daily_quota: u64,
    #[ts(type = "number")]
    pub connected_devices: u64,
    /// Where the hub routes to custom endpoints (storage), what they took and how they are.
    pub routing: Option<RoutingHealth>,
    /// What it all means, most important first.
    pub verdicts: Vec<Verdict>,
}

/// A device of the registry: one data stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Stream {
    pub device_id: String,
    pub enabled: bool,
    pub connected: bool,
    /// When it last sent or connected (RFC 3339), `None` when never.
    pub last_activity: Option<String>,
}

/// One hour of the hub's device-to-cloud traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Hour {
    /// The hour's start (RFC 3339, UTC).
    pub start: String,
    #[ts(type = "number")]
    pub sent: u64,
    #[ts(type = "number")]
    pub attempted: u64,
    #[ts(type = "number")]
    pub throttled: u64,
}

/// Routing to custom endpoints over the last 24 hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct RoutingHealth {
    #[ts(type = "number")]
    pub delivered_to_storage: u64,
    #[ts(type = "number")]
    pub dropped: u64,
    #[ts(type = "number")]
    pub orphaned: u64,
    #[ts(type = "number")]
    pub invalid: u64,
    pub endpoints: Vec<EndpointHealth>,
}

/// A custom endpoint as `routingEndpointsHealth` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct EndpointHealth {
    pub name: String,
    /// `healthy`, `unhealthy`, `degraded`, `dead` or `unknown`.
    pub status: String,
    pub last_error: Option<String>,
    /// When the last error happened (as Azure writes it).
    pub last_error_time: Option<String>,
}

/// Reads the health of `hub` as it is at `now`.
pub async fn read_health(
    azure: &Azure,
    hub: &HubInfo,
    now: SystemTime,
) -> Result<Health, HealthError> {
    // Said before anything is asked of Azure Monitor, with the role to ask for.
    if !azure
        .may(
            &hub.id,
            "Microsoft.Insights/metrics/read",
            &hub.subscription_id,
        )
        .await?
    {
        return Err(HealthError::NoMonitoringRight {
            hub: hub.name.clone(),
        });
    }
    let now = OffsetDateTime::from(now);
    let this_hour = now
        .replace_minute(0)
        .and_then(|t| t.replace_second(0))
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(now);
    let start = this_hour - time::Duration::hours(HOURS - 1);
    // To the end of the current hour: an end of `now`, written to the second, would leave out
    // what arrived in the same second (Azure Monitor's end is exclusive).
    let end = this_hour + time::Duration::hours(1);
    let timespan = format!("{}/{}", rfc3339(start), rfc3339(end));
    let metrics = azure
        .arm_get_with(
            &format!("{}/providers/Microsoft.Insights/metrics", hub.id),
            MONITOR_API,
            &[
                ("timespan", timespan.as_str()),
                ("interval", "PT1H"),
                ("metricnames", METRICS),
                ("aggregation", "Total,Maximum"),
            ],
            &hub.subscription_id,
        )
        .await
        .map_err(|e| match e {
            Error::NotAllowed { .. } | Error::NotAuthorized { .. } => {
                HealthError::NoMonitoringRight {
                    hub: hub.name.clone(),
                }
            }
            other => other.into(),
        })?
        .body;
    let series = |name: &str, aggregation: &str| -> Vec<u64> {
        metrics
            .get("value")
            .and_then(Value::as_array)
            .and_then(|all| all.iter().find(|m| m["name"]["value"] == name))
            .and_then(|m| m.pointer("/timeseries/0/data"))
            .and_then(Value::as_array)
            .map(|points| {
                points
                    .iter()
                    .map(|p| p.get(aggregation).and_then(Value::as_f64).unwrap_or(0.0) as u64)
                    .collect()
            })
            .unwrap_or_default()
    };
    let (sent, attempted, throttled) = (
        series("d2c.telemetry.ingress.success", "total"),
        series("d2c.telemetry.ingress.allProtocol", "total"),
        series("d2c.telemetry.ingress.sendThrottle", "total"),
    );
    let hourly = (0..HOURS)
        .map(|i| {
            let at = |values: &[u64]| values.get(i as usize).copied().unwrap_or(0);
            Hour {
                start: rfc3339(start + time::Duration::hours(i)),
                sent: at(&sent),
                attempted: at(&attempted),
                throttled: at(&throttled),
            }
        })
        .collect();
    let total = |name: &str| series(name, "total").iter().sum::<u64>();
    let connected_devices = series("connectedDeviceCount", "maximum")
        .last()
        .copied()
        .unwrap_or(0);
    let facts = azure.hub_facts(hub).await?;
    let streams = azure
        .device_activity(hub)
        .await?
        .into_iter()
        .map(|d| Stream {
            device_id: d.device_id,
            enabled: d.enabled,
            connected: d.connected,
            last_activity: d.last_activity,
        })
        .collect();
    let resource = azure.hub_resource(hub).await?;
    let routes_to_custom = resource
        .pointer("/properties/routing/endpoints")
        .and_then(Value::as_object)
        .is_some_and(|kinds| {
            kinds
                .values()
                .filter_map(Value::as_array)
                .any(|list| !list.is_empty())
        });
    let routing = if routes_to_custom {
        let health = azure
            .arm_request(
                Method::GET,
                &format!("{}/routingEndpointsHealth", hub.id),
                IOTHUB_API,
                None,
                &hub.subscription_id,
            )
            .await?
            .body;
        Some(RoutingHealth {
            delivered_to_storage: total("d2c.endpoints.egress.storage"),
            dropped: total("d2c.telemetry.egress.dropped"),
            orphaned: total("d2c.telemetry.egress.orphaned"),
            invalid: total("d2c.telemetry.egress.invalid"),
            endpoints: health
                .get("value")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|e| {
                    let text = |key: &str| {
                        e.get(key)
                            .and_then(Value::as_str)
                            .filter(|t| !t.is_empty())
                            .map(str::to_owned)
                    };
                    EndpointHealth {
                        name: text("endpointId").unwrap_or_default(),
                        status: text("healthStatus").unwrap_or_else(|| "unknown".to_owned()),
                        last_error: text("lastKnownError"),
                        last_error_time: text("lastKnownErrorTime"),
                    }
                })
                .collect(),
        })
    } else {
        None
    };
    let mut health = Health {
        hub: hub.name.clone(),
        tier: hub.sku.clone(),
        read_at: rfc3339(now),
        streams,
        hourly,
        messages_today: facts.messages_today,
        daily_quota: facts.daily_quota,
        connected_devices,
        routing,
        verdicts: Vec::new(),
    };
    health.verdicts = verdicts(&health, now.unix_timestamp());
    Ok(health)
}

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_default()
}
