//! The AMQP conversation with an Event Hub-compatible endpoint: connect over TLS through the
//! cloud's [`Network`] (its root CA, name resolution and loopback ports), authenticate on
//! `$cbs`, ask `$management`, and receive from every partition.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fe2o3_amqp::connection::ConnectionHandle;
use fe2o3_amqp::link::receiver::CreditMode;
use fe2o3_amqp::link::LinkStateError;
use fe2o3_amqp::link::RecvError;
use fe2o3_amqp::sasl_profile::SaslProfile;
use fe2o3_amqp::session::SessionHandle;
use fe2o3_amqp::types::definitions::{
    AmqpError, Error as AmqpErrorFrame, ErrorCondition, LinkError,
};
use fe2o3_amqp::types::messaging::{ApplicationProperties, Body, Source};
use fe2o3_amqp::types::primitives::{SimpleValue, Symbol, Value};
use fe2o3_amqp::{Connection, Receiver, Session};
use hubsetup_core::sas;
use hubsetup_core::SharedAccessKey;
use hubsetup_net::{ConnectError, Network};
use rustls::pki_types::ServerName;
use serde_amqp::described::Described;
use serde_amqp::descriptor::Descriptor;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::node::{put_token, Node};
use crate::{Event, EventHubAddress, EventsError};

/// Azure's AMQP port, and the HTTPS port AMQP over WebSockets uses.
const AMQPS_PORT: u16 = 5671;
const HTTPS_PORT: u16 = 443;
/// A blocked port usually shows as a timeout: give up on it soon and try the next.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const SELECTOR: &str = "apache.org:selector-filter:string";
/// Events asked for at a time per partition.
const PREFETCH: u32 = 300;
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Where reading starts on every partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// Everything the endpoint still holds.
    Beginning,
    /// Only what arrives from now on.
    Latest,
    /// What the hub stored after this time.
    Time(SystemTime),
}

impl StartAt {
    fn selector(self) -> String {
        match self {
            StartAt::Beginning => "amqp.annotation.x-opt-offset > '-1'".to_owned(),
            StartAt::Latest => "amqp.annotation.x-opt-offset > '@latest'".to_owned(),
            StartAt::Time(time) => {
                let ms = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
                format!("amqp.annotation.x-opt-enqueued-time > '{ms}'")
            }
        }
    }
}

/// An open connection to one Event Hub-compatible endpoint, authenticated for one consumer
/// group.
pub struct Reader {
    connection: ConnectionHandle<()>,
    session: SessionHandle<()>,
    address: EventHubAddress,
    group: String,
    management: Node,
    transport: Transport,
}

/// How a reader reached the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// AMQP over TLS on port 5671.
    Amqp,
    /// AMQP over a WebSocket on port 443, and why.
    WebSocket { why: String },
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Amqp => write!(f, "AMQP on port {AMQPS_PORT}"),
            Transport::WebSocket { why } => {
                write!(
                    f,
                    "AMQP over WebSockets on port {HTTPS_PORT}, because {why}"
                )
            }
        }
    }
}

/// A TCP connection to `host`'s `port` (or the loopback port a sandbox maps it to), through
/// the proxy that serves `host` when there is one.
async fn tcp_to(network: &Network, host: &str, port: u16) -> Result<TcpStream, EventsError> {
    network
        .connect(host, port, CONNECT_TIMEOUT)
        .await
        .map(|(tcp, _)| tcp)
        .map_err(|error| match error {
            ConnectError::Proxy(reason) => EventsError::Proxy { reason },
            other => EventsError::Unreachable {
                host: host.to_owned(),
                port,
                detail: other.to_string(),
            },
        })
}

