//! The test message every protocol sends: a small JSON body with IoT Hub's system properties
//! (message ID, content type and encoding, creation time) and one application property, so
//! that the hub's routing and the read-back see the same message whichever protocol carried it.

/// One test message.
#[derive(Debug, Clone)]
pub(crate) struct TestMessage {
    pub(crate) id: String,
    pub(crate) body: String,
    pub(crate) created: String,
}

/// The application property that marks test messages, and its value.
pub(crate) const MARK: (&str, &str) = ("hubsetup-test", "connectivity");
pub(crate) const CONTENT_TYPE: &str = "application/json";
pub(crate) const CONTENT_ENCODING: &str = "utf-8";

impl TestMessage {
    pub(crate) fn new() -> TestMessage {
        let created = now_rfc3339();
        TestMessage {
            id: format!("hubsetup-test-{:016x}", rand::random::<u64>()),
            body: serde_json::json!({
                "hubsetup": "connectivity test",
                "sentAt": created,
                "tool": concat!("IoT Hub Setup ", env!("CARGO_PKG_VERSION")),
            })
            .to_string(),
            created,
        }
    }
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
