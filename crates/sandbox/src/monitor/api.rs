//! `GET {hub}/providers/Microsoft.Insights/metrics` and `…/metricDefinitions`, as Azure
//! Monitor answers them (`monitor/resource-manager/Microsoft.Insights/Insights/stable/
//! 2024-02-01/metrics_API.json` and `metricDefinitions_API.json`): the query's timespan,
//! interval, metric names and aggregations; errors flat (`{code, message}`) in Azure Monitor's
//! words. The Azure CLI encodes the timespan twice; Azure reads it either way, and so does
//! this.

use hyper::StatusCode;
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{OffsetDateTime, PrimitiveDateTime};

use super::catalog::{metric, Metric, METRICS};
use super::{minute_of, Point};
use crate::http::{json_response, Req, Resp};
use crate::state::Hub;

const NAMESPACE: &str = "Microsoft.Devices/IotHubs";
/// Intervals Azure Monitor takes, in minutes.
const INTERVALS: &[(&str, u64)] = &[
    ("PT1M", 1),
    ("PT5M", 5),
    ("PT15M", 15),
    ("PT30M", 30),
    ("PT1H", 60),
    ("PT6H", 360),
    ("PT12H", 720),
    ("P1D", 1440),
];

fn bad_request(message: String) -> Resp {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "code": "BadRequest", "message": message }),
    )
}

