//! The api-versions ARM accepts for each kind of resource the sandbox serves, as Azure's published
//! REST specifications list them (Azure/azure-rest-api-specs, read December 2026: the stable and
//! preview folders of each resource provider), and the refusal of any other in ARM's words.
//!
//! ARM words a refusal three ways: for its own types (subscriptions, resource groups, providers)
//! `InvalidApiVersionParameter`; for a provider's type at a location (a hub in a resource group)
//! `NoRegisteredProviderFound`, naming the location; for a provider's type without one (its
//! operation list, a subscription-wide action) a 404 `InvalidResourceType`.

use hyper::StatusCode;

use crate::http::{arm_error, Req, Resp};
use crate::state::REGIONS;

/// The api-versions of one kind of resource and how ARM refuses others.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Versions {
    /// `None` for ARM's own types; else the provider's namespace, as refusals name it.
    pub(crate) namespace: Option<&'static str>,
    /// The listed versions, in the order ARM's refusals list them.
    pub(crate) listed: &'static [&'static str],
}

/// Microsoft.Devices (`iothub/resource-manager/Microsoft.Devices`): every stable and preview
/// version, oldest first as the provider's refusals list them.
pub(crate) const IOTHUB: Versions = Versions {
    namespace: Some("Microsoft.Devices"),
    listed: &[
        "2016-02-03",
        "2017-01-19",
        "2017-07-01",
        "2018-01-22",
        "2018-04-01",
        "2018-12-01-preview",
        "2019-03-22",
        "2019-03-22-preview",
        "2019-07-01-preview",
        "2019-11-04",
        "2020-03-01",
        "2020-04-01",
        "2020-06-15",
        "2020-07-10-preview",
        "2020-08-01",
        "2020-08-31",
        "2020-08-31-preview",
        "2021-02-01-preview",
        "2021-03-03-preview",
        "2021-03-31",
        "2021-07-01",
        "2021-07-01-preview",
        "2021-07-02",
        "2021-07-02-preview",
        "2022-04-30-preview",
        "2022-11-15-preview",
        "2023-06-30",
        "2023-06-30-preview",
        "2025-08-01-preview",
        "2026-03-01-preview",
        "2026-05-01-preview",
        "2026-08-01-preview",
        "2026-10-01-preview",
    ],
};

/// Microsoft.Storage (`storage/resource-manager/Microsoft.Storage/stable`), newest first.
pub(crate) const STORAGE: Versions = Versions {
    namespace: Some("Microsoft.Storage"),
    listed: &[
        "2026-09-01",
        "2026-06-01",
        "2026-04-01",
        "2025-08-01",
        "2025-06-01",
        "2025-01-01",
        "2024-01-01",
        "2023-05-01",
        "2023-04-01",
        "2023-01-01",
        "2022-09-01",
        "2022-05-01",
        "2021-09-01",
        "2021-08-01",
        "2021-06-01",
        "2021-04-01",
        "2021-02-01",
        "2021-01-01",
        "2019-06-01",
    ],
};

/// Resource groups and resource providers (`Microsoft.Resources/resources`), newest first.
pub(crate) const RESOURCES: Versions = Versions {
    namespace: None,
    listed: &[
        "2025-04-01",
        "2025-03-01",
        "2024-11-01",
        "2024-07-01",
        "2024-03-01",
        "2023-07-01",
        "2022-09-01",
        "2021-04-01",
        "2021-01-01",
        "2020-10-01",
        "2020-08-01",
        "2020-06-01",
        "2019-10-01",
        "2019-08-01",
        "2019-07-01",
        "2019-05-10",
        "2019-05-01",
        "2019-03-01",
        "2018-05-01",
        "2018-02-01",
        "2017-05-10",
        "2016-09-01",
        "2016-07-01",
        "2016-02-01",
        "2015-11-01",
    ],
};

