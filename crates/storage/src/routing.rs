//! The hub's routing for "Keep the data": one storage endpoint and one route per data stream
//! (device), each stream in its own folder of the container, and the route that keeps every
//! message flowing to the built-in endpoint, added beside whatever routing the hub already has.
//!
//! Why one endpoint per stream: IoT Hub's file name format has no token for the device, so a
//! stream's folder is fixed text at the front of its endpoint's format. A tier's limit on custom
//! endpoints (10 on paid tiers, 1 on Free) is therefore the limit on streams kept apart.
//!
//! Adding any route stops the default delivery to the built-in endpoint for what it matches;
//! the `events` route keeps the Watch screen, the live test and the customer's consumers fed.

use serde_json::{json, Value};

use crate::{layout, StorageError};

/// The name of the route that keeps messages flowing to the built-in endpoint.
pub const BUILT_IN_ROUTE: &str = "hubsetup-built-in";
const ENDPOINT_KINDS: [&str; 5] = [
    "serviceBusQueues",
    "serviceBusTopics",
    "eventHubs",
    "storageContainers",
    "cosmosDBSqlContainers",
];

/// How the stored files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// One JSON object per line; a JSON body stays readable.
    Json,
    /// Apache Avro, IoT Hub's default.
    Avro,
}

/// How the hub signs in to the storage account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// As the hub's system-assigned managed identity (which needs a blob data role).
    Identity { endpoint_uri: String },
    /// With the account's key, from a connection string.
    Key { connection_string: String },
}

/// What the admin chose in the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoragePlan {
    pub container: String,
    pub encoding: Encoding,
    /// 60–720 s: how long the hub gathers messages before it writes a file.
    pub batch_seconds: u32,
    /// 10–500 MB: the file size at which it writes early.
    pub chunk_bytes: u64,
    pub authentication: Authentication,
    /// The data streams (device IDs), each kept in its own folder.
    pub streams: Vec<String>,
}

/// Custom endpoints and routes a tier allows.
pub fn limits(tier: &str) -> (usize, usize) {
    if tier.eq_ignore_ascii_case("F1") {
        (1, 5)
    } else {
        (10, 100)
    }
}

/// The endpoint name of a stream: `store-` and the device ID, in the characters endpoint
/// names allow, at most 64 long.
pub fn endpoint_name(stream: &str) -> String {
    let cleaned: String = stream
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("store-{cleaned}").chars().take(64).collect()
}

/// The route name of a stream.
pub fn route_name(stream: &str) -> String {
    endpoint_name(stream)
}

/// The condition that picks one stream's messages. A device ID may hold `'` but never `"`.
pub fn stream_condition(stream: &str) -> String {
    if stream.contains('\'') {
        format!("$connectionDeviceId = \"{stream}\"")
    } else {
        format!("$connectionDeviceId = '{stream}'")
    }
}

