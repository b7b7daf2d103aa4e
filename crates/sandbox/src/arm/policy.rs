//! Azure Policy as enterprises assign it: on "Contoso Regulated", each resource group carries
//! the assignments IT admins meet most (allowed locations, a required tag, IoT Hub without
//! public network access, IoT Hub without local authentication, storage accounts that deny
//! network access by default). A hub or storage account that breaks a `Deny`
//! is refused with ARM's `RequestDisallowedByPolicy` and its `PolicyViolation` details, as
//! Azure sends them; a `Modify` one ("regulated-modify") quietly makes every hub private, on
//! creation and on every update. Assignments and their built-in definitions can be read, as
//! `Microsoft.Authorization/policyAssignments` and `policyDefinitions` serve them.

use hyper::StatusCode;
use serde_json::{json, Value};

use crate::http::{json_response, Resp};
use crate::state::SUBSCRIPTION_REGULATED;

/// What a built-in definition demands of a hub.
#[derive(Debug, Clone, Copy)]
enum Rule {
    AllowedLocations(&'static [&'static str]),
    RequireTag(&'static str),
    PublicNetworkDisabled,
    LocalAuthDisabled,
    /// Modify: public network access set to Disabled on every create and update.
    MakePublicNetworkDisabled,
    /// Storage accounts' firewalls deny by default (`Storage_NetworkAcls_Audit`, assigned
    /// with the effect Deny).
    StorageNetworkRestricted,
}

const HUB_TYPE: &str = "Microsoft.Devices/IotHubs";
pub(crate) const STORAGE_TYPE: &str = "Microsoft.Storage/storageAccounts";

struct Assignment {
    group: &'static str,
    name: &'static str,
    display_name: &'static str,
    rule: Rule,
}

const ASSIGNMENTS: &[Assignment] = &[
    Assignment {
        group: "regulated-eu",
        name: "eu-data-residency",
        display_name: "EU data residency: allowed locations",
        rule: Rule::AllowedLocations(&["westeurope", "northeurope"]),
    },
    Assignment {
        group: "regulated-eu",
        name: "require-cost-center",
        display_name: "Every resource needs a costCenter tag",
        rule: Rule::RequireTag("costCenter"),
    },
    Assignment {
        group: "regulated-eu",
        name: "storage-restricted-network",
        display_name: "Storage accounts must restrict network access",
        rule: Rule::StorageNetworkRestricted,
    },
    Assignment {
        group: "regulated-private",
        name: "iothub-private-only",
        display_name: "IoT hubs must not be reachable from the internet",
        rule: Rule::PublicNetworkDisabled,
    },
    Assignment {
        group: "regulated-modify",
        name: "iothub-private-by-default",
        display_name: "IoT hubs are made private",
        rule: Rule::MakePublicNetworkDisabled,
    },
    Assignment {
        group: "regulated-entra-only",
        name: "iothub-entra-only",
        display_name: "IoT hubs must use Microsoft Entra ID only",
        rule: Rule::LocalAuthDisabled,
    },
];

impl Rule {
    /// Whether the rule judges resources of `kind` (a hub's rules judge hubs only).
    fn applies_to(self, kind: &str) -> bool {
        match self {
            Rule::AllowedLocations(_) | Rule::RequireTag(_) => true,
            Rule::PublicNetworkDisabled
            | Rule::LocalAuthDisabled
            | Rule::MakePublicNetworkDisabled => kind.eq_ignore_ascii_case(HUB_TYPE),
            Rule::StorageNetworkRestricted => kind.eq_ignore_ascii_case(STORAGE_TYPE),
        }
    }

