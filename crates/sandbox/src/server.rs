//! The HTTPS server: one loopback listener for every sandbox host. TLS SNI picks the
//! certificate and the `Host` header picks the service (Entra ID, ARM, a hub, or the sandbox's
//! control endpoint), exactly as DNS names select them in Azure. Faults are applied here,
//! before any service sees the request.

use std::sync::Arc;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, DATE};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use percent_encoding::percent_decode_str;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

use crate::app::{App, Service};
use crate::faults::Action;
use crate::http::{
    arm_error, hub_error, json_response, oauth_error, response, with_retry_after, Req, Resp,
};
use crate::state::State;
use crate::{arm, entra, hub, keys};

/// Larger bodies are refused before they are read; D2C's own limit (256 KB) is checked by the
/// hub so that it can answer with its own error.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A dropped connection: the handler closes it without answering.
#[derive(Debug)]
pub(crate) struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose (fault injection)")
    }
}

impl std::error::Error for Dropped {}

impl App {
    pub(crate) async fn handle(
        self: Arc<Self>,
        mut request: Request<Incoming>,
    ) -> Result<Resp, Dropped> {
        let host = request
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .or_else(|| request.uri().host())
            .map(|h| {
                h.rsplit_once(':')
                    .map_or(h, |(name, _)| name)
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        if let Some(switching) = crate::websocket::upgrade(&mut request, &host, &self) {
            return Ok(switching);
        }
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return Ok(finish(response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "text/plain",
                    "request body too large",
                )))
            }
        };
        let path = parts.uri.path().to_owned();
        let req = Req {
            method: parts.method,
            segments: path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
                .collect(),
            query: url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
            headers: parts.headers,
            host,
            path,
            body,
        };
        let plan = self.faults.plan(&req.host, &req.path);
        if !plan.delay.is_zero() {
            tokio::time::sleep(plan.delay).await;
        }
        let Some(service) = self.service(&req.host) else {
            return Ok(finish(response(
                StatusCode::MISDIRECTED_REQUEST,
                "text/plain",
                format!("This sandbox serves *.{} only.", self.config.suffix),
            )));
        };
        match plan.action {
            Some(Action::Drop) => return Err(Dropped),
            Some(Action::Status {
                status,
                retry_after_secs,
            }) => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                return Ok(finish(with_retry_after(
                    fault_answer(&service, status),
                    retry_after_secs,
                )));
            }
            None => {}
        }
        let answer = {
            let mut state = self.state.lock().expect("state lock");
            let answer: hub::Answer = match service {
                Service::Login => entra::handle(&req, &mut state, &self.config).into(),
                Service::Management => arm::handle(&req, &mut state, &self.config).into(),
                Service::Hub(name) => hub::handle(&req, name, &mut state, &self.config),
                Service::Control => self.control(&req, &mut state).into(),
                Service::KeyDirectory { domain, advanced } => {
                    keys::wkd(&req, &domain, advanced, &state).into()
                }
                Service::KeyServer => keys::key_server(&req, &state).into(),
                Service::Keybase => keys::keybase(&req, &state).into(),
                Service::Prices => crate::prices::handle(
                    &req,
                    &self.config.suffix,
                    state.prices_page_size.unwrap_or(crate::prices::PAGE_SIZE),
                )
                .into(),
                Service::Graph => crate::graph::handle(&req, &state, &self.config).into(),
                Service::EventHubs => eventhubs_over_https().into(),
                // Blob hosts are relayed before HTTP is read; a client that named another host
                // in TLS than in HTTP reaches this.
                Service::Blob(_) => response(
                    StatusCode::MISDIRECTED_REQUEST,
                    "text/plain",
                    "Name the storage account's host in TLS too.",
                )
                .into(),
            };
            if let Some(dir) = &self.config.state_dir {
                if req.method != Method::GET && req.method != Method::HEAD {
                    if let Err(e) = state.save(dir) {
                        return Ok(finish(hub_error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "ServerError",
                            &e.to_string(),
                        )));
                    }
                }
            }
            answer
        };
        Ok(finish(match answer {
            hub::Answer::Now(response) => response,
            // The device answers a method call once the state is free for others.
            hub::Answer::CallMethod(call) => {
                crate::twins::call_response(self.sessions.call(&call).await)
            }
        }))
    }

    /// The sandbox's own endpoint for faults and published keys, used when it runs as a
    /// separate process.
    fn control(&self, req: &Req, state: &mut State) -> Resp {
        match (&req.method, req.segments().as_slice()) {
            (&Method::POST, ["keys"]) => match serde_json::from_slice(&req.body) {
                Ok(key) => {
                    state.published_keys.push(key);
                    crate::http::empty(StatusCode::NO_CONTENT)
                }
                Err(e) => response(
                    StatusCode::BAD_REQUEST,
                    "text/plain",
                    format!("not a published key: {e}"),
                ),
            },
            (&Method::DELETE, ["keys"]) => {
                state.published_keys.clear();
                crate::http::empty(StatusCode::NO_CONTENT)
            }
            (&Method::POST, ["faults"]) => match serde_json::from_slice(&req.body) {
                Ok(rule) => {
                    self.faults.add(rule);
                    crate::http::empty(StatusCode::NO_CONTENT)
                }
                Err(e) => response(
                    StatusCode::BAD_REQUEST,
                    "text/plain",
                    format!("not a fault rule: {e}"),
                ),
            },
            // A smaller page for the price list, so that tests see clients follow its links.
            (&Method::PUT, ["prices", "page-size"]) => {
                match req.json().and_then(|body| body["size"].as_u64()) {
                    Some(size) if size > 0 => {
                        state.prices_page_size = Some(size as usize);
                        crate::http::empty(StatusCode::NO_CONTENT)
                    }
                    _ => response(
                        StatusCode::BAD_REQUEST,
                        "text/plain",
                        "give {\"size\": N} with N at least 1",
                    ),
                }
            }
            (&Method::DELETE, ["faults"]) => {
                self.faults.clear();
                crate::http::empty(StatusCode::NO_CONTENT)
            }
            // Holds a step a test must act before (`device-code-approval`) until released.
            (method, ["holds", "device-code-approval"])
                if method == Method::PUT || method == Method::DELETE =>
            {
                state.device_code_approval_held = method == Method::PUT;
                crate::http::empty(StatusCode::NO_CONTENT)
            }
            // The receivers attached to a partition, for tests that must act once one is.
            (&Method::GET, ["readers", hub, group, partition]) => match partition.parse() {
                Ok(partition) => {
                    let readers: Vec<_> = self
                        .event_hubs
                        .readers
                        .attached(hub, group, partition)
                        .into_iter()
                        .map(|(name, epoch)| serde_json::json!({ "name": name, "epoch": epoch }))
                        .collect();
                    json_response(StatusCode::OK, &serde_json::json!({ "value": readers }))
                }
                Err(_) => response(
                    StatusCode::BAD_REQUEST,
                    "text/plain",
                    format!("not a partition number: {partition}"),
                ),
            },
            // A network admin's private endpoint with manual approval asks a hub for a
            // connection (Microsoft.Network is not in the sandbox).
            (&Method::POST, ["private-endpoints"]) => {
                let body = req.json().unwrap_or_default();
                let field = |name: &str| body.get(name).and_then(serde_json::Value::as_str);
                let (Some(sub), Some(group), Some(hub), Some(endpoint)) = (
                    field("subscription"),
                    field("resourceGroup"),
                    field("hub"),
                    field("privateEndpointId"),
                ) else {
                    return response(
                        StatusCode::BAD_REQUEST,
                        "text/plain",
                        "give subscription, resourceGroup, hub and privateEndpointId",
                    );
                };
                match crate::arm::iothub::hub_in(state, sub, group, hub) {
                    Some(hub) => {
                        let message = field("message").unwrap_or("Please approve my connection.");
                        let connection =
                            crate::arm::iothub::private_links::request(hub, endpoint, message);
                        json_response(StatusCode::OK, &connection)
                    }
                    None => response(StatusCode::NOT_FOUND, "text/plain", "no such hub"),
                }
            }
            // What Azure Monitor's action groups e-mailed (alerts and test notifications).
            (&Method::GET, ["mail"]) => json_response(
                StatusCode::OK,
                &serde_json::json!({ "value": state.alerting.outbox }),
            ),
            (&Method::DELETE, ["mail"]) => {
                state.alerting.outbox.clear();
                crate::http::empty(StatusCode::NO_CONTENT)
            }
            // Lets time pass for one hub (`{"by": "PT1H5M"}`): its measurements and devices'
            // activity move into the past and its alert rules are evaluated, so that an hour
            // without data passes at once.
            (&Method::POST, ["hubs", hub, "time-passes"]) => {
                let by = req
                    .json()
                    .and_then(|b| b.get("by")?.as_str().map(str::to_owned))
                    .and_then(|d| crate::monitor::api::duration_secs(&d));
                match by.map(|secs| crate::monitor::evaluate::time_passes(state, hub, secs * 1000))
                {
                    Some(Some(changed)) => json_response(StatusCode::OK, &changed),
                    Some(None) => response(StatusCode::NOT_FOUND, "text/plain", "no such hub"),
                    None => response(
                        StatusCode::BAD_REQUEST,
                        "text/plain",
                        "give {\"by\": \"PT1H\"}, an ISO 8601 duration",
                    ),
                }
            }
            (&Method::GET, ["health"]) => {
                json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
            }
            _ => response(
                StatusCode::NOT_FOUND,
                "text/plain",
                "unknown control endpoint",
            ),
        }
    }
}

