//! IoT Hub's platform metrics as Azure Monitor describes them ("Supported metrics for
//! Microsoft.Devices/IotHubs", learn.microsoft.com, read December 2026): name, display name,
//! the aggregations each takes and its primary one. All count in `Count`, at a one-minute
//! grain, without dimensions.

/// What a metric measures, which decides how its minutes add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Events counted as they happen (messages sent, throttled, routed).
    Counter(Counter),
    /// A value read each minute (quota used, devices connected).
    Gauge(Gauge),
}

/// The counters the hub keeps per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counter {
    IngressAttempts,
    IngressSuccess,
    Throttled,
    EgressStorage,
    Dropped,
    Orphaned,
    Invalid,
    BuiltInEvents,
    EgressSuccess,
}

pub(crate) const COUNTERS: usize = 9;

/// The values the hub reports each minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gauge {
    QuotaUsed,
    Connected,
    TotalDevices,
}

pub(crate) const GAUGES: usize = 3;

/// One metric of the catalogue.
#[derive(Debug)]
pub(crate) struct Metric {
    pub(crate) name: &'static str,
    pub(crate) display: &'static str,
    pub(crate) description: &'static str,
    pub(crate) category: &'static str,
    pub(crate) kind: Kind,
    /// Azure's names (`Average`, `Minimum`, `Maximum`, `Total`, `Count`).
    pub(crate) aggregations: &'static [&'static str],
    pub(crate) primary: &'static str,
}

const COUNTED: &[&str] = &["Average", "Minimum", "Maximum", "Total", "Count"];
const SNAPSHOT: &[&str] = &["Average", "Minimum", "Maximum", "Count"];

/// Every metric the sandbox's hubs report, as `metricDefinitions` lists them.
pub(crate) const METRICS: &[Metric] = &[
    Metric {
        name: "d2c.telemetry.ingress.allProtocol",
        display: "Telemetry message send attempts",
        description: "Number of device-to-cloud telemetry messages attempted to be sent to your IoT hub",
        category: "Traffic",
        kind: Kind::Counter(Counter::IngressAttempts),
        aggregations: COUNTED,
        primary: "Total",
    },
    Metric {
        name: "d2c.telemetry.ingress.success",
        display: "Telemetry messages sent",
        description: "Number of device-to-cloud telemetry messages sent successfully to your IoT hub",
        category: "Traffic",
        kind: Kind::Counter(Counter::IngressSuccess),
        aggregations: COUNTED,
        primary: "Total",
    },
    Metric {
        name: "d2c.telemetry.ingress.sendThrottle",
        display: "Number of throttling errors",
        description: "Number of throttling errors due to device throughput throttles",
        category: "Traffic",
        kind: Kind::Counter(Counter::Throttled),
        aggregations: COUNTED,
        primary: "Total",
    },
    Metric {
        name: "dailyMessageQuotaUsed",
        display: "Total number of messages used",
        description: "Number of total messages used today",
        category: "Devices",
        kind: Kind::Gauge(Gauge::QuotaUsed),
        aggregations: SNAPSHOT,
        primary: "Average",
    },
    Metric {
        name: "connectedDeviceCount",
        display: "Connected devices",
        description: "Number of devices connected to your IoT hub",
        category: "Devices",
        kind: Kind::Gauge(Gauge::Connected),
        aggregations: SNAPSHOT,
        primary: "Average",
    },
    Metric {
        name: "totalDeviceCount",
        display: "Total devices",
        description: "Number of devices registered to your IoT hub",
        category: "Devices",
        kind: Kind::Gauge(Gauge::TotalDevices),
        aggregations: SNAPSHOT,
        primary: "Average",
    },
    Metric {
        name: "d2c.endpoints.egress.storage",
        display: "Routing: messages delivered to storage",
        description: "The number of times IoT Hub routing successfully delivered messages to storage endpoints",
        category: "Routing",
        kind: Kind::Counter(Counter::EgressStorage),
        aggregations: COUNTED,
        primary: "Total",
    },
    Metric {
        name: "d2c.endpoints.egress.builtIn.events",
        display: "Routing: messages delivered to messages/events",
        description: "The number of times IoT Hub routing successfully delivered messages to the built-in endpoint (messages/events)",
        category: "Routing",
        kind: Kind::Counter(Counter::BuiltInEvents),
        aggregations: COUNTED,
        primary: "Total",
    },
    Metric {
        name: "d2c.telemetry.egress.success",
        display: "Routing: telemetry messages delivered",
        description: "The number of times messages were successfully delivered to all endpoints using IoT Hub routing",
        category: "Routing",
        kind: Kind::Counter(Counter::EgressSuccess),
        aggregations: COUNTED,
        primary: "Total",
    },
    Metric {
        name: "d2c.telemetry.egress.dropped",
        display: "Routing: telemetry messages dropped",
        description: "The number of times messages were dropped by IoT Hub routing due to dead endpoints",
        category: "Routing",
        kind: Kind::Counter(Counter::Dropped),
        aggregations: COUNTED,
        primary: "Total",
    },
    Metric {
        name: "d2c.telemetry.egress.orphaned",
        display: "Routing: telemetry messages orphaned",
        description: "The number of times messages were orphaned by IoT Hub routing because they didn't match any routing rules (including the fallback rule)",
        category: "Routing",
        kind: Kind::Counter(Counter::Orphaned),
        aggregations: COUNTED,
        primary: "Total",
    },
    Metric {
        name: "d2c.telemetry.egress.invalid",
        display: "Routing: telemetry messages incompatible",
        description: "The number of times IoT Hub routing failed to deliver messages due to an incompatibility with the endpoint",
        category: "Routing",
        kind: Kind::Counter(Counter::Invalid),
        aggregations: COUNTED,
        primary: "Total",
    },
];

/// The catalogue's metric of `name` (Azure compares names without regard to case).
pub(crate) fn metric(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name.eq_ignore_ascii_case(name))
}
