//! A request as the handlers see it (host, decoded path segments, query, headers, body) and
//! the response shapes of the three services: Entra ID's OAuth errors, ARM's
//! `{"error":{"code","message"}}`, and IoT Hub's `{"Message":"ErrorCode:…","ExceptionMessage":…}`
//! with its `iothub-errorcode` header.

use std::collections::HashMap;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::{HeaderMap, Method, Response, StatusCode};
use serde_json::{json, Value};

pub(crate) type Resp = Response<Full<Bytes>>;

#[derive(Debug)]
pub(crate) struct Req {
    pub(crate) method: Method,
    /// The `Host` header without a port, lowercase.
    pub(crate) host: String,
    pub(crate) path: String,
    /// Path segments, percent-decoded.
    pub(crate) segments: Vec<String>,
    pub(crate) query: HashMap<String, String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Req {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// The path segments as `&str`, for matching with slice patterns.
    pub(crate) fn segments(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }

    /// The body as an `application/x-www-form-urlencoded` form.
    pub(crate) fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    pub(crate) fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

pub(crate) fn response(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Resp {
    response(status, "application/json; charset=utf-8", body.to_string())
}

pub(crate) fn empty(status: StatusCode) -> Resp {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

pub(crate) fn with_header(mut response: Resp, name: &str, value: &str) -> Resp {
    if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
        response.headers_mut().insert(name, value);
    }
    response
}

pub(crate) fn with_retry_after(response: Resp, seconds: Option<u32>) -> Resp {
    match seconds {
        Some(s) => with_header(response, RETRY_AFTER.as_str(), &s.to_string()),
        None => response,
    }
}

/// ARM's error shape: `{"error":{"code","message"}}`.
pub(crate) fn arm_error(status: StatusCode, code: &str, message: &str) -> Resp {
    json_response(
        status,
        &json!({ "error": { "code": code, "message": message } }),
    )
}

/// The IoT Hub resource provider's error shape: `{code, httpStatusCode, message, details}`.
pub(crate) fn provider_error(status: StatusCode, code: &str, message: &str) -> Resp {
    let reason = status
        .canonical_reason()
        .unwrap_or("Error")
        .replace(' ', "");
    json_response(
        status,
        &json!({ "code": code, "httpStatusCode": reason, "message": message, "details": null }),
    )
}

/// IoT Hub's data-plane error shape, with the `iothub-errorcode` header.
pub(crate) fn hub_error(status: StatusCode, code: &str, detail: &str) -> Resp {
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(time::macros::format_description!(
            "[month]/[day]/[year] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    let body = json!({
        "Message": format!("ErrorCode:{code};{detail}"),
        "ExceptionMessage": format!("Tracking ID:{}-G:0-TimeStamp:{stamp}", crate::state::random_hex(16)),
    });
    with_header(json_response(status, &body), "iothub-errorcode", code)
}

/// Entra ID's OAuth error shape.
pub(crate) fn oauth_error(status: StatusCode, error: &str, aadsts: u32, description: &str) -> Resp {
    let now = time::OffsetDateTime::now_utc();
    let timestamp = now
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default();
    json_response(
        status,
        &json!({
            "error": error,
            "error_description": format!("AADSTS{aadsts}: {description}"),
            "error_codes": [aadsts],
            "timestamp": timestamp,
            "trace_id": uuid_like(),
            "correlation_id": uuid_like(),
            "error_uri": format!("https://login.microsoftonline.com/error?code={aadsts}"),
        }),
    )
}

/// A random ID in GUID form.
pub(crate) fn uuid_like() -> String {
    let hex = crate::state::random_hex(16);
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// A response's body, read without waiting: a `Full` body is ready at once. The response
/// keeps the same body.
pub(crate) fn body_of(response: &mut Resp) -> Bytes {
    use hyper::body::Body;
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    let bytes = match std::pin::Pin::new(response.body_mut()).poll_frame(&mut context) {
        std::task::Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    };
    *response.body_mut() = Full::new(bytes.clone());
    bytes
}

/// A response's JSON body, for unit tests of handlers.
#[cfg(test)]
pub(crate) fn body_json(mut response: Resp) -> Value {
    serde_json::from_slice(&body_of(&mut response)).expect("a JSON body")
}
