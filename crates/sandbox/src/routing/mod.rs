//! IoT Hub's message routing: a hub's `properties.routing` (custom endpoints, routes, the
//! fallback route) validated as Azure validates it when the hub is written, and every accepted
//! device-to-cloud message sent where its routes say (the built-in endpoint, storage), the
//! fallback route taking only what matched no route.
//!
//! Storage endpoints are written for real into the accounts' Azurite (see `writer`), in IoT
//! Hub's record shapes (`records`), on a clock tests may speed up
//! ([`crate::SandboxConfig::routing_time_scale`]).

mod bench;
pub(crate) mod query;
pub(crate) mod records;
pub(crate) mod trial;
pub(crate) mod writer;

pub use bench::bench_route;

use std::collections::{BTreeMap, BTreeSet};

use hyper::StatusCode;
use serde_json::Value;

use crate::http::{provider_error, Resp};
use query::Expr;

pub(crate) const BATCH_SECONDS: std::ops::RangeInclusive<u64> = 60..=720;
pub(crate) const CHUNK_BYTES: std::ops::RangeInclusive<u64> = 10_485_760..=524_288_000;
const RESERVED: [&str; 3] = ["events", "fileNotifications", "$default"];
const ENDPOINT_KINDS: [&str; 5] = [
    "serviceBusQueues",
    "serviceBusTopics",
    "eventHubs",
    "storageContainers",
    "cosmosDBSqlContainers",
];
const SOURCES: [&str; 7] = [
    "DeviceMessages",
    "TwinChangeEvents",
    "DeviceLifecycleEvents",
    "DeviceJobLifecycleEvents",
    "DigitalTwinChangeEvents",
    "DeviceConnectionStateEvents",
    "MqttBrokerMessages",
];

/// How a storage endpoint encodes its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Avro,
    AvroDeflate,
    Json,
}

/// How the hub signs in to the storage account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Authentication {
    /// With the account key from the endpoint's connection string.
    Key(String),
    /// As the hub's system-assigned managed identity.
    Identity,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StorageEndpoint {
    pub(crate) name: String,
    pub(crate) account: String,
    pub(crate) container: String,
    pub(crate) file_name_format: String,
    pub(crate) encoding: Encoding,
    pub(crate) batch_seconds: u64,
    pub(crate) chunk_bytes: u64,
    pub(crate) authentication: Authentication,
}

#[derive(Debug, Clone)]
struct Route {
    source: String,
    condition: Expr,
    endpoint: String,
    enabled: bool,
}

/// A hub's routing, ready to decide where messages go.
#[derive(Debug, Clone, Default)]
pub(crate) struct Routing {
    storage: Vec<StorageEndpoint>,
    routes: Vec<Route>,
    fallback: bool,
}

/// Where one message goes, and what of it the routes read (for the stored records).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Delivery<'r> {
    pub(crate) events: bool,
    pub(crate) storage: Vec<&'r StorageEndpoint>,
    /// The system properties by their query names; empty when no route looked.
    pub(crate) system: BTreeMap<String, String>,
    /// The JSON body, when a condition or a storage endpoint reads it.
    pub(crate) json_body: Option<Value>,
}

