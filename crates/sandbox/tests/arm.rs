//! The ARM stand-in: subscriptions, groups, the provider, name checks and IotHubs.

mod common;

use common::*;
use serde_json::{json, Value};

fn arm_error(response: reqwest::blocking::Response) -> (u16, String, String) {
    let (status, body) = json(response);
    let error = if body["error"].is_object() {
        &body["error"]
    } else {
        &body
    };
    (
        status,
        error["code"].as_str().unwrap().to_owned(),
        error["message"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn subscriptions_groups_and_regions() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (token, _) = sign_in(&sandbox, &http);
    let (_, subs) = arm_get(
        &sandbox,
        &http,
        &token,
        "/subscriptions?api-version=2022-12-01",
    );
    let states: Vec<(&str, &str)> = subs["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["subscriptionId"].as_str().unwrap(),
                s["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (PRODUCTION, "Enabled"),
            (DEV, "Enabled"),
            (UNREGISTERED, "Enabled"),
            (DISABLED, "Disabled"),
            ("66666666-6666-4666-8666-666666666666", "Enabled"),
            ("77777777-7777-4777-8777-777777777777", "Enabled")
        ]
    );

    let groups = format!("/subscriptions/{PRODUCTION}/resourcegroups");
    let group_url = |name: &str| format!("{}{groups}/{name}?api-version=2022-09-01", arm(&sandbox));
    assert_eq!(
        http.head(group_url("contoso-iot"))
            .bearer_auth(&token)
            .send()
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        http.head(group_url("new-rg"))
            .bearer_auth(&token)
            .send()
            .unwrap()
            .status(),
        404
    );
    let created = http
        .put(group_url("new-rg"))
        .bearer_auth(&token)
        .json(&json!({"location": "North Europe"}))
        .send()
        .unwrap();
    let (status, body) = json(created);
    assert_eq!(
        (status, body["location"].as_str()),
        (201, Some("northeurope"))
    );
    assert_eq!(
        body["id"],
        format!("{groups}/new-rg").replace("resourcegroups", "resourceGroups")
    );
    let again = http
        .put(group_url("NEW-RG"))
        .bearer_auth(&token)
        .json(&json!({"location": "northeurope"}))
        .send()
        .unwrap();
    assert_eq!(again.status(), 200);
    let moved = http
        .put(group_url("new-rg"))
        .bearer_auth(&token)
        .json(&json!({"location": "eastus"}))
        .send()
        .unwrap();
    assert_eq!(
        arm_error(moved),
        (409, "InvalidResourceGroupLocation".into(), "Invalid resource group location 'eastus'. The Resource group already exists in location 'northeurope'.".into())
    );
    let (status, list) = arm_get(
        &sandbox,
        &http,
        &token,
        &format!("{groups}?api-version=2022-09-01"),
    );
    assert_eq!((status, list["value"].as_array().unwrap().len()), (200, 2));
    let (_, get_missing) = arm_get(
        &sandbox,
        &http,
        &token,
        &format!("{groups}/nope?api-version=2022-09-01"),
    );
    assert_eq!(get_missing["error"]["code"], "ResourceGroupNotFound");

    let (_, provider) = arm_get(
        &sandbox,
        &http,
        &token,
        &format!("/subscriptions/{PRODUCTION}/providers/Microsoft.Devices?api-version=2021-04-01"),
    );
    assert_eq!(provider["registrationState"], "Registered");
    let hubs_type = provider["resourceTypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["resourceType"] == "IotHubs")
        .unwrap();
    assert!(hubs_type["locations"]
        .as_array()
        .unwrap()
        .contains(&json!("West Europe")));
    let (_, locations) = arm_get(
        &sandbox,
        &http,
        &token,
        &format!("/subscriptions/{PRODUCTION}/locations?api-version=2022-12-01"),
    );
    assert!(locations["value"][0]["metadata"]["latitude"].is_string());

    let missing_version = http
        .get(format!(
            "{}/subscriptions/{PRODUCTION}/resourcegroups",
            arm(&sandbox)
        ))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(
        arm_error(missing_version),
        (
            400,
            "MissingApiVersionParameter".into(),
            "The api-version query parameter (?api-version=) is required for all requests.".into()
        )
    );
    let (status, unknown) = arm_get(
        &sandbox,
        &http,
        &token,
        "/subscriptions/99999999-0000-4000-8000-000000000000/resourcegroups?api-version=2022-09-01",
    );
    assert_eq!(
        (status, unknown["error"]["code"].as_str()),
        (404, Some("SubscriptionNotFound"))
    );
}

#[test]
fn unregistered_provider_and_disabled_subscription() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (token, _) = sign_in(&sandbox, &http);
    let list =
        format!("/subscriptions/{UNREGISTERED}/providers/Microsoft.Devices/IotHubs?{IOTHUB_API}");
    let (status, body) = arm_get(&sandbox, &http, &token, &list);
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "MissingSubscriptionRegistration");
    assert_eq!(body["error"]["details"][0]["target"], "Microsoft.Devices");
    let register = http
        .post(format!("{}/subscriptions/{UNREGISTERED}/providers/Microsoft.Devices/register?api-version=2021-04-01", arm(&sandbox)))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(json(register).1["registrationState"], "Registering");
    let (_, provider) = arm_get(
        &sandbox,
        &http,
        &token,
        &format!(
            "/subscriptions/{UNREGISTERED}/providers/Microsoft.Devices?api-version=2021-04-01"
        ),
    );
    assert_eq!(provider["registrationState"], "Registered");
    assert_eq!(arm_get(&sandbox, &http, &token, &list).0, 200);

    let write = http
        .put(format!(
            "{}/subscriptions/{DISABLED}/resourcegroups/rg?api-version=2022-09-01",
            arm(&sandbox)
        ))
        .bearer_auth(&token)
        .json(&json!({"location": "westeurope"}))
        .send()
        .unwrap();
    let (status, code, message) = arm_error(write);
    assert_eq!(
        (status, code.as_str()),
        (409, "ReadOnlyDisabledSubscription")
    );
    assert!(message.contains("is disabled and therefore marked as read only"));
}

#[test]
fn name_availability() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (token, _) = sign_in(&sandbox, &http);
    let check = |name: &str| {
        json(
            http.post(format!("{}/subscriptions/{PRODUCTION}/providers/Microsoft.Devices/checkNameAvailability?{IOTHUB_API}", arm(&sandbox)))
                .bearer_auth(&token)
                .json(&json!({ "name": name }))
                .send()
                .unwrap(),
        )
        .1
    };
    assert_eq!(
        check("fresh-name-42"),
        json!({"nameAvailable": true, "reason": "Invalid", "message": ""})
    );
    assert_eq!(
        check("Fabrikam-Hub"),
        json!({"nameAvailable": false, "reason": "AlreadyExists", "message": "IotHub name 'Fabrikam-Hub' is not available"})
    );
    assert_eq!(check("contoso-plant-hub")["reason"], "AlreadyExists");
    assert_eq!(
        check("bad_name"),
        json!({"nameAvailable": false, "reason": "Invalid", "message": "The hub name contains '_' at position 4, which Azure does not allow. Use only letters, digits and hyphens."})
    );
}

