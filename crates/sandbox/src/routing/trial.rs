//! Testing routes without sending a message, as the portal's "Test route" and `az iot hub route
//! test` do: `routing/routes/$testall` matches a message given in the request against the hub's
//! routes, `$testnew` against one route given with it (its condition compiled first, and its
//! syntax errors listed with their place).

use std::collections::BTreeMap;

use hyper::StatusCode;
use serde_json::{json, Value};

use super::{query, readable_json, SOURCES};
use crate::http::{json_response, provider_error, Resp};

/// `$testall`: every enabled route of the message's source (device messages by default) whose
/// condition matches, as the hub's `routing` has it.
pub(crate) fn test_all(routing: Option<&Value>, input: &Value) -> Resp {
    let source = match input_source(input) {
        Ok(source) => source,
        Err(refusal) => return refusal,
    };
    let message = Given::read(input);
    let routes = routing
        .and_then(|r| r.get("routes"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r.get("isEnabled").and_then(Value::as_bool).unwrap_or(true))
        .filter(|r| {
            r.get("source")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case(source))
        })
        .filter(|r| {
            let condition = r.get("condition").and_then(Value::as_str).unwrap_or("true");
            query::parse(condition).is_ok_and(|c| query::matches(&c, &message.seen()))
        })
        .map(|r| json!({ "properties": r }))
        .collect::<Vec<_>>();
    json_response(StatusCode::OK, &json!({ "routes": routes }))
}

/// `$testnew`: whether one route's condition matches the message: `"true"`, `"false"`, or
/// `"undefined"` with the compilation error where the condition does not parse.
pub(crate) fn test_new(input: &Value) -> Resp {
    let Some(route) = input.get("route").filter(|r| r.is_object()) else {
        return provider_error(
            StatusCode::BAD_REQUEST,
            "InvalidRouteTestInput",
            "The request must name the route to test in 'route'.",
        );
    };
    let condition = route
        .get("condition")
        .and_then(Value::as_str)
        .unwrap_or("true");
    let message = Given::read(input);
    let answer = match query::parse(condition) {
        Ok(condition) => json!({
            "result": query::matches(&condition, &message.seen()).to_string(),
            "details": { "compilationErrors": [] },
        }),
        Err(error) => json!({
            "result": "undefined",
            "details": { "compilationErrors": [{
                "message": "Syntax error.",
                "severity": "error",
                "location": {
                    "start": { "line": 1, "column": error.column },
                    "end": { "line": 1, "column": error.column + 1 },
                },
            }]},
        }),
    };
    json_response(StatusCode::OK, &answer)
}

fn input_source(input: &Value) -> Result<&str, Resp> {
    match input.get("routingSource").and_then(Value::as_str) {
        None => Ok("DeviceMessages"),
        Some(source) => SOURCES
            .iter()
            .copied()
            .find(|s| s.eq_ignore_ascii_case(source))
            .ok_or_else(|| {
                provider_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRouteTestInput",
                    &format!(
                        "The routing source '{source}' is invalid. Use one of {}.",
                        SOURCES.join(", ")
                    ),
                )
            }),
    }
}

/// The message a test gives: its properties as text, and its body as JSON where its system
/// properties say it is JSON in a Unicode encoding, as for a sent message.
struct Given {
    system: BTreeMap<String, String>,
    application: BTreeMap<String, String>,
    body: Option<Value>,
}

impl Given {
    fn read(input: &Value) -> Given {
        let properties = |name: &str| -> BTreeMap<String, String> {
            input
                .pointer(&format!("/message/{name}"))
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        };
        let system = properties("systemProperties");
        let body = input
            .pointer("/message/body")
            .and_then(Value::as_str)
            .and_then(|body| {
                readable_json(
                    system.get("contentType").map(String::as_str),
                    system.get("contentEncoding").map(String::as_str),
                    body.as_bytes(),
                )
            });
        Given {
            application: properties("appProperties"),
            system,
            body,
        }
    }

    fn seen(&self) -> query::Message<'_> {
        query::Message {
            system: &self.system,
            application: &self.application,
            body: self.body.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::body_json;

    fn routing() -> Value {
        json!({ "routes": [
            { "name": "warm", "source": "DeviceMessages", "condition": "$body.temperature > 30", "endpointNames": ["events"], "isEnabled": true },
            { "name": "all", "source": "DeviceMessages", "condition": "true", "endpointNames": ["events"], "isEnabled": true },
            { "name": "off", "source": "DeviceMessages", "endpointNames": ["events"], "isEnabled": false },
            { "name": "twins", "source": "TwinChangeEvents", "endpointNames": ["events"], "isEnabled": true },
        ]})
    }

    fn message(body: &str) -> Value {
        json!({ "message": {
            "body": body,
            "systemProperties": { "contentType": "application/json", "contentEncoding": "utf-8" },
        }})
    }

    fn matched(answer: Resp) -> Vec<String> {
        body_json(answer)["routes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["properties"]["name"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn all_routes_of_the_source_whose_conditions_match() {
        let routing = routing();
        assert_eq!(
            matched(test_all(Some(&routing), &message(r#"{"temperature": 35}"#))),
            ["warm", "all"]
        );
        assert_eq!(
            matched(test_all(Some(&routing), &message(r#"{"temperature": 20}"#))),
            ["all"]
        );
        let twins = json!({ "routingSource": "twinchangeevents" });
        assert_eq!(matched(test_all(Some(&routing), &twins)), ["twins"]);
        assert!(matched(test_all(None, &message("{}"))).is_empty());
    }

    #[test]
    fn a_body_read_only_when_it_says_it_is_json() {
        let routing = routing();
        let unmarked = json!({ "message": { "body": r#"{"temperature": 35}"# } });
        assert_eq!(matched(test_all(Some(&routing), &unmarked)), ["all"]);
    }

    #[test]
    fn one_route_true_false_or_undefined_with_where_it_fails() {
        let mut input = message(r#"{"temperature": 35}"#);
        input["route"] = json!({ "name": "t", "source": "DeviceMessages", "condition": "$body.temperature > 30", "endpointNames": ["events"] });
        assert_eq!(body_json(test_new(&input))["result"], "true");
        input["route"]["condition"] = json!("$body.temperature < 30");
        assert_eq!(body_json(test_new(&input))["result"], "false");
        input["route"]["condition"] = json!("$body.temperature >");
        let answer = body_json(test_new(&input));
        assert_eq!(answer["result"], "undefined");
        let error = &answer["details"]["compilationErrors"][0];
        assert_eq!(
            (error["message"].as_str(), error["severity"].as_str()),
            (Some("Syntax error."), Some("error"))
        );
        assert_eq!(error["location"]["start"]["line"], 1);
    }

    #[test]
    fn refusals_say_what_to_give() {
        let answer = body_json(test_new(&json!({})));
        assert_eq!(
            answer["message"],
            "The request must name the route to test in 'route'."
        );
        let answer = body_json(test_all(None, &json!({ "routingSource": "Telemetry" })));
        assert_eq!(answer["message"], "The routing source 'Telemetry' is invalid. Use one of DeviceMessages, TwinChangeEvents, DeviceLifecycleEvents, DeviceJobLifecycleEvents, DigitalTwinChangeEvents, DeviceConnectionStateEvents, MqttBrokerMessages.");
    }
}
