//! Microsoft.Storage as the "Keep the data" step meets it: the account name check, accounts
//! (created as a long-running operation, read, listed, updated, deleted), their keys and their
//! blob containers. The data plane is Azurite's (see `crate::storage`).

use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::iothub::rfc3339;
use crate::http::{arm_error, empty, json_response, with_header, Req, Resp};
use crate::state::{self, now_ms, Container, State, StorageAccount};
use crate::SandboxConfig;

const SKUS: [&str; 8] = [
    "Standard_LRS",
    "Standard_GRS",
    "Standard_RAGRS",
    "Standard_ZRS",
    "Premium_LRS",
    "Premium_ZRS",
    "Standard_GZRS",
    "Standard_RAGZRS",
];
const KINDS: [&str; 5] = [
    "Storage",
    "StorageV2",
    "BlobStorage",
    "FileStorage",
    "BlockBlobStorage",
];
/// How long a new account stays `Creating` (Azure takes some 20 s).
const CREATION_MS: u64 = 1_500;

fn valid_account_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn invalid_name_message(name: &str) -> String {
    format!("{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only.")
}

fn taken_message(name: &str) -> String {
    format!("The storage account named {name} is already taken.")
}

/// `POST /subscriptions/{s}/providers/Microsoft.Storage/checkNameAvailability`.
pub(crate) fn check_name(req: &Req, state: &State) -> Resp {
    let body = req.json().unwrap_or_default();
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
    let kind = body.get("type").and_then(Value::as_str).unwrap_or_default();
    if !kind.eq_ignore_ascii_case("Microsoft.Storage/storageAccounts") {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "The type must be 'Microsoft.Storage/storageAccounts'.",
        );
    }
    let answer = if !valid_account_name(name) {
        json!({ "nameAvailable": false, "reason": "AccountNameInvalid", "message": invalid_name_message(name) })
    } else if state.storage_accounts.contains_key(name) {
        json!({ "nameAvailable": false, "reason": "AlreadyExists", "message": taken_message(name) })
    } else {
        json!({ "nameAvailable": true })
    };
    json_response(StatusCode::OK, &answer)
}

fn account_id(a: &StorageAccount) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
        a.subscription_id, a.resource_group, a.name
    )
}

/// An account as ARM shows it: what it was given, and Azure's defaults for what it was not.
fn account_json(a: &StorageAccount, config: &SandboxConfig) -> Value {
    let created = rfc3339(a.created_ms);
    let host = |service: &str| format!("https://{}.{service}.core.{}/", a.name, config.suffix);
    let mut properties = Map::new();
    properties.insert("supportsHttpsTrafficOnly".into(), json!(true));
    properties.insert("minimumTlsVersion".into(), json!("TLS1_0"));
    properties.insert("allowBlobPublicAccess".into(), json!(false));
    properties.insert("accessTier".into(), json!("Hot"));
    properties.insert("allowCrossTenantReplication".into(), json!(false));
    properties.insert("privateEndpointConnections".into(), json!([]));
    properties.extend(a.settings.clone());
    // A firewall as Azure shows it: every kind of rule, empty where none was given, and each
    // IP rule's action.
    let acls = properties
        .entry("networkAcls")
        .or_insert_with(|| json!({ "bypass": "AzureServices", "defaultAction": "Allow" }));
    for rules in ["virtualNetworkRules", "ipRules", "ipv6Rules"] {
        if acls.get(rules).is_none_or(Value::is_null) {
            acls[rules] = json!([]);
        }
    }
    for rules in ["ipRules", "ipv6Rules"] {
        if let Some(rules) = acls.get_mut(rules).and_then(Value::as_array_mut) {
            for rule in rules.iter_mut().filter(|r| r.get("action").is_none()) {
                rule["action"] = json!("Allow");
            }
        }
    }
    let creating = now_ms() < a.busy_until_ms;
    properties.insert(
        "provisioningState".into(),
        json!(if creating { "Creating" } else { "Succeeded" }),
    );
    properties.insert("creationTime".into(), json!(created));
    properties.insert("primaryLocation".into(), json!(a.location));
    properties.insert("statusOfPrimary".into(), json!("available"));
    properties.insert(
        "primaryEndpoints".into(),
        json!({ "blob": host("blob"), "queue": host("queue"), "table": host("table"), "file": host("file"), "dfs": host("dfs"), "web": host("web") }),
    );
    properties.insert(
        "keyCreationTime".into(),
        json!({ "key1": created, "key2": created }),
    );
    properties.insert(
        "encryption".into(),
        json!({
            "services": {
                "blob": { "enabled": true, "keyType": "Account", "lastEnabledTime": created },
                "file": { "enabled": true, "keyType": "Account", "lastEnabledTime": created },
            },
            "keySource": "Microsoft.Storage",
        }),
    );
    let tier = if a.sku.starts_with("Premium") {
        "Premium"
    } else {
        "Standard"
    };
    json!({
        "id": account_id(a),
        "name": a.name,
        "type": "Microsoft.Storage/storageAccounts",
        "location": a.location,
        "tags": a.tags,
        "sku": { "name": a.sku, "tier": tier },
        "kind": a.kind,
        "properties": properties,
    })
}

