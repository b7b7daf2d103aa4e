//! IoT Hub tiers and the facts that decide between them (reference §5): messages per day,
//! units, what the basic tier lacks, the free tier's limits. Invalid combinations are refused
//! here, before Azure is asked.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

/// A tier (Azure's SKU name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub enum Tier {
    F1,
    B1,
    B2,
    B3,
    S1,
    S2,
    S3,
}

/// Free, basic or standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Edition {
    Free,
    Basic,
    Standard,
}

/// What the basic tier cannot do, in the portal's words.
pub const BASIC_LACKS: &[&str] = &[
    "cloud-to-device messages",
    "device twins and device management",
    "direct methods",
    "jobs",
    "IoT Edge",
    "IoT Plug and Play",
    "device streams",
];

/// Below this many devices S1 is enough for most installations.
pub const S1_DEVICE_GUIDE: u32 = 1_000;

/// Everything the wizard shows about a tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct TierFacts {
    pub tier: Tier,
    pub edition: Edition,
    #[ts(type = "number")]
    pub messages_per_day_per_unit: u64,
    /// Messages are counted in blocks of this size (0.5 KB on the free tier, 4 KB otherwise).
    pub message_meter_bytes: u32,
    pub max_units: u32,
    /// Features missing from this tier (basic only).
    pub lacks: Vec<&'static str>,
    /// Plain-language limits worth knowing before choosing.
    pub notes: Vec<String>,
}

impl Tier {
    pub const ALL: [Tier; 7] = [
        Tier::F1,
        Tier::B1,
        Tier::B2,
        Tier::B3,
        Tier::S1,
        Tier::S2,
        Tier::S3,
    ];

