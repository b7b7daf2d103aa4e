//! `hubsetup plan`: what a hub for this installation costs and whether a tier carries it. The
//! capacity plan of `hubsetup-cost` for every tier, priced with Azure's retail prices in the
//! region and currency asked for (in the OS locale's currency by default), as the Tier step
//! shows it.

use hubsetup_cost::{
    plan, price_list, read_prices, CapacityPlan, PlanInput, PriceCache, TierPrices,
};
use hubsetup_locale::Locale;

use crate::cloud_args::CloudArgs;
use crate::runtime::Load;
use crate::CliError;

/// Plan a hub's capacity: the messages a day your devices meter on each tier, the tier and units
/// that carry them with room to spare, and what that costs a month at Azure's list prices.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Devices (or data streams) that send.
    #[arg(long)]
    devices: u32,
    /// Messages each device sends per hour (0.5 is one every two hours).
    #[arg(long)]
    per_hour: f64,
    /// The average message's size in bytes.
    #[arg(long, value_name = "BYTES")]
    size: u32,
    /// Sends in the busiest second, if known (default: three times the average).
    #[arg(long, value_name = "SENDS")]
    peak: Option<u32>,
    /// The Azure region whose prices apply.
    #[arg(long, default_value = "westeurope")]
    region: String,
    /// The currency for prices (ISO 4217: EUR, USD, …); default: the OS locale's country's.
    #[arg(long)]
    currency: Option<String>,
    /// Plan without reading prices.
    #[arg(long)]
    no_prices: bool,
    #[command(flatten)]
    cloud: CloudArgs,
    /// The plan (and prices) as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let input = PlanInput {
        devices: args.devices,
        messages_per_hour: args.per_hour,
        message_bytes: args.size,
        peak_sends_per_second: args.peak,
    };
    input
        .check()
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    let locale = hubsetup_locale::current();
    let currency = match &args.currency {
        Some(code) => {
            hubsetup_cost::check_currency(code).map_err(|e| CliError::BadInput(e.to_string()))?
        }
        None => hubsetup_cost::currency_for_region(locale.view().region.as_deref()).to_owned(),
    };
    let prices = if args.no_prices {
        Ok(None)
    } else {
        crate::runtime::start(Load::Light)?.block_on(prices(&args, &currency))
    };
    let (prices, why_none) = match prices {
        Ok(prices) => (prices, None),
        Err(why) => (None, Some(why)),
    };
    let plan = plan(&input, prices.as_ref()).map_err(|e| CliError::BadInput(e.to_string()))?;
    if args.json {
        let json = serde_json::json!({
            "plan": plan,
            "prices": prices,
            "pricesUnavailable": why_none,
        });
        println!("{json}");
    } else {
        print!(
            "{}",
            render(&plan, prices.as_ref(), why_none.as_deref(), locale)
        );
    }
    Ok(())
}

async fn prices(args: &Args, currency: &str) -> Result<Option<TierPrices>, String> {
    let network = args.cloud.network().map_err(|e| e.to_string())?;
    let endpoint = price_list(network.cloud())
        .map_err(|e| e.to_string())?
        .to_owned();
    let http = network.http_client().map_err(|e| e.to_string())?;
    let cache = hubsetup_platform::paths::state_dir()
        .ok()
        .map(|dir| PriceCache::new(dir.join("prices")));
    read_prices(&http, &endpoint, &args.region, currency, cache.as_ref())
        .await
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The plan as the terminal shows it.
fn render(
    plan: &CapacityPlan,
    prices: Option<&TierPrices>,
    why_no_prices: Option<&str>,
    locale: &Locale,
) -> String {
    let input = &plan.input;
    let mut text = format!(
        "{} device{} sending {} message{} an hour of {} bytes: {} messages a day, {} send{} a second at the busiest.\n\n",
        locale.count(input.devices.into()),
        if input.devices == 1 { "" } else { "s" },
        per_hour(input.messages_per_hour, locale),
        if input.messages_per_hour == 1.0 { "" } else { "s" },
        locale.count(input.message_bytes.into()),
        locale.count(plan.sends_per_day),
        locale.count(plan.peak_sends_per_second.into()),
        if plan.peak_sends_per_second == 1 { "" } else { "s" },
    );
    let money = |amount: f64| match prices {
        Some(p) => locale.money(amount, &p.currency),
        None => "–".to_owned(),
    };
    let mut rows = vec![[
        "Tier".to_owned(),
        "Metered a day".to_owned(),
        "Units".to_owned(),
        "Unit a month".to_owned(),
        "A month".to_owned(),
    ]];
    let mut notes = Vec::new();
    for fit in &plan.fits {
        let unit_price = prices.and_then(|p| p.monthly(fit.tier));
        rows.push([
            fit.tier.to_string(),
            locale.count(fit.metered_per_day),
            fit.units.map_or("–".to_owned(), |u| locale.count(u.into())),
            unit_price.map_or("–".to_owned(), money),
            fit.monthly_price.map_or("–".to_owned(), money),
        ]);
        if let Some(why) = &fit.does_not_fit {
            notes.push(format!("{} does not fit: it {why}.", fit.tier));
        }
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let pad = widths[i] - cell.chars().count();
                if i == 0 {
                    format!("{cell}{}", " ".repeat(pad))
                } else {
                    format!("{}{cell}", " ".repeat(pad))
                }
            })
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    text.push('\n');
    for note in notes {
        text.push_str(&note);
        text.push('\n');
    }
    match &plan.recommended {
        Some(r) => {
            text.push_str(&format!(
                "Recommended: {} × {} unit{}{}.",
                r.tier,
                locale.count(r.units.into()),
                if r.units == 1 { "" } else { "s" },
                r.monthly_price
                    .map(|p| format!(", {} a month", money(p)))
                    .unwrap_or_default()
            ));
            if let Some((tier, units)) = r.cheaper_basic {
                let cost = plan
                    .fits
                    .iter()
                    .find(|f| f.tier == tier)
                    .and_then(|f| f.monthly_price);
                text.push_str(&format!(
                    " {tier} × {} would carry it{}, without cloud-to-device messages, device twins or direct methods.",
                    locale.count(units.into()),
                    cost.map(|c| format!(" for {} a month", money(c))).unwrap_or_default()
                ));
            }
            if r.free_fits {
                text.push_str(" The free tier (F1) carries it too, for a trial: it can never be upgraded, and a subscription may have one.");
            }
            text.push('\n');
        }
        None => text.push_str(
            "No standard tier carries this plan: split the devices across hubs, or send fewer or smaller messages.\n",
        ),
    }
    if let Some(storage) = storage_line(plan, prices, locale) {
        text.push_str(&storage);
    }
    match (prices, why_no_prices) {
        (Some(p), _) => text.push_str(&format!(
            "Azure's list prices for {} in {}, read {}. Prices under an agreement or with discounts differ.\n",
            p.region,
            p.currency,
            p.read_at
                .parse()
                .map(|at| locale.date(at))
                .unwrap_or_else(|_| p.read_at.clone())
        )),
        (None, Some(why)) => text.push_str(&format!("No prices: {why}\n")),
        (None, None) => {}
    }
    text
}

