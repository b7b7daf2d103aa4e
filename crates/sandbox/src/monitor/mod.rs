//! Azure Monitor's platform metrics for the sandbox's hubs, measured from what the hub really
//! did: every message attempt, acceptance and throttle, what routing delivered or dropped, the
//! day's quota used, the devices connected and registered. Kept per minute (Azure's grain) and
//! answered through `…/providers/Microsoft.Insights/metrics` and `metricDefinitions` ([`api`]);
//! alert rules on them and the action groups they tell ([`alerting`]), evaluated as Azure
//! Monitor evaluates them ([`evaluate`]).

pub(crate) mod alerting;
pub(crate) mod api;
pub(crate) mod catalog;
pub(crate) mod evaluate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use catalog::{Counter, Gauge, Kind, Metric, COUNTERS, GAUGES};

/// A device's MQTT connection opened (`up`) or closed: its registry state and the hub's
/// connected-device count.
pub(crate) fn connection(
    state: &mut crate::state::State,
    hub: &str,
    device: &str,
    up: bool,
    now_ms: u64,
) {
    let Some(hub) = state.hubs.get_mut(hub) else {
        return;
    };
    let Some(activity) = hub.devices.get_mut(device).map(|d| &mut d.activity) else {
        return;
    };
    let was = activity.connections > 0;
    activity.connections = if up {
        activity.connections + 1
    } else {
        activity.connections.saturating_sub(1)
    };
    activity.last_activity_ms = now_ms;
    if was != (activity.connections > 0) {
        activity.connection_changed_ms = now_ms;
    }
    let connected = hub
        .devices
        .values()
        .filter(|d| d.activity.connections > 0)
        .count() as u64;
    hub.metrics.set(Gauge::Connected, connected, now_ms);
}

/// How long Azure keeps platform metrics: 93 days.
const RETENTION_MINUTES: u64 = 93 * 24 * 60;

/// A hub's metrics, minute by minute.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Meter {
    /// The counters' totals of each minute (since the epoch) that had any.
    counts: BTreeMap<u64, [u64; COUNTERS]>,
    /// The gauges as they were at the end of each minute they changed in; a minute without an
    /// entry has the values of the last one before it.
    gauges: BTreeMap<u64, [u64; GAUGES]>,
}

/// One data point of a time series, over `minutes` minutes from `start_minute`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    pub(crate) start_minute: u64,
    pub(crate) total: Option<f64>,
    pub(crate) average: Option<f64>,
    pub(crate) minimum: Option<f64>,
    pub(crate) maximum: Option<f64>,
    pub(crate) count: Option<f64>,
}

pub(crate) fn minute_of(ms: u64) -> u64 {
    ms / 60_000
}

impl Meter {
    /// Adds `n` to a counter in the minute of `now_ms`.
    pub(crate) fn count(&mut self, counter: Counter, n: u64, now_ms: u64) {
        let minute = minute_of(now_ms);
        self.counts.entry(minute).or_insert([0; COUNTERS])[counter as usize] += n;
        self.forget_before(minute);
    }

    /// Sets a gauge from the minute of `now_ms` on.
    pub(crate) fn set(&mut self, gauge: Gauge, value: u64, now_ms: u64) {
        let minute = minute_of(now_ms);
        let current = self.gauges_at(minute);
        self.gauges.entry(minute).or_insert(current)[gauge as usize] = value;
    }

    fn gauges_at(&self, minute: u64) -> [u64; GAUGES] {
        self.gauges
            .range(..=minute)
            .next_back()
            .map_or([0; GAUGES], |(_, values)| *values)
    }

    fn gauge_at(&self, gauge: Gauge, minute: u64) -> u64 {
        match self.gauges.range(..=minute).next_back() {
            // The quota used resets at midnight UTC.
            Some((set_at, _)) if gauge == Gauge::QuotaUsed && set_at / 1440 != minute / 1440 => 0,
            Some((_, values)) => values[gauge as usize],
            None => 0,
        }
    }

