//! How the CLI writes values people read.

use std::time::SystemTime;

/// `2025-03-01T09:30:00Z`: unambiguous in every time zone, and sortable.
pub fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}
