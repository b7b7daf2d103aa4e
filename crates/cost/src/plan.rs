//! The capacity plan: from how many devices send how often and how much, to the messages a hub
//! meters each day, the sends per second at the busiest moment, and the tier and units that
//! carry both with room to spare. Arithmetic only; prices come in from [`crate::prices`].

use hubsetup_provision::{Edition, Tier};
use serde::{Deserialize, Serialize};

use crate::prices::TierPrices;
use crate::Error;

/// A plan uses at most this share of a tier's daily quota and send throttle, so that a busy
/// day or a few new devices do not stop the data.
pub const USABLE_SHARE: f64 = 0.8;

/// Without a stated peak, sends are taken to bunch up to this many times the average rate.
pub const DEFAULT_PEAK_FACTOR: f64 = 3.0;

/// What the admin tells us about the installation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct PlanInput {
    /// Devices, or data streams when one device entry carries a stream.
    pub devices: u32,
    /// Messages each device sends per hour (may be a fraction: 0.5 is one every two hours).
    pub messages_per_hour: f64,
    /// The average message's size in bytes.
    pub message_bytes: u32,
    /// Sends in the busiest second, if known; otherwise three times the average.
    #[ts(optional)]
    pub peak_sends_per_second: Option<u32>,
}

/// How one tier would carry the plan.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct TierFit {
    pub tier: Tier,
    /// Each message is metered as this many messages (4 KB blocks, 0.5 KB on F1).
    pub meters_per_message: u32,
    /// Messages metered per day by the plan on this tier.
    #[ts(type = "number")]
    pub metered_per_day: u64,
    /// The fewest units that carry the plan with room to spare; `None` if no number of units
    /// of this tier can.
    pub units: Option<u32>,
    /// Why this tier cannot carry the plan.
    pub does_not_fit: Option<String>,
    /// The monthly list price of `units` units, when prices are known.
    pub monthly_price: Option<f64>,
}

/// The plan's outcome for every tier, and the choice it recommends.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct CapacityPlan {
    pub input: PlanInput,
    /// Messages sent per day (before metering).
    #[ts(type = "number")]
    pub sends_per_day: u64,
    /// The busiest second's sends the plan must absorb.
    pub peak_sends_per_second: u32,
    pub fits: Vec<TierFit>,
    /// The cheapest standard tier and units that carry the plan (standard: the basic tier
    /// lacks cloud-to-device messages and twins, the free tier can never be upgraded).
    pub recommended: Option<Recommendation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Recommendation {
    pub tier: Tier,
    pub units: u32,
    pub monthly_price: Option<f64>,
    /// A cheaper basic choice, if one carries the plan too.
    pub cheaper_basic: Option<(Tier, u32)>,
    /// Whether the free tier carries it (for trials).
    pub free_fits: bool,
}

/// What happens to the plan on the tier and units chosen.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ChoiceCheck {
    #[ts(type = "number")]
    pub daily_quota: u64,
    /// The share of the daily quota the plan uses (1.0 = all of it).
    pub quota_share: f64,
    #[ts(type = "number")]
    pub sends_per_second: u64,
    /// Past the daily quota: the hours into the UTC day after which messages are refused.
    pub quota_runs_out_after_hours: Option<f64>,
    pub throttled_at_peak: bool,
}

impl PlanInput {
    /// Refuses a plan that cannot describe an installation, with what to enter instead.
    pub fn check(&self) -> Result<(), Error> {
        if self.devices == 0 {
            return Err(Error::Plan(
                "The plan needs at least one device or data stream.".into(),
            ));
        }
        if !(self.messages_per_hour.is_finite() && self.messages_per_hour > 0.0) {
            return Err(Error::Plan(
                "Messages per hour must be more than 0 (0.5 is one message every two hours)."
                    .into(),
            ));
        }
        if self.message_bytes == 0 || self.message_bytes > MAX_MESSAGE_BYTES {
            return Err(Error::Plan(format!(
                "A device-to-cloud message is 1 to {} bytes (256 KB); {} was entered.",
                hubsetup_locale::count(MAX_MESSAGE_BYTES.into()),
                hubsetup_locale::count(self.message_bytes.into())
            )));
        }
        if self.peak_sends_per_second == Some(0) {
            return Err(Error::Plan(
                "The busiest second needs at least one send; leave it empty to plan for three \
                 times the average."
                    .into(),
            ));
        }
        Ok(())
    }

