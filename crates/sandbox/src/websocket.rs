//! WebSockets on the HTTPS port (443), for networks that block AMQP's and MQTT's own ports, as
//! Azure serves them: `GET /$servicebus/websocket` on an Event Hubs namespace, or
//! `/$iothub/websocket` on a hub's host, upgraded with the subprotocol `AMQPWSB10` or `amqp`
//! (AMQP) or `mqtt` (MQTT, on a hub's host), then the protocol's bytes in binary messages.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::{Sink, Stream};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
    UPGRADE,
};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
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
        let stream = Frames::new(socket);
        match carries {
            Carried::Amqp => {
                crate::eventhubs::serve_amqp(stream, host, app.event_hubs.clone()).await
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

/// A WebSocket as a byte stream: binary messages in, binary messages out.
pub(crate) struct Frames<S> {
    socket: WebSocketStream<S>,
    unread: Bytes,
}

impl<S> std::fmt::Debug for Frames<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Frames")
    }
}

impl<S> Frames<S> {
    fn new(socket: WebSocketStream<S>) -> Frames<S> {
        Frames {
            socket,
            unread: Bytes::new(),
        }
    }
}

fn broken(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, e)
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Frames<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.unread.is_empty() {
            match std::task::ready!(Pin::new(&mut self.socket).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => self.unread = data,
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(Ok(())),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(broken(e))),
            }
        }
        let n = buf.remaining().min(self.unread.len());
        let chunk = self.unread.split_to(n);
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Frames<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(Pin::new(&mut self.socket).poll_ready(cx)).map_err(broken)?;
        Pin::new(&mut self.socket)
            .start_send(Message::Binary(Bytes::copy_from_slice(buf)))
            .map_err(broken)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_flush(cx).map_err(broken)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_close(cx).map_err(broken)
    }
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