/// The settings a PUT or PATCH gives, of those the sandbox keeps.
fn settings_from(body: &Value) -> Map<String, Value> {
    const KEPT: [&str; 6] = [
        "supportsHttpsTrafficOnly",
        "minimumTlsVersion",
        "allowBlobPublicAccess",
        "allowSharedKeyAccess",
        "networkAcls",
        "accessTier",
    ];
    let given = body.get("properties").and_then(Value::as_object);
    KEPT.iter()
        .filter_map(|k| given?.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect()
}

fn not_found(name: &str) -> Resp {
    arm_error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        &format!("The Resource 'Microsoft.Storage/storageAccounts/{name}' under resource group was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"),
    )
}

/// Lists of accounts: the subscription's, or one resource group's.
pub(crate) fn list(state: &State, config: &SandboxConfig, sub: &str, group: Option<&str>) -> Resp {
    let value: Vec<Value> = state
        .storage_accounts
        .values()
        .filter(|a| a.subscription_id == sub)
        .filter(|a| group.is_none_or(|g| a.resource_group.eq_ignore_ascii_case(g)))
        .map(|a| account_json(a, config))
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}

/// Requests on one account: `rest` is what follows its name.
pub(crate) fn account_request(
    req: &Req,
    rest: &[&str],
    original: &[&str],
    state: &mut State,
    config: &SandboxConfig,
) -> Resp {
    let (sub, group, name) = (original[1], original[3], original[7]);
    let found = state
        .storage_accounts
        .get(name)
        .filter(|a| a.subscription_id == sub && a.resource_group.eq_ignore_ascii_case(group));
    match (&req.method, rest, found) {
        (&Method::PUT, [], _) => put(req, state, config, sub, group, name),
        (_, _, None) => not_found(name),
        (&Method::GET, [], Some(a)) => json_response(StatusCode::OK, &account_json(a, config)),
        (&Method::PATCH, [], Some(_)) => {
            let body = req.json().unwrap_or_default();
            let account = state.storage_accounts.get_mut(name).expect("found above");
            account.settings.extend(settings_from(&body));
            if let Some(tags) = body.get("tags") {
                account.tags = tags.clone();
            }
            json_response(StatusCode::OK, &account_json(account, config))
        }
        (&Method::DELETE, [], Some(_)) => {
            state.storage_accounts.remove(name);
            empty(StatusCode::OK)
        }
        (&Method::POST, ["listkeys"], Some(a)) => keys_json(a),
        (&Method::POST, ["regeneratekey"], Some(_)) => {
            let which = req.json().and_then(|b| {
                b.get("keyName")
                    .and_then(Value::as_str)
                    .map(str::to_ascii_lowercase)
            });
            let index = match which.as_deref() {
                Some("key1") => 0,
                Some("key2") => 1,
                _ => {
                    return arm_error(
                        StatusCode::BAD_REQUEST,
                        "InvalidValuesForRequestParameters",
                        "Values for request parameters are invalid: keyName.",
                    )
                }
            };
            let account = state.storage_accounts.get_mut(name).expect("found above");
            account.keys[index] = state::random_base64(64);
            keys_json(account)
        }
        (method, ["blobservices", "default", "containers", rest @ ..], Some(_)) => {
            container_request(method, rest, original, state)
        }
        _ => arm_error(
            StatusCode::NOT_FOUND,
            "InvalidResourceType",
            "The resource type could not be found in the namespace 'Microsoft.Storage'.",
        ),
    }
}

