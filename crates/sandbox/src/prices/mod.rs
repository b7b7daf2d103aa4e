//! Azure's Retail Prices API (`prices.azure.com/api/retail/prices`) at `prices.{suffix}`, from
//! a dated snapshot of the IoT Hub and blob storage meters the wizard prices.
//!
//! As the real API: unauthenticated `GET`; OData `$filter` of `field eq 'value'` terms joined
//! by `and`/`or` (with parentheses and `contains(field, 'value')`), values compared exactly from
//! `api-version=2023-01-01-preview` on and without regard to case before it; `currencyCode` as
//! its own parameter (quoted or not; inside `$filter` it matches nothing); `meterRegion=
//! 'primary'`; pages of at most 1,000 items linked by `NextPageLink` (`$skip`), `null` on the
//! last. A filter it cannot read, or a currency it does not price in, gets 400; Microsoft has
//! published no body for those, so the `{"Error": {"Code", "Message"}}` body is the sandbox's.
//!
//! ## Where the snapshot's figures come from (read December 2026)
//! - **IoT Hub, USD per unit and month** (`1/Month`, meters `{sku} Unit`, skuName `Free`,
//!   `B1`…`S3`, productName `IoT Hub`): S1 $25 as the Retail Prices data gives it for West
//!   Europe (infracost's `iothub_test.golden`: two S1 units, $50.00); B1 $10, B2 $50, B3 $500,
//!   S2 $250, S3 $2,500 and Free $0 as the IoT Hub pricing page lists them. Names and unit
//!   as the live API returned them on 2026-07-17 (azure-cost-calculator's `iot-hub.md`).
//! - **Blob storage, Hot LRS Data Stored, USD per GB and month** (`General Block Blob v2`):
//!   West Europe 0.018032 (a capture of the API fetched 2026-08-22, azure-pricing-radar's
//!   `storage-eu-west.json`, meter `10e5ee74-…`); East US 2 0.0184 (a pull of 2026-07-05, meter
//!   `10b97fb2-…`, effective 2017-02-03).
//! - **Other currencies**: Azure converts from USD at the month's London closing spot rate.
//!   The snapshot converts at fixed rates of its own ([`RATES`]), so its EUR, GBP and JPY figures
//!   are illustrative, not Microsoft's.
//! - Identifiers (`meterId`, `productId`, `skuId`, `serviceId`) that no capture showed are the
//!   sandbox's own and start with `sandbox-`.
//! - East US 2 has storage prices and no IoT Hub prices: a region the price list answers
//!   with nothing, as a real query for an unlisted meter does.

use hyper::{Method, StatusCode};
use serde::Serialize;
use serde_json::json;

use crate::http::{json_response, response, Req, Resp};

mod filter;

use filter::Filter;

/// The most items the API returns on one page (Microsoft's documentation, 2026).
pub const PAGE_SIZE: usize = 1_000;

/// The currencies the API prices in (its documentation's table) and the snapshot's rate from
/// USD for each it carries; the others are refused as unknown to the snapshot.
pub const SUPPORTED_CURRENCIES: [&str; 17] = [
    "USD", "AUD", "BRL", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "INR", "JPY", "KRW", "NOK",
    "NZD", "RUB", "SEK", "TWD",
];

/// Illustrative conversion rates from USD (see the module's documentation).
pub const RATES: [(&str, f64); 4] = [("USD", 1.0), ("EUR", 0.92), ("GBP", 0.79), ("JPY", 150.0)];

/// One meter of the snapshot, in USD.
struct Meter {
    service_name: &'static str,
    service_family: &'static str,
    service_id: &'static str,
    product_name: &'static str,
    product_id: &'static str,
    sku_name: &'static str,
    sku_id: &'static str,
    meter_name: &'static str,
    meter_id: &'static str,
    unit_of_measure: &'static str,
    region: &'static str,
    location: &'static str,
    usd: f64,
    effective_start: &'static str,
}

const IOT_HUB_UNITS: [(&str, f64); 7] = [
    ("Free", 0.0),
    ("B1", 10.0),
    ("B2", 50.0),
    ("B3", 500.0),
    ("S1", 25.0),
    ("S2", 250.0),
    ("S3", 2_500.0),
];