    fn definition(self) -> (&'static str, &'static str) {
        match self {
            Rule::AllowedLocations(_) => {
                ("e56962a6-4747-49cd-b67b-bf8b01975c4c", "Allowed locations")
            }
            Rule::RequireTag(_) => (
                "871b6d14-10aa-478d-b590-94f262ecfa99",
                "Require a tag on resources",
            ),
            Rule::PublicNetworkDisabled => (
                "2d6830fb-07eb-48e7-8c4d-2a442b35f0fb",
                "Public network access on Azure IoT Hub should be disabled",
            ),
            Rule::LocalAuthDisabled => (
                "672d56b3-23a7-4a3c-a233-b77ed7777518",
                "Azure IoT Hub should have local authentication methods disabled for Service Apis",
            ),
            Rule::MakePublicNetworkDisabled => (
                "114eec6e-5e59-4bad-999d-6eceeb39d582",
                "Modify - Configure Azure IoT Hubs to disable public network access",
            ),
            Rule::StorageNetworkRestricted => (
                "34c877ad-507e-4c82-993e-3452a6e0ad3c",
                "Storage accounts should restrict network access",
            ),
        }
    }

    /// The definition's rule, as the built-in says it (the fields it judges and its effect).
    fn policy_rule(self) -> Value {
        let hub_type = json!({ "field": "type", "equals": HUB_TYPE });
        let effect = "[parameters('effect')]";
        match self {
            Rule::AllowedLocations(_) => json!({
                "if": { "not": { "field": "location", "in": "[parameters('listOfAllowedLocations')]" } },
                "then": { "effect": "deny" },
            }),
            Rule::RequireTag(_) => json!({
                "if": { "field": "[concat('tags[', parameters('tagName'), ']')]", "exists": "false" },
                "then": { "effect": "deny" },
            }),
            Rule::PublicNetworkDisabled => json!({
                "if": { "allOf": [hub_type, { "field": "Microsoft.Devices/IotHubs/publicNetworkAccess", "notEquals": "Disabled" }] },
                "then": { "effect": effect },
            }),
            Rule::LocalAuthDisabled => json!({
                "if": { "allOf": [hub_type, { "field": "Microsoft.Devices/IotHubs/disableLocalAuth", "notEquals": true }] },
                "then": { "effect": effect },
            }),
            Rule::MakePublicNetworkDisabled => json!({
                "if": { "allOf": [hub_type, { "field": "Microsoft.Devices/IotHubs/publicNetworkAccess", "notEquals": "Disabled" }] },
                "then": { "effect": effect, "details": {
                    "roleDefinitionIds": ["/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],
                    "conflictEffect": "audit",
                    "operations": [{ "operation": "addOrReplace", "field": "Microsoft.Devices/IotHubs/publicNetworkAccess", "value": "Disabled" }],
                } },
            }),
            Rule::StorageNetworkRestricted => json!({
                "if": { "allOf": [
                    { "field": "type", "equals": STORAGE_TYPE },
                    { "field": "Microsoft.Storage/storageAccounts/networkAcls.defaultAction", "notEquals": "Deny" },
                ] },
                "then": { "effect": effect },
            }),
        }
    }

    fn parameters(self) -> Value {
        match self {
            Rule::AllowedLocations(allowed) => {
                json!({ "listOfAllowedLocations": { "value": allowed } })
            }
            Rule::RequireTag(tag) => json!({ "tagName": { "value": tag } }),
            Rule::MakePublicNetworkDisabled => json!({ "effect": { "value": "Modify" } }),
            Rule::PublicNetworkDisabled
            | Rule::LocalAuthDisabled
            | Rule::StorageNetworkRestricted => json!({ "effect": { "value": "Deny" } }),
        }
    }

    /// The evaluated expression when `hub` (a PUT body) breaks the rule.
    fn violation(self, hub: &Value) -> Option<Value> {
        let properties = &hub["properties"];
        match self {
            Rule::StorageNetworkRestricted => {
                let action = properties["networkAcls"]["defaultAction"].as_str().unwrap_or("Allow");
                (!action.eq_ignore_ascii_case("Deny")).then(|| {
                    json!({ "result": "True", "expressionKind": "Field", "expression": "Microsoft.Storage/storageAccounts/networkAcls.defaultAction",
                            "path": "properties.networkAcls.defaultAction", "expressionValue": action, "targetValue": "Deny", "operator": "NotEquals" })
                })
            }
            // Modify changes the request instead of refusing it.
            Rule::MakePublicNetworkDisabled => None,
            Rule::AllowedLocations(allowed) => {
                let location = hub["location"].as_str().unwrap_or_default().to_ascii_lowercase().replace(' ', "");
                (!allowed.contains(&location.as_str())).then(|| {
                    json!({ "result": "False", "expressionKind": "Field", "expression": "location", "path": "location",
                            "expressionValue": location, "targetValue": allowed, "operator": "In" })
                })
            }
            Rule::RequireTag(tag) => hub["tags"].get(tag).is_none().then(|| {
                json!({ "result": "False", "expressionKind": "Field", "expression": format!("tags[{tag}]"),
                        "path": format!("tags[{tag}]"), "targetValue": "false", "operator": "Exists" })
            }),
            Rule::PublicNetworkDisabled => {
                let access = properties["publicNetworkAccess"].as_str().unwrap_or("Enabled");
                (access != "Disabled").then(|| {
                    json!({ "result": "True", "expressionKind": "Field", "expression": "Microsoft.Devices/IotHubs/publicNetworkAccess",
                            "path": "properties.publicNetworkAccess", "expressionValue": access, "targetValue": "Disabled", "operator": "NotEquals" })
                })
            }
            Rule::LocalAuthDisabled => {
                let disabled = properties["disableLocalAuth"].as_bool().unwrap_or(false);
                (!disabled).then(|| {
                    json!({ "result": "True", "expressionKind": "Field", "expression": "Microsoft.Devices/IotHubs/disableLocalAuth",
                            "path": "properties.disableLocalAuth", "expressionValue": disabled, "targetValue": true, "operator": "NotEquals" })
                })
            }
        }
    }
}

/// Azure's refusal of a resource of `kind` (a hub or a storage account) that the policies
/// assigned to `group` in `subscription` deny, or `None` when it complies.
pub(crate) fn deny(
    kind: &str,
    subscription: &str,
    group: &str,
    name: &str,
    body: &Value,
) -> Option<Resp> {
    if !subscription.eq_ignore_ascii_case(SUBSCRIPTION_REGULATED) {
        return None;
    }
    let scope = format!("/subscriptions/{SUBSCRIPTION_REGULATED}/resourceGroups/{group}");
    let broken: Vec<(&Assignment, Value)> = ASSIGNMENTS
        .iter()
        .filter(|a| a.group.eq_ignore_ascii_case(group) && a.rule.applies_to(kind))
        .filter_map(|a| a.rule.violation(body).map(|expression| (a, expression)))
        .collect();
    if broken.is_empty() {
        return None;
    }
    let assignment_id = |a: &Assignment| {
        format!(
            "{scope}/providers/Microsoft.Authorization/policyAssignments/{}",
            a.name
        )
    };
    // Written out rather than serialized: Azure lists `name` before `id`.
    let identifiers: Vec<String> = broken
        .iter()
        .map(|(a, _)| {
            let (definition, definition_name) = a.rule.definition();
            format!(
                r#"{{"policyAssignment":{{"name":{},"id":{}}},"policyDefinition":{{"name":{},"id":{},"version":"1.0.0"}}}}"#,
                json!(a.display_name),
                json!(assignment_id(a)),
                json!(definition_name),
                json!(format!("/providers/Microsoft.Authorization/policyDefinitions/{definition}")),
            )
        })
        .collect();
    let additional_info: Vec<Value> = broken
        .iter()
        .map(|(a, expression)| {
            let (definition, definition_name) = a.rule.definition();
            json!({
                "type": "PolicyViolation",
                "info": {
                    "evaluationDetails": { "evaluatedExpressions": [expression] },
                    "policyDefinitionId": format!("/providers/Microsoft.Authorization/policyDefinitions/{definition}"),
                    "policyDefinitionName": definition,
                    "policyDefinitionDisplayName": definition_name,
                    "policyDefinitionVersion": "1.0.0",
                    "policyDefinitionEffect": "Deny",
                    "policyAssignmentId": assignment_id(a),
                    "policyAssignmentName": a.name,
                    "policyAssignmentDisplayName": a.display_name,
                    "policyAssignmentScope": scope,
                    "policyAssignmentParameters": a.rule.parameters(),
                    "policyExemptionIds": [],
                    "policyEnrollmentIds": [],
                }
            })
        })
        .collect();
    Some(json_response(
        StatusCode::FORBIDDEN,
        &json!({ "error": {
            "code": "RequestDisallowedByPolicy",
            "target": name,
            "message": format!(
                "Resource '{name}' was disallowed by policy. Policy identifiers: '[{}]'.",
                identifiers.join(",")
            ),
            "additionalInfo": additional_info,
        }}),
    ))
}

fn assignment_scope(a: &Assignment) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION_REGULATED}/resourceGroups/{}",
        a.group
    )
}

