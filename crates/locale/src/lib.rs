//! Numbers, money and dates as people read them: `8,000` and `300M` in the US, `8.000` and
//! `300 Mio.` in Germany, `1.234,50 €`, `08.12.2026, 14:05`. Formats come from CLDR's data
//! through ICU4X (the same data the webview's `Intl` uses, so the app and the CLI agree).
//!
//! [`Locale::os`] reads the locale the OS names for formats: on Linux and the BSDs `LC_ALL`,
//! then `LC_NUMERIC`, then `LANG` (POSIX's order; `C` and `POSIX` read as US English); the
//! regional format on Windows; the preferred locale on macOS. [`current`] is that locale, read once, and the
//! free functions ([`count`], [`short`], [`money`], …) format in it.

use std::sync::OnceLock;

use icu_decimal::input::Decimal;
use icu_decimal::{CompactDecimalFormatter, DecimalFormatter};
use icu_experimental::dimension::currency::formatter::CurrencyFormatter;
use icu_experimental::dimension::currency::CurrencyType;
use serde::Serialize;

mod dates;
mod os;

pub use dates::{date, date_time};

/// A locale for formats (`de-DE`, `en-US`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locale(icu_locale_core::Locale);

/// A locale's tag and country, as the webview and currency defaults need them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocaleView {
    /// The BCP 47 tag, for `Intl` (`de-DE`).
    pub tag: String,
    /// The country or region, if the locale names one (`DE`).
    pub region: Option<String>,
}

impl Locale {
    /// US English: the fallback when the OS names no locale (or `C`).
    pub fn us() -> Locale {
        Locale(icu_locale_core::locale!("en-US"))
    }

    /// Reads a BCP 47 tag (`de-DE`) or a POSIX locale name (`de_DE.UTF-8@euro`).
    pub fn parse(name: &str) -> Option<Locale> {
        let name = name.split(['.', '@']).next()?.replace('_', "-");
        if name.is_empty() || name == "C" || name == "POSIX" {
            return None;
        }
        icu_locale_core::Locale::try_from_str(&name)
            .ok()
            .map(Locale)
    }

    /// The locale the OS names for formats, or US English.
    pub fn os() -> Locale {
        os::locale_name()
            .and_then(|name| Locale::parse(&name))
            .unwrap_or_else(Locale::us)
    }

    pub fn view(&self) -> LocaleView {
        LocaleView {
            tag: self.0.to_string(),
            region: self.0.id.region.map(|r| r.as_str().to_owned()),
        }
    }

    /// `1234567` → `1,234,567` (en-US), `1.234.567` (de-DE).
    pub fn count(&self, n: u64) -> String {
        self.decimal_formatter()
            .format(&Decimal::from(n))
            .to_string()
    }

    /// `x` with `fraction_digits` decimals: `1.5` → `1.50` (en-US), `1,50` (de-DE).
    pub fn decimal(&self, x: f64, fraction_digits: usize) -> String {
        match decimal_of(x, fraction_digits) {
            Some(d) => self.decimal_formatter().format(&d).to_string(),
            None => x.to_string(),
        }
    }

    /// A short form for a large count: `300000000` → `300M` (en-US), `300 Mio.` (de-DE); counts
    /// below 10,000 as [`Locale::count`] writes them.
    pub fn short(&self, n: u64) -> String {
        if n < 10_000 {
            return self.count(n);
        }
        match CompactDecimalFormatter::try_new_short((&self.0).into(), Default::default()) {
            Ok(formatter) => formatter.format(&Decimal::from(n)).to_string(),
            Err(_) => self.count(n),
        }
    }

