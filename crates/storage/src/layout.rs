//! Blob names as IoT Hub's storage endpoints make them from a file name format.
//!
//! Azure's format holds seven tokens, each required once and in any order, plus any fixed
//! text: `{iothub}/{partition}/{YYYY}/{MM}/{DD}/{HH}/{mm}` by default. There is no token for
//! the device, so a stream's own folder is fixed text at the front of its endpoint's format.

use crate::StorageError;

/// The tokens every file name format must carry.
pub const TOKENS: [&str; 7] = [
    "{iothub}",
    "{partition}",
    "{YYYY}",
    "{MM}",
    "{DD}",
    "{HH}",
    "{mm}",
];

/// Azure's format when an endpoint names none.
pub const DEFAULT_FORMAT: &str = "{iothub}/{partition}/{YYYY}/{MM}/{DD}/{HH}/{mm}";

/// Checks a file name format as IoT Hub does: every token, each once.
pub fn check_format(format: &str) -> Result<(), StorageError> {
    let missing: Vec<&str> = TOKENS
        .iter()
        .copied()
        .filter(|t| !format.contains(t))
        .collect();
    if !missing.is_empty() {
        return Err(StorageError::FileNameTokens {
            format: format.to_owned(),
            missing: missing.join(", "),
        });
    }
    if let Some(token) = TOKENS.iter().find(|t| format.matches(*t).count() > 1) {
        return Err(StorageError::RepeatedToken {
            format: format.to_owned(),
            token: (*token).to_owned(),
        });
    }
    Ok(())
}

/// The format that keeps one data stream in its own folder: `{stream}/` before Azure's default.
pub fn stream_format(stream: &str) -> String {
    format!("{stream}/{DEFAULT_FORMAT}")
}

/// The moment a batch's file is named after (UTC), to the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minute {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
}

impl Minute {
    /// The minute a time falls in, from milliseconds since the Unix epoch.
    pub fn from_unix_ms(ms: u64) -> Minute {
        let minutes = ms / 60_000;
        let days = (minutes / 1440) as i64;
        let (year, month, day) = civil_from_days(days);
        Minute {
            year,
            month,
            day,
            hour: ((minutes % 1440) / 60) as u8,
            minute: (minutes % 60) as u8,
        }
    }
}

/// The blob name of the batch a hub's partition writes in `minute`.
pub fn blob_name(format: &str, hub: &str, partition: u32, minute: Minute) -> String {
    format
        .replace("{iothub}", hub)
        .replace("{partition}", &partition.to_string())
        .replace("{YYYY}", &format!("{:04}", minute.year))
        .replace("{MM}", &format!("{:02}", minute.month))
        .replace("{DD}", &format!("{:02}", minute.day))
        .replace("{HH}", &format!("{:02}", minute.hour))
        .replace("{mm}", &format!("{:02}", minute.minute))
}

/// The blob names a partition may have written between two times (inclusive), one per minute:
/// where a reader looks for a message enqueued then.
pub fn candidate_names(
    format: &str,
    hub: &str,
    partition: u32,
    from_ms: u64,
    to_ms: u64,
) -> Vec<String> {
    (from_ms / 60_000..=to_ms / 60_000)
        .map(|m| blob_name(format, hub, partition, Minute::from_unix_ms(m * 60_000)))
        .collect()
}

/// Howard Hinnant's days-to-civil-date conversion (proleptic Gregorian, UTC).
fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_need_every_token_once() {
        assert_eq!(check_format(DEFAULT_FORMAT), Ok(()));
        assert_eq!(check_format(&stream_format("io.microshare.event")), Ok(()));
        assert_eq!(
            check_format("{iothub}/{YYYY}/{MM}/{DD}/{HH}").unwrap_err().to_string(),
            "The file name format '{iothub}/{YYYY}/{MM}/{DD}/{HH}' lacks {partition}, {mm}. IoT Hub needs every one of {iothub}, {partition}, {YYYY}, {MM}, {DD}, {HH} and {mm}, each once, in any order; add the missing ones."
        );
        assert!(matches!(
            check_format("{iothub}/{partition}/{YYYY}/{MM}/{DD}/{HH}/{mm}/{mm}"),
            Err(StorageError::RepeatedToken { token, .. }) if token == "{mm}"
        ));
    }

    #[test]
    fn blob_names_follow_the_format_in_utc() {
        // 2026-12-07T15:04:59.999Z
        let ms = 1_796_655_899_999;
        let minute = Minute::from_unix_ms(ms);
        assert_eq!(
            minute,
            Minute {
                year: 2026,
                month: 12,
                day: 7,
                hour: 15,
                minute: 4
            }
        );
        assert_eq!(
            blob_name(&stream_format("plant.temp"), "contoso", 3, minute),
            "plant.temp/contoso/3/2026/12/07/15/04"
        );
        assert_eq!(
            Minute::from_unix_ms(951_782_400_000),
            Minute {
                year: 2000,
                month: 2,
                day: 29,
                hour: 0,
                minute: 0
            }
        );
    }

    #[test]
    fn a_reader_looks_in_every_minute_of_its_window() {
        let names = candidate_names(DEFAULT_FORMAT, "h", 0, 1_796_655_840_000, 1_796_655_960_000);
        assert_eq!(
            names,
            [
                "h/0/2026/12/07/15/04",
                "h/0/2026/12/07/15/05",
                "h/0/2026/12/07/15/06"
            ]
        );
    }
}
