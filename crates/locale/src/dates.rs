//! Dates and times in the computer's time zone, written as the locale writes them
//! in CLDR's medium length, as the webview's `Intl` (`dateStyle: "medium"`) writes them too:
//! `Dec 8, 2026, 2:05 PM`, `08.12.2026, 14:05`.

use chrono::{DateTime, Datelike, Local, Timelike, Utc};
use icu_datetime::fieldsets::YMD;
use icu_datetime::input::{Date, DateTime as IcuDateTime, Time};
use icu_datetime::DateTimeFormatter;

use crate::{current, Locale};

impl Locale {
    /// The local date of `at`: `Dec 8, 2026`, `08.12.2026`.
    pub fn date(&self, at: DateTime<Utc>) -> String {
        let local = at.with_timezone(&Local).naive_local();
        let Ok(date) = Date::try_new_iso(local.year(), local.month() as u8, local.day() as u8)
        else {
            return at.format("%Y-%m-%d").to_string();
        };
        match DateTimeFormatter::try_new(self.icu().into(), YMD::medium()) {
            Ok(formatter) => formatter.format(&date).to_string(),
            Err(_) => local.format("%Y-%m-%d").to_string(),
        }
    }

    /// The local date and time of `at`, to the minute: `Dec 8, 2026, 2:05 PM`.
    pub fn date_time(&self, at: DateTime<Utc>) -> String {
        let local = at.with_timezone(&Local).naive_local();
        let moment = Date::try_new_iso(local.year(), local.month() as u8, local.day() as u8)
            .ok()
            .zip(Time::try_new(local.hour() as u8, local.minute() as u8, 0, 0).ok())
            .map(|(date, time)| IcuDateTime { date, time });
        let formatter = DateTimeFormatter::try_new(self.icu().into(), YMD::medium().with_time_hm());
        match (moment, formatter) {
            (Some(moment), Ok(formatter)) => formatter.format(&moment).to_string(),
            _ => local.format("%Y-%m-%d %H:%M").to_string(),
        }
    }
}

/// [`Locale::date`] in the [`current`] locale.
pub fn date(at: DateTime<Utc>) -> String {
    current().date(at)
}

/// [`Locale::date_time`] in the [`current`] locale.
pub fn date_time(at: DateTime<Utc>) -> String {
    current().date_time(at)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn dates_read_as_each_country_writes_them() {
        // Noon UTC is the same date in every time zone a test machine uses.
        let noon = Utc.with_ymd_and_hms(2026, 12, 8, 12, 0, 0).unwrap();
        assert_eq!(Locale::parse("de-DE").unwrap().date(noon), "08.12.2026");
        assert_eq!(Locale::parse("en-US").unwrap().date(noon), "Dec 8, 2026");
        let with_time = Locale::parse("de-DE").unwrap().date_time(noon);
        assert!(with_time.starts_with("08.12.2026, "), "{with_time}");
    }
}
