//! The Tier step's two questions: what will it cost a month, and is it enough? Prices come
//! from Azure's retail price list for the chosen region, in the admin's currency (the OS
//! locale's country's to start with), kept for a day; the capacity plan is saved with the
//! wizard so that the summary and a resumed wizard show it.

use hubsetup_cost::{
    check_choice, check_currency, currency_for_region, plan, price_list, read_prices, CapacityPlan,
    ChoiceCheck, PlanInput, PriceCache, TierPrices, CURRENCIES,
};
use hubsetup_provision::Tier;
use serde::Serialize;
use ts_rs::TS;

use crate::session::{Session, SessionError};

/// How the webview formats numbers, money and dates, and the currencies it may offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Formats {
    /// The OS locale's BCP 47 tag, for `Intl` (`de-DE`).
    pub locale: String,
    /// The currency chosen, or the locale's country's.
    pub currency: String,
    pub currencies: Vec<String>,
}

/// The capacity plan against every tier, and how the chosen tier and units fare.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct PlanView {
    pub plan: CapacityPlan,
    pub choice: ChoiceCheck,
}

impl Session {
    pub fn formats(&self) -> Formats {
        let locale = hubsetup_locale::current().view();
        let chosen = self.view().state.currency;
        Formats {
            currency: chosen
                .unwrap_or_else(|| currency_for_region(locale.region.as_deref()).to_owned()),
            locale: locale.tag,
            currencies: CURRENCIES.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    /// Azure's list prices for the chosen region in `currency` (kept as the wizard's choice).
    pub async fn prices(&self, currency: String) -> Result<TierPrices, SessionError> {
        let currency = check_currency(&currency).map_err(|e| SessionError::new("prices", e))?;
        let region = self.view().state.hub.region.ok_or_else(|| {
            SessionError::new(
                "prices",
                "Choose a region on the Hub step first: prices depend on it.",
            )
        })?;
        self.update(|s| s.currency = Some(currency.clone()))?;
        let network = self.network()?;
        let endpoint = price_list(network.cloud())
            .map_err(|e| SessionError::new("prices", e))?
            .to_owned();
        let http = network
            .http_client()
            .map_err(|e| SessionError::new("network", e))?;
        let cache = PriceCache::new(self.state_dir.join("prices"));
        let prices = read_prices(&http, &endpoint, &region, &currency, Some(&cache))
            .await
            .map_err(|e| SessionError::new("prices", e))?;
        self.update(|s| s.prices = Some(prices.clone()))?;
        Ok(prices)
    }

    /// Saves the plan and returns it against every tier, priced with the prices last read for
    /// the chosen region and currency; `None` forgets the plan.
    pub fn capacity_plan(
        &self,
        input: Option<PlanInput>,
    ) -> Result<Option<PlanView>, SessionError> {
        if let Some(input) = &input {
            input.check().map_err(|e| SessionError::new("plan", e))?;
        }
        let state = self.update(|s| {
            s.capacity = input;
            s.clone()
        })?;
        state
            .capacity
            .as_ref()
            .map(|input| {
                let prices = state.prices.as_ref().filter(|p| {
                    Some(&p.region) == state.hub.region.as_ref()
                        && Some(&p.currency) == state.currency.as_ref()
                });
                let tier = Tier::parse(&state.hub.sku).map_err(|e| SessionError::new("plan", e))?;
                Ok(PlanView {
                    plan: plan(input, prices).map_err(|e| SessionError::new("plan", e))?,
                    choice: check_choice(input, tier, state.hub.units.max(1)),
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use hubsetup_provision::Tier;

    use super::*;
    use crate::flow::StartChoice;

    #[tokio::test(flavor = "multi_thread")]
    async fn prices_and_the_plan_are_kept_with_the_wizard() {
        let dir = tempfile::tempdir().unwrap();
        let session = Session::open(dir.path());
        session
            .start(StartChoice::Create {
                cloud: "sandbox".into(),
            })
            .unwrap();
        assert_eq!(
            session.prices("EUR".into()).await.unwrap_err().message,
            "Choose a region on the Hub step first: prices depend on it."
        );
        let mut hub = session.view().state.hub;
        hub.region = Some("westeurope".into());
        session.plan(hub, vec!["meter".into()], None).unwrap();
        let prices = session.prices("eur".into()).await.unwrap();
        assert_eq!(prices.monthly(Tier::S1), Some(23.0));
        assert_eq!(session.formats().currency, "EUR");

        let input = PlanInput {
            devices: 1_500,
            messages_per_hour: 12.0,
            message_bytes: 2_048,
            peak_sends_per_second: None,
        };
        let planned = session.capacity_plan(Some(input.clone())).unwrap().unwrap();
        let recommended = planned.plan.recommended.unwrap();
        assert_eq!((recommended.tier, recommended.units), (Tier::S1, 2));
        assert_eq!(recommended.monthly_price, Some(46.0));
        // The hub is still planned with one S1 unit, which the plan overruns.
        assert!(planned.choice.quota_runs_out_after_hours.is_some());

        // A restarted app has the plan and the prices it read.
        drop(session);
        let resumed = Session::open(dir.path());
        let state = resumed.view().state;
        assert_eq!(state.capacity.as_ref(), Some(&input));
        let again = resumed.capacity_plan(state.capacity).unwrap().unwrap();
        assert_eq!(again.plan.recommended.unwrap().monthly_price, Some(46.0));

        let nothing = PlanInput {
            devices: 0,
            ..input
        };
        assert_eq!(
            resumed.capacity_plan(Some(nothing)).unwrap_err().message,
            "The plan needs at least one device or data stream."
        );
        // A plan refused is not saved over the good one.
        assert_eq!(resumed.view().state.capacity.unwrap().devices, 1_500);
    }
}
