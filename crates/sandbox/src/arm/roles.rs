//! Microsoft.Authorization's role definitions and role assignments as resources: the built-in
//! roles the product asks for (by name, as `az role assignment create --role` finds them), and
//! assignments made through ARM, such as *Storage Blob Data Contributor* for a hub's managed
//! identity on the storage account it writes to. Who may assign is `rbac`'s business
//! (`Microsoft.Authorization/roleAssignments/write`: Owner, not Contributor).

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::http::{arm_error, empty, json_response, Req, Resp};
use crate::state::{now_ms, RoleAssignment, State};

/// A built-in role: its GUID, name, description and permissions, as Azure defines them.
struct Definition {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    actions: &'static [&'static str],
    data_actions: &'static [&'static str],
}

const DEFINITIONS: &[Definition] = &[
    Definition { id: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", name: "Owner", description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.", actions: &["*"], data_actions: &[] },
    Definition { id: "b24988ac-6180-42a0-ab88-20f7382dd24c", name: "Contributor", description: "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.", actions: &["*"], data_actions: &[] },
    Definition { id: "acdd72a7-3385-48ef-bd42-f606fba81ae7", name: "Reader", description: "View all resources, but does not allow you to make any changes.", actions: &["*/read"], data_actions: &[] },
    Definition { id: "ba92f5b4-2d11-453d-a403-e96b0029c9fe", name: "Storage Blob Data Contributor", description: "Allows for read, write and delete access to Azure Storage blob containers and data", actions: &["Microsoft.Storage/storageAccounts/blobServices/containers/delete", "Microsoft.Storage/storageAccounts/blobServices/containers/read", "Microsoft.Storage/storageAccounts/blobServices/containers/write", "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"], data_actions: &["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action"] },
    Definition { id: "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", name: "Storage Blob Data Reader", description: "Allows for read access to Azure Storage blob containers and data", actions: &["Microsoft.Storage/storageAccounts/blobServices/containers/read", "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"], data_actions: &["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"] },
    Definition { id: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", name: "Storage Blob Data Owner", description: "Allows for full access to Azure Storage blob containers and data, including assigning POSIX access control.", actions: &["Microsoft.Storage/storageAccounts/blobServices/containers/*", "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"], data_actions: &["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"] },
    Definition { id: "43d0d8ad-25c7-4714-9337-8ba259a9fe05", name: "Monitoring Reader", description: "Can read all monitoring data.", actions: &["*/read", "Microsoft.OperationalInsights/workspaces/search/action", "Microsoft.Support/*"], data_actions: &[] },
    Definition { id: "749f88d5-cbae-40b8-bcfc-e573ddc772fa", name: "Monitoring Contributor", description: "Can read all monitoring data and update monitoring settings.", actions: &["*/read", "Microsoft.Insights/actionGroups/*", "Microsoft.Insights/metricAlerts/*", "Microsoft.Support/*"], data_actions: &[] },
    Definition { id: "4fc6c259-987e-4a07-842e-c321cc9d413f", name: "IoT Hub Data Contributor", description: "Allows for full access to IoT Hub data plane operations.", actions: &[], data_actions: &["Microsoft.Devices/IotHubs/*"] },
];

fn definition_json(scope: &str, d: &Definition) -> Value {
    let subscription = scope.split('/').nth(2).unwrap_or_default();
    json!({
        "id": format!("/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{}", d.id),
        "name": d.id,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": d.name,
            "type": "BuiltInRole",
            "description": d.description,
            "assignableScopes": ["/"],
            "permissions": [{ "actions": d.actions, "notActions": [], "dataActions": d.data_actions, "notDataActions": [] }],
            "createdOn": "2015-02-02T21:55:09.8806423Z",
            "updatedOn": "2024-01-30T22:14:41.3427236Z",
            "createdBy": null,
            "updatedBy": null,
        },
    })
}

/// `GET {scope}/providers/Microsoft.Authorization/roleDefinitions[?$filter=roleName eq '…']`
/// and `…/roleDefinitions/{id}`.
pub(crate) fn definitions(req: &Req, scope: &str, id: Option<&str>) -> Resp {
    if let Some(id) = id {
        return match DEFINITIONS.iter().find(|d| d.id.eq_ignore_ascii_case(id)) {
            Some(d) => json_response(StatusCode::OK, &definition_json(scope, d)),
            None => arm_error(
                StatusCode::NOT_FOUND,
                "RoleDefinitionDoesNotExist",
                "The specified role definition with ID '{id}' does not exist."
                    .replace("{id}", id)
                    .as_str(),
            ),
        };
    }
    let wanted = req.query("$filter").and_then(|f| {
        let name = f.trim().strip_prefix("roleName eq ")?;
        Some(name.trim_matches('\'').to_owned())
    });
    let value: Vec<Value> = DEFINITIONS
        .iter()
        .filter(|d| {
            wanted
                .as_deref()
                .is_none_or(|w| d.name.eq_ignore_ascii_case(w))
        })
        .map(|d| definition_json(scope, d))
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}

fn assignment_json(a: &RoleAssignment) -> Value {
    let subscription = a.scope.split('/').nth(2).unwrap_or_default();
    let created = crate::routing::records::enqueued_time(a.created_ms);
    json!({
        "id": format!("{}/providers/Microsoft.Authorization/roleAssignments/{}", a.scope, a.name),
        "name": a.name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": format!("/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{}", a.role),
            "principalId": a.principal_id,
            "principalType": a.principal_type,
            "scope": a.scope,
            "condition": null,
            "conditionVersion": null,
            "createdOn": created,
            "updatedOn": created,
            "createdBy": a.created_by,
            "updatedBy": a.created_by,
            "delegatedManagedIdentityResourceId": null,
            "description": null,
        },
    })
}

/// Whether `scope` lies at or under `parent`.
fn within(scope: &str, parent: &str) -> bool {
    let (scope, parent) = (scope.to_ascii_lowercase(), parent.to_ascii_lowercase());
    scope == parent || scope.starts_with(&format!("{parent}/"))
}

/// The principals the directory knows: the signed-in user and the hubs' managed identities.
fn principal_exists(state: &State, principal: &str, user: &str) -> bool {
    principal.eq_ignore_ascii_case(user)
        || state.hubs.values().any(|h| {
            h.identity
                .as_ref()
                .and_then(|i| i.get("principalId"))
                .and_then(Value::as_str)
                .is_some_and(|p| p.eq_ignore_ascii_case(principal))
        })
}

/// Role assignments at `scope`: list (`$filter=atScope()` for those at and above it, else
/// those above, at and below), get, create, delete.
pub(crate) fn assignments(
    req: &Req,
    state: &mut State,
    scope: &str,
    name: Option<&str>,
    user: (&str, &str),
) -> Resp {
    let (tenant, user_oid) = user;
    match (&req.method, name) {
        (&Method::GET, None) => {
            let at_scope = req
                .query("$filter")
                .is_some_and(|f| f.trim() == "atScope()");
            let value: Vec<Value> = state
                .role_assignments
                .iter()
                .filter(|a| within(scope, &a.scope) || (!at_scope && within(&a.scope, scope)))
                .map(assignment_json)
                .collect();
            json_response(StatusCode::OK, &json!({ "value": value }))
        }
        (&Method::GET, Some(name)) => match state
            .role_assignments
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
        {
            Some(a) => json_response(StatusCode::OK, &assignment_json(a)),
            None => arm_error(
                StatusCode::NOT_FOUND,
                "RoleAssignmentNotFound",
                &format!("The role assignment '{name}' is not found."),
            ),
        },
        (&Method::DELETE, Some(name)) => {
            match state
                .role_assignments
                .iter()
                .position(|a| a.name.eq_ignore_ascii_case(name))
            {
                Some(at) => json_response(
                    StatusCode::OK,
                    &assignment_json(&state.role_assignments.remove(at)),
                ),
                None => empty(StatusCode::NO_CONTENT),
            }
        }
        (&Method::PUT, Some(name)) => {
            let body = req.json().unwrap_or_default();
            let field = |key: &str| {
                body.pointer(&format!("/properties/{key}"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let principal = field("principalId");
            let role = field("roleDefinitionId")
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            if !DEFINITIONS.iter().any(|d| d.id.eq_ignore_ascii_case(&role)) {
                return arm_error(
                    StatusCode::BAD_REQUEST,
                    "RoleDefinitionDoesNotExist",
                    &format!("The specified role definition with ID '{role}' does not exist."),
                );
            }
            if !principal_exists(state, &principal, user_oid) {
                return arm_error(
                    StatusCode::BAD_REQUEST,
                    "PrincipalNotFound",
                    &format!("Principal {} does not exist in the directory {tenant}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype", principal.replace('-', "")),
                );
            }
            let duplicate = state.role_assignments.iter().any(|a| {
                a.scope.eq_ignore_ascii_case(scope)
                    && a.role.eq_ignore_ascii_case(&role)
                    && a.principal_id.eq_ignore_ascii_case(&principal)
            });
            if duplicate {
                return arm_error(
                    StatusCode::CONFLICT,
                    "RoleAssignmentExists",
                    "The role assignment already exists.",
                );
            }
            let principal_type = Some(field("principalType"))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "ServicePrincipal".to_owned());
            let assignment = RoleAssignment {
                name: name.to_owned(),
                scope: scope.to_owned(),
                role,
                principal_id: principal,
                principal_type,
                created_ms: now_ms(),
                created_by: Some(user_oid.to_owned()),
            };
            let answer = assignment_json(&assignment);
            state.role_assignments.push(assignment);
            json_response(StatusCode::CREATED, &answer)
        }
        _ => crate::arm::method_not_allowed(),
    }
}