async fn tls(
    network: &Network,
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, EventsError> {
    let failed = |detail: String| EventsError::TlsFailed {
        host: host.to_owned(),
        detail,
    };
    let server_name = ServerName::try_from(host.to_owned())
        .map_err(|_| failed("not a valid host name".into()))?;
    tokio_rustls::TlsConnector::from(network.tls_config())
        .connect(server_name, tcp)
        .await
        .map_err(|e| {
            // A TLS-inspecting proxy is named by who signed what it presented.
            let untrusted = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .and_then(hubsetup_net::UntrustedIssuer::of);
            failed(untrusted.map_or_else(|| e.to_string(), ToString::to_string))
        })
}

/// AMQP over a WebSocket at `path` (`/$servicebus/websocket`), TLS inside the given
/// connection.
async fn over_websocket(
    network: &Network,
    host: &str,
    path: &str,
    tcp: TcpStream,
    sasl: SaslProfile,
) -> Result<ConnectionHandle<()>, EventsError> {
    let tls = tls(network, host, tcp).await?;
    let socket =
        fe2o3_amqp_ws::WebSocketStream::connect_with_stream(format!("wss://{host}{path}"), tls)
            .await
            .map_err(|e| EventsError::Unreachable {
                host: host.to_owned(),
                port: HTTPS_PORT,
                detail: format!("the WebSocket upgrade failed: {e}"),
            })?;
    amqp_open(host, socket, sasl).await
}

async fn amqp_open<S>(
    host: &str,
    stream: S,
    sasl: SaslProfile,
) -> Result<ConnectionHandle<()>, EventsError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + std::fmt::Debug + Send + Unpin + 'static,
{
    Connection::builder()
        .container_id(format!("hubsetup-{}", std::process::id()))
        .hostname(host)
        .sasl_profile(sasl)
        .max_frame_size(65_536)
        .open_with_stream(stream)
        .await
        .map_err(|e| match e {
            fe2o3_amqp::connection::OpenError::SaslError { code, .. } => {
                EventsError::SignInRefused(format!("{code:?}"))
            }
            other => EventsError::Lost(format!("the AMQP handshake failed: {other}")),
        })
}

/// An AMQP connection to `host` as Azure's SDKs make it: over TLS on 5671, or, when that port
/// is blocked or a proxy is in the way, over a WebSocket at `websocket_path` on 443.
pub(crate) async fn connect(
    network: &Network,
    host: &str,
    websocket_path: &str,
    sasl: SaslProfile,
) -> Result<(ConnectionHandle<()>, Transport), EventsError> {
    if let Some(proxy) = network.proxy_for(host) {
        // The proxy resolves the name and carries HTTPS only: AMQP goes over a WebSocket.
        let via = format!(
            "this network goes out through the proxy {}",
            proxy.authority()
        );
        let tcp = tcp_to(network, host, HTTPS_PORT).await?;
        let connection = over_websocket(network, host, websocket_path, tcp, sasl).await?;
        return Ok((connection, Transport::WebSocket { why: via }));
    }
    match tcp_to(network, host, AMQPS_PORT).await {
        Ok(tcp) => {
            let connection = amqp_open(host, tls(network, host, tcp).await?, sasl).await?;
            Ok((connection, Transport::Amqp))
        }
        Err(EventsError::Unreachable { detail, .. }) => {
            let why = format!("AMQP's port {AMQPS_PORT} is blocked from this network ({detail})");
            let tcp = tcp_to(network, host, HTTPS_PORT)
                .await
                .map_err(|e| match e {
                    EventsError::Unreachable { detail: on_443, .. } => EventsError::Blocked {
                        host: host.to_owned(),
                        on_amqp_port: detail,
                        on_https_port: on_443,
                    },
                    other => other,
                })?;
            let connection = over_websocket(network, host, websocket_path, tcp, sasl).await?;
            Ok((connection, Transport::WebSocket { why }))
        }
        Err(other) => Err(other),
    }
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("address", &self.address)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// Connects, authenticates on `$cbs` for the event hub, and opens `$management`. AMQP's
    /// own port (5671) is tried first; when it is blocked, or a proxy is in the way, AMQP goes
    /// over a WebSocket on 443, as Azure's SDKs do (see [`Reader::transport`]).
    pub async fn open(
        network: &Network,
        address: &EventHubAddress,
        group: &str,
    ) -> Result<Reader, EventsError> {
        let (mut connection, transport) = connect(
            network,
            &address.host,
            "/$servicebus/websocket",
            SaslProfile::Anonymous,
        )
        .await?;
        let mut session = Session::begin(&mut connection)
            .await
            .map_err(|e| EventsError::Lost(e.to_string()))?;
        let mut cbs = Node::attach(&mut session, "$cbs").await?;
        let audience = format!("sb://{}/{}", address.host, address.entity);
        let key = SharedAccessKey::from_bytes(address.key_text().as_bytes().to_vec())
            .map_err(|_| EventsError::WrongKey)?;
        let expiry = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            + TOKEN_LIFETIME.as_secs();
        let token = sas::generate(&key, &audience, expiry, Some(&address.policy));
        let (code, description) = put_token(&mut cbs, &audience, &token.expose(), expiry).await?;
        if !(200..300).contains(&code) {
            return Err(token_refusal(&description, &address.policy));
        }
        let management = Node::attach(&mut session, "$management").await?;
        Ok(Reader {
            connection,
            session,
            address: address.clone(),
            group: group.to_owned(),
            management,
            transport,
        })
    }

    /// How this reader reached the endpoint.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The IDs of the event hub's partitions.
    pub async fn partition_ids(&mut self) -> Result<Vec<String>, EventsError> {
        let request = ApplicationProperties::builder()
            .insert("operation", SimpleValue::String("READ".into()))
            .insert("type", SimpleValue::String("com.microsoft:eventhub".into()))
            .insert("name", SimpleValue::String(self.address.entity.clone()))
            .build();
        let (code, description, body) = self.management.call(request, Value::Null).await?;
        if !(200..300).contains(&code) {
            return Err(token_refusal(&description, &self.address.policy));
        }
        let Value::Map(map) = body else {
            return Err(EventsError::Lost(
                "the management node answered without the event hub's properties".into(),
            ));
        };
        let ids = map
            .get(&Value::String("partition_ids".into()))
            .map(|ids| match ids {
                Value::Array(a) => a.0.iter().map(text).collect(),
                Value::List(l) => l.iter().map(text).collect(),
                _ => Vec::new(),
            })
            .unwrap_or_default();
        Ok(ids)
    }

    /// Receives from every partition from `start`. The channel ends with an error when a
    /// receiver is refused or loses its partition; dropping it detaches every receiver.
    pub async fn receive(
        &mut self,
        start: StartAt,
    ) -> Result<mpsc::Receiver<Result<Event, EventsError>>, EventsError> {
        let partitions = self.partition_ids().await?;
        let (events, received) = mpsc::channel(1024);
        for partition in partitions {
            let address = format!(
                "{}/ConsumerGroups/{}/Partitions/{partition}",
                self.address.entity, self.group
            );
            let filter = Described {
                descriptor: Descriptor::Name(Symbol::from(SELECTOR)),
                value: Value::String(start.selector()),
            };
            let receiver = Receiver::builder()
                .name(format!("hubsetup-{}-{partition}", std::process::id()))
                .source(
                    Source::builder()
                        .address(address)
                        .add_to_filter(SELECTOR, filter)
                        .build(),
                )
                .target(format!("hubsetup-watch-{partition}"))
                .credit_mode(CreditMode::Manual)
                .attach(&mut self.session)
                .await;
            let context = Arc::new((
                self.group.clone(),
                partition.clone(),
                self.address.policy.clone(),
            ));
            match receiver {
                Ok(receiver) => {
                    tokio::spawn(pump(receiver, context, events.clone()));
                }
                Err(e) => return Err(EventsError::Lost(format!("partition {partition}: {e}"))),
            }
        }
        Ok(received)
    }

    /// Ends the conversation politely.
    pub async fn close(mut self) {
        let _ = self.session.end().await;
        let _ = self.connection.close().await;
    }
}

/// Forwards one partition's events until the receiver fails or the channel is dropped.
async fn pump(
    mut receiver: Receiver,
    context: Arc<(String, String, String)>,
    events: mpsc::Sender<Result<Event, EventsError>>,
) {
    let (group, partition, policy) = &*context;
    // The endpoint sends settled, so nothing is disposed and fe2o3's automatic credit (which
    // counts dispositions) would never refill: the credit is given here, half a window ahead.
    if receiver.set_credit(PREFETCH).await.is_err() {
        return;
    }
    let mut since_credit = 0;
    loop {
        tokio::select! {
            delivery = receiver.recv::<Body<Value>>() => match delivery {
                Ok(delivery) => {
                    since_credit += 1;
                    if since_credit >= PREFETCH / 2 {
                        since_credit = 0;
                        if receiver.set_credit(PREFETCH).await.is_err() {
                            break;
                        }
                    }
                    let event = Event::from_message(partition, delivery.into_message());
                    if events.send(Ok(event)).await.is_err() {
                        break;
                    }
                }
                Err(error) => {
                    let _ = events.send(Err(receive_error(&error, group, partition, policy))).await;
                    return;
                }
            },
            () = events.closed() => break,
        }
    }
    let _ = receiver.close().await;
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Symbol(s) => s.0.clone(),
        other => format!("{other:?}"),
    }
}