/// The hub's metric definitions.
pub(crate) fn definitions(hub_id: &str) -> Resp {
    let value: Vec<Value> = METRICS
        .iter()
        .map(|m| {
            json!({
                "id": format!("{hub_id}/providers/microsoft.insights/metricdefinitions/{}", m.name),
                "resourceId": hub_id,
                "namespace": NAMESPACE,
                "name": { "value": m.name, "localizedValue": m.display },
                "displayDescription": m.description,
                "category": m.category,
                "isDimensionRequired": false,
                "unit": "Count",
                "primaryAggregationType": m.primary,
                "supportedAggregationTypes": m.aggregations,
                "metricAvailabilities": [
                    { "timeGrain": "PT1M", "retention": "P93D" },
                    { "timeGrain": "PT5M", "retention": "P93D" },
                    { "timeGrain": "PT15M", "retention": "P93D" },
                    { "timeGrain": "PT30M", "retention": "P93D" },
                    { "timeGrain": "PT1H", "retention": "P93D" },
                    { "timeGrain": "PT6H", "retention": "P93D" },
                    { "timeGrain": "PT12H", "retention": "P93D" },
                    { "timeGrain": "P1D", "retention": "P93D" },
                ],
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}

/// The hub's metrics over the query's timespan.
pub(crate) fn metrics(req: &Req, hub: &mut Hub, hub_id: &str, now_ms: u64) -> Resp {
    // The registry's count is read as the hub would report it now.
    hub.metrics.set(
        super::catalog::Gauge::TotalDevices,
        hub.devices.len() as u64,
        now_ms,
    );
    let now = minute_of(now_ms);
    let (from, to) = match req.query("timespan") {
        None => (now.saturating_sub(60), now),
        Some(text) => match timespan(&twice_decoded(text), now_ms) {
            Some(span) => span,
            None => {
                return bad_request(format!(
                    "Detected invalid time interval input: {}, supported Iso 8601 time interval format: (Datetime/Datetime, Datetime/Duration, Duration/Datetime, Duration)",
                    twice_decoded(text)
                ))
            }
        },
    };
    if from >= to {
        return bad_request(format!(
            "Invalid time interval: the start time {} is not before the end time {}.",
            timestamp(from),
            timestamp(to)
        ));
    }
    if to + 1 < now.saturating_sub(super::RETENTION_MINUTES) {
        return bad_request(format!(
            "Query endTime: {} is out of the Max metrics retention period: 93.00:00:00",
            timestamp(to)
        ));
    }
    let interval = req.query("interval").unwrap_or("PT1M");
    let step = if interval.eq_ignore_ascii_case("FULL") {
        to - from
    } else {
        match INTERVALS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(interval))
        {
            Some((_, minutes)) => *minutes,
            None => {
                return bad_request(format!(
                    "Invalid interval '{interval}': use one of {} or FULL.",
                    INTERVALS
                        .iter()
                        .map(|(name, _)| *name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
    };
    let names: Vec<String> = match req.query("metricnames") {
        Some(list) if !list.trim().is_empty() => {
            list.split(',').map(|n| n.trim().to_owned()).collect()
        }
        // Azure answers the provider's first metric when none is named.
        _ => vec![METRICS[0].name.to_owned()],
    };
    let mut chosen: Vec<&Metric> = Vec::new();
    for name in &names {
        match metric(name) {
            Some(m) => chosen.push(m),
            None => {
                return bad_request(format!(
                    "Failed to find metric configuration for provider: Microsoft.Devices, resource Type: IotHubs, metric: {name}, Valid metrics: {}",
                    METRICS.iter().map(|m| m.name).collect::<Vec<_>>().join(",")
                ))
            }
        }
    }
    if let Some(filter) = req.query("$filter").filter(|f| !f.trim().is_empty()) {
        // IoT Hub's metrics have no dimensions to filter by.
        return bad_request(format!(
            "Metric: {} does not support requested dimension combination: {filter}, supported ones are: ",
            names.join(",")
        ));
    }
    let asked: Vec<String> = req
        .query("aggregation")
        .map(|a| {
            a.split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty() && s != "none")
                .collect()
        })
        .unwrap_or_default();
    let value: Vec<Value> = chosen
        .iter()
        .map(|m| {
            let wanted: Vec<&str> = if asked.is_empty() {
                vec![m.primary]
            } else {
                m.aggregations
                    .iter()
                    .copied()
                    .filter(|a| asked.contains(&a.to_ascii_lowercase()))
                    .collect()
            };
            let data: Vec<Value> = hub
                .metrics
                .series(m, from, to, step)
                .iter()
                .map(|p| point(p, &wanted))
                .collect();
            json!({
                "id": format!("{hub_id}/providers/Microsoft.Insights/metrics/{}", m.name),
                "type": "Microsoft.Insights/metrics",
                "name": { "value": m.name, "localizedValue": m.display },
                "displayDescription": m.description,
                "unit": "Count",
                "timeseries": [{ "metadatavalues": [], "data": data }],
                "errorCode": "Success",
            })
        })
        .collect();
    let points = (to - from).div_ceil(step);
    json_response(
        StatusCode::OK,
        &json!({
            "cost": points * chosen.len() as u64,
            "timespan": format!("{}/{}", timestamp(from), timestamp(to)),
            "interval": if interval.eq_ignore_ascii_case("FULL") { "FULL".to_owned() } else { interval.to_ascii_uppercase() },
            "value": value,
            "namespace": NAMESPACE,
            "resourceregion": hub.location,
        }),
    )
}

fn point(p: &Point, wanted: &[&str]) -> Value {
    let mut out = Map::new();
    out.insert("timeStamp".into(), json!(timestamp(p.start_minute)));
    for (name, value) in [
        ("Average", p.average),
        ("Minimum", p.minimum),
        ("Maximum", p.maximum),
        ("Total", p.total),
        ("Count", p.count),
    ] {
        if let (true, Some(value)) = (wanted.contains(&name), value) {
            out.insert(name.to_ascii_lowercase(), json!(value));
        }
    }
    Value::Object(out)
}

/// A query value the Azure CLI percent-encoded once more than the URL needs.
fn twice_decoded(text: &str) -> String {
    if text.contains('%') {
        percent_decode_str(text).decode_utf8_lossy().into_owned()
    } else {
        text.to_owned()
    }
}

/// `2026-12-07T18:11:00Z` of a minute since the epoch.
fn timestamp(minute: u64) -> String {
    OffsetDateTime::from_unix_timestamp((minute * 60) as i64)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The minutes `from..to` of an ISO 8601 interval: two instants, an instant and a duration
/// either way round, or a duration up to now. Instants without an offset are UTC; a partial
/// minute at the end counts.
fn timespan(text: &str, now_ms: u64) -> Option<(u64, u64)> {
    let parts: Vec<&str> = text.split('/').collect();
    let now = now_ms / 1000;
    let (start, end) = match parts.as_slice() {
        [single] => {
            let length = duration_secs(single)?;
            (now.checked_sub(length)?, now)
        }
        [a, b] => match (instant(a), instant(b)) {
            (Some(start), Some(end)) => (start, end),
            (Some(start), None) => (start, start + duration_secs(b)?),
            (None, Some(end)) => (end.checked_sub(duration_secs(a)?)?, end),
            (None, None) => return None,
        },
        _ => return None,
    };
    Some((start / 60, end.div_ceil(60)))
}

/// Seconds since the epoch of an ISO 8601 date and time.
fn instant(text: &str) -> Option<u64> {
    let text = text.trim();
    let parsed = OffsetDateTime::parse(text, &Iso8601::DEFAULT)
        .or_else(|_| OffsetDateTime::parse(text, &Rfc3339))
        .or_else(|_| PrimitiveDateTime::parse(text, &Iso8601::DEFAULT).map(|t| t.assume_utc()))
        .ok()?;
    u64::try_from(parsed.unix_timestamp()).ok()
}

/// Seconds of an ISO 8601 duration of days, hours, minutes and seconds (`P1D`, `PT1H30M`).
pub(crate) fn duration_secs(text: &str) -> Option<u64> {
    let rest = text.trim().strip_prefix(['P', 'p'])?;
    let (days, time) = match rest.split_once(['T', 't']) {
        Some((days, time)) => (days, time),
        None => (rest, ""),
    };
    let mut secs = 0u64;
    let mut add = |part: &str, units: &[(char, u64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
            } else {
                let (_, size) = units.iter().find(|(u, _)| u.eq_ignore_ascii_case(&c))?;
                secs += number.parse::<u64>().ok()? * size;
                number.clear();
            }
        }
        number.is_empty().then_some(())
    };
    add(days, &[('D', 86_400)])?;
    add(time, &[('H', 3_600), ('M', 60), ('S', 1)])?;
    (secs > 0).then_some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans_are_read_in_every_iso_8601_form_azure_takes() {
        let now_ms = 1_796_655_899_000; // 2026-12-07T15:04:59Z
        let hour = timespan("2026-12-07T14:00:00Z/2026-12-07T15:00:00Z", now_ms).unwrap();
        assert_eq!(hour.1 - hour.0, 60);
        // As the Azure CLI sends it: local time without an offset, with microseconds.
        let cli = timespan(
            "2026-12-07T14:04:59.703273/2026-12-07T15:04:59.703273",
            now_ms,
        )
        .unwrap();
        assert_eq!(cli.1 - cli.0, 61, "the partial minute at the end counts");
        assert_eq!(
            timespan("PT1H", now_ms),
            Some((now_ms / 60_000 - 60, now_ms / 60_000 + 1))
        );
        assert_eq!(
            timespan("2026-12-07T14:00:00Z/PT30M", now_ms).map(|(a, b)| b - a),
            Some(30)
        );
        assert_eq!(
            timespan("P1D/2026-12-07T00:00:00+00:00", now_ms).map(|(a, b)| b - a),
            Some(1440)
        );
        assert_eq!(timespan("yesterday", now_ms), None);
        assert_eq!(duration_secs("PT1H30M"), Some(5400));
        assert_eq!(duration_secs("P1DT1S"), Some(86_401));
        assert_eq!(duration_secs("PT"), None);
    }

    #[test]
    fn the_clis_double_encoding_is_read_through() {
        assert_eq!(
            twice_decoded("2026-12-07T18%3A11%3A23%2F2026-12-07T19%3A11%3A23"),
            "2026-12-07T18:11:23/2026-12-07T19:11:23"
        );
    }
}