/// What the `Modify` assignments on `group` do to a hub's PUT body, before it is stored.
pub(crate) fn modify_hub(subscription: &str, group: &str, body: &mut Value) {
    if !subscription.eq_ignore_ascii_case(SUBSCRIPTION_REGULATED) {
        return;
    }
    for assignment in ASSIGNMENTS
        .iter()
        .filter(|a| a.group.eq_ignore_ascii_case(group))
    {
        if let Rule::MakePublicNetworkDisabled = assignment.rule {
            if let Some(properties) = body.get_mut("properties").and_then(Value::as_object_mut) {
                properties.insert("publicNetworkAccess".into(), json!("Disabled"));
            } else {
                body["properties"] = json!({ "publicNetworkAccess": "Disabled" });
            }
        }
    }
}

/// `GET {scope}/providers/Microsoft.Authorization/policyAssignments`: those that apply at the
/// scope (assigned there or above it).
pub(crate) fn assignments(scope: &str) -> Resp {
    let scope = scope.to_ascii_lowercase();
    let value: Vec<Value> = ASSIGNMENTS
        .iter()
        .filter(|a| {
            let at = assignment_scope(a).to_ascii_lowercase();
            scope == at || scope.starts_with(&format!("{at}/"))
        })
        .map(|a| {
            let (definition, _) = a.rule.definition();
            json!({
                "id": format!("{}/providers/Microsoft.Authorization/policyAssignments/{}", assignment_scope(a), a.name),
                "name": a.name,
                "type": "Microsoft.Authorization/policyAssignments",
                "properties": {
                    "displayName": a.display_name,
                    "policyDefinitionId": format!("/providers/Microsoft.Authorization/policyDefinitions/{definition}"),
                    "scope": assignment_scope(a),
                    "notScopes": [],
                    "parameters": a.rule.parameters(),
                    "metadata": { "assignedBy": "Contoso IT governance" },
                    "enforcementMode": "Default",
                },
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}

/// `GET /providers/Microsoft.Authorization/policyDefinitions/{id}` for the built-ins assigned
/// here.
pub(crate) fn definition(id: &str) -> Resp {
    let rule = ASSIGNMENTS
        .iter()
        .map(|a| a.rule)
        .find(|rule| rule.definition().0.eq_ignore_ascii_case(id));
    let Some(rule) = rule else {
        return crate::http::arm_error(
            StatusCode::NOT_FOUND,
            "PolicyDefinitionNotFound",
            &format!("The policy definition '{id}' could not be found."),
        );
    };
    let (name, display_name) = rule.definition();
    json_response(
        StatusCode::OK,
        &json!({
            "properties": {
                "displayName": display_name,
                "policyType": "BuiltIn",
                "mode": "Indexed",
                "policyRule": rule.policy_rule(),
            },
            "id": format!("/providers/Microsoft.Authorization/policyDefinitions/{name}"),
            "type": "Microsoft.Authorization/policyDefinitions",
            "name": name,
        }),
    )
}
