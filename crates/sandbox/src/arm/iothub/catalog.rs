//! What Microsoft.Devices says about itself and a subscription: the provider's operation list
//! (`/providers/Microsoft.Devices/operations`, which the portal and `azure-mgmt-iothub` read) and
//! the subscription's IoT Hub usages (`…/providers/Microsoft.Devices/usages`: its free hub).

use hyper::StatusCode;
use serde_json::{json, Value};

use crate::http::{json_response, Resp};
use crate::state::State;

/// The operations of the hubs the sandbox serves: name, display name and description, in
/// Azure's words and order; from the routing tests on, in ours where Azure's were not found.
const OPERATIONS: &[(&str, &str, &str)] = &[
    ("Microsoft.Devices/register/action", "Register Resource Provider", "Register the subscription for the IotHub resource provider and enables the creation of IotHub resources"),
    ("Microsoft.Devices/operations/Read", "Get All ResourceProvider Operations", "Get All ResourceProvider Operations"),
    ("Microsoft.Devices/checkNameAvailability/Action", "Check If IotHub name is available", "Check If IotHub name is available"),
    ("Microsoft.Devices/usages/Read", "Get Subscription Usages", "Get subscription usage details for this provider."),
    ("Microsoft.Devices/iotHubs/Read", "Get IotHub(s)", "Gets the IotHub resource(s)"),
    ("Microsoft.Devices/iotHubs/Write", "Create or update IotHub Resource", "Create or update IotHub Resource"),
    ("Microsoft.Devices/iotHubs/Delete", "Delete IotHub Resource", "Delete IotHub Resource"),
    ("Microsoft.Devices/iotHubs/iotHubStats/Read", "Get IotHub Statistics", "Get IotHub Statistics"),
    ("Microsoft.Devices/iotHubs/skus/Read", "Get valid IotHub Skus", "Get valid IotHub Skus"),
    ("Microsoft.Devices/iotHubs/listkeys/Action", "Get all IotHub Keys", "Get all IotHub Keys"),
    ("Microsoft.Devices/iotHubs/iotHubKeys/listkeys/Action", "Get IotHub Key for the given name", "Get IotHub Key for the given name"),
    ("Microsoft.Devices/iotHubs/eventHubEndpoints/consumerGroups/Write", "Create EventHub Consumer Group", "Create EventHub Consumer Group"),
    ("Microsoft.Devices/iotHubs/eventHubEndpoints/consumerGroups/Read", "Get EventHub Consumer Group(s)", "Get EventHub Consumer Group(s)"),
    ("Microsoft.Devices/iotHubs/eventHubEndpoints/consumerGroups/Delete", "Delete EventHub Consumer Group", "Delete EventHub Consumer Group"),
    ("Microsoft.Devices/iotHubs/quotaMetrics/Read", "Get Quota Metrics", "Get Quota Metrics"),
    ("Microsoft.Devices/iotHubs/routing/routes/$testall/Action", "Routing Rule Test All", "Test a message against all existing Routes"),
    ("Microsoft.Devices/iotHubs/routing/routes/$testnew/Action", "Routing Rule Test Route", "Test a message against a provided test Route"),
    ("Microsoft.Devices/iotHubs/routingEndpointsHealth/Read", "Routing Endpoints Health Read", "Gets the health of all routing Endpoints for an IotHub"),
    ("Microsoft.Devices/iotHubs/failover/Action", "Manual Failover", "Perform manual failover on an IotHub"),
    ("Microsoft.Devices/iotHubs/privateLinkResources/Read", "Get Private Link Resource(s)", "Gets the private link resource(s) of an IotHub"),
    ("Microsoft.Devices/iotHubs/privateEndpointConnections/Read", "Get Private Endpoint Connection(s)", "Gets the private endpoint connection(s) of an IotHub"),
    ("Microsoft.Devices/iotHubs/privateEndpointConnections/Write", "Approve or Reject Private Endpoint Connection", "Approves or rejects a private endpoint connection to an IotHub"),
    ("Microsoft.Devices/iotHubs/privateEndpointConnections/Delete", "Delete Private Endpoint Connection", "Deletes a private endpoint connection to an IotHub"),
];

/// Free (F1) hubs a subscription may hold.
pub(crate) const FREE_HUBS: usize = 1;

/// The free hubs a subscription holds.
pub(crate) fn free_hubs(state: &State, sub: &str) -> usize {
    state
        .hubs
        .values()
        .filter(|h| h.subscription_id == sub && h.sku == "F1")
        .count()
}

pub(crate) fn operations() -> Resp {
    let value: Vec<Value> = OPERATIONS
        .iter()
        .map(|(name, operation, description)| {
            json!({
                "name": name,
                "display": {
                    "provider": "Microsoft Devices",
                    "resource": "IotHubs",
                    "operation": operation,
                    "description": description,
                },
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}

/// The subscription's free hubs against its limit, as Azure reports them (its `id` and `type`
/// say `/subscription/`, singular, as Azure's do).
pub(crate) fn usages(state: &State, sub: &str) -> Resp {
    let free = free_hubs(state, sub);
    let usages = format!("/subscription/{sub}/providers/Microsoft.Devices/usages");
    json_response(
        StatusCode::OK,
        &json!({ "value": [{
            "id": format!("{usages}/freeHubCount"),
            "type": usages,
            "unit": "count",
            "currentValue": free,
            "limit": FREE_HUBS,
            "name": { "value": "FreeHubCount", "localizedValue": "Free Hub Count" },
        }]}),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::http::body_json;

    /// The names in the operation list, for the dispatcher's test that every action it
    /// authorizes is listed.
    pub(crate) fn listed_operations() -> Vec<String> {
        body_json(operations())["value"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|o| o["name"].as_str().expect("a name").to_owned())
            .collect()
    }

    #[test]
    fn every_operation_is_displayed_as_azure_displays_it() {
        let listed = body_json(operations());
        for operation in listed["value"].as_array().unwrap() {
            let display = &operation["display"];
            assert_eq!(display["provider"], "Microsoft Devices");
            assert!(!display["operation"].as_str().unwrap().is_empty());
        }
        assert_eq!(listed_operations().len(), OPERATIONS.len());
    }
}