    pub fn sends_per_day(&self) -> u64 {
        (f64::from(self.devices) * self.messages_per_hour * 24.0).ceil() as u64
    }

    pub fn peak_sends_per_second(&self) -> u32 {
        self.peak_sends_per_second.unwrap_or_else(|| {
            let average = f64::from(self.devices) * self.messages_per_hour / 3600.0;
            (average * DEFAULT_PEAK_FACTOR).ceil().max(1.0) as u32
        })
    }
}

/// IoT Hub refuses device-to-cloud messages above 256 KB.
pub const MAX_MESSAGE_BYTES: u32 = 256 * 1024;

/// Each tier's fit and the recommendation, priced with `prices` when known.
pub fn plan(input: &PlanInput, prices: Option<&TierPrices>) -> Result<CapacityPlan, Error> {
    input.check()?;
    let peak = input.peak_sends_per_second();
    let fits: Vec<TierFit> = Tier::ALL
        .into_iter()
        .map(|tier| fit(input, tier, peak, prices))
        .collect();
    let cost = |f: &TierFit| -> Option<f64> {
        let units = f.units?;
        Some(
            f.monthly_price
                .unwrap_or_else(|| f64::from(units) * f.tier.list_price_in_s1_units()),
        )
    };
    let cheapest = |edition: Edition| {
        fits.iter()
            .filter(|f| f.tier.edition() == edition)
            .filter_map(|f| Some((f, cost(f)?)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    };
    let recommended = cheapest(Edition::Standard).map(|(standard, standard_cost)| Recommendation {
        tier: standard.tier,
        units: standard.units.unwrap_or(1),
        monthly_price: standard.monthly_price,
        cheaper_basic: cheapest(Edition::Basic)
            .filter(|(_, basic_cost)| *basic_cost < standard_cost)
            .and_then(|(basic, _)| Some((basic.tier, basic.units?))),
        free_fits: fits.iter().any(|f| f.tier == Tier::F1 && f.units.is_some()),
    });
    Ok(CapacityPlan {
        input: input.clone(),
        sends_per_day: input.sends_per_day(),
        peak_sends_per_second: peak,
        fits,
        recommended,
    })
}

fn fit(input: &PlanInput, tier: Tier, peak: u32, prices: Option<&TierPrices>) -> TierFit {
    let meters_per_message = input.message_bytes.div_ceil(tier.message_meter_bytes());
    let metered_per_day = input.sends_per_day() * u64::from(meters_per_message);
    let usable_per_unit = tier.messages_per_day_per_unit() as f64 * USABLE_SHARE;
    let for_quota = ((metered_per_day as f64 / usable_per_unit).ceil() as u32).max(1);
    let for_peak = (1..=tier.max_units())
        .find(|&units| tier.sends_per_second(units) as f64 * USABLE_SHARE >= f64::from(peak));
    let (units, does_not_fit) = match for_peak {
        _ if for_quota > tier.max_units() => (
            None,
            Some(format!(
                "would need {for_quota} units for the daily messages; {tier} allows {}",
                tier.max_units()
            )),
        ),
        None => (
            None,
            Some(format!(
                "throttles the busiest second's sends even at {} units",
                tier.max_units()
            )),
        ),
        Some(for_peak) => (Some(for_quota.max(for_peak)), None),
    };
    TierFit {
        tier,
        meters_per_message,
        metered_per_day,
        units,
        does_not_fit,
        monthly_price: units.and_then(|u| Some(prices?.monthly(tier)? * f64::from(u))),
    }
}

/// Gigabytes (of 2^30 bytes, as Azure bills storage) the plan's messages fill in a month of
/// 30 days, as sent; stored JSON or Avro adds a little.
pub fn stored_gb_per_month(input: &PlanInput) -> f64 {
    input.sends_per_day() as f64 * f64::from(input.message_bytes) * 30.0 / f64::from(1u32 << 30)
}

/// How the plan fares on `units` units of `tier`.
pub fn check_choice(input: &PlanInput, tier: Tier, units: u32) -> ChoiceCheck {
    let metered = fit(input, tier, input.peak_sends_per_second(), None).metered_per_day;
    let daily_quota = tier.messages_per_day_per_unit() * u64::from(units);
    let quota_share = metered as f64 / daily_quota as f64;
    let sends_per_second = tier.sends_per_second(units);
    ChoiceCheck {
        daily_quota,
        quota_share,
        sends_per_second,
        quota_runs_out_after_hours: (quota_share > 1.0).then(|| 24.0 / quota_share),
        throttled_at_peak: u64::from(input.peak_sends_per_second()) > sends_per_second,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(devices: u32, per_hour: f64, bytes: u32) -> PlanInput {
        PlanInput {
            devices,
            messages_per_hour: per_hour,
            message_bytes: bytes,
            peak_sends_per_second: None,
        }
    }

    fn units(plan: &CapacityPlan, tier: Tier) -> Option<u32> {
        plan.fits.iter().find(|f| f.tier == tier).unwrap().units
    }

    #[test]
    fn the_issue_example_fits_two_s1_units() {
        // 1,500 devices × 12 an hour × 24 h = 432,000 messages of 2 KB, one 4 KB block each;
        // 80 % of one S1 unit is 320,000, so two units.
        let plan = plan(&input(1_500, 12.0, 2_048), None).unwrap();
        assert_eq!(plan.sends_per_day, 432_000);
        assert_eq!(plan.peak_sends_per_second, 15);
        let s1 = plan.fits.iter().find(|f| f.tier == Tier::S1).unwrap();
        assert_eq!((s1.meters_per_message, s1.metered_per_day), (1, 432_000));
        assert_eq!(s1.units, Some(2));
        // On F1 a 2 KB message is four 0.5 KB meters: 1,728,000 a day, far past 8,000.
        let free = plan.fits.iter().find(|f| f.tier == Tier::F1).unwrap();
        assert_eq!(free.metered_per_day, 1_728_000);
        assert_eq!(
            free.does_not_fit.as_deref(),
            Some("would need 270 units for the daily messages; F1 allows 1")
        );
        let recommended = plan.recommended.unwrap();
        assert_eq!((recommended.tier, recommended.units), (Tier::S1, 2));
        assert_eq!(recommended.cheaper_basic, Some((Tier::B1, 2)));
        assert!(!recommended.free_fits);
    }

    #[test]
    fn metering_blocks_change_at_exact_boundaries() {
        let meters = |bytes, tier| {
            plan(&input(1, 1.0, bytes), None).unwrap().fits
                [Tier::ALL.iter().position(|t| *t == tier).unwrap()]
            .meters_per_message
        };
        assert_eq!(meters(4_096, Tier::S1), 1);
        assert_eq!(meters(4_097, Tier::S1), 2);
        assert_eq!(meters(512, Tier::F1), 1);
        assert_eq!(meters(513, Tier::F1), 2);
        assert_eq!(meters(1, Tier::S3), 1);
    }

    #[test]
    fn units_change_at_the_quota_boundaries() {
        // 320,000 metered a day is exactly 80 % of one S1 unit; one more needs a second unit.
        let exactly = input(1, 320_000.0 / 24.0, 100);
        assert_eq!(exactly.sends_per_day(), 320_000);
        assert_eq!(units(&plan(&exactly, None).unwrap(), Tier::S1), Some(1));
        let over = input(1, 320_001.0 / 24.0, 100);
        assert_eq!(units(&plan(&over, None).unwrap(), Tier::S1), Some(2));
        // 200 S1 units carry 64,000,000 with room; past that S1 no longer fits, S2 does.
        let mut big = input(1_000, 64_000_001.0 / 24_000.0, 100);
        big.peak_sends_per_second = Some(50);
        let big = plan(&big, None).unwrap();
        assert_eq!(units(&big, Tier::S1), None);
        assert_eq!(units(&big, Tier::S2), Some(14));
        // A free hub carries 6,400 a day with room, not 6,401.
        assert_eq!(
            units(
                &plan(&input(1, 6_400.0 / 24.0, 512), None).unwrap(),
                Tier::F1
            ),
            Some(1)
        );
        assert_eq!(
            units(
                &plan(&input(1, 6_401.0 / 24.0, 512), None).unwrap(),
                Tier::F1
            ),
            None
        );
    }

    #[test]
    fn the_busiest_second_can_decide_the_units() {
        // 80 sends/s is 80 % of S1's floor of 100/s; 81 needs 9 units (9 × 12 × 0.8 = 86.4).
        let mut few_but_bursty = input(10, 1.0, 100);
        few_but_bursty.peak_sends_per_second = Some(80);
        assert_eq!(
            units(&plan(&few_but_bursty, None).unwrap(), Tier::S1),
            Some(1)
        );
        few_but_bursty.peak_sends_per_second = Some(81);
        assert_eq!(
            units(&plan(&few_but_bursty, None).unwrap(), Tier::S1),
            Some(9)
        );
        // 4,801 sends/s is past 80 % of S3 at one unit (6,000); two units carry it.
        few_but_bursty.peak_sends_per_second = Some(4_801);
        let plan = plan(&few_but_bursty, None).unwrap();
        assert_eq!(units(&plan, Tier::S3), Some(2));
        assert!(units(&plan, Tier::S1).is_none());
    }

    #[test]
    fn cheaper_standard_choice_wins_over_many_small_units() {
        // 4,000,000 metered a day: S1 needs 13 units (13 × 25 = $325); one S2 unit ($250)
        // carries 4,800,000 with room, so S2 is recommended.
        let mut many = input(1_000, 4_000_000.0 / 24_000.0, 100);
        many.peak_sends_per_second = Some(80);
        let plan = plan(&many, None).unwrap();
        assert_eq!(units(&plan, Tier::S1), Some(13));
        let recommended = plan.recommended.unwrap();
        assert_eq!((recommended.tier, recommended.units), (Tier::S2, 1));
    }

    #[test]
    fn choices_past_the_quota_say_when_messages_stop() {
        let check = check_choice(&input(1_500, 12.0, 2_048), Tier::S1, 1);
        assert_eq!(check.daily_quota, 400_000);
        assert!((check.quota_share - 1.08).abs() < 1e-9);
        // 400,000 of 432,000 are used up after 22.2 hours of the day.
        let hours = check.quota_runs_out_after_hours.unwrap();
        assert!((hours - 22.222).abs() < 0.001, "{hours}");
        assert!(!check.throttled_at_peak);
        assert!(check_choice(&input(1_500, 12.0, 2_048), Tier::S1, 2)
            .quota_runs_out_after_hours
            .is_none());
    }

    #[test]
    fn impossible_plans_are_refused_in_words() {
        let message = |input: PlanInput| plan(&input, None).unwrap_err().to_string();
        assert_eq!(
            message(input(0, 1.0, 100)),
            "The plan needs at least one device or data stream."
        );
        assert_eq!(
            message(input(1, 0.0, 100)),
            "Messages per hour must be more than 0 (0.5 is one message every two hours)."
        );
        assert_eq!(
            message(input(1, 1.0, 300_000)),
            "A device-to-cloud message is 1 to 262,144 bytes (256 KB); 300,000 was entered."
        );
    }
}