fn keys_json(a: &StorageAccount) -> Resp {
    let created = rfc3339(a.created_ms);
    json_response(
        StatusCode::OK,
        &json!({ "keys": [
            // The permission as the specification spells it (KeyPermission: Read, Full).
            { "keyName": "key1", "value": a.keys[0], "permissions": "Full", "creationTime": created },
            { "keyName": "key2", "value": a.keys[1], "permissions": "Full", "creationTime": created },
        ]}),
    )
}

fn put(
    req: &Req,
    state: &mut State,
    config: &SandboxConfig,
    sub: &str,
    group: &str,
    name: &str,
) -> Resp {
    if !valid_account_name(name) {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "AccountNameInvalid",
            &invalid_name_message(name),
        );
    }
    if !crate::arm::resources::group_exists(state, sub, group) {
        return crate::arm::resources::group_not_found(group);
    }
    let body = req.json().unwrap_or_default();
    if let Some(refusal) =
        crate::arm::policy::deny(crate::arm::policy::STORAGE_TYPE, sub, group, name, &body)
    {
        return refusal;
    }
    let existing = state.storage_accounts.get(name);
    if let Some(other) = existing {
        if other.subscription_id != sub || !other.resource_group.eq_ignore_ascii_case(group) {
            return arm_error(
                StatusCode::CONFLICT,
                "StorageAccountAlreadyTaken",
                &taken_message(name),
            );
        }
    }
    let sku = body
        .pointer("/sku/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !SKUS.contains(&sku) {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidValuesForRequestParameters",
            &format!(
                "Values for request parameters are invalid: sku.name ('{sku}'). Use one of {}.",
                SKUS.join(", ")
            ),
        );
    }
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or_default();
    if !KINDS.contains(&kind) {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidValuesForRequestParameters",
            &format!(
                "Values for request parameters are invalid: kind ('{kind}'). Use one of {}.",
                KINDS.join(", ")
            ),
        );
    }
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(location) = crate::arm::resources::region(location) else {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "LocationNotAvailableForResourceType",
            &format!("The provided location '{location}' is not available for resource type 'Microsoft.Storage/storageAccounts'."),
        );
    };
    if let Some(account) = state.storage_accounts.get_mut(name) {
        // A PUT on an existing account updates it, synchronously, as Azure does.
        account.settings.extend(settings_from(&body));
        account.tags = body.get("tags").cloned().unwrap_or_else(|| json!({}));
        return json_response(StatusCode::OK, &account_json(account, config));
    }
    let now = now_ms();
    let account = StorageAccount {
        name: name.to_owned(),
        subscription_id: sub.to_owned(),
        resource_group: group.to_owned(),
        location: location.to_owned(),
        sku: sku.to_owned(),
        kind: kind.to_owned(),
        tags: body.get("tags").cloned().unwrap_or_else(|| json!({})),
        keys: [state::random_base64(64), state::random_base64(64)],
        created_ms: now,
        busy_until_ms: now + CREATION_MS,
        settings: settings_from(&body),
        containers: Default::default(),
    };
    state.storage_accounts.insert(name.to_owned(), account);
    let url = format!(
        "https://management.{}/subscriptions/{sub}/providers/Microsoft.Storage/locations/{location}/asyncoperations/{name}?monitor=true&api-version={}",
        config.suffix,
        req.query("api-version").unwrap_or_default()
    );
    let response = with_header(empty(StatusCode::ACCEPTED), "location", &url);
    with_header(
        response,
        "retry-after",
        &config.retry_after_secs.to_string(),
    )
}

