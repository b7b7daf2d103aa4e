//! What a hub costs and how much it carries, answered on the Tier step and by `hubsetup plan`:
//!
//! - [`prices`]: Azure's retail prices for each IoT Hub tier and for blob storage, in one
//!   region and the admin's currency, read from the Retail Prices API and kept for a day.
//! - [`plan`]: the capacity plan, from devices, messages per hour and message size to metered
//!   messages per day, the busiest second's sends and the tier and units that fit.
//! - [`currency_for_region`]: the currency people in a country pay in, to start from.

pub mod plan;
pub mod prices;

pub use plan::{check_choice, plan, CapacityPlan, ChoiceCheck, PlanInput, Recommendation, TierFit};
pub use prices::{
    check_currency, price_list, read_prices, PriceCache, TierPrice, TierPrices, CURRENCIES,
};

/// Why prices or a plan could not be had, in words for the admin.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Plan(String),
    #[error("Azure's retail price list covers the global Azure cloud only, so no prices are shown for {cloud}. Its prices are on the cloud's own pricing pages; the tier's limits below still apply.")]
    NotPriced { cloud: String },
    #[error("Azure's price list has no prices in '{currency}'. Choose one of {}.", CURRENCIES.join(", "))]
    UnknownCurrency { currency: String },
    #[error("Azure's price list would not price in '{currency}' ({detail}). Choose another currency, such as USD.")]
    CurrencyRefused { currency: String, detail: String },
    #[error("Azure's price list has no IoT Hub prices for region '{region}' in {currency}. The tier's limits below still apply; choose another region to compare prices.")]
    NoPrices { region: String, currency: String },
    #[error("Prices could not be read, so none are shown. {0}")]
    Unreachable(hubsetup_net::Unreachable),
    #[error("Azure's price list refused the request (HTTP {status}: {detail}). No prices are shown; try again later.")]
    Refused { status: u16, detail: String },
    #[error("Azure's price list answered with {detail}, which IoT Hub Setup cannot read. No prices are shown; try again later.")]
    Unreadable { detail: String },
}

/// The currency to start from for a country or region (ISO 3166 code, as in `de-DE`), among
/// those Azure's price list prices in; US dollars elsewhere (Azure's own currency).
pub fn currency_for_region(region: Option<&str>) -> &'static str {
    let Some(region) = region else { return "USD" };
    EURO_AREA
        .iter()
        .find(|code| code.eq_ignore_ascii_case(region))
        .map(|_| "EUR")
        .or_else(|| {
            NATIONAL
                .iter()
                .find(|(code, _)| code.eq_ignore_ascii_case(region))
                .map(|(_, currency)| *currency)
        })
        .unwrap_or("USD")
}

/// The euro area's members (2026, with Bulgaria from 1 January 2026) and the microstates that
/// use the euro by agreement.
const EURO_AREA: [&str; 25] = [
    "AT", "BE", "BG", "HR", "CY", "EE", "FI", "FR", "DE", "GR", "IE", "IT", "LV", "LT", "LU", "MT",
    "NL", "PT", "SK", "SI", "ES", "AD", "MC", "SM", "VA",
];

/// Countries whose own currency the price list prices in.
const NATIONAL: [(&str, &str); 17] = [
    ("AU", "AUD"),
    ("BR", "BRL"),
    ("CA", "CAD"),
    ("CH", "CHF"),
    ("LI", "CHF"),
    ("CN", "CNY"),
    ("DK", "DKK"),
    ("GB", "GBP"),
    ("IN", "INR"),
    ("JP", "JPY"),
    ("KR", "KRW"),
    ("NO", "NOK"),
    ("NZ", "NZD"),
    ("RU", "RUB"),
    ("SE", "SEK"),
    ("TW", "TWD"),
    ("US", "USD"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_follow_the_country() {
        assert_eq!(currency_for_region(Some("DE")), "EUR");
        assert_eq!(currency_for_region(Some("us")), "USD");
        assert_eq!(currency_for_region(Some("CH")), "CHF");
        // A country whose currency the price list lacks, and no country: Azure's own.
        assert_eq!(currency_for_region(Some("MX")), "USD");
        assert_eq!(currency_for_region(None), "USD");
        for (_, currency) in NATIONAL {
            assert!(CURRENCIES.contains(&currency), "{currency}");
        }
    }
}