#[test]
fn hub_creation_is_long_running_and_lists_keys_when_done() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (token, _) = sign_in(&sandbox, &http);
    let path = hub_path(PRODUCTION, "contoso-iot", "new-hub-1");
    let response = http
        .put(format!("{}{path}?{IOTHUB_API}", arm(&sandbox)))
        .bearer_auth(&token)
        .json(&json!({ "location": "westeurope", "sku": { "name": "S1", "capacity": 1 }, "tags": {"owner": "it"} }))
        .send()
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["retry-after"], "1");
    let operation = response.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(operation.starts_with(&format!("{}/subscriptions/{PRODUCTION}/providers/Microsoft.Devices/locations/westeurope/operationResults/", arm(&sandbox))));
    assert!(operation.ends_with("?api-version=2023-06-30&operationSource=other&asyncinfo"));
    let (_, created) = json(response);
    assert_eq!(created["properties"]["provisioningState"], "Accepted");
    assert_eq!(created["properties"]["state"], "Activating");
    assert_eq!(
        created["sku"],
        json!({"name": "S1", "tier": "Standard", "capacity": 1})
    );
    assert_eq!(
        json(http.get(&operation).bearer_auth(&token).send().unwrap()).1,
        json!({"status": "Running"})
    );
    let early_keys = http
        .post(format!("{}{path}/listkeys?{IOTHUB_API}", arm(&sandbox)))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(arm_error(early_keys).1, "IotHubNotActive");
    wait_for(&http, &token, &operation);
    let (_, hub) = arm_get(&sandbox, &http, &token, &format!("{path}?{IOTHUB_API}"));
    assert_eq!(hub["properties"]["provisioningState"], "Succeeded");
    assert_eq!(hub["properties"]["state"], "Active");
    assert_eq!(hub["properties"]["hostName"], sandbox.hub_host("new-hub-1"));
    assert_eq!(hub["properties"]["publicNetworkAccess"], "Enabled");
    assert_eq!(hub["tags"]["owner"], "it");
    assert!(
        hub["properties"].get("authorizationPolicies").is_none(),
        "GET never shows keys"
    );
    let (_, keys) = json(
        http.post(format!("{}{path}/listkeys?{IOTHUB_API}", arm(&sandbox)))
            .bearer_auth(&token)
            .send()
            .unwrap(),
    );
    let key_names: Vec<&str> = keys["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["keyName"].as_str().unwrap())
        .collect();
    assert_eq!(
        key_names,
        [
            "iothubowner",
            "service",
            "device",
            "registryRead",
            "registryReadWrite"
        ]
    );
    assert_eq!(keys["value"][0]["primaryKey"].as_str().unwrap().len(), 44);
    let (_, one) = json(
        http.post(format!(
            "{}{path}/IotHubKeys/device/listkeys?{IOTHUB_API}",
            arm(&sandbox)
        ))
        .bearer_auth(&token)
        .send()
        .unwrap(),
    );
    assert_eq!(one["rights"], "DeviceConnect");
    let (_, listed) = arm_get(
        &sandbox,
        &http,
        &token,
        &format!("/subscriptions/{PRODUCTION}/providers/Microsoft.Devices/IotHubs?{IOTHUB_API}"),
    );
    assert_eq!(names(&listed), ["contoso-plant-hub", "new-hub-1"]);

    // Creating the same hub again is an update without an etag: refused, never a second hub.
    let twice = http
        .put(format!("{}{path}?{IOTHUB_API}", arm(&sandbox)))
        .bearer_auth(&token)
        .json(&json!({ "location": "westeurope", "sku": { "name": "S1", "capacity": 1 } }))
        .send()
        .unwrap();
    assert_eq!(
        arm_error(twice),
        (412, "PreconditionFailed".into(), "IotHub 'new-hub-1' already exists. To update it, send its etag in the If-Match header.".into())
    );
    let elsewhere = http
        .put(format!(
            "{}{}?{IOTHUB_API}",
            arm(&sandbox),
            hub_path(DEV, "contoso-dev", "new-hub-1")
        ))
        .bearer_auth(&token)
        .json(&json!({ "location": "westeurope", "sku": { "name": "S1", "capacity": 1 } }))
        .send()
        .unwrap();
    assert_eq!(
        arm_error(elsewhere),
        (
            409,
            "IotHubNameNotAvailable".into(),
            "IotHub name 'new-hub-1' is not available".into()
        )
    );
}