fn name_of(value: &Value) -> &str {
    value
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn custom_endpoints(routing: &Value) -> usize {
    ENDPOINT_KINDS
        .iter()
        .filter_map(|k| routing.pointer(&format!("/endpoints/{k}"))?.as_array())
        .map(Vec::len)
        .sum()
}

/// Whether a route already sends every device message to the built-in endpoint.
fn feeds_built_in(route: &Value) -> bool {
    let text = |k: &str| route.get(k).and_then(Value::as_str).unwrap_or_default();
    let to_events = route
        .get("endpointNames")
        .and_then(Value::as_array)
        .is_some_and(|e| {
            e.iter()
                .any(|n| n.as_str().is_some_and(|n| n.eq_ignore_ascii_case("events")))
        });
    to_events
        && text("source").eq_ignore_ascii_case("DeviceMessages")
        && text("condition").trim().eq_ignore_ascii_case("true")
        && route
            .get("isEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(true)
}

/// The hub's routing with the plan's endpoints and routes beside what it had: theirs are kept
/// as they are (renamed or removed never), ours are added or brought up to date.
pub fn apply(existing: &Value, plan: &StoragePlan, tier: &str) -> Result<Value, StorageError> {
    if !(60..=720).contains(&plan.batch_seconds) {
        return Err(StorageError::BatchSeconds(plan.batch_seconds));
    }
    let mut routing = if existing.is_object() {
        existing.clone()
    } else {
        json!({})
    };
    if routing.get("endpoints").is_none_or(|e| !e.is_object()) {
        routing["endpoints"] = json!({});
    }
    for kind in ENDPOINT_KINDS {
        if routing["endpoints"].get(kind).is_none_or(|e| !e.is_array()) {
            routing["endpoints"][kind] = json!([]);
        }
    }
    if routing.get("routes").is_none_or(|r| !r.is_array()) {
        routing["routes"] = json!([]);
    }
    if routing.get("fallbackRoute").is_none() {
        routing["fallbackRoute"] = json!({ "name": "$fallback", "source": "DeviceMessages", "condition": "true", "endpointNames": ["events"], "isEnabled": true });
    }
    for stream in &plan.streams {
        let name = endpoint_name(stream);
        let format = layout::stream_format(stream);
        layout::check_format(&format)?;
        let mut endpoint = json!({
            "name": name,
            "containerName": plan.container,
            "fileNameFormat": format,
            "batchFrequencyInSeconds": plan.batch_seconds,
            "maxChunkSizeInBytes": plan.chunk_bytes,
            "encoding": match plan.encoding { Encoding::Json => "JSON", Encoding::Avro => "Avro" },
        });
        match &plan.authentication {
            Authentication::Identity { endpoint_uri } => {
                endpoint["authenticationType"] = json!("identityBased");
                endpoint["endpointUri"] = json!(endpoint_uri);
            }
            Authentication::Key { connection_string } => {
                endpoint["authenticationType"] = json!("keyBased");
                endpoint["connectionString"] = json!(connection_string);
            }
        }
        let taken_elsewhere = ENDPOINT_KINDS
            .iter()
            .filter(|k| **k != "storageContainers")
            .any(|k| {
                routing["endpoints"][*k]
                    .as_array()
                    .is_some_and(|list| list.iter().any(|e| name_of(e).eq_ignore_ascii_case(&name)))
            });
        if taken_elsewhere {
            return Err(StorageError::NameTaken(name));
        }
        let storage = routing["endpoints"]["storageContainers"]
            .as_array_mut()
            .expect("made an array above");
        match storage
            .iter_mut()
            .find(|e| name_of(e).eq_ignore_ascii_case(&name))
        {
            // Ours from an earlier run: brought up to date, keeping what Azure added (its id).
            Some(kept) => {
                for (k, v) in endpoint.as_object().expect("an object") {
                    kept[k] = v.clone();
                }
            }
            None => storage.push(endpoint),
        }
        let route = json!({
            "name": route_name(stream),
            "source": "DeviceMessages",
            "condition": stream_condition(stream),
            "endpointNames": [name],
            "isEnabled": true,
        });
        let routes = routing["routes"]
            .as_array_mut()
            .expect("made an array above");
        match routes
            .iter_mut()
            .find(|r| name_of(r).eq_ignore_ascii_case(&route_name(stream)))
        {
            Some(kept) => *kept = route,
            None => routes.push(route),
        }
    }
    let routes = routing["routes"]
        .as_array_mut()
        .expect("made an array above");
    if !routes.iter().any(feeds_built_in) {
        routes.push(json!({ "name": BUILT_IN_ROUTE, "source": "DeviceMessages", "condition": "true", "endpointNames": ["events"], "isEnabled": true }));
    }
    let (max_endpoints, max_routes) = limits(tier);
    let endpoints = custom_endpoints(&routing);
    let route_count = routing["routes"].as_array().map_or(0, Vec::len);
    if endpoints > max_endpoints || route_count > max_routes {
        let existing_endpoints = custom_endpoints(existing);
        return Err(StorageError::TierLimit {
            tier: tier.to_owned(),
            streams: plan.streams.len(),
            max_endpoints,
            existing_endpoints,
            fit: max_endpoints.saturating_sub(existing_endpoints),
            advice: if tier.eq_ignore_ascii_case("F1") {
                " A paid tier (B1 or S1) takes 10 endpoints.".to_owned()
            } else {
                String::new()
            },
        });
    }
    Ok(routing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(streams: &[&str]) -> StoragePlan {
        StoragePlan {
            container: "telemetry".into(),
            encoding: Encoding::Json,
            batch_seconds: 300,
            chunk_bytes: 314_572_800,
            authentication: Authentication::Identity {
                endpoint_uri: "https://contosodata.blob.core.windows.net/".into(),
            },
            streams: streams.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn names(routing: &Value, pointer: &str) -> Vec<String> {
        routing
            .pointer(pointer)
            .and_then(Value::as_array)
            .unwrap()
            .iter()
            .map(|v| name_of(v).to_owned())
            .collect()
    }

    #[test]
    fn each_stream_gets_its_folder_endpoint_and_route_and_the_built_in_route_is_added() {
        let routing = apply(
            &Value::Null,
            &plan(&["io.microshare.contact", "io.microshare.event"]),
            "S1",
        )
        .unwrap();
        assert_eq!(
            names(&routing, "/endpoints/storageContainers"),
            ["store-io.microshare.contact", "store-io.microshare.event"]
        );
        assert_eq!(
            names(&routing, "/routes"),
            [
                "store-io.microshare.contact",
                "store-io.microshare.event",
                BUILT_IN_ROUTE
            ]
        );
        let first = &routing["endpoints"]["storageContainers"][0];
        assert_eq!(
            first["fileNameFormat"],
            "io.microshare.contact/{iothub}/{partition}/{YYYY}/{MM}/{DD}/{HH}/{mm}"
        );
        assert_eq!(first["authenticationType"], "identityBased");
        assert_eq!(
            routing["routes"][0]["condition"],
            "$connectionDeviceId = 'io.microshare.contact'"
        );
        assert_eq!(routing["fallbackRoute"]["endpointNames"], json!(["events"]));
    }

    #[test]
    fn a_hubs_own_routing_is_kept_and_ours_updated_in_place() {
        let theirs = json!({
            "endpoints": { "eventHubs": [{ "name": "analytics", "connectionString": "Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=****" }],
                           "storageContainers": [{ "id": "kept-id", "name": "store-plant", "containerName": "old", "connectionString": "AccountKey=****" }] },
            "routes": [{ "name": "to-analytics", "source": "DeviceMessages", "condition": "level = 'critical'", "endpointNames": ["analytics"], "isEnabled": true },
                       { "name": "everything", "source": "DeviceMessages", "condition": "true", "endpointNames": ["events"], "isEnabled": true }],
            "fallbackRoute": { "name": "$fallback", "source": "DeviceMessages", "condition": "true", "endpointNames": ["events"], "isEnabled": false },
        });
        let routing = apply(&theirs, &plan(&["plant"]), "S1").unwrap();
        assert_eq!(
            routing["endpoints"]["eventHubs"],
            theirs["endpoints"]["eventHubs"]
        );
        assert_eq!(
            names(&routing, "/routes"),
            ["to-analytics", "everything", "store-plant"],
            "their route to events is enough"
        );
        let ours = &routing["endpoints"]["storageContainers"][0];
        assert_eq!(
            (ours["id"].as_str(), ours["containerName"].as_str()),
            (Some("kept-id"), Some("telemetry"))
        );
        assert_eq!(routing["fallbackRoute"]["isEnabled"], false);
    }

    #[test]
    fn past_the_tiers_limit_it_says_how_many_fit() {
        let streams: Vec<String> = (0..11).map(|i| format!("stream-{i}")).collect();
        let many = StoragePlan {
            streams,
            ..plan(&[])
        };
        let error = apply(&Value::Null, &many, "S1").unwrap_err();
        assert_eq!(
            error.to_string(),
            "Tier S1 takes at most 10 custom endpoints and the hub has 0, so 10 of the 11 data streams can have a folder of their own. Choose which to keep in storage; the others stay in the built-in endpoint (kept 1 day, 7 at most)."
        );
        let free = apply(&Value::Null, &plan(&["a", "b"]), "F1").unwrap_err();
        assert!(matches!(free, StorageError::TierLimit { fit: 1, .. }));
        assert!(free
            .to_string()
            .ends_with("A paid tier (B1 or S1) takes 10 endpoints."));
        assert!(apply(&Value::Null, &plan(&["a"]), "F1").is_ok());
    }

    #[test]
    fn names_and_conditions_survive_any_device_id() {
        assert_eq!(endpoint_name("plant#4/line 2"), "store-plant-4-line-2");
        assert_eq!(endpoint_name(&"x".repeat(100)).len(), 64);
        assert_eq!(
            stream_condition("o'brien"),
            "$connectionDeviceId = \"o'brien\""
        );
        assert!(matches!(
            apply(
                &Value::Null,
                &StoragePlan {
                    batch_seconds: 30,
                    ..plan(&["a"])
                },
                "S1"
            ),
            Err(StorageError::BatchSeconds(30))
        ));
    }
}
