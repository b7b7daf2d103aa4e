//! WebSockets as byte streams, for the protocols Azure also serves on port 443 (AMQP and MQTT
//! in binary messages): the client's upgrade with its subprotocol, and the adapter both sides
//! (our clients and the sandbox's server) read and write through.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Bytes;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Why a WebSocket upgrade failed.
#[derive(Debug, thiserror::Error)]
pub enum WebSocketError {
    #[error("the server refused the WebSocket upgrade ({0})")]
    Refused(String),
    #[error("the server did not agree to carry {0} over the WebSocket")]
    SubprotocolRefused(String),
}

/// Upgrades `stream` (TLS to `host`) to a WebSocket at `path` carrying `subprotocol`, as
/// Azure's SDKs do (`/$iothub/websocket` with `mqtt` or `AMQPWSB10`).
pub async fn upgrade_websocket<S>(
    stream: S,
    host: &str,
    path: &str,
    subprotocol: &str,
) -> Result<WebSocketBytes<S>, WebSocketError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = format!("wss://{host}{path}")
        .into_client_request()
        .map_err(|e| WebSocketError::Refused(e.to_string()))?;
    let offered = HeaderValue::from_str(subprotocol)
        .map_err(|_| WebSocketError::SubprotocolRefused(subprotocol.to_owned()))?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", offered);
    let (socket, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(|e| WebSocketError::Refused(e.to_string()))?;
    let agreed = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case(subprotocol));
    if !agreed {
        return Err(WebSocketError::SubprotocolRefused(subprotocol.to_owned()));
    }
    Ok(WebSocketBytes::new(socket))
}

/// A WebSocket as a byte stream: binary messages in, binary messages out.
pub struct WebSocketBytes<S> {
    socket: WebSocketStream<S>,
    unread: Bytes,
}

impl<S> std::fmt::Debug for WebSocketBytes<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebSocketBytes")
    }
}

impl<S> WebSocketBytes<S> {
    /// Reads and writes the protocol's bytes through an open WebSocket.
    pub fn new(socket: WebSocketStream<S>) -> WebSocketBytes<S> {
        WebSocketBytes {
            socket,
            unread: Bytes::new(),
        }
    }
}

fn broken(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, e)
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WebSocketBytes<S> {
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

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WebSocketBytes<S> {
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