fn put(
    sandbox: &hubsetup_sandbox::Sandbox,
    http: &reqwest::blocking::Client,
    token: &str,
    path: &str,
    etag: Option<&str>,
    body: Value,
) -> reqwest::blocking::Response {
    let mut request = http
        .put(format!("{}{path}?{IOTHUB_API}", arm(sandbox)))
        .bearer_auth(token)
        .json(&body);
    if let Some(etag) = etag {
        request = request.header("If-Match", etag);
    }
    request.send().unwrap()
}

#[test]
fn free_tier_limits_units_and_tier_changes() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (token, _) = sign_in(&sandbox, &http);
    let free = put(
        &sandbox,
        &http,
        &token,
        &hub_path(DEV, "contoso-dev", "second-free"),
        None,
        json!({"location": "northeurope", "sku": {"name": "F1", "capacity": 1}}),
    );
    let (status, body) = json(free);
    assert_eq!(status, 400);
    assert_eq!(body["code"], "400019");
    assert_eq!(body["httpStatusCode"], "BadRequest");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Max number of Iot Hubs exceeded for sku = Free, Max Allowed = 1, Current = 1."
        ),
        "{message}"
    );
    assert!(message.ends_with("errorcode: IH400019."), "{message}");

    let too_many = put(
        &sandbox,
        &http,
        &token,
        &hub_path(PRODUCTION, "contoso-iot", "big-s3"),
        None,
        json!({"location": "westeurope", "sku": {"name": "S3", "capacity": 11}}),
    );
    assert_eq!(
        arm_error(too_many),
        (
            400,
            "IotHubUnitsOutOfRange".into(),
            "The number of units for SKU S3 must be between 1 and 10; 11 was requested.".into()
        )
    );
    let bad_sku = put(
        &sandbox,
        &http,
        &token,
        &hub_path(PRODUCTION, "contoso-iot", "odd-sku"),
        None,
        json!({"location": "westeurope", "sku": {"name": "S4"}}),
    );
    assert_eq!(arm_error(bad_sku).1, "InvalidSku");
    let nowhere = put(
        &sandbox,
        &http,
        &token,
        &hub_path(PRODUCTION, "contoso-iot", "odd-place"),
        None,
        json!({"location": "atlantis", "sku": {"name": "S1"}}),
    );
    assert_eq!(arm_error(nowhere).1, "LocationNotAvailableForResourceType");
    let no_group = put(
        &sandbox,
        &http,
        &token,
        &hub_path(PRODUCTION, "missing-rg", "odd-group"),
        None,
        json!({"location": "westeurope", "sku": {"name": "S1"}}),
    );
    assert_eq!(
        arm_error(no_group),
        (
            404,
            "ResourceGroupNotFound".into(),
            "Resource group 'missing-rg' could not be found.".into()
        )
    );

    let basic = create_hub(
        &sandbox,
        &http,
        &token,
        PRODUCTION,
        "contoso-iot",
        "basic-hub",
        "B1",
    );
    let path = hub_path(PRODUCTION, "contoso-iot", "basic-hub");
    let (_, current) = arm_get(&sandbox, &http, &token, &format!("{path}?{IOTHUB_API}"));
    let etag = current["etag"].as_str().unwrap().to_owned();
    assert_ne!(basic["etag"], Value::Null);
    let upgraded = put(
        &sandbox,
        &http,
        &token,
        &path,
        Some(&etag),
        json!({"location": "westeurope", "sku": {"name": "S1", "capacity": 2}}),
    );
    assert_eq!(upgraded.status(), 200, "basic to standard is allowed");
    let operation = upgraded.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    wait_for(&http, &token, &operation);
    let (_, current) = arm_get(&sandbox, &http, &token, &format!("{path}?{IOTHUB_API}"));
    let down = put(
        &sandbox,
        &http,
        &token,
        &path,
        current["etag"].as_str(),
        json!({"location": "westeurope", "sku": {"name": "B1", "capacity": 1}}),
    );
    assert_eq!(
        arm_error(down),
        (
            400,
            "InvalidSkuChange".into(),
            "An IoT hub cannot be downgraded from the standard tier (S1) to the basic tier (B1)."
                .into()
        )
    );
    let free_path = hub_path(DEV, "contoso-dev", "contoso-dev-free");
    let (_, free_hub) = arm_get(
        &sandbox,
        &http,
        &token,
        &format!("{free_path}?{IOTHUB_API}"),
    );
    let free_up = put(
        &sandbox,
        &http,
        &token,
        &free_path,
        free_hub["etag"].as_str(),
        json!({"location": "northeurope", "sku": {"name": "S1"}}),
    );
    assert_eq!(arm_error(free_up).2, "A free (F1) IoT hub cannot be changed to S1. Create a new hub in the tier you need and move the devices.");
}