fn snapshot() -> Vec<Meter> {
    let mut meters: Vec<Meter> = IOT_HUB_UNITS
        .iter()
        .map(|&(sku, usd)| Meter {
            service_name: "IoT Hub",
            service_family: "Internet of Things",
            service_id: "sandbox-iothub",
            product_name: "IoT Hub",
            product_id: "sandbox-iothub-product",
            sku_name: sku,
            sku_id: sku_id(sku),
            meter_name: meter_name(sku),
            meter_id: meter_id(sku),
            unit_of_measure: "1/Month",
            region: "westeurope",
            location: "EU West",
            usd,
            effective_start: "2016-02-01T00:00:00Z",
        })
        .collect();
    let hot_lrs = |region, location, usd, meter_id, effective_start| Meter {
        service_name: "Storage",
        service_family: "Storage",
        service_id: "sandbox-storage",
        product_name: "General Block Blob v2",
        product_id: "DZH318Z0BPH7",
        sku_name: "Hot LRS",
        sku_id: "DZH318Z0BPH7/00BJ",
        meter_name: "Hot LRS Data Stored",
        meter_id,
        unit_of_measure: "1 GB/Month",
        region,
        location,
        usd,
        effective_start,
    };
    meters.push(hot_lrs(
        "westeurope",
        "EU West",
        0.018032,
        "10e5ee74-8fd6-4972-909f-65a83f92f0ce",
        "2017-02-03T00:00:00Z",
    ));
    meters.push(hot_lrs(
        "eastus2",
        "US East 2",
        0.0184,
        "10b97fb2-5db4-4ad2-a4e0-69b858d6b52d",
        "2017-02-03T00:00:00Z",
    ));
    meters
}

fn sku_id(sku: &str) -> &'static str {
    match sku {
        "Free" => "sandbox-iothub-product/free",
        "B1" => "sandbox-iothub-product/b1",
        "B2" => "sandbox-iothub-product/b2",
        "B3" => "sandbox-iothub-product/b3",
        "S1" => "sandbox-iothub-product/s1",
        "S2" => "sandbox-iothub-product/s2",
        _ => "sandbox-iothub-product/s3",
    }
}

fn meter_name(sku: &str) -> &'static str {
    match sku {
        "Free" => "Free Unit",
        "B1" => "B1 Unit",
        "B2" => "B2 Unit",
        "B3" => "B3 Unit",
        "S1" => "S1 Unit",
        "S2" => "S2 Unit",
        _ => "S3 Unit",
    }
}

fn meter_id(sku: &str) -> &'static str {
    match sku {
        "Free" => "sandbox-meter-iothub-free",
        "B1" => "sandbox-meter-iothub-b1",
        "B2" => "sandbox-meter-iothub-b2",
        "B3" => "sandbox-meter-iothub-b3",
        "S1" => "sandbox-meter-iothub-s1",
        "S2" => "sandbox-meter-iothub-s2",
        _ => "sandbox-meter-iothub-s3",
    }
}

/// An item as the API writes it, its fields in the documented order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    currency_code: String,
    tier_minimum_units: f64,
    retail_price: f64,
    unit_price: f64,
    arm_region_name: &'static str,
    location: &'static str,
    effective_start_date: &'static str,
    meter_id: &'static str,
    meter_name: &'static str,
    product_id: &'static str,
    sku_id: &'static str,
    product_name: &'static str,
    sku_name: &'static str,
    service_name: &'static str,
    service_id: &'static str,
    service_family: &'static str,
    unit_of_measure: &'static str,
    #[serde(rename = "type")]
    price_type: &'static str,
    is_primary_meter_region: bool,
    arm_sku_name: &'static str,
}

/// A page of items, its fields in the order the API writes them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Page {
    billing_currency: String,
    customer_entity_id: &'static str,
    customer_entity_type: &'static str,
    items: Vec<Item>,
    next_page_link: Option<String>,
    count: usize,
}

impl Meter {
    fn item(&self, currency: &str, rate: f64) -> Item {
        // Prices carry up to six decimals, as the API's do.
        let price = (self.usd * rate * 1e6).round() / 1e6;
        Item {
            currency_code: currency.to_owned(),
            tier_minimum_units: 0.0,
            retail_price: price,
            unit_price: price,
            arm_region_name: self.region,
            location: self.location,
            effective_start_date: self.effective_start,
            meter_id: self.meter_id,
            meter_name: self.meter_name,
            product_id: self.product_id,
            sku_id: self.sku_id,
            product_name: self.product_name,
            sku_name: self.sku_name,
            service_name: self.service_name,
            service_id: self.service_id,
            service_family: self.service_family,
            unit_of_measure: self.unit_of_measure,
            price_type: "Consumption",
            is_primary_meter_region: true,
            arm_sku_name: "",
        }
    }
}