    fn forget_before(&mut self, minute: u64) {
        let oldest = minute.saturating_sub(RETENTION_MINUTES);
        if self
            .counts
            .first_key_value()
            .is_some_and(|(m, _)| *m < oldest)
        {
            self.counts = self.counts.split_off(&oldest);
            let kept = self.gauges_at(oldest);
            self.gauges = self.gauges.split_off(&oldest);
            self.gauges.entry(oldest).or_insert(kept);
        }
    }

    /// Moves everything measured `minutes` into the past, as if that long had passed since
    /// without anything happening (see `evaluate::time_passes`).
    pub(crate) fn shift_back(&mut self, minutes: u64) {
        let shifted = |minute: u64| minute.saturating_sub(minutes);
        self.counts = std::mem::take(&mut self.counts)
            .into_iter()
            .map(|(m, c)| (shifted(m), c))
            .collect();
        self.gauges = std::mem::take(&mut self.gauges)
            .into_iter()
            .map(|(m, g)| (shifted(m), g))
            .collect();
    }

    /// `metric` over the minutes `from..to`, one point per `step` minutes.
    pub(crate) fn series(&self, metric: &Metric, from: u64, to: u64, step: u64) -> Vec<Point> {
        let step = step.max(1);
        let mut points = Vec::new();
        let mut start = from;
        while start < to {
            let end = (start + step).min(to);
            points.push(match metric.kind {
                Kind::Counter(counter) => {
                    let sum: u64 = self
                        .counts
                        .range(start..end)
                        .map(|(_, c)| c[counter as usize])
                        .sum();
                    // Each event is a sample of one: Azure's average, minimum and maximum of a
                    // count metric are 1 where there were any.
                    let one = (sum > 0).then_some(1.0);
                    Point {
                        start_minute: start,
                        total: Some(sum as f64),
                        count: Some(sum as f64),
                        average: one,
                        minimum: one,
                        maximum: one,
                    }
                }
                Kind::Gauge(gauge) => {
                    let values: Vec<u64> = (start..end).map(|m| self.gauge_at(gauge, m)).collect();
                    let sum: u64 = values.iter().sum();
                    Point {
                        start_minute: start,
                        total: None,
                        count: Some(values.len() as f64),
                        average: Some(sum as f64 / values.len() as f64),
                        minimum: values.iter().min().map(|v| *v as f64),
                        maximum: values.iter().max().map(|v| *v as f64),
                    }
                }
            });
            start = end;
        }
        points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;

    #[test]
    fn counters_add_up_per_interval_and_gauges_carry_forward() {
        let mut meter = Meter::default();
        let t0 = 29_000_160 * MINUTE; // midnight UTC: 29,000,160 minutes is 20,139 days
        meter.count(Counter::IngressSuccess, 3, t0);
        meter.count(Counter::IngressSuccess, 2, t0 + 4 * MINUTE);
        meter.set(Gauge::Connected, 2, t0 + MINUTE);
        meter.set(Gauge::Connected, 0, t0 + 3 * MINUTE);
        let sent = catalog::metric("d2c.telemetry.ingress.success").unwrap();
        let from = minute_of(t0);
        let points = meter.series(sent, from, from + 6, 3);
        assert_eq!(
            points.iter().map(|p| p.total).collect::<Vec<_>>(),
            [Some(3.0), Some(2.0)]
        );
        let connected = catalog::metric("connectedDeviceCount").unwrap();
        let points = meter.series(connected, from, from + 4, 4);
        assert_eq!(
            (points[0].average, points[0].maximum, points[0].minimum),
            (Some(1.0), Some(2.0), Some(0.0)),
            "0, 2, 2, 0 over four minutes"
        );
    }

    #[test]
    fn the_quota_used_is_zero_again_after_midnight() {
        let mut meter = Meter::default();
        let evening = (29_000_160 + 1439) * MINUTE;
        meter.set(Gauge::QuotaUsed, 500, evening);
        let quota = catalog::metric("dailyMessageQuotaUsed").unwrap();
        let points = meter.series(quota, minute_of(evening), minute_of(evening) + 2, 1);
        assert_eq!(
            points.iter().map(|p| p.maximum).collect::<Vec<_>>(),
            [Some(500.0), Some(0.0)]
        );
    }
}