#[test]
fn policy_update_needs_the_current_etag_and_keeps_keys_only_if_sent() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (token, _) = sign_in(&sandbox, &http);
    create_hub(
        &sandbox,
        &http,
        &token,
        PRODUCTION,
        "contoso-iot",
        "policy-hub",
        "S1",
    );
    let path = hub_path(PRODUCTION, "contoso-iot", "policy-hub");
    let (_, hub) = arm_get(&sandbox, &http, &token, &format!("{path}?{IOTHUB_API}"));
    let (_, keys) = json(
        http.post(format!("{}{path}/listkeys?{IOTHUB_API}", arm(&sandbox)))
            .bearer_auth(&token)
            .send()
            .unwrap(),
    );
    let mut policies = keys["value"].as_array().unwrap().clone();
    policies.push(
        json!({"keyName": "partner", "rights": "DeviceConnect, RegistryWrite, RegistryRead"}),
    );
    let mut body = hub.clone();
    body["properties"]["authorizationPolicies"] = Value::Array(policies.clone());

    let stale = put(
        &sandbox,
        &http,
        &token,
        &path,
        Some("\"00000000-0000-0000-0000-000000000000\""),
        body.clone(),
    );
    let (status, code, message) = arm_error(stale);
    assert_eq!((status, code.as_str()), (412, "PreconditionFailed"));
    assert!(
        message.contains("does not match the current etag"),
        "{message}"
    );

    let etag = format!("\"{}\"", hub["etag"].as_str().unwrap());
    let updated = put(&sandbox, &http, &token, &path, Some(&etag), body);
    assert_eq!(updated.status(), 200);
    let operation = updated.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    let (_, updating) = json(updated);
    assert_eq!(updating["properties"]["provisioningState"], "Updating");
    wait_for(&http, &token, &operation);
    let (_, after) = json(
        http.post(format!("{}{path}/listkeys?{IOTHUB_API}", arm(&sandbox)))
            .bearer_auth(&token)
            .send()
            .unwrap(),
    );
    let after = after["value"].as_array().unwrap();
    for before in &keys["value"].as_array().unwrap()[..] {
        let same = after
            .iter()
            .find(|p| p["keyName"] == before["keyName"])
            .unwrap();
        assert_eq!(
            same["primaryKey"], before["primaryKey"],
            "keys sent back are kept"
        );
    }
    let partner = after.iter().find(|p| p["keyName"] == "partner").unwrap();
    assert_eq!(
        partner["rights"], "RegistryRead, RegistryWrite, DeviceConnect",
        "rights in Azure's order"
    );
    assert_eq!(partner["primaryKey"].as_str().unwrap().len(), 44);

    // A client that drops the keys of existing policies re-keys them: PUT replaces.
    let (_, hub) = arm_get(&sandbox, &http, &token, &format!("{path}?{IOTHUB_API}"));
    let mut careless = hub.clone();
    careless["properties"]["authorizationPolicies"] = json!([{"keyName": "iothubowner", "rights": "RegistryWrite, ServiceConnect, DeviceConnect"}]);
    let response = put(
        &sandbox,
        &http,
        &token,
        &path,
        hub["etag"].as_str(),
        careless,
    );
    let operation = response.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    wait_for(&http, &token, &operation);
    let (_, rekeyed) = json(
        http.post(format!("{}{path}/listkeys?{IOTHUB_API}", arm(&sandbox)))
            .bearer_auth(&token)
            .send()
            .unwrap(),
    );
    assert_eq!(rekeyed["value"].as_array().unwrap().len(), 1);
    assert_ne!(
        rekeyed["value"][0]["primaryKey"],
        keys["value"][0]["primaryKey"]
    );

    let bad_rights = json!({"location": "westeurope", "sku": {"name": "S1"}, "properties": {"authorizationPolicies": [{"keyName": "x", "rights": "Everything"}]}});
    let (_, hub) = arm_get(&sandbox, &http, &token, &format!("{path}?{IOTHUB_API}"));
    let refused = put(
        &sandbox,
        &http,
        &token,
        &path,
        hub["etag"].as_str(),
        bad_rights,
    );
    assert_eq!(arm_error(refused).1, "InvalidAccessRights");
}

