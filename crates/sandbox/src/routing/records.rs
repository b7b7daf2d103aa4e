//! The files IoT Hub writes to a storage endpoint: one record per message with
//! `EnqueuedTimeUtc`, `Properties` (the application's), `SystemProperties` and `Body`, as JSON
//! (one object per line; the body stays JSON when the message says `application/json` in a
//! Unicode encoding, else base64) or as an Avro object container file of IoT Hub's schema
//! (`null` or `deflate` codec).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::Encoding;

/// IoT Hub's Avro schema for routed messages.
pub(crate) const AVRO_SCHEMA: &str = r#"{"type":"record","name":"Message","namespace":"Microsoft.Azure.Devices","fields":[{"name":"EnqueuedTimeUtc","type":"string"},{"name":"Properties","type":{"type":"map","values":"string"}},{"name":"SystemProperties","type":{"type":"map","values":"string"}},{"name":"Body","type":["null","bytes"]}]}"#;

/// One routed message.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) enqueued_ms: u64,
    pub(crate) properties: BTreeMap<String, String>,
    /// As storage names them: `connectionDeviceId`, `enqueuedTime`, `contentType`, …
    pub(crate) system: BTreeMap<String, String>,
    pub(crate) body: Vec<u8>,
    /// The body as JSON, when the message lets IoT Hub read it so.
    pub(crate) json_body: Option<Value>,
}

/// `2019-05-10T06:06:32.7220000Z`: IoT Hub's seven fractional digits.
pub(crate) fn enqueued_time(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}0000Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A batch's file in the endpoint's encoding.
pub(crate) fn encode(records: &[Record], encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Json => json_lines(records),
        Encoding::Avro => avro(records, false),
        Encoding::AvroDeflate => avro(records, true),
    }
}

fn json_lines(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let body = r
            .json_body
            .clone()
            .unwrap_or_else(|| Value::String(STANDARD.encode(&r.body)));
        let line = json!({
            "EnqueuedTimeUtc": enqueued_time(r.enqueued_ms),
            "Properties": r.properties,
            "SystemProperties": r.system,
            "Body": body,
        });
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// Avro's zig-zag variable-length long.
fn long(out: &mut Vec<u8>, value: i64) {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn bytes(out: &mut Vec<u8>, value: &[u8]) {
    long(out, value.len() as i64);
    out.extend_from_slice(value);
}

fn map(out: &mut Vec<u8>, entries: &BTreeMap<String, String>) {
    if !entries.is_empty() {
        long(out, entries.len() as i64);
        for (k, v) in entries {
            bytes(out, k.as_bytes());
            bytes(out, v.as_bytes());
        }
    }
    long(out, 0);
}

fn avro(records: &[Record], deflate: bool) -> Vec<u8> {
    let codec: &[u8] = if deflate { b"deflate" } else { b"null" };
    let sync: [u8; 16] = rand::random();
    let mut out = b"Obj\x01".to_vec();
    let metadata = BTreeMap::from([
        (
            "avro.codec".to_owned(),
            String::from_utf8_lossy(codec).into_owned(),
        ),
        ("avro.schema".to_owned(), AVRO_SCHEMA.to_owned()),
    ]);
    map(&mut out, &metadata);
    out.extend_from_slice(&sync);
    let mut block = Vec::new();
    for r in records {
        bytes(&mut block, enqueued_time(r.enqueued_ms).as_bytes());
        map(&mut block, &r.properties);
        map(&mut block, &r.system);
        long(&mut block, 1);
        bytes(&mut block, &r.body);
    }
    if deflate {
        use std::io::Write as _;
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        // Writing into memory cannot fail.
        let _ = encoder.write_all(&block);
        block = encoder.finish().unwrap_or_default();
    }
    long(&mut out, records.len() as i64);
    bytes(&mut out, &block);
    out.extend_from_slice(&sync);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longs_are_zig_zag_varints() {
        let encoded = |v| {
            let mut out = Vec::new();
            long(&mut out, v);
            out
        };
        assert_eq!(encoded(0), [0]);
        assert_eq!(encoded(-1), [1]);
        assert_eq!(encoded(1), [2]);
        assert_eq!(encoded(64), [0x80, 0x01]);
    }

    #[test]
    fn times_have_seven_fractional_digits() {
        assert_eq!(
            enqueued_time(1_557_468_392_722),
            "2019-05-10T06:06:32.7220000Z"
        );
    }

    #[test]
    fn a_json_body_stays_json_and_others_are_base64() {
        let record = |json_body| Record {
            enqueued_ms: 0,
            properties: BTreeMap::new(),
            system: BTreeMap::new(),
            body: b"{\"t\":1}".to_vec(),
            json_body,
        };
        let file = encode(
            &[record(Some(json!({"t": 1}))), record(None)],
            Encoding::Json,
        );
        let lines: Vec<Value> = String::from_utf8(file)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["Body"], json!({"t": 1}));
        assert_eq!(lines[1]["Body"], json!("eyJ0IjoxfQ=="));
    }
}
