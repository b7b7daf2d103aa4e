//! Opening a connection to a hub one stage at a time (name lookup, TCP, optional proxy tunnel,
//! TLS, and for MQTT and AMQP over WebSockets the upgrade), timing each stage and turning each
//! failure into a [`Failure`]; and a pool that keeps open HTTPS connections per host so that
//! testing many strings on one hub reuses them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hubsetup_net::Network;
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::CertificateError;
use tokio::net::TcpStream;

use crate::failure::Failure;
use crate::{Stage, StageResult, Stages};

pub(crate) type Sender = SendRequest<Full<Bytes>>;

/// An open HTTP/1.1 connection over TLS to one host.
pub(crate) struct Connection {
    pub(crate) sender: Sender,
}

/// Open connections per host, ready for the next request.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<String, Vec<Connection>>>,
}

impl Pool {
    pub(crate) fn take(&self, host: &str) -> Option<Connection> {
        let mut idle = self.idle.lock().expect("pool lock");
        let list = idle.get_mut(host)?;
        while let Some(connection) = list.pop() {
            if !connection.sender.is_closed() {
                return Some(connection);
            }
        }
        None
    }

    pub(crate) fn put(&self, host: &str, connection: Connection) {
        if !connection.sender.is_closed() {
            self.idle
                .lock()
                .expect("pool lock")
                .entry(host.to_owned())
                .or_default()
                .push(connection);
        }
    }
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

pub(crate) type Tls = tokio_rustls::client::TlsStream<TcpStream>;

/// Opens an HTTPS connection to `host`:443, adding a [`StageResult`] for each stage to
/// `stages`.
pub(crate) async fn open(
    network: &Arc<Network>,
    host: &str,
    timeout: Duration,
    stages: &mut Stages<'_>,
) -> Result<Connection, Failure> {
    let tls = open_tls(network, host, 443, timeout, stages).await?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| Failure::TlsFailed {
            host: host.to_owned(),
            detail: e.to_string(),
        })?;
    tokio::spawn(connection);
    Ok(Connection { sender })
}

/// Upgrades a TLS connection to a WebSocket carrying `subprotocol` at IoT Hub's path, as the
/// "WebSocket upgrade" stage.
pub(crate) async fn upgrade(
    tls: Tls,
    host: &str,
    subprotocol: &str,
    timeout: Duration,
    stages: &mut Stages<'_>,
) -> Result<hubsetup_net::WebSocketBytes<Tls>, Failure> {
    let started = Instant::now();
    let upgraded = tokio::time::timeout(
        timeout,
        hubsetup_net::upgrade_websocket(tls, host, crate::protocol::WEBSOCKET_PATH, subprotocol),
    )
    .await
    .unwrap_or_else(|_| {
        Err(hubsetup_net::WebSocketError::Refused(format!(
            "no answer within {} s",
            timeout.as_secs()
        )))
    });
    match upgraded {
        Ok(socket) => {
            stages.push(StageResult::passed(
                Stage::WebSocket,
                millis(started),
                format!(
                    "{} with subprotocol {subprotocol}",
                    crate::protocol::WEBSOCKET_PATH
                ),
            ));
            Ok(socket)
        }
        Err(e) => {
            stages.push(StageResult::failed(
                Stage::WebSocket,
                millis(started),
                e.to_string(),
            ));
            Err(Failure::WebSocketRefused {
                host: host.to_owned(),
                detail: e.to_string(),
            })
        }
    }
}

/// Opens a TLS connection to `host` on Azure's `port` (through the network's proxy for 443
/// only: clients cannot tunnel MQTT's or AMQP's own ports through an HTTP proxy).
pub(crate) async fn open_tls(
    network: &Arc<Network>,
    host: &str,
    port: u16,
    timeout: Duration,
    stages: &mut Stages<'_>,
) -> Result<Tls, Failure> {
    if let Some(proxy) = network.proxy_for(host).filter(|_| port != 443) {
        // Azure's SDKs take MQTT and AMQP through a proxy only over WebSockets on 443.
        stages.push(StageResult::failed(
            Stage::Tcp,
            0.0,
            format!(
                "not tried: this network goes out through the proxy {}, which carries HTTPS only",
                proxy.authority()
            ),
        ));
        return Err(Failure::OwnPortBehindProxy {
            port,
            proxy: proxy.authority(),
        });
    }
    let started = Instant::now();
    let route = network.route(host, port, timeout).await.map_err(|error| {
        stages.push(StageResult::failed(
            Stage::Dns,
            millis(started),
            error.to_string(),
        ));
        Failure::connecting(error, port)
    })?;
    let address = route.address();
    let via = route.via();
    stages.push(StageResult::passed(
        Stage::Dns,
        millis(started),
        format!("{} → {}{via}", route.looked_up(), address.ip()),
    ));

    let started = Instant::now();
    let stream = route.open(timeout).await.map_err(|error| {
        stages.push(StageResult::failed(
            Stage::Tcp,
            millis(started),
            error.to_string(),
        ));
        Failure::connecting(error, port)
    })?;
    stages.push(StageResult::passed(
        Stage::Tcp,
        millis(started),
        format!("{address}{via}"),
    ));

    let started = Instant::now();
    let name = ServerName::try_from(host.to_owned()).map_err(|_| Failure::TlsFailed {
        host: host.to_owned(),
        detail: "the host name is not valid".into(),
    })?;
    let connector = tokio_rustls::TlsConnector::from(network.tls_config());
    let tls = match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
        Err(_) => {
            stages.push(StageResult::failed(
                Stage::Tls,
                millis(started),
                "no answer to the TLS handshake".into(),
            ));
            return Err(Failure::TlsFailed {
                host: host.to_owned(),
                detail: format!("no answer within {} s", timeout.as_secs()),
            });
        }
        Ok(Err(e)) => {
            let failure = tls_failure(host, &e);
            stages.push(StageResult::failed(
                Stage::Tls,
                millis(started),
                e.to_string(),
            ));
            return Err(failure);
        }
        Ok(Ok(tls)) => tls,
    };
    let version = tls
        .get_ref()
        .1
        .protocol_version()
        .map(|v| format!("{v:?}").replace('_', "."))
        .unwrap_or_default();
    stages.push(StageResult::passed(
        Stage::Tls,
        millis(started),
        format!("{version}, certificate valid for {host}"),
    ));
    Ok(tls)
}

fn tls_failure(host: &str, error: &std::io::Error) -> Failure {
    let host = host.to_owned();
    let rustls_error = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    if let Some(untrusted) = rustls_error.and_then(hubsetup_net::UntrustedIssuer::of) {
        return Failure::CertificateUntrusted {
            host,
            issuer: Some(untrusted.issuer.clone()),
        };
    }
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(certificate)) => match certificate {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                Failure::CertificateUntrusted { host, issuer: None }
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Failure::CertificateWrongHost { host }
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                Failure::CertificateExpired { host }
            }
            other => Failure::TlsFailed {
                host,
                detail: format!("{other:?}"),
            },
        },
        _ => Failure::TlsFailed {
            host,
            detail: error.to_string(),
        },
    }
}
