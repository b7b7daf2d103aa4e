//! The routing benchmark's work (`benches/routing.rs`), here because routing is the crate's own.

use serde_json::Value;

use super::{parse, records, Encoding};

/// For `benches/routing.rs`: routes `messages` JSON messages from `streams` devices through a
/// routing of one storage endpoint and route per stream plus the route to `events`, as a hub
/// evaluates them, and encodes each stream's batch as its endpoint writes it (JSON lines, or
/// Avro). Returns how many messages went to storage and the bytes encoded. The write itself
/// (one Put Blob per batch) is not in it.
#[doc(hidden)]
pub fn bench_route(messages: usize, streams: usize, avro: bool) -> (usize, usize) {
    let encoding = if avro { "Avro" } else { "JSON" };
    let endpoints: Vec<Value> = (0..streams)
        .map(|i| serde_json::json!({
            "name": format!("store-{i}"), "connectionString": "AccountName=a;AccountKey=aw==", "containerName": "c",
            "fileNameFormat": format!("s{i}/{{iothub}}/{{partition}}/{{YYYY}}/{{MM}}/{{DD}}/{{HH}}/{{mm}}"), "encoding": encoding,
        }))
        .collect();
    let mut routes: Vec<Value> = (0..streams)
        .map(|i| serde_json::json!({ "name": format!("r{i}"), "source": "DeviceMessages",
            "condition": format!("$connectionDeviceId = 'device-{i}'"), "endpointNames": [format!("store-{i}")], "isEnabled": true }))
        .collect();
    routes.push(serde_json::json!({ "name": "all", "source": "DeviceMessages", "condition": "true", "endpointNames": ["events"], "isEnabled": true }));
    let routing = parse(Some(&serde_json::json!({ "endpoints": { "storageContainers": endpoints }, "routes": routes })), "S1")
        .expect("a valid routing");
    let application = std::collections::BTreeMap::from([("site".to_owned(), "plant-4".to_owned())]);
    let mut batches: Vec<Vec<records::Record>> = vec![Vec::new(); streams];
    for n in 0..messages {
        let stream = n % streams;
        let body = format!("{{\"temperature\":{},\"seq\":{n}}}", 20 + n % 10).into_bytes();
        let device = format!("device-{stream}");
        let message = crate::eventhubs::ReceivedMessage {
            device_id: device.clone(),
            body_base64: String::new(),
            content_type: Some("application/json".to_owned()),
            content_encoding: Some("utf-8".to_owned()),
            message_id: Some(format!("m-{n}")),
            correlation_id: None,
            creation_time_utc: None,
            app_properties: application.clone(),
            received_at_ms: 1_796_655_899_000,
        };
        let delivery = routing.deliver(&device, &message, &body);
        for endpoint in &delivery.storage {
            let index: usize = endpoint.name["store-".len()..].parse().unwrap_or(0);
            batches[index].push(records::Record {
                enqueued_ms: message.received_at_ms,
                properties: application.clone(),
                system: delivery.system.clone(),
                body: body.clone(),
                json_body: delivery.json_body.clone(),
            });
        }
    }
    let stored = batches.iter().map(Vec::len).sum();
    let encoding = if avro { Encoding::Avro } else { Encoding::Json };
    let bytes = batches
        .iter()
        .map(|b| records::encode(b, encoding).len())
        .sum();
    (stored, bytes)
}