/// `GET …/locations/{l}/asyncoperations/{name}`: 202 while the account is being created,
/// then the account.
pub(crate) fn creation(state: &State, config: &SandboxConfig, sub: &str, name: &str) -> Resp {
    match state
        .storage_accounts
        .get(name)
        .filter(|a| a.subscription_id == sub)
    {
        Some(a) if now_ms() < a.busy_until_ms => with_header(
            empty(StatusCode::ACCEPTED),
            "retry-after",
            &config.retry_after_secs.to_string(),
        ),
        Some(a) => json_response(StatusCode::OK, &account_json(a, config)),
        None => not_found(name),
    }
}

fn valid_container_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

fn container_json(original: &[&str], name: &str, c: &Container) -> Value {
    json!({
        "id": format!("/{}/blobServices/default/containers/{name}", original[..8].join("/")),
        "name": name,
        "type": "Microsoft.Storage/storageAccounts/blobServices/containers",
        "etag": c.etag,
        "properties": {
            "publicAccess": "None",
            "leaseStatus": "Unlocked",
            "leaseState": "Available",
            "lastModifiedTime": rfc3339(c.created_ms),
            "hasImmutabilityPolicy": false,
            "hasLegalHold": false,
            "deleted": false,
            "remainingRetentionDays": 0,
            "defaultEncryptionScope": "$account-encryption-key",
            "denyEncryptionScopeOverride": false,
        },
    })
}

fn container_request(method: &Method, rest: &[&str], original: &[&str], state: &mut State) -> Resp {
    let account_name = original[7];
    let account = state
        .storage_accounts
        .get_mut(account_name)
        .expect("checked by the caller");
    match (method, rest) {
        (&Method::GET, []) => {
            let value: Vec<Value> = account
                .containers
                .iter()
                .map(|(n, c)| container_json(original, n, c))
                .collect();
            json_response(StatusCode::OK, &json!({ "value": value }))
        }
        (&Method::PUT, [_]) => {
            let name = original[11];
            if !valid_container_name(name) {
                return arm_error(
                    StatusCode::BAD_REQUEST,
                    "ContainerOperationFailure",
                    &format!("The specifed resource name contains invalid characters.\nRequestId:{}\nTime:{}", crate::http::uuid_like(), rfc3339(now_ms())),
                );
            }
            let created = !account.containers.contains_key(name);
            let container = account
                .containers
                .entry(name.to_owned())
                .or_insert_with(|| {
                    let now = now_ms();
                    // Blob storage's etag form: the creation time in hex.
                    Container {
                        etag: format!("\"0x{now:X}\""),
                        created_ms: now,
                    }
                });
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            json_response(status, &container_json(original, name, container))
        }
        (&Method::GET, [_]) => match account.containers.get(original[11]) {
            Some(c) => json_response(StatusCode::OK, &container_json(original, original[11], c)),
            None => arm_error(
                StatusCode::NOT_FOUND,
                "ContainerNotFound",
                "The specified container does not exist.",
            ),
        },
        (&Method::DELETE, [_]) => {
            let status = if account.containers.remove(original[11]).is_some() {
                StatusCode::OK
            } else {
                StatusCode::NO_CONTENT
            };
            empty(status)
        }
        _ => crate::arm::method_not_allowed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_azures_rules() {
        assert!(valid_account_name("contosoiotdata01"));
        assert!(!valid_account_name("Contoso"));
        assert!(!valid_account_name("ab"));
        assert!(!valid_account_name("contoso-data"));
        assert!(!valid_account_name(&"a".repeat(25)));
        assert!(valid_container_name("io-microshare-event"));
        assert!(!valid_container_name("a--b"));
        assert!(!valid_container_name("-ab"));
        assert!(!valid_container_name("Data"));
    }
}
