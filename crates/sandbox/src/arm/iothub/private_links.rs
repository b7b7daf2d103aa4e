//! Private Link on a hub: its one private link resource (`iotHub`), and the private endpoint
//! connections network admins' private endpoints ask for, which the hub's owner approves,
//! rejects or deletes. The sandbox has no Microsoft.Network, so its control endpoint
//! (`POST /private-endpoints`) stands in for a private endpoint being made with manual
//! approval.

use hyper::StatusCode;
use serde_json::{json, Value};

use crate::http::{json_response, provider_error, Resp};
use crate::state::Hub;
use crate::SandboxConfig;

const GROUP_ID: &str = "iotHub";
const STATUSES: [&str; 4] = ["Pending", "Approved", "Rejected", "Disconnected"];

/// `GET …/privateLinkResources[/{groupId}]`.
pub(super) fn link_resources(hub: &Hub, config: &SandboxConfig, group_id: Option<&str>) -> Resp {
    let resource = json!({
        "id": format!("{}/privateLinkResources/{GROUP_ID}", super::hub_id(hub)),
        "name": GROUP_ID,
        "type": "Microsoft.Devices/IotHubs/PrivateLinkResources",
        "properties": {
            "groupId": GROUP_ID,
            "requiredMembers": [GROUP_ID],
            "requiredZoneNames": [format!("privatelink.azure-devices.{}", config.suffix)],
        },
    });
    match group_id {
        None => json_response(StatusCode::OK, &json!({ "value": [resource] })),
        Some(id) if id.eq_ignore_ascii_case(GROUP_ID) => json_response(StatusCode::OK, &resource),
        Some(id) => provider_error(
            StatusCode::NOT_FOUND,
            "PrivateLinkResourceNotFound",
            &format!(
                "The private link resource '{id}' was not found on IotHub '{}'; an IoT hub has one, '{GROUP_ID}'.",
                hub.name
            ),
        ),
    }
}

/// `GET …/privateEndpointConnections`: an array, as the specification has it.
pub(super) fn list(hub: &Hub) -> Resp {
    json_response(StatusCode::OK, &json!(hub.private_endpoint_connections))
}

pub(super) fn get(hub: &Hub, name: &str) -> Resp {
    match find(hub, name) {
        Some(i) => json_response(StatusCode::OK, &hub.private_endpoint_connections[i]),
        None => not_found(hub, name),
    }
}

/// `PUT`: approves or rejects a connection a private endpoint asked for; connections are
/// made only from the private endpoint's side.
pub(super) fn update(hub: &mut Hub, name: &str, body: Option<Value>) -> Resp {
    let Some(i) = find(hub, name) else {
        return not_found(hub, name);
    };
    let state = body
        .as_ref()
        .and_then(|b| b.pointer("/properties/privateLinkServiceConnectionState"))
        .cloned()
        .unwrap_or_default();
    let status = state
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(status) = STATUSES.iter().find(|s| s.eq_ignore_ascii_case(status)) else {
        return provider_error(
            StatusCode::BAD_REQUEST,
            "InvalidPrivateEndpointConnectionState",
            &format!(
                "The status '{status}' is invalid. Use one of {}.",
                STATUSES.join(", ")
            ),
        );
    };
    let connection = &mut hub.private_endpoint_connections[i];
    connection["properties"]["privateLinkServiceConnectionState"] = json!({
        "status": status,
        "description": state.get("description").and_then(Value::as_str).unwrap_or_default(),
        "actionsRequired": state.get("actionsRequired").and_then(Value::as_str).unwrap_or("None"),
    });
    json_response(StatusCode::OK, connection)
}

/// `DELETE`: the connection as it was, then gone; the private endpoint is left disconnected.
pub(super) fn delete(hub: &mut Hub, name: &str) -> Resp {
    match find(hub, name) {
        Some(i) => {
            let mut gone = hub.private_endpoint_connections.remove(i);
            gone["properties"]["privateLinkServiceConnectionState"]["status"] =
                json!("Disconnected");
            json_response(StatusCode::OK, &gone)
        }
        None => crate::http::empty(StatusCode::NO_CONTENT),
    }
}

/// What a private endpoint made with manual approval asks of the hub (the control
/// endpoint's `POST /private-endpoints`): a pending connection named after the endpoint.
pub(crate) fn request(hub: &mut Hub, endpoint_id: &str, message: &str) -> Value {
    let endpoint = endpoint_id.rsplit('/').next().unwrap_or(endpoint_id);
    let name = format!("{}.{}", hub.name, endpoint);
    let connection = json!({
        "id": format!("{}/privateEndpointConnections/{name}", super::hub_id(hub)),
        "name": name,
        "type": "Microsoft.Devices/IotHubs/PrivateEndpointConnections",
        "properties": {
            "privateEndpoint": { "id": endpoint_id },
            "privateLinkServiceConnectionState": {
                "status": "Pending", "description": message, "actionsRequired": "None",
            },
        },
    });
    hub.private_endpoint_connections
        .retain(|c| c["name"] != name);
    hub.private_endpoint_connections.push(connection.clone());
    connection
}

fn find(hub: &Hub, name: &str) -> Option<usize> {
    hub.private_endpoint_connections.iter().position(|c| {
        c["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

fn not_found(hub: &Hub, name: &str) -> Resp {
    provider_error(
        StatusCode::NOT_FOUND,
        "PrivateEndpointConnectionNotFound",
        &format!(
            "The private endpoint connection '{name}' was not found on IotHub '{}'.",
            hub.name
        ),
    )
}