/// IoT Hub's refusal of a routing setting: its code and message, with the correlation
/// identifier and time every IoT Hub error ends with.
fn refusal(code: u32, message: &str) -> Resp {
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    provider_error(
        StatusCode::BAD_REQUEST,
        &code.to_string(),
        &format!("{message} If you contact a support representative please include this correlation identifier: {}, timestamp: {stamp}, errorcode: IH{code}.", crate::http::uuid_like()),
    )
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

fn valid_endpoint_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// The limits of a tier: custom endpoints and routes.
pub(crate) fn limits(sku: &str) -> (usize, usize) {
    if sku == "F1" {
        (1, 5)
    } else {
        (10, 100)
    }
}

/// The account and key a storage connection string names.
fn account_of_connection_string(connection: &str) -> Option<(String, String)> {
    Some((
        connection_field(connection, "AccountName")?,
        connection_field(connection, "AccountKey")?,
    ))
}

/// One field of a storage connection string (`Name=value;…`), by name in any case.
fn connection_field(connection: &str, name: &str) -> Option<String> {
    connection.split(';').find_map(|part| {
        let (k, v) = part.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// The account of an endpoint URI (`https://{account}.blob.…/`).
fn account_of_uri(uri: &str) -> Option<String> {
    let host = uri.split_once("://")?.1.split('/').next()?;
    let (account, rest) = host.split_once('.')?;
    rest.starts_with("blob.").then(|| account.to_owned())
}

fn storage_endpoint(e: &Value) -> Result<StorageEndpoint, Resp> {
    let name = text(e, "name").unwrap_or_default().to_owned();
    let container = text(e, "containerName").unwrap_or_default().to_owned();
    let file_name_format = text(e, "fileNameFormat")
        .unwrap_or(hubsetup_storage::layout::DEFAULT_FORMAT)
        .to_owned();
    if let Err(problem) = hubsetup_storage::layout::check_format(&file_name_format) {
        return Err(refusal(400117, &format!("Endpoint {name}: {problem}")));
    }
    let encoding = match text(e, "encoding").map(str::to_ascii_lowercase).as_deref() {
        None | Some("avro") => Encoding::Avro,
        Some("avrodeflate") => Encoding::AvroDeflate,
        Some("json") => Encoding::Json,
        Some(other) => {
            return Err(refusal(400117, &format!("Endpoint {name}: encoding '{other}' is not supported. Supported values are 'avro', 'avrodeflate', and 'JSON'.")))
        }
    };
    let number = |key: &str, default: u64, range: std::ops::RangeInclusive<u64>, what: &str| {
        let value = e.get(key).and_then(Value::as_u64).unwrap_or(default);
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(refusal(
                400117,
                &format!("Endpoint {name}: {key} {value} is out of range. {what}"),
            ))
        }
    };
    let batch_seconds = number(
        "batchFrequencyInSeconds",
        300,
        BATCH_SECONDS,
        "Value should be between 60 and 720 seconds.",
    )?;
    let chunk_bytes = number(
        "maxChunkSizeInBytes",
        314_572_800,
        CHUNK_BYTES,
        "Value should be between 10485760(10MB) and 524288000(500MB).",
    )?;
    let identity_based =
        text(e, "authenticationType").is_some_and(|t| t.eq_ignore_ascii_case("identityBased"));
    let (account, authentication) = if identity_based {
        let account = text(e, "endpointUri").and_then(account_of_uri);
        (account, Authentication::Identity)
    } else {
        match text(e, "connectionString").and_then(account_of_connection_string) {
            Some((account, key)) => (Some(account), Authentication::Key(key)),
            None => (None, Authentication::Identity),
        }
    };
    let account = account.ok_or_else(|| unresolvable(&name))?;
    Ok(StorageEndpoint {
        name,
        account,
        container,
        file_name_format,
        encoding,
        batch_seconds,
        chunk_bytes,
        authentication,
    })
}

fn unresolvable(name: &str) -> Resp {
    refusal(400116, &format!("endpointName:{name}, exceptionMessage:No valid combination of account information found."))
}

/// What IoT Hub checks of a storage endpoint when the hub is written: the account exists, the
/// key is one of its keys, the container exists.
fn check_account(e: &StorageEndpoint, state: &crate::state::State) -> Result<(), Resp> {
    let found = state
        .storage_accounts
        .get(&e.account)
        .ok_or_else(|| unresolvable(&e.name))?;
    if let Authentication::Key(key) = &e.authentication {
        if !found.keys.contains(key) {
            return Err(refusal(400116, &format!("endpointName:{}, exceptionMessage:The storage account key is not valid for account {}.", e.name, e.account)));
        }
    }
    if !found.containers.contains_key(&e.container) {
        return Err(refusal(400123, &format!("Endpoint Name:{}, Storage Container Name:{}. The container does not exist in storage account {}; create it first.", e.name, e.container, e.account)));
    }
    Ok(())
}

/// Checks a hub's `properties.routing` as IoT Hub does when the hub is written, and readies
/// it; a hub without routing sends everything to its built-in endpoint.
pub(crate) fn validate(
    routing: Option<&Value>,
    sku: &str,
    state: &crate::state::State,
) -> Result<Routing, Resp> {
    let routing = parse(routing, sku)?;
    for e in &routing.storage {
        check_account(e, state)?;
    }
    Ok(routing)
}

/// A routing's own rules: names, limits, ranges, formats and conditions.
fn parse(routing: Option<&Value>, sku: &str) -> Result<Routing, Resp> {
    let Some(routing) = routing.filter(|r| r.is_object()) else {
        return Ok(Routing {
            fallback: true,
            ..Routing::default()
        });
    };
    let (max_endpoints, max_routes) = limits(sku);
    let mut names = BTreeSet::new();
    let mut storage = Vec::new();
    let mut custom = 0;
    for kind in ENDPOINT_KINDS {
        let endpoints = routing
            .pointer(&format!("/endpoints/{kind}"))
            .and_then(Value::as_array);
        for e in endpoints.into_iter().flatten() {
            let name = text(e, "name").unwrap_or_default();
            if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
                return Err(refusal(400117, &format!("Endpoint name '{name}' is reserved. The following names are reserved: events, fileNotifications, $default.")));
            }
            if !valid_endpoint_name(name) {
                return Err(refusal(400117, &format!("Endpoint name '{name}' is invalid. Endpoint names may contain alphanumeric characters, periods, underscores and hyphens, and be up to 64 characters long.")));
            }
            if !names.insert(name.to_ascii_lowercase()) {
                return Err(refusal(400117, &format!("Endpoint name '{name}' is used more than once. Endpoint names must be unique across endpoint types.")));
            }
            custom += 1;
            if kind == "storageContainers" {
                storage.push(storage_endpoint(e)?);
            }
        }
    }
    if custom > max_endpoints {
        return Err(refusal(400127, &format!("The number of custom endpoints ({custom}) exceeds the maximum allowed for sku {sku}: {max_endpoints}.")));
    }
    let given: Vec<&Value> = routing
        .get("routes")
        .and_then(Value::as_array)
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    if given.len() > max_routes {
        return Err(refusal(400128, &format!("The number of routes ({}) exceeds the maximum allowed for sku {sku}: {max_routes}.", given.len())));
    }
    let mut route_names = BTreeSet::new();
    let mut routes = Vec::new();
    for r in given {
        let name = text(r, "name").unwrap_or_default();
        if !valid_endpoint_name(name) || !route_names.insert(name.to_ascii_lowercase()) {
            return Err(refusal(400117, &format!("Route name '{name}' is invalid or used more than once. Route names may contain alphanumeric characters, periods, underscores and hyphens, be up to 64 characters long, and be unique.")));
        }
        routes.push(route(r, name, &names)?);
    }
    let fallback = routing.get("fallbackRoute").map_or(Ok(true), |f| {
        route(f, "$fallback", &names).map(|r| r.enabled)
    })?;
    Ok(Routing {
        storage,
        routes,
        fallback,
    })
}

fn route(r: &Value, name: &str, custom: &BTreeSet<String>) -> Result<Route, Resp> {
    let source = text(r, "source").unwrap_or_default();
    if !SOURCES.iter().any(|s| s.eq_ignore_ascii_case(source)) {
        return Err(refusal(
            400101,
            &format!(
                "Route {name}: source '{source}' is invalid. Use one of {}.",
                SOURCES.join(", ")
            ),
        ));
    }
    let endpoints: Vec<&str> = r
        .get("endpointNames")
        .and_then(Value::as_array)
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let [endpoint] = endpoints.as_slice() else {
        return Err(refusal(
            400117,
            &format!(
                "Route {name}: a route sends to exactly one endpoint; {} given.",
                endpoints.len()
            ),
        ));
    };
    if !endpoint.eq_ignore_ascii_case("events") && !custom.contains(&endpoint.to_ascii_lowercase())
    {
        return Err(refusal(400108, &format!("Route {name}: EndpointName:{endpoint} is not from a valid type. Add the endpoint first, or send to 'events'.")));
    }
    let condition_text = text(r, "condition").unwrap_or("true");
    let condition = query::parse(condition_text).map_err(|e| {
        refusal(400104, &format!("Invalid Routing Condition, RouteName:{name}, ErrorMessage:Message:Syntax error., Location <start>:1:{}, <end>:1:{}, Severity:Error \n.", e.column, e.column + 1))
    })?;
    Ok(Route {
        source: source.to_owned(),
        condition,
        endpoint: (*endpoint).to_owned(),
        enabled: r.get("isEnabled").and_then(Value::as_bool).unwrap_or(true),
    })
}

/// What IoT Hub keeps of the storage endpoints a PUT gives: a key shown masked (`****`, as
/// a GET gave it) is the endpoint's key from before; the encoding is spelled as the
/// specification spells it; the endpoint gets an id, its account's subscription and resource
/// group, its URI and its authentication type, as Azure fills them in.
pub(crate) fn complete(
    routing: Option<&mut Value>,
    previous: Option<&Value>,
    state: &crate::state::State,
) {
    let mut routing = routing;
    // Azure shows every kind of endpoint, empty where a PUT named none, and the fallback
    // route, which sends what no route took to the built-in endpoint unless turned off.
    if let Some(object) = routing.as_deref_mut().and_then(Value::as_object_mut) {
        let endpoints = object
            .entry("endpoints")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(kinds) = endpoints.as_object_mut() {
            for kind in ENDPOINT_KINDS {
                kinds
                    .entry(kind)
                    .or_insert_with(|| Value::Array(Vec::new()));
            }
        }
        object
            .entry("fallbackRoute")
            .or_insert_with(default_fallback);
    }
    let endpoints = routing
        .and_then(|r| r.pointer_mut("/endpoints/storageContainers"))
        .and_then(Value::as_array_mut);
    let before = |name: &str| {
        previous?
            .pointer("/endpoints/storageContainers")?
            .as_array()?
            .iter()
            .find(|e| text(e, "name") == Some(name))
            .cloned()
    };
    for endpoint in endpoints.into_iter().flatten() {
        let name = text(endpoint, "name").unwrap_or_default().to_owned();
        let earlier = before(&name);
        if let (Some(given), Some(kept)) = (
            text(endpoint, "connectionString").map(str::to_owned),
            earlier.as_ref().and_then(|e| text(e, "connectionString")),
        ) {
            if given.contains("AccountKey=****") {
                endpoint["connectionString"] = Value::String(kept.to_owned());
            }
        }
        if let Some(spelled) = match text(endpoint, "encoding")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("avro") => Some("Avro"),
            Some("avrodeflate") => Some("AvroDeflate"),
            Some("json") => Some("JSON"),
            _ => None,
        } {
            endpoint["encoding"] = Value::String(spelled.to_owned());
        }
        // What the PUT left out, as Azure fills it in.
        for (key, default) in [
            ("batchFrequencyInSeconds", serde_json::json!(300)),
            ("maxChunkSizeInBytes", serde_json::json!(314_572_800)),
            ("encoding", serde_json::json!("Avro")),
            (
                "fileNameFormat",
                serde_json::json!(hubsetup_storage::layout::DEFAULT_FORMAT),
            ),
        ] {
            if endpoint.get(key).is_none_or(Value::is_null) {
                endpoint[key] = default;
            }
        }
        let id = earlier
            .as_ref()
            .and_then(|e| text(e, "id").map(str::to_owned))
            .unwrap_or_else(crate::http::uuid_like);
        endpoint["id"] = Value::String(id);
        if text(endpoint, "authenticationType").is_none() {
            endpoint["authenticationType"] = Value::String("keyBased".into());
        }
        let account = text(endpoint, "connectionString")
            .and_then(account_of_connection_string)
            .map(|(account, _)| account)
            .or_else(|| text(endpoint, "endpointUri").and_then(account_of_uri));
        if let Some(found) = account.and_then(|a| state.storage_accounts.get(&a)) {
            endpoint["subscriptionId"] = Value::String(found.subscription_id.clone());
            endpoint["resourceGroup"] = Value::String(found.resource_group.clone());
            if text(endpoint, "endpointUri").is_none() {
                // The suffix the connection string names (`EndpointSuffix`), Azure's by default.
                let suffix = text(endpoint, "connectionString")
                    .and_then(|c| connection_field(c, "EndpointSuffix"))
                    .unwrap_or_else(|| "core.windows.net".to_owned());
                endpoint["endpointUri"] =
                    Value::String(format!("https://{}.blob.{suffix}/", found.name));
            }
        }
    }
}

/// The fallback route a hub has unless its routing says otherwise.
pub(crate) fn default_fallback() -> Value {
    serde_json::json!({ "name": "$fallback", "source": "DeviceMessages", "condition": "true", "endpointNames": ["events"], "isEnabled": true })
}

/// A routing as a GET shows it: storage keys masked, as Azure masks them.
pub(crate) fn masked(routing: &Value) -> Value {
    let mut shown = routing.clone();
    let endpoints = shown
        .pointer_mut("/endpoints/storageContainers")
        .and_then(Value::as_array_mut);
    for endpoint in endpoints.into_iter().flatten() {
        if let Some(connection) = text(endpoint, "connectionString") {
            let hidden: Vec<String> = connection
                .split(';')
                .map(|part| match part.split_once('=') {
                    Some((k, _)) if k.trim().eq_ignore_ascii_case("AccountKey") => {
                        format!("{k}=****")
                    }
                    _ => part.to_owned(),
                })
                .collect();
            endpoint["connectionString"] = Value::String(hidden.join(";"));
        }
    }
    shown
}

/// The names of a routing's custom endpoints, of every kind.
pub(crate) fn endpoint_names(routing: Option<&Value>) -> Vec<String> {
    ENDPOINT_KINDS
        .iter()
        .filter_map(|kind| routing?.pointer(&format!("/endpoints/{kind}"))?.as_array())
        .flatten()
        .filter_map(|e| text(e, "name").map(str::to_owned))
        .collect()
}

impl Routing {
    /// A saved hub's routing, checked again; everything to the built-in endpoint when it no
    /// longer holds (a storage account deleted while the sandbox was stopped).
    pub(crate) fn default_or(routing: Option<&Value>, sku: &str) -> Routing {
        // Storage endpoints were checked against the accounts when the hub was written; a
        // saved hub's are taken as they were, and the writer reports what no longer holds.
        parse(routing, sku).unwrap_or(Routing {
            fallback: true,
            ..Routing::default()
        })
    }

    /// Where a device-to-cloud message goes. A hub without routes for device messages (most
    /// hubs) sends it by its fallback alone, without reading it.
    pub(crate) fn deliver(
        &self,
        device: &str,
        message: &crate::eventhubs::ReceivedMessage,
        body: &[u8],
    ) -> Delivery<'_> {
        let routes: Vec<&Route> = self
            .routes
            .iter()
            .filter(|r| r.enabled && r.source.eq_ignore_ascii_case("DeviceMessages"))
            .collect();
        let mut delivery = Delivery::default();
        if !routes.is_empty() {
            delivery.system = system_properties(device, message);
            let reads_body =
                !self.storage.is_empty() || routes.iter().any(|r| r.condition.reads_body());
            if reads_body {
                delivery.json_body = json_body(message, body);
            }
        }
        let seen = query::Message {
            system: &delivery.system,
            application: &message.app_properties,
            body: delivery.json_body.as_ref(),
        };
        let mut matched = false;
        let mut storage = Vec::new();
        for route in routes {
            if !query::matches(&route.condition, &seen) {
                continue;
            }
            matched = true;
            if route.endpoint.eq_ignore_ascii_case("events") {
                delivery.events = true;
            } else if let Some(e) = self
                .storage
                .iter()
                .find(|e| e.name.eq_ignore_ascii_case(&route.endpoint))
            {
                if !storage.contains(&e) {
                    storage.push(e);
                }
            }
        }
        delivery.storage = storage;
        if !matched && self.fallback {
            delivery.events = true;
        }
        delivery
    }
}