/// A refused token or management request, in words.
fn token_refusal(description: &str, policy: &str) -> EventsError {
    if description.starts_with("InvalidSignature") {
        EventsError::WrongKey
    } else if description.starts_with("ExpiredToken") {
        EventsError::TokenExpired
    } else if description.starts_with("LocalAuthDisabled") {
        EventsError::LocalAuthDisabled
    } else if description.contains("'Listen' claim") {
        EventsError::NoReadRight {
            policy: policy.to_owned(),
        }
    } else {
        EventsError::Endpoint {
            condition: "amqp:unauthorized-access".into(),
            description: description.to_owned(),
        }
    }
}

/// A receiver's detach error, in words.
fn receive_error(error: &RecvError, group: &str, partition: &str, policy: &str) -> EventsError {
    let detail = match error {
        RecvError::LinkStateError(
            LinkStateError::RemoteClosedWithError(e) | LinkStateError::RemoteDetachedWithError(e),
        ) => e,
        other => return EventsError::Lost(other.to_string()),
    };
    link_refusal(detail, group, partition, policy)
}

fn link_refusal(error: &AmqpErrorFrame, group: &str, partition: &str, policy: &str) -> EventsError {
    let description = error.description.clone().unwrap_or_default();
    let (group, partition) = (group.to_owned(), partition.to_owned());
    match &error.condition {
        ErrorCondition::AmqpError(AmqpError::NotFound)
            if description.contains("/consumergroups/") =>
        {
            EventsError::ConsumerGroupMissing { group }
        }
        ErrorCondition::AmqpError(AmqpError::ResourceLimitExceeded) => {
            EventsError::TooManyReaders { group, partition }
        }
        ErrorCondition::LinkError(LinkError::Stolen) => EventsError::TakenOver { group, partition },
        ErrorCondition::AmqpError(AmqpError::UnauthorizedAccess) => {
            token_refusal(&description, policy)
        }
        ErrorCondition::Custom(symbol) if symbol.0 == "com.microsoft:argument-out-of-range" => {
            EventsError::PartitionMissing { partition }
        }
        other => EventsError::Endpoint {
            condition: format!("{other:?}"),
            description,
        },
    }
}