#[test]
fn consumer_groups_are_created_read_and_deleted_with_azures_rules() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (token, _) = sign_in(&sandbox, &http);
    let groups = format!(
        "{}/eventHubEndpoints/events/ConsumerGroups",
        hub_path(PRODUCTION, "contoso-iot", "contoso-plant-hub")
    );
    let create = |name: &str| {
        json(put(
            &sandbox,
            &http,
            &token,
            &format!("{groups}/{name}"),
            None,
            json!({ "properties": { "name": name } }),
        ))
    };
    let (status, created) = create("iothub-setup-watch");
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["name"], "iothub-setup-watch");
    assert_eq!(
        created["type"],
        "Microsoft.Devices/IotHubs/EventHubEndpoints/ConsumerGroups"
    );
    assert_eq!(
        create("iothub-setup-watch").0,
        200,
        "creating again is idempotent"
    );
    let (status, listed) = arm_get(&sandbox, &http, &token, &format!("{groups}?{IOTHUB_API}"));
    assert_eq!(status, 200);
    assert_eq!(
        names(&listed),
        ["$Default", "stream-analytics-prod", "iothub-setup-watch"]
    );

    let (status, refused) = create("no spaces allowed");
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (400, Some("InvalidConsumerGroupName"))
    );
    for n in 0..17 {
        assert_eq!(create(&format!("group-{n}")).0, 200);
    }
    let (status, full) = create("the-twenty-first");
    assert_eq!(
        (status, full["error"]["code"].as_str()),
        (400, Some("ConsumerGroupLimitExceeded"))
    );

    let delete = |name: &str| {
        http.delete(format!("{}{groups}/{name}?{IOTHUB_API}", arm(&sandbox)))
            .bearer_auth(&token)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(delete("iothub-setup-watch"), 200);
    // Again: still 200, the only success IoT Hub's specification documents for it.
    assert_eq!(delete("iothub-setup-watch"), 200);
    assert_eq!(delete("$Default"), 400);
    let (status, _) = arm_get(
        &sandbox,
        &http,
        &token,
        &format!("{groups}/iothub-setup-watch?{IOTHUB_API}"),
    );
    assert_eq!(status, 404);
}