/// Messages per hour as entered: whole numbers grouped, fractions to two places.
fn per_hour(value: f64, locale: &Locale) -> String {
    if value.fract() == 0.0 {
        locale.count(value as u64)
    } else {
        locale.decimal(value, 2)
    }
}

/// What keeping every message in blob storage (Hot LRS) would add, as an estimate.
fn storage_line(
    plan: &CapacityPlan,
    prices: Option<&TierPrices>,
    locale: &Locale,
) -> Option<String> {
    let prices = prices?;
    let per_gb = prices.storage_gb_month?;
    let gb = hubsetup_cost::plan::stored_gb_per_month(&plan.input);
    Some(format!(
        "Keeping the data in blob storage (Hot LRS, {} per 100 GB a month) adds about {} GB a month: about {} for the first month, more each month as it accumulates.\n",
        locale.money(per_gb * 100.0, &prices.currency),
        locale.decimal(gb, 1),
        locale.money(gb * per_gb, &prices.currency),
    ))
}

#[cfg(test)]
mod tests {
    use hubsetup_provision::Tier;

    use super::*;

    fn prices() -> TierPrices {
        TierPrices {
            currency: "EUR".into(),
            region: "westeurope".into(),
            read_at: "2026-12-08T12:00:00Z".into(),
            per_unit_month: Tier::ALL
                .into_iter()
                .map(|tier| hubsetup_cost::TierPrice {
                    tier,
                    price: tier.list_price_in_s1_units() * 23.0,
                })
                .collect(),
            storage_gb_month: Some(0.0166),
        }
    }

    #[test]
    fn the_plan_reads_in_the_locale() {
        let input = PlanInput {
            devices: 1_500,
            messages_per_hour: 12.0,
            message_bytes: 2_048,
            peak_sends_per_second: None,
        };
        let prices = prices();
        let plan = plan(&input, Some(&prices)).unwrap();
        let german = render(&plan, Some(&prices), None, &Locale::parse("de-DE").unwrap());
        assert!(german.starts_with("1.500 devices sending 12 messages an hour of 2.048 bytes: 432.000 messages a day, 15 sends a second at the busiest.\n"), "{german}");
        assert!(german.contains("Recommended: S1 × 2 units, 46,00\u{a0}€ a month. B1 × 2 would carry it for 18,40\u{a0}€ a month"), "{german}");
        assert!(
            german.contains(
                "F1 does not fit: it would need 270 units for the daily messages; F1 allows 1."
            ),
            "{german}"
        );
        assert!(german.contains("read 08.12.2026."), "{german}");
        let american = render(&plan, Some(&prices), None, &Locale::parse("en-US").unwrap());
        assert!(
            american.contains("\nS1          432,000      2        €23.00     €46.00\n")
                && american.contains("\nF1        1,728,000      –         €0.00          –\n"),
            "{american}"
        );
        let unpriced = hubsetup_cost::plan(&input, None).unwrap();
        let none = render(
            &unpriced,
            None,
            Some("Prices could not be read."),
            &Locale::us(),
        );
        assert!(
            none.ends_with("No prices: Prices could not be read.\n"),
            "{none}"
        );
        assert!(
            none.contains("Recommended: S1 × 2 units. B1 × 2 would carry it, without"),
            "{none}"
        );
    }
}
