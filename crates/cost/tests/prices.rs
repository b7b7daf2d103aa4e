//! Prices read from the sandbox's Retail Prices API: each tier and storage in the currency
//! asked for, pages followed, a day's cache, and each failure in its exact words.

use hubsetup_core::Cloud;
use hubsetup_cost::{read_prices, PriceCache};
use hubsetup_net::Network;
use hubsetup_provision::Tier;
use hubsetup_sandbox::{Fault, FaultRule, Sandbox, SandboxConfig};

fn client(sandbox: &Sandbox) -> (reqwest::Client, String) {
    let cloud = sandbox.cloud();
    let http = Network::new(&cloud, None).unwrap().http_client().unwrap();
    (http, cloud.retail_prices.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_tier_and_storage_is_priced_in_the_currency_asked_for() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let (http, endpoint) = client(&sandbox);
    let usd = read_prices(&http, &endpoint, "westeurope", "USD", None)
        .await
        .unwrap();
    assert_eq!(usd.monthly(Tier::S1), Some(25.0));
    assert_eq!(usd.monthly(Tier::F1), Some(0.0));
    assert_eq!(usd.monthly(Tier::S3), Some(2_500.0));
    assert_eq!(usd.storage_gb_month, Some(0.018032));
    // Lower case is read as the code it means.
    let eur = read_prices(&http, &endpoint, "westeurope", "eur", None)
        .await
        .unwrap();
    assert_eq!(
        (eur.currency.as_str(), eur.region.as_str()),
        ("EUR", "westeurope")
    );
    assert_eq!(eur.monthly(Tier::S1), Some(23.0));
    assert_eq!(eur.per_unit_month.len(), 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_is_followed() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    sandbox.with_state(|state| state.prices_page_size = Some(2));
    let (http, endpoint) = client(&sandbox);
    let prices = read_prices(&http, &endpoint, "westeurope", "USD", None)
        .await
        .unwrap();
    // Seven tiers on four pages of two.
    assert_eq!(prices.per_unit_month.len(), 7);
    assert_eq!(prices.monthly(Tier::S3), Some(2_500.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn prices_are_kept_for_a_day() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let (http, endpoint) = client(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    let cache = PriceCache::new(dir.path());
    let read = read_prices(&http, &endpoint, "westeurope", "EUR", Some(&cache))
        .await
        .unwrap();
    // The price list goes away: the day's prices still answer.
    sandbox.inject(FaultRule {
        host: hubsetup_core::cloud::host_of(&endpoint),
        path_prefix: None,
        fault: Fault::Status {
            status: 503,
            count: 100,
            retry_after_secs: None,
        },
    });
    let kept = read_prices(&http, &endpoint, "westeurope", "EUR", Some(&cache))
        .await
        .unwrap();
    assert_eq!(kept, read);
    // Prices read yesterday are read again, and the failure said.
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut old: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    old["read_at"] = "2026-01-01T00:00:00Z".into();
    std::fs::write(&file, old.to_string()).unwrap();
    let error = read_prices(&http, &endpoint, "westeurope", "EUR", Some(&cache))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("Azure's price list refused the request (HTTP 503"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_said_in_words() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let (http, endpoint) = client(&sandbox);
    let error = |region: &'static str, currency: &'static str| {
        let (http, endpoint) = (http.clone(), endpoint.clone());
        async move {
            read_prices(&http, &endpoint, region, currency, None)
                .await
                .unwrap_err()
                .to_string()
        }
    };
    assert_eq!(
        error("westeurope", "XYZ").await,
        "Azure's price list has no prices in 'XYZ'. Choose one of USD, AUD, BRL, CAD, CHF, CNY, DKK, EUR, GBP, INR, JPY, KRW, NOK, NZD, RUB, SEK, TWD."
    );
    // The price list knows the currency; the sandbox's snapshot does not carry it.
    assert_eq!(
        error("westeurope", "AUD").await,
        "Azure's price list would not price in 'AUD' (The sandbox's price snapshot carries USD, EUR, GBP, JPY only.). Choose another currency, such as USD."
    );
    assert_eq!(
        error("eastus2", "USD").await,
        "Azure's price list has no IoT Hub prices for region 'eastus2' in USD. The tier's limits below still apply; choose another region to compare prices."
    );
    sandbox.inject(FaultRule {
        host: hubsetup_core::cloud::host_of(&endpoint),
        path_prefix: None,
        fault: Fault::DropConnection { count: 10 },
    });
    let unreachable = error("westeurope", "USD").await;
    assert!(
        unreachable.starts_with(&format!(
            "Prices could not be read, so none are shown. Could not reach {}: ",
            hubsetup_core::cloud::host_of(&endpoint)
        )),
        "{unreachable}"
    );
    let china = hubsetup_cost::price_list(&Cloud::china())
        .unwrap_err()
        .to_string();
    assert_eq!(
        china,
        "Azure's retail price list covers the global Azure cloud only, so no prices are shown for Azure China. Its prices are on the cloud's own pricing pages; the tier's limits below still apply."
    );
    assert_eq!(
        hubsetup_cost::price_list(&Cloud::public()).unwrap(),
        "https://prices.azure.com"
    );
}