#[test]
fn api_versions_are_refused_in_arms_words_where_the_resource_lives() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (token, _) = sign_in(&sandbox, &http);
    let hub = format!(
        "{}/subscriptions/{PRODUCTION}/resourceGroups/contoso-iot/providers/Microsoft.Devices/IotHubs/contoso-plant-hub?api-version=2024-01-01",
        arm(&sandbox)
    );
    let (_, group) = arm_get(
        &sandbox,
        &http,
        &token,
        &format!("/subscriptions/{PRODUCTION}/resourcegroups/contoso-iot?api-version=2024-11-01"),
    );
    let group_location = group["location"].as_str().unwrap();

    // A hub's read is refused at its resource group's location, a write at its body's.
    let (status, code, message) = arm_error(http.get(&hub).bearer_auth(&token).send().unwrap());
    assert_eq!((status, code.as_str()), (400, "NoRegisteredProviderFound"));
    assert!(
        message.starts_with(&format!("No registered resource provider found for location '{group_location}' and API version '2024-01-01' for type 'IotHubs'. The supported api-versions are '2016-02-03, ")),
        "{message}"
    );
    let (_, _, message) = arm_error(
        http.put(&hub)
            .bearer_auth(&token)
            .json(&json!({ "location": "japaneast", "sku": { "name": "S1", "capacity": 1 } }))
            .send()
            .unwrap(),
    );
    assert!(message.contains("for location 'japaneast'"), "{message}");

    // A type without a location: 404, naming the type.
    let operations = format!(
        "{}/providers/Microsoft.Devices/operations?api-version=2015-01-01",
        arm(&sandbox)
    );
    let (status, code, message) =
        arm_error(http.get(operations).bearer_auth(&token).send().unwrap());
    assert_eq!((status, code.as_str()), (404, "InvalidResourceType"));
    assert!(
        message.starts_with("The resource type 'operations' could not be found in the namespace 'Microsoft.Devices' for api version '2015-01-01'."),
        "{message}"
    );

    // ARM's own types, and a request without any api-version.
    let groups = format!(
        "{}/subscriptions/{PRODUCTION}/resourcegroups",
        arm(&sandbox)
    );
    let (status, code, _) = arm_error(
        http.get(format!("{groups}?api-version=2023-02-01"))
            .bearer_auth(&token)
            .send()
            .unwrap(),
    );
    assert_eq!((status, code.as_str()), (400, "InvalidApiVersionParameter"));
    let (status, code, _) = arm_error(http.get(&groups).bearer_auth(&token).send().unwrap());
    assert_eq!((status, code.as_str()), (400, "MissingApiVersionParameter"));
}