/// Subscriptions, tenants and locations (`Microsoft.Resources/subscriptions`), newest first.
pub(crate) const SUBSCRIPTIONS: Versions = Versions {
    namespace: None,
    listed: &[
        "2022-12-01",
        "2021-01-01",
        "2020-01-01",
        "2019-11-01",
        "2019-06-01",
        "2018-06-01",
        "2016-06-01",
        "2015-11-01",
    ],
};

/// Permissions (2022-04-01, 2015-07-01), management locks (2020-05-01, 2016-09-01) and Azure
/// Policy (2023-04-01, 2022-06-01, 2021-06-01), as the product and `az` use them.
pub(crate) const AUTHORIZATION: Versions = Versions {
    namespace: None,
    listed: &[
        "2023-04-01",
        "2022-06-01",
        "2022-04-01",
        "2021-06-01",
        "2020-05-01",
        "2016-09-01",
        "2015-07-01",
    ],
};

/// Azure Monitor's metrics and metric definitions on a resource
/// (`monitor/resource-manager/Microsoft.Insights/Insights/stable`: `metrics_API.json` and
/// `metricDefinitions_API.json`), oldest first. azure-cli 2.91 asks at 2018-01-01,
/// azure-mgmt-monitor 7 at 2024-02-01.
pub(crate) const MONITOR: Versions = Versions {
    namespace: Some("Microsoft.Insights"),
    listed: &[
        "2016-03-01",
        "2016-09-01",
        "2018-01-01",
        "2021-05-01",
        "2023-10-01",
        "2024-02-01",
    ],
};

/// Azure Monitor's action groups (`monitor/resource-manager/Microsoft.Insights`): azure-mgmt-monitor 7
/// writes them at 2023-01-01, azure-cli 2.91 at 2024-10-01-preview.
pub(crate) const ACTION_GROUPS: Versions = Versions {
    namespace: Some("Microsoft.Insights"),
    listed: &[
        "2017-04-01",
        "2018-03-01",
        "2018-09-01",
        "2019-03-01",
        "2019-06-01",
        "2021-09-01",
        "2022-04-01",
        "2022-06-01",
        "2023-01-01",
        "2023-09-01-preview",
        "2024-10-01-preview",
    ],
};

/// Azure Monitor's metric alert rules: 2018-03-01, as azure-mgmt-monitor 7 and azure-cli 2.91
/// write them.
pub(crate) const METRIC_ALERTS: Versions = Versions {
    namespace: Some("Microsoft.Insights"),
    listed: &["2017-09-01-preview", "2018-03-01", "2024-03-01-preview"],
};

/// Role definitions and assignments (`authorization/resource-manager/Microsoft.Authorization`):
/// azure-cli reads definitions at 2022-05-01-preview and writes assignments at 2022-04-01.
pub(crate) const ROLES: Versions = Versions {
    namespace: Some("Microsoft.Authorization"),
    listed: &[
        "2015-07-01",
        "2018-01-01-preview",
        "2018-07-01",
        "2018-09-01-preview",
        "2020-04-01-preview",
        "2020-08-01-preview",
        "2020-10-01-preview",
        "2022-04-01",
        "2022-05-01-preview",
    ],
};

/// Where a request's resource lives, for a provider's refusal.
pub(crate) enum Place<'a> {
    /// A resource at a location (from the request's body or its resource group): `IotHubs`.
    Located {
        resource_type: &'a str,
        location: &'a str,
    },
    /// A type without one: `operations`, `usages`, `checkNameAvailability`.
    Unlocated { resource_type: &'a str },
}

/// Accepts the request's api-version or refuses it as ARM does for `versions` at `place`.
pub(crate) fn check(req: &Req, versions: &Versions, place: Place<'_>) -> Result<(), Resp> {
    match unlisted(req, versions)? {
        Some(asked) => Err(refusal(versions, place, asked)),
        None => Ok(()),
    }
}

