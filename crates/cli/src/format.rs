//! How the CLI writes times: for people, in the OS locale and time zone; in JSON, as RFC 3339.

use std::time::SystemTime;

/// `2025-03-01T09:30:00Z`: unambiguous in every time zone, and sortable (JSON output).
pub fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// The local date and time, as the OS locale writes it (`Dec 8, 2026, 2:05 PM`).
pub fn local_time(time: SystemTime) -> String {
    hubsetup_locale::date_time(time.into())
}

/// An RFC 3339 time from Azure as [`local_time`] writes it, or the text as it came.
pub fn local_time_of(text: &str) -> String {
    text.parse::<chrono::DateTime<chrono::Utc>>()
        .map(hubsetup_locale::date_time)
        .unwrap_or_else(|_| text.to_owned())
}