/// A fault's error answer in the shape of the service it stands in for.
fn fault_answer(service: &Service<'_>, status: StatusCode) -> Resp {
    let (hub_code, arm_code) = match status.as_u16() {
        429 => ("ThrottlingException", "TooManyRequests"),
        500 => ("ServerError", "InternalServerError"),
        _ => ("ServiceUnavailable", "ServiceUnavailable"),
    };
    match service {
        Service::Hub(_) => hub_error(
            status,
            hub_code,
            "The service is busy or unavailable; retry after the time given in Retry-After.",
        ),
        Service::Login => oauth_error(
            status,
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
        ),
        Service::KeyDirectory { .. }
        | Service::KeyServer
        | Service::Keybase
        | Service::Prices
        | Service::EventHubs
        | Service::Blob(_) => response(
            status,
            "text/plain",
            status.canonical_reason().unwrap_or_default(),
        ),
        Service::Management | Service::Control | Service::Graph => arm_error(
            status,
            arm_code,
            "The service is busy or unavailable; retry after the time given in Retry-After.",
        ),
    }
}

/// The Event Hub-compatible endpoint speaks AMQP, over TLS or a WebSocket.
fn eventhubs_over_https() -> Resp {
    response(
        StatusCode::NOT_FOUND,
        "text/plain",
        "This is an Event Hub-compatible endpoint: connect with AMQP 1.0 over TLS (port 5671), or over a WebSocket at /$servicebus/websocket (subprotocol AMQPWSB10).",
    )
}

fn finish(mut response: Resp) -> Resp {
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now()))
    {
        response.headers_mut().insert(DATE, date);
    }
    if let Ok(id) = HeaderValue::from_str(&crate::http::uuid_like()) {
        response.headers_mut().insert("x-ms-request-id", id);
    }
    response
}

/// Accepts connections until `shutdown` fires.
pub(crate) async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Arc<App>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => return,
        };
        let Ok((stream, _peer)) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            // Failed handshakes (a client refusing a faulty certificate) end here, silently.
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let host = tls
                .get_ref()
                .1
                .server_name()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if let Some(account) = app.storage.account_of(&host) {
                let found = app
                    .state
                    .lock()
                    .expect("state lock")
                    .storage_accounts
                    .get(account)
                    .cloned();
                if let Some(account) = found {
                    app.storage.relay(tls, account).await;
                }
                return;
            }
            let service = hyper::service::service_fn(move |request| app.clone().handle(request));
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(tls), service)
                .with_upgrades()
                .await;
        });
    }
}
