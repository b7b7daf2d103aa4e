//! WebSockets on the HTTPS port (443), for networks that block AMQP's and MQTT's own ports, as
//! Azure serves them: `GET /$servicebus/websocket` on an Event Hubs namespace, or
//! `/$iothub/websocket` on a hub's host, upgraded with the subprotocol `AMQPWSB10` or `amqp`
//! (AMQP) or `mqtt` (MQTT, on a hub's host), then the protocol's bytes in binary messages.

use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
    UPGRADE,
};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use crate::app::{App, Service};

/// Where an Event Hubs namespace takes WebSockets.
pub(crate) const EVENT_HUBS_PATH: &str = "/$servicebus/websocket";
/// Where a hub's host takes them.
pub(crate) const HUB_PATH: &str = "/$iothub/websocket";

/// The protocol a WebSocket carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carried {
    Amqp,
    Mqtt,
}

/// What a subprotocol offered at `path` on a host of `service` carries, if it is served there.
fn carried(path: &str, service: Option<&Service<'_>>, protocol: &str) -> Option<Carried> {
    let amqp = ["AMQPWSB10", "amqp"]
        .iter()
        .any(|p| p.eq_ignore_ascii_case(protocol));
    match (path, service) {
        (EVENT_HUBS_PATH, Some(Service::EventHubs)) if amqp => Some(Carried::Amqp),
        (HUB_PATH, Some(Service::Hub(_))) if amqp => Some(Carried::Amqp),
        (HUB_PATH, Some(Service::Hub(_))) if protocol.eq_ignore_ascii_case("mqtt") => {
            Some(Carried::Mqtt)
        }
        _ => None,
    }
}

/// Answers an upgrade request for AMQP or MQTT and, once upgraded, serves it; `None` when the
/// request is not one (it is then answered as any other request).
pub(crate) fn upgrade(
    request: &mut Request<Incoming>,
    host: &str,
    app: &Arc<App>,
) -> Option<Response<Full<Bytes>>> {
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let key = header(SEC_WEBSOCKET_KEY)?.to_owned();
    let offered = header(SEC_WEBSOCKET_PROTOCOL)
        .unwrap_or_default()
        .to_owned();
    let service = app.service(host);
    let path = request.uri().path().to_owned();
    let (protocol, carries) = offered
        .split(',')
        .map(str::trim)
        .find_map(|p| carried(&path, service.as_ref(), p).map(|carries| (p.to_owned(), carries)))?;
    let upgrading = hyper::upgrade::on(request);
    let (host, app) = (host.to_owned(), app.clone());
    tokio::spawn(async move {
        let Ok(upgraded) = upgrading.await else {
            return;
        };
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        let stream = hubsetup_net::WebSocketBytes::new(socket);
        match carries {
            Carried::Amqp => {
                crate::amqp_hosts::serve_amqp(stream, host, app.event_hubs.clone()).await
            }
            Carried::Mqtt => crate::mqtt::serve_mqtt(stream, host, app).await,
        }
    });
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(
        SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&derive_accept_key(key.as_bytes())).ok()?,
    );
    headers.insert(
        SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_str(&protocol).ok()?,
    );
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_host_carries_what_azure_serves_there() {
        let hub = Some(Service::Hub("plant"));
        let namespace = Some(Service::EventHubs);
        assert_eq!(carried(HUB_PATH, hub.as_ref(), "mqtt"), Some(Carried::Mqtt));
        assert_eq!(
            carried(HUB_PATH, hub.as_ref(), "AMQPWSB10"),
            Some(Carried::Amqp)
        );
        assert_eq!(
            carried(EVENT_HUBS_PATH, namespace.as_ref(), "amqp"),
            Some(Carried::Amqp)
        );
        assert_eq!(carried(EVENT_HUBS_PATH, namespace.as_ref(), "mqtt"), None);
        assert_eq!(carried(EVENT_HUBS_PATH, hub.as_ref(), "amqp"), None);
        assert_eq!(carried("/other", hub.as_ref(), "mqtt"), None);
    }
}