/// The system properties a condition sees, by their query names.
fn system_properties(
    device: &str,
    m: &crate::eventhubs::ReceivedMessage,
) -> BTreeMap<String, String> {
    let mut system = BTreeMap::from([("connectionDeviceId".to_owned(), device.to_owned())]);
    for (name, value) in [
        ("contentType", &m.content_type),
        ("contentEncoding", &m.content_encoding),
        ("messageId", &m.message_id),
        ("correlationId", &m.correlation_id),
    ] {
        if let Some(value) = value {
            system.insert(name.to_owned(), value.clone());
        }
    }
    system
}

/// The body as a condition and a JSON file see it.
fn json_body(m: &crate::eventhubs::ReceivedMessage, body: &[u8]) -> Option<Value> {
    readable_json(
        m.content_type.as_deref(),
        m.content_encoding.as_deref(),
        body,
    )
}

/// A body as IoT Hub reads it: only one that says it is JSON in a Unicode encoding.
fn readable_json(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
) -> Option<Value> {
    let json = content_type.is_some_and(|t| t.eq_ignore_ascii_case("application/json"));
    let unicode = content_encoding.is_some_and(|e| {
        ["utf-8", "utf-16", "utf-32"]
            .iter()
            .any(|u| e.eq_ignore_ascii_case(u))
    });
    if json && unicode {
        serde_json::from_slice(body).ok()
    } else {
        None
    }
}
