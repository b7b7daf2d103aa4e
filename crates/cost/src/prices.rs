//! Azure's retail prices for what the wizard may create: each IoT Hub tier's unit per month,
//! and blob storage (Hot LRS) per GB and month, in one region and currency, read from the
//! Retail Prices API (unauthenticated, OData `$filter`, pages linked by `NextPageLink`) and
//! kept for a day.

use std::path::{Path, PathBuf};

use hubsetup_core::Cloud;
use hubsetup_provision::Tier;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::Error;

/// The API version asked for: values in `$filter` are compared exactly from this one on.
pub const API_VERSION: &str = "2023-01-01-preview";

/// Prices read are used for a day, then read again.
pub const KEPT_FOR: Duration = Duration::DAY;

/// The pages followed before giving up (the answers the wizard asks for fit on one).
const MAX_PAGES: usize = 20;

/// The currencies Azure's price list prices in (its documentation's table).
pub const CURRENCIES: [&str; 17] = [
    "USD", "AUD", "BRL", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "INR", "JPY", "KRW", "NOK",
    "NZD", "RUB", "SEK", "TWD",
];

/// One region's prices in one currency, as read at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct TierPrices {
    pub currency: String,
    pub region: String,
    /// When they were read (RFC 3339, UTC).
    pub read_at: String,
    /// Each tier's list price per unit and month; a tier Azure did not price is absent.
    pub per_unit_month: Vec<TierPrice>,
    /// Hot LRS blob storage per GB and month (the first volume tier), if listed.
    pub storage_gb_month: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct TierPrice {
    pub tier: Tier,
    pub price: f64,
}

impl TierPrices {
    /// One unit of `tier` for a month, if Azure priced it.
    pub fn monthly(&self, tier: Tier) -> Option<f64> {
        self.per_unit_month
            .iter()
            .find(|p| p.tier == tier)
            .map(|p| p.price)
    }

    fn read_at(&self) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(&self.read_at, &Rfc3339).ok()
    }
}

/// Where prices come from for `cloud`, or why there are none.
pub fn price_list(cloud: &Cloud) -> Result<&str, Error> {
    cloud
        .retail_prices
        .as_deref()
        .ok_or_else(|| Error::NotPriced {
            cloud: cloud.display_name.clone(),
        })
}

/// The currency's code as the price list knows it (`eur` → `EUR`), or what to choose instead.
pub fn check_currency(code: &str) -> Result<String, Error> {
    let code = code.trim().to_ascii_uppercase();
    if CURRENCIES.contains(&code.as_str()) {
        Ok(code)
    } else {
        Err(Error::UnknownCurrency { currency: code })
    }
}

/// Prices for `region` in `currency`, from `cache` when read in the last day, else from
/// `endpoint` (and then kept in `cache`).
pub async fn read_prices(
    http: &reqwest::Client,
    endpoint: &str,
    region: &str,
    currency: &str,
    cache: Option<&PriceCache>,
) -> Result<TierPrices, Error> {
    let currency = check_currency(currency)?;
    if let Some(kept) = cache.and_then(|c| c.fresh(endpoint, region, &currency)) {
        return Ok(kept);
    }
    let hub_items = items(
        http,
        endpoint,
        &currency,
        &format!(
            "serviceName eq 'IoT Hub' and productName eq 'IoT Hub' and armRegionName eq '{}' and priceType eq 'Consumption'",
            odata_text(region)
        ),
    )
    .await?;
    let per_unit_month: Vec<TierPrice> = Tier::ALL
        .into_iter()
        .filter_map(|tier| {
            let sku = if tier == Tier::F1 {
                "Free"
            } else {
                tier.name()
            };
            let price = monthly_price(&hub_items, sku, &format!("{sku} Unit"))?;
            Some(TierPrice { tier, price })
        })
        .collect();
    if per_unit_month.is_empty() {
        return Err(Error::NoPrices {
            region: region.to_owned(),
            currency,
        });
    }
    let storage_items = items(
        http,
        endpoint,
        &currency,
        &format!(
            "serviceName eq 'Storage' and productName eq 'General Block Blob v2' and skuName eq 'Hot LRS' and meterName eq 'Hot LRS Data Stored' and armRegionName eq '{}' and priceType eq 'Consumption'",
            odata_text(region)
        ),
    )
    .await?;
    let storage_gb_month = storage_items
        .iter()
        .filter(|item| item["unitOfMeasure"] == "1 GB/Month")
        .filter(|item| item["tierMinimumUnits"].as_f64() == Some(0.0))
        .find_map(|item| item["retailPrice"].as_f64());
    let prices = TierPrices {
        currency,
        region: region.to_owned(),
        read_at: OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default(),
        per_unit_month,
        storage_gb_month,
    };
    if let Some(cache) = cache {
        // A cache that cannot be written costs a second read tomorrow, nothing more.
        let _ = cache.keep(endpoint, &prices);
    }
    Ok(prices)
}