    /// `amount` in `currency` (ISO 4217) in this locale's pattern, to the currency's own
    /// decimals: `$1,234.50`, `1.234,50 €`, `¥1,235`.
    pub fn money(&self, amount: f64, currency: &str) -> String {
        let formatted = CurrencyType::try_from_str(&currency.to_ascii_lowercase())
            .ok()
            .and_then(|kind| {
                CurrencyFormatter::try_new_symbol((&self.0).into(), kind, Default::default()).ok()
            })
            .zip(decimal_of(amount, 2))
            .map(|(formatter, d)| formatter.format_fixed_decimal(&d).to_string());
        // A code CLDR does not know still reads as an amount and its code.
        formatted.unwrap_or_else(|| format!("{} {currency}", self.decimal(amount, 2)))
    }

    fn decimal_formatter(&self) -> DecimalFormatter {
        DecimalFormatter::try_new((&self.0).into(), Default::default())
            .or_else(|_| DecimalFormatter::try_new(Default::default(), Default::default()))
            .expect("CLDR's root locale has decimal formats")
    }

    pub(crate) fn icu(&self) -> &icu_locale_core::Locale {
        &self.0
    }
}

fn decimal_of(x: f64, fraction_digits: usize) -> Option<Decimal> {
    if !x.is_finite() {
        return None;
    }
    format!("{x:.fraction_digits$}").parse().ok()
}

static CURRENT: OnceLock<Locale> = OnceLock::new();

/// The OS's locale for formats, read once for the process.
pub fn current() -> &'static Locale {
    CURRENT.get_or_init(Locale::os)
}

/// [`Locale::count`] in the [`current`] locale.
pub fn count(n: u64) -> String {
    current().count(n)
}

/// [`Locale::short`] in the [`current`] locale.
pub fn short(n: u64) -> String {
    current().short(n)
}

/// [`Locale::decimal`] in the [`current`] locale.
pub fn decimal(x: f64, fraction_digits: usize) -> String {
    current().decimal(x, fraction_digits)
}

/// [`Locale::money`] in the [`current`] locale.
pub fn money(amount: f64, currency: &str) -> String {
    current().money(amount, currency)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locale(tag: &str) -> Locale {
        Locale::parse(tag).unwrap()
    }

    #[test]
    fn posix_names_and_tags_are_read() {
        assert_eq!(locale("de_DE.UTF-8").view().tag, "de-DE");
        assert_eq!(locale("de_DE@euro").view().region.as_deref(), Some("DE"));
        assert_eq!(locale("en-US").view().tag, "en-US");
        assert!(Locale::parse("C").is_none());
        assert!(Locale::parse("C.UTF-8").is_none());
        assert!(Locale::parse("POSIX").is_none());
        assert!(Locale::parse("").is_none());
    }

    #[test]
    fn counts_are_grouped_as_each_country_writes_them() {
        assert_eq!(locale("en-US").count(300_000_000), "300,000,000");
        assert_eq!(locale("de-DE").count(1_234_567), "1.234.567");
        assert_eq!(locale("de-CH").count(1_234_567), "1'234'567");
        assert_eq!(locale("fr-FR").count(8_000), "8\u{202f}000");
        assert_eq!(locale("en-US").count(999), "999");
        assert_eq!(locale("de-DE").decimal(1.5, 2), "1,50");
    }

    #[test]
    fn large_counts_have_a_short_form() {
        assert_eq!(locale("en-US").short(300_000_000), "300M");
        assert_eq!(locale("de-DE").short(300_000_000), "300\u{a0}Mio.");
        assert_eq!(locale("en-US").short(6_000_000), "6M");
        assert_eq!(locale("en-US").short(400_000), "400K");
        assert_eq!(locale("en-US").short(8_000), "8,000");
    }

    #[test]
    fn money_follows_the_locale_and_the_currency() {
        assert_eq!(locale("en-US").money(1_234.5, "USD"), "$1,234.50");
        assert_eq!(locale("en-US").money(1_234.5, "EUR"), "€1,234.50");
        assert_eq!(locale("de-DE").money(1_234.5, "EUR"), "1.234,50\u{a0}€");
        assert_eq!(locale("de-DE").money(23.0, "EUR"), "23,00\u{a0}€");
        assert_eq!(locale("en-US").money(3_750.0, "JPY"), "¥3,750");
    }
}