    /// Reads `S1`, `s1`, … ; anything else is refused with the choices.
    pub fn parse(text: &str) -> Result<Tier, Error> {
        Tier::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| Error::UnknownTier(text.to_owned()))
    }

    pub fn name(self) -> &'static str {
        match self {
            Tier::F1 => "F1",
            Tier::B1 => "B1",
            Tier::B2 => "B2",
            Tier::B3 => "B3",
            Tier::S1 => "S1",
            Tier::S2 => "S2",
            Tier::S3 => "S3",
        }
    }

    pub fn edition(self) -> Edition {
        match self {
            Tier::F1 => Edition::Free,
            Tier::B1 | Tier::B2 | Tier::B3 => Edition::Basic,
            Tier::S1 | Tier::S2 | Tier::S3 => Edition::Standard,
        }
    }

    pub fn max_units(self) -> u32 {
        match self {
            Tier::F1 => 1,
            Tier::B3 | Tier::S3 => 10,
            _ => 200,
        }
    }

    pub fn messages_per_day_per_unit(self) -> u64 {
        match self {
            Tier::F1 => 8_000,
            Tier::B1 | Tier::S1 => 400_000,
            Tier::B2 | Tier::S2 => 6_000_000,
            Tier::B3 | Tier::S3 => 300_000_000,
        }
    }

    /// Device-to-cloud send operations per second the hub accepts before throttling (Azure's
    /// "IoT Hub quotas and throttling"): on F1, B1 and S1 the higher of 100 or 12 per unit;
    /// 120 per unit on B2 and S2; 6,000 per unit on B3 and S3.
    pub fn sends_per_second(self, units: u32) -> u64 {
        let units = u64::from(units);
        match self {
            Tier::F1 | Tier::B1 | Tier::S1 => (12 * units).max(100),
            Tier::B2 | Tier::S2 => 120 * units,
            Tier::B3 | Tier::S3 => 6_000 * units,
        }
    }

    /// What one unit costs relative to an S1 unit, from Azure's list prices (per unit and
    /// month on the IoT Hub pricing page: B1 $10, B2 $50, B3 $500, S1 $25, S2 $250, S3 $2,500;
    /// F1 free). It orders choices when live prices cannot be read; shown prices always come
    /// from Azure.
    pub fn list_price_in_s1_units(self) -> f64 {
        match self {
            Tier::F1 => 0.0,
            Tier::B1 => 0.4,
            Tier::B2 => 2.0,
            Tier::B3 => 20.0,
            Tier::S1 => 1.0,
            Tier::S2 => 10.0,
            Tier::S3 => 100.0,
        }
    }

    /// The bytes counted as one message: 0.5 KB on the free tier, 4 KB on the others.
    pub fn message_meter_bytes(self) -> u32 {
        if self == Tier::F1 {
            512
        } else {
            4096
        }
    }

    /// Refuses a number of units the tier does not allow.
    pub fn check_units(self, units: u32) -> Result<(), Error> {
        if (1..=self.max_units()).contains(&units) {
            Ok(())
        } else {
            Err(Error::InvalidUnits {
                tier: self.name().to_owned(),
                units,
                max: self.max_units(),
            })
        }
    }

    pub fn facts(self) -> TierFacts {
        let mut notes = Vec::new();
        match self.edition() {
            Edition::Free => {
                notes.push("Only one free hub per subscription.".into());
                notes.push(
                    "A free hub can never be upgraded: moving to a paid tier means a new hub."
                        .into(),
                );
            }
            Edition::Basic => {
                notes.push("Can be upgraded to the standard tier later, in place.".into());
            }
            Edition::Standard => {
                notes.push("Cannot be changed to the basic tier later.".into());
            }
        }
        if self == Tier::S1 {
            notes.push(format!(
                "Suits most installations under {} devices.",
                hubsetup_locale::count(S1_DEVICE_GUIDE.into())
            ));
        }
        TierFacts {
            tier: self,
            edition: self.edition(),
            messages_per_day_per_unit: self.messages_per_day_per_unit(),
            message_meter_bytes: self.message_meter_bytes(),
            max_units: self.max_units(),
            lacks: if self.edition() == Edition::Basic {
                BASIC_LACKS.to_vec()
            } else {
                vec![]
            },
            notes,
        }
    }

    /// The tier to pre-select for an installation of `devices` devices.
    pub fn suggested(devices: u32) -> Tier {
        if devices < S1_DEVICE_GUIDE {
            Tier::S1
        } else {
            Tier::S2
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_parse_and_bound_units() {
        assert_eq!(Tier::parse(" s1 ").unwrap(), Tier::S1);
        assert_eq!(
            Tier::parse("S9").unwrap_err().to_string(),
            "'S9' is not a tier. Choose F1 (free), B1, B2, B3 (basic) or S1, S2, S3 (standard)."
        );
        assert!(Tier::S1.check_units(200).is_ok());
        assert_eq!(
            Tier::S3.check_units(11).unwrap_err().to_string(),
            "S3 allows 1 to 10 units; 11 were asked for. Choose a number in that range, or a \
             bigger tier for more messages per unit."
        );
        assert!(Tier::F1.check_units(2).is_err());
        assert!(Tier::B1.check_units(0).is_err());
    }

    #[test]
    fn facts_say_what_decides() {
        let free = Tier::F1.facts();
        assert_eq!(free.messages_per_day_per_unit, 8_000);
        assert_eq!(free.message_meter_bytes, 512);
        assert!(free.notes.iter().any(|n| n.contains("never be upgraded")));
        let basic = Tier::B2.facts();
        assert!(basic.lacks.contains(&"cloud-to-device messages"));
        assert_eq!(basic.max_units, 200);
        assert!(Tier::S1.facts().lacks.is_empty());
        assert_eq!(Tier::suggested(999), Tier::S1);
        assert_eq!(Tier::suggested(5_000), Tier::S2);
    }

    #[test]
    fn send_throttles_follow_the_tier_table() {
        // S1: at least 100/s, 12/s per unit beyond that (9 units give 108/s, Azure's example).
        assert_eq!(Tier::S1.sends_per_second(2), 100);
        assert_eq!(Tier::S1.sends_per_second(9), 108);
        assert_eq!(Tier::F1.sends_per_second(1), 100);
        assert_eq!(Tier::S2.sends_per_second(3), 360);
        assert_eq!(Tier::B3.sends_per_second(2), 12_000);
    }
}