/// `GET /api/retail/prices`.
pub(crate) fn handle(req: &Req, suffix: &str, page_size: usize) -> Resp {
    if req.segments() != ["api", "retail", "prices"] {
        return refusal(
            StatusCode::NOT_FOUND,
            "NotFound",
            "No such resource; the price list is at /api/retail/prices.",
        );
    }
    if req.method != Method::GET {
        return refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The price list answers GET only.",
        );
    }
    let case_sensitive = req
        .query("api-version")
        .is_some_and(|version| version.as_bytes() >= b"2023-01-01-preview".as_slice());
    let currency = req
        .query("currencyCode")
        .map(|code| code.trim_matches('\'').to_owned())
        .unwrap_or_else(|| "USD".to_owned());
    if !SUPPORTED_CURRENCIES.contains(&currency.as_str()) {
        return refusal(
            StatusCode::BAD_REQUEST,
            "InvalidCurrency",
            &format!(
                "Currency '{currency}' is not supported. Supported: {}.",
                SUPPORTED_CURRENCIES.join(", ")
            ),
        );
    }
    let Some(rate) = rate_for(&currency) else {
        let carried: Vec<&str> = RATES.iter().map(|(code, _)| *code).collect();
        return refusal(
            StatusCode::BAD_REQUEST,
            "CurrencyNotInSnapshot",
            &format!(
                "The sandbox's price snapshot carries {} only.",
                carried.join(", ")
            ),
        );
    };
    let filter = match req.query("$filter").map(Filter::parse).transpose() {
        Ok(filter) => filter,
        Err(problem) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "InvalidFilter",
                &format!("Invalid $filter: {problem}."),
            )
        }
    };
    let primary_only = req.query("meterRegion").map(|r| r.trim_matches('\''));
    if primary_only.is_some_and(|r| r != "primary") {
        return refusal(
            StatusCode::BAD_REQUEST,
            "InvalidMeterRegion",
            "meterRegion takes 'primary' only.",
        );
    }
    let skip = match req.query("$skip").map(str::parse::<usize>).transpose() {
        Ok(skip) => skip.unwrap_or(0),
        Err(_) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "InvalidSkip",
                "$skip takes a whole number.",
            )
        }
    };
    let items: Vec<Item> = snapshot()
        .iter()
        .map(|meter| meter.item(&currency, rate))
        .filter(|item| {
            filter.as_ref().is_none_or(|f| {
                f.matches(
                    &serde_json::to_value(item).unwrap_or_default(),
                    case_sensitive,
                )
            })
        })
        .collect();
    let page: Vec<Item> = items.iter().skip(skip).take(page_size).cloned().collect();
    let next =
        (skip + page.len() < items.len()).then(|| next_page_link(req, suffix, skip + page.len()));
    let body = Page {
        billing_currency: currency,
        customer_entity_id: "Default",
        customer_entity_type: "Retail",
        count: page.len(),
        items: page,
        next_page_link: next,
    };
    response(
        StatusCode::OK,
        "application/json; charset=utf-8",
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

/// The snapshot's rate for `currency`; codes are read as given (`EUR`, not `eur`).
fn rate_for(currency: &str) -> Option<f64> {
    RATES
        .iter()
        .find(|(code, _)| *code == currency)
        .map(|(_, rate)| *rate)
}

/// The same query on the next page: absolute, with the port and `$skip`, as the API links it.
fn next_page_link(req: &Req, suffix: &str, skip: usize) -> String {
    let mut kept: Vec<(&String, &String)> = req
        .query
        .iter()
        .filter(|(name, _)| *name != "$skip")
        .collect();
    kept.sort();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in kept {
        query.append_pair(name, value);
    }
    query.append_pair("$skip", &skip.to_string());
    format!(
        "https://prices.{suffix}:443/api/retail/prices?{}",
        query.finish().replace('+', "%20")
    )
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Resp {
    json_response(
        status,
        &json!({"Error": {"Code": code, "Message": message}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_carried_currency_is_supported() {
        for (code, _) in RATES {
            assert!(SUPPORTED_CURRENCIES.contains(&code), "{code}");
        }
        assert_eq!(rate_for("eur"), None);
        assert_eq!(rate_for("XYZ"), None);
        assert_eq!(rate_for("EUR"), Some(0.92));
    }
}