/// The api-version the request asks for when `versions` does not list it, so that callers
/// work out where the resource lives only to refuse; a request without one is refused at once.
pub(crate) fn unlisted<'r>(req: &'r Req, versions: &Versions) -> Result<Option<&'r str>, Resp> {
    let Some(asked) = req.query("api-version") else {
        return Err(arm_error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    Ok((!versions.listed.contains(&asked)).then_some(asked))
}

pub(crate) fn refusal(versions: &Versions, place: Place<'_>, asked: &str) -> Resp {
    let listed = versions.listed.join(", ");
    match (versions.namespace, place) {
        (None, _) => arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            &format!("The api-version '{asked}' is invalid. The supported versions are '{listed}'."),
        ),
        (Some(_), Place::Located { resource_type, location }) => {
            let locations: Vec<&str> = REGIONS.iter().map(|r| r.name).collect();
            arm_error(
                StatusCode::BAD_REQUEST,
                "NoRegisteredProviderFound",
                &format!(
                    "No registered resource provider found for location '{location}' and API version '{asked}' for type '{resource_type}'. The supported api-versions are '{listed}'. The supported locations are '{}'.",
                    locations.join(", ")
                ),
            )
        }
        (Some(namespace), Place::Unlocated { resource_type }) => arm_error(
            StatusCode::NOT_FOUND,
            "InvalidResourceType",
            &format!(
                "The resource type '{resource_type}' could not be found in the namespace '{namespace}' for api version '{asked}'. The supported api-versions are '{listed}'."
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::body_json;

    fn error_of(response: Resp) -> (StatusCode, String, String) {
        let status = response.status();
        let body = body_json(response);
        let text = |field: &str| body["error"][field].as_str().unwrap_or_default().to_owned();
        (status, text("code"), text("message"))
    }

    #[test]
    fn the_versions_current_clients_use_are_listed() {
        // az 2.91: resource groups 2024-11-01, IoT Hub 2023-06-30-preview; the product 2023-06-30.
        assert!(RESOURCES.listed.contains(&"2024-11-01"));
        assert!(IOTHUB.listed.contains(&"2023-06-30-preview"));
        assert!(IOTHUB.listed.contains(&"2023-06-30"));
        assert!(SUBSCRIPTIONS.listed.contains(&"2022-12-01"));
    }

    #[test]
    fn arms_own_types_refuse_with_invalid_api_version_parameter() {
        let (status, code, message) = error_of(refusal(
            &SUBSCRIPTIONS,
            Place::Unlocated {
                resource_type: "subscriptions",
            },
            "2023-02-01",
        ));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(code, "InvalidApiVersionParameter");
        assert_eq!(
            message,
            "The api-version '2023-02-01' is invalid. The supported versions are '2022-12-01, 2021-01-01, 2020-01-01, 2019-11-01, 2019-06-01, 2018-06-01, 2016-06-01, 2015-11-01'."
        );
    }

    #[test]
    fn a_hub_is_refused_at_its_location_and_the_operation_list_without_one() {
        let (status, code, message) = error_of(refusal(
            &IOTHUB,
            Place::Located {
                resource_type: "IotHubs",
                location: "westeurope",
            },
            "2024-01-01",
        ));
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "NoRegisteredProviderFound")
        );
        assert!(message.starts_with("No registered resource provider found for location 'westeurope' and API version '2024-01-01' for type 'IotHubs'. The supported api-versions are '2016-02-03, 2017-01-19,"), "{message}");
        assert!(
            message.contains("2026-10-01-preview'. The supported locations are '"),
            "{message}"
        );

        let (status, code, message) = error_of(refusal(
            &IOTHUB,
            Place::Unlocated {
                resource_type: "operations",
            },
            "2015-01-01",
        ));
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::NOT_FOUND, "InvalidResourceType")
        );
        assert!(message.starts_with("The resource type 'operations' could not be found in the namespace 'Microsoft.Devices' for api version '2015-01-01'. The supported api-versions are '2016-02-03,"), "{message}");
    }
}