/// A unit's price per month from items of `1/Month` (or per day or hour, scaled as Azure's
/// calculator does: 30 days, 730 hours).
fn monthly_price(items: &[Value], sku: &str, meter: &str) -> Option<f64> {
    items
        .iter()
        .filter(|item| item["skuName"] == sku && item["meterName"] == meter)
        .filter(|item| item["isPrimaryMeterRegion"] != false)
        .find_map(|item| {
            let per = match item["unitOfMeasure"].as_str()? {
                "1/Month" => 1.0,
                "1/Day" => 30.0,
                "1/Hour" | "1 Hour" => 730.0,
                _ => return None,
            };
            Some(item["retailPrice"].as_f64()? * per)
        })
}

/// Every item the filter selects, following `NextPageLink` on the same host.
async fn items(
    http: &reqwest::Client,
    endpoint: &str,
    currency: &str,
    filter: &str,
) -> Result<Vec<Value>, Error> {
    let base = format!("{}/api/retail/prices", endpoint.trim_end_matches('/'));
    let host = hubsetup_core::cloud::host_of(endpoint);
    let mut url = format!(
        "{base}?api-version={API_VERSION}&currencyCode='{currency}'&$filter={}",
        percent_encoding::utf8_percent_encode(filter, QUERY)
    );
    let mut found = Vec::new();
    for _ in 0..MAX_PAGES {
        let answer =
            http.get(&url).send().await.map_err(|e| {
                Error::Unreachable(hubsetup_net::Unreachable::new(host.clone(), &e))
            })?;
        let status = answer.status();
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| Error::Unreachable(hubsetup_net::Unreachable::new(host.clone(), &e)))?;
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        if !status.is_success() {
            return Err(refusal(status, body.as_ref(), currency));
        }
        let body = body.ok_or_else(|| Error::Unreadable {
            detail: "an answer that is not JSON".into(),
        })?;
        let page = body["Items"].as_array().ok_or_else(|| Error::Unreadable {
            detail: "an answer without Items".into(),
        })?;
        found.extend(page.iter().cloned());
        match body["NextPageLink"].as_str() {
            None | Some("") => return Ok(found),
            Some(next)
                if hubsetup_core::cloud::host_of(next).split(':').next() == Some(host.as_str()) =>
            {
                url = next.to_owned();
            }
            Some(other) => {
                return Err(Error::Unreadable {
                    detail: format!(
                        "a next page on another host ({})",
                        hubsetup_core::cloud::host_of(other)
                    ),
                })
            }
        }
    }
    Err(Error::Unreadable {
        detail: format!("more than {MAX_PAGES} pages for one tier table"),
    })
}

/// The price list's refusal, in words: a currency it does not price in, or what it said.
fn refusal(status: reqwest::StatusCode, body: Option<&Value>, currency: &str) -> Error {
    let said = |field: &str| {
        body.and_then(|b| b["Error"][field].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    if said("Code").contains("Currency") {
        return Error::CurrencyRefused {
            currency: currency.to_owned(),
            detail: said("Message"),
        };
    }
    let message = said("Message");
    Error::Refused {
        status: status.as_u16(),
        detail: if message.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("no reason given")
                .to_owned()
        } else {
            message
        },
    }
}

/// A quote inside an OData string is doubled.
fn odata_text(value: &str) -> String {
    value.replace('\'', "''")
}

/// What a query value must escape: controls, space and the characters with a meaning in a URL.
const QUERY: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>')
    .add(b'%');

/// Prices read in the last day, one file per price list, region and currency.
#[derive(Debug, Clone)]
pub struct PriceCache {
    dir: PathBuf,
}

impl PriceCache {
    pub fn new(dir: impl Into<PathBuf>) -> PriceCache {
        PriceCache { dir: dir.into() }
    }

    fn file(&self, endpoint: &str, region: &str, currency: &str) -> PathBuf {
        let host = hubsetup_core::cloud::host_of(endpoint).replace(':', "_");
        self.dir
            .join(format!("prices-{host}-{region}-{currency}.json"))
    }

    fn fresh(&self, endpoint: &str, region: &str, currency: &str) -> Option<TierPrices> {
        let text = std::fs::read(self.file(endpoint, region, currency)).ok()?;
        let prices: TierPrices = serde_json::from_slice(&text).ok()?;
        let age = OffsetDateTime::now_utc() - prices.read_at()?;
        (age >= Duration::ZERO && age < KEPT_FOR).then_some(prices)
    }

    fn keep(&self, endpoint: &str, prices: &TierPrices) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.file(endpoint, &prices.region, &prices.currency);
        hubsetup_platform::private_file::write_atomically(
            &path,
            &serde_json::to_vec_pretty(prices).unwrap_or_default(),
        )
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
