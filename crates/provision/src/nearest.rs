//! Which region to suggest for a new hub: the one nearest the person, guessed from the
//! computer's time zone. Nothing is looked up or sent anywhere; the person can always choose
//! another region.

use crate::catalog::Region;

/// Time zones (by prefix, most specific first) and the regions near them, nearest first. Only
/// regions the subscription offers count, so China's and the US Government's regions are
/// listed next to the public ones near them.
const NEAR: &[(&str, &[&str])] = &[
    (
        "Europe/London",
        &["uksouth", "ukwest", "northeurope", "westeurope"],
    ),
    ("Europe/Dublin", &["northeurope", "uksouth", "westeurope"]),
    ("Europe/Paris", &["francecentral", "westeurope"]),
    ("Europe/Berlin", &["germanywestcentral", "westeurope"]),
    ("Europe/Zurich", &["switzerlandnorth", "westeurope"]),
    ("Europe/Oslo", &["norwayeast", "northeurope"]),
    ("Europe/Stockholm", &["swedencentral", "northeurope"]),
    ("Europe/Warsaw", &["polandcentral", "westeurope"]),
    ("Europe/Madrid", &["spaincentral", "westeurope"]),
    ("Europe/Rome", &["italynorth", "westeurope"]),
    ("Europe/", &["westeurope", "northeurope"]),
    ("America/Toronto", &["canadacentral", "eastus"]),
    ("America/Vancouver", &["canadacentral", "westus2"]),
    (
        "America/Los_Angeles",
        &["westus2", "westus", "usgovarizona", "centralus"],
    ),
    ("America/Phoenix", &["westus3", "westus2", "usgovarizona"]),
    (
        "America/Denver",
        &["westus3", "westcentralus", "usgovarizona"],
    ),
    (
        "America/Chicago",
        &["centralus", "southcentralus", "usgovtexas", "eastus"],
    ),
    ("America/Sao_Paulo", &["brazilsouth", "eastus"]),
    ("America/Argentina/", &["brazilsouth", "eastus"]),
    ("America/Mexico_City", &["mexicocentral", "southcentralus"]),
    (
        "America/",
        &["eastus", "eastus2", "usgovvirginia", "centralus"],
    ),
    ("Asia/Tokyo", &["japaneast", "japanwest"]),
    ("Asia/Seoul", &["koreacentral", "japaneast"]),
    (
        "Asia/Shanghai",
        &["chinaeast2", "chinanorth2", "chinaeast", "eastasia"],
    ),
    ("Asia/Hong_Kong", &["eastasia", "chinaeast2"]),
    ("Asia/Taipei", &["eastasia"]),
    ("Asia/Kolkata", &["centralindia", "southindia"]),
    ("Asia/Calcutta", &["centralindia", "southindia"]),
    ("Asia/Dubai", &["uaenorth"]),
    ("Asia/Qatar", &["qatarcentral", "uaenorth"]),
    ("Asia/Jerusalem", &["israelcentral", "westeurope"]),
    ("Asia/", &["southeastasia", "eastasia"]),
    ("Australia/Perth", &["australiaeast", "southeastasia"]),
    ("Australia/", &["australiaeast", "australiasoutheast"]),
    ("Pacific/Auckland", &["newzealandnorth", "australiaeast"]),
    ("Africa/Johannesburg", &["southafricanorth"]),
    ("Africa/", &["southafricanorth", "westeurope"]),
];

/// When the time zone says nothing useful: West Europe or East US, or the main region of
/// Azure China or Azure US Government.
const FALLBACK: &[&str] = &["westeurope", "eastus", "chinaeast2", "usgovvirginia"];

/// The region of `regions` nearest to this computer's time zone: `TZ` when it names one
/// (`Europe/Berlin` or `:Europe/Berlin`), else the system's.
pub fn suggested_region(regions: &[Region]) -> Option<&Region> {
    let zone = std::env::var("TZ")
        .ok()
        .map(|tz| tz.trim_start_matches(':').to_owned())
        .filter(|tz| tz.contains('/'))
        .or_else(|| iana_time_zone::get_timezone().ok())
        .unwrap_or_default();
    nearest_region(regions, &zone)
}

/// The region of `regions` nearest to the IANA time zone `zone` (`Europe/Berlin`); the first
/// region when none is known to be near.
fn nearest_region<'r>(regions: &'r [Region], zone: &str) -> Option<&'r Region> {
    let near = NEAR
        .iter()
        .filter(|(prefix, _)| zone.starts_with(prefix))
        .flat_map(|(_, names)| names.iter());
    near.chain(FALLBACK)
        .find_map(|name| regions.iter().find(|r| r.name == *name))
        .or_else(|| regions.first())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions(names: &[&str]) -> Vec<Region> {
        names
            .iter()
            .map(|name| Region {
                name: (*name).to_owned(),
                display_name: name.to_uppercase(),
            })
            .collect()
    }

    fn nearest(names: &[&str], zone: &str) -> Option<String> {
        nearest_region(&regions(names), zone).map(|r| r.name.clone())
    }

    #[test]
    fn the_time_zone_picks_a_region_near_it_among_those_offered() {
        let public = [
            "eastus",
            "westus2",
            "westeurope",
            "northeurope",
            "germanywestcentral",
            "japaneast",
            "southeastasia",
            "australiaeast",
        ];
        assert_eq!(
            nearest(&public, "Europe/Berlin").as_deref(),
            Some("germanywestcentral")
        );
        assert_eq!(
            nearest(&public, "Europe/Lisbon").as_deref(),
            Some("westeurope")
        );
        assert_eq!(
            nearest(&public, "Europe/Dublin").as_deref(),
            Some("northeurope")
        );
        assert_eq!(
            nearest(&public, "America/Los_Angeles").as_deref(),
            Some("westus2")
        );
        assert_eq!(
            nearest(&public, "America/New_York").as_deref(),
            Some("eastus")
        );
        assert_eq!(nearest(&public, "Asia/Tokyo").as_deref(), Some("japaneast"));
        assert_eq!(
            nearest(&public, "Asia/Bangkok").as_deref(),
            Some("southeastasia")
        );
        assert_eq!(
            nearest(&public, "Australia/Sydney").as_deref(),
            Some("australiaeast")
        );
    }

    #[test]
    fn other_clouds_get_their_own_regions() {
        let china = ["chinaeast", "chinaeast2", "chinanorth2"];
        assert_eq!(
            nearest(&china, "Asia/Shanghai").as_deref(),
            Some("chinaeast2")
        );
        assert_eq!(
            nearest(&china, "Europe/Berlin").as_deref(),
            Some("chinaeast2")
        );
        let us_government = ["usgovarizona", "usgovtexas", "usgovvirginia"];
        assert_eq!(
            nearest(&us_government, "America/Chicago").as_deref(),
            Some("usgovtexas")
        );
        assert_eq!(
            nearest(&us_government, "America/New_York").as_deref(),
            Some("usgovvirginia")
        );
    }

    #[test]
    fn an_unknown_or_missing_time_zone_falls_back() {
        let offered = ["northeurope", "westeurope", "eastus"];
        assert_eq!(nearest(&offered, "").as_deref(), Some("westeurope"));
        assert_eq!(nearest(&offered, "Etc/UTC").as_deref(), Some("westeurope"));
        assert_eq!(
            nearest(&["brazilsouth"], "Asia/Tokyo").as_deref(),
            Some("brazilsouth")
        );
        assert_eq!(nearest(&[], "Europe/Berlin"), None);
    }
}
