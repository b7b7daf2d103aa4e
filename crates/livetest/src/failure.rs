//! Every way a live test can fail, each with what happened (its `Display`), the likely cause
//! and what to do, in words a person who is not a developer can act on.

use serde::Serialize;
use ts_rs::TS;

use crate::Protocol;

/// Why the hub did not accept the test message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Unusable(String),
    #[error("The host {host} could not be found (DNS).")]
    HostNotFound { host: String },
    #[error("Looking up {host} failed: {detail}.")]
    DnsFailed { host: String, detail: String },
    #[error("The connection to {address} was refused.")]
    ConnectionRefused {
        address: String,
        /// Azure's port (a sandbox maps it to another on loopback).
        port: u16,
    },
    #[error("Connecting to {address} timed out after {seconds} s.")]
    ConnectTimeout {
        address: String,
        port: u16,
        seconds: u64,
    },
    #[error("Connecting to {address} failed: {detail}.")]
    ConnectFailed {
        address: String,
        port: u16,
        detail: String,
    },
    #[error(
        "{} on port {port} was not tried: this network goes out through the proxy {proxy}, which carries HTTPS only.",
        own_port_protocol(*port)
    )]
    OwnPortBehindProxy { port: u16, proxy: String },
    #[error("The WebSocket connection to {host} could not be opened: {detail}.")]
    WebSocketRefused { host: String, detail: String },
    #[error("The proxy {proxy} would not open a tunnel to {host} ({answer}).")]
    ProxyRefused {
        proxy: String,
        host: String,
        answer: String,
    },
    #[error(
        "The proxy {proxy} does not allow connections to {host} on port {port} (403 Forbidden)."
    )]
    ProxyForbidden {
        proxy: String,
        host: String,
        port: u16,
    },
    #[error("The proxy {proxy} could not find the address of {host} ({answer}).")]
    ProxyNameUnknown {
        proxy: String,
        host: String,
        answer: String,
    },
    #[error("The proxy {proxy} could not reach {host} on port {port} ({answer}).")]
    ProxyCannotReach {
        proxy: String,
        host: String,
        port: u16,
        answer: String,
    },
    #[error("The proxy {proxy} could not be reached: {detail}.")]
    ProxyUnreachable { proxy: String, detail: String },
    #[error(
        "The proxy {proxy} {} ({}; 407 Proxy Authentication Required).",
        if *rejected { "refused the user name and password given for it" } else { "asks for a user name and password" },
        schemes.join(", ")
    )]
    ProxyNeedsCredentials {
        proxy: String,
        /// The authentication schemes it offers: Basic, NTLM, Negotiate.
        schemes: Vec<String>,
        /// Credentials were given (saved, or in HTTPS_PROXY) and refused.
        rejected: bool,
    },
    #[error(
        "The certificate presented for {host} is not signed by an authority this computer trusts{}.",
        issued_by(issuer)
    )]
    CertificateUntrusted {
        host: String,
        /// Who signed what was presented: a TLS-inspecting proxy's own root, usually.
        issuer: Option<String>,
    },
    #[error("The certificate presented for {host} was issued for a different host.")]
    CertificateWrongHost { host: String },
    #[error("The certificate presented for {host} has expired.")]
    CertificateExpired { host: String },
    #[error("The secure (TLS) connection to {host} failed: {detail}.")]
    TlsFailed { host: String, detail: String },
    #[error("The hub refused the credentials (401 {code}).")]
    Unauthorized {
        code: String,
        /// How far this computer's clock is ahead of the hub's (negative: behind), when that
        /// is enough to explain the refusal.
        clock_skew_secs: Option<i64>,
        policy: Option<String>,
        device: String,
    },
    #[error("The hub does not know device '{device}', or the device is disabled ({code}).")]
    DeviceNotFound {
        device: String,
        /// The hub's answer: `404 DeviceNotFound` over HTTPS, `amqp:not-found` over AMQP.
        code: String,
    },
    #[error("The hub refused the device's MQTT sign-in (CONNACK {code}: {}).", connack_words(*code))]
    MqttSignInRefused { code: u8, device: String },
    #[error("The hub closed the {protocol} connection instead of acknowledging the test message.")]
    ClosedWithoutAcknowledgement { protocol: String },
    #[error("The hub refused the device twin over MQTT: this hub has no twins or direct methods.")]
    NoTwinsOnThisTier,
    #[error("The direct method call was refused ({status} {code}).")]
    MethodRefused { status: u16, code: String },
    #[error("The device answered the direct method wrongly: {detail}.")]
    MethodAnsweredWrongly { detail: String },
    #[error("The hub refused the test message over AMQP ({condition}: {description}).")]
    AmqpRefused {
        condition: String,
        description: String,
    },
    #[error("There is no IoT hub at {host} (404 IotHubNotFound).")]
    HubNotFound { host: String },
    #[error("The hub's daily message quota is used up ({code}).")]
    QuotaExceeded { code: String },
    #[error("The hub refused connections from this network (403 {code}).")]
    NetworkRefused { code: String },
    #[error("The hub found the test message too large ({code}).")]
    MessageTooLarge { code: String },
    #[error("The hub was still throttling after {attempts} attempts ({code}).")]
    Throttled { attempts: u32, code: String },
    #[error("The hub answered {status} (service error) {attempts} times in a row.")]
    ServiceUnavailable { status: u16, attempts: u32 },
    #[error("The connection was closed before the hub answered, {attempts} times in a row.")]
    ConnectionDropped { attempts: u32 },
    #[error("The hub did not answer within {seconds} s.")]
    NoAnswer { seconds: u64 },
    #[error("The hub answered {status} {code}, which the test does not expect.")]
    Unexpected { status: u16, code: String },
    #[error("The hub accepted the message, but it did not arrive on the hub's Event Hub-compatible endpoint within {seconds} s.")]
    NotLanded { seconds: u64 },
    #[error("The hub accepted the message, but reading it back failed: {0}")]
    CannotReadBack(hubsetup_events::EventsError),
}

/// A failure as the GUI and `--json` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Diagnosis {
    /// The variant's name in snake case, stable for scripts.
    pub kind: &'static str,
    pub summary: String,
    pub cause: String,
    pub fix: String,
}

fn duration_words(seconds: i64) -> String {
    let seconds = seconds.unsigned_abs();
    match seconds {
        0..=119 => format!("{seconds} seconds"),
        120..=7199 => format!("{} minutes", seconds / 60),
        _ => format!("{} hours", seconds / 3600),
    }
}

/// The protocol whose own port `port` is (MQTT's 8883, else AMQP's 5671), for people.
fn own_port_protocol(port: u16) -> &'static str {
    Protocol::on_own_port(port).label()
}

/// The SDK transport that carries the same protocol over WebSockets on 443.
fn own_port_setting(port: u16) -> &'static str {
    Protocol::on_own_port(port)
        .over_websockets()
        .transport_setting()
}

/// MQTT 3.1.1's CONNACK return codes (3.2.2.3) in words.
fn connack_words(code: u8) -> &'static str {
    match code {
        1 => "unacceptable protocol version",
        2 => "client identifier rejected",
        3 => "server unavailable",
        4 => "bad user name or password",
        5 => "not authorized",
        _ => "unknown refusal",
    }
}

/// ": it was issued by 'CN=…'", when the issuer is known.
fn issued_by(issuer: &Option<String>) -> String {
    issuer
        .as_ref()
        .map(|issuer| format!(" (it was issued by '{issuer}')"))
        .unwrap_or_default()
}

impl Failure {
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Unusable(_) => "unusable",
            Failure::HostNotFound { .. } => "host_not_found",
            Failure::DnsFailed { .. } => "dns_failed",
            Failure::ConnectionRefused { .. } => "connection_refused",
            Failure::ConnectTimeout { .. } => "connect_timeout",
            Failure::ConnectFailed { .. } => "connect_failed",
            Failure::WebSocketRefused { .. } => "websocket_refused",
            Failure::OwnPortBehindProxy { .. } => "own_port_behind_proxy",
            Failure::MqttSignInRefused { .. } => "mqtt_sign_in_refused",
            Failure::ClosedWithoutAcknowledgement { .. } => "closed_without_acknowledgement",
            Failure::AmqpRefused { .. } => "amqp_refused",
            Failure::NoTwinsOnThisTier => "no_twins_on_this_tier",
            Failure::MethodRefused { .. } => "method_refused",
            Failure::MethodAnsweredWrongly { .. } => "method_answered_wrongly",
            Failure::ProxyRefused { .. } => "proxy_refused",
            Failure::ProxyForbidden { .. } => "proxy_forbidden",
            Failure::ProxyNameUnknown { .. } => "proxy_name_unknown",
            Failure::ProxyCannotReach { .. } => "proxy_cannot_reach",
            Failure::ProxyUnreachable { .. } => "proxy_unreachable",
            Failure::ProxyNeedsCredentials { schemes, .. }
                if !hubsetup_net::offers_basic(schemes) =>
            {
                "proxy_needs_windows_sign_in"
            }
            Failure::ProxyNeedsCredentials { .. } => "proxy_needs_credentials",
            Failure::CertificateUntrusted { .. } => "certificate_untrusted",
            Failure::CertificateWrongHost { .. } => "certificate_wrong_host",
            Failure::CertificateExpired { .. } => "certificate_expired",
            Failure::TlsFailed { .. } => "tls_failed",
            Failure::Unauthorized { .. } => "unauthorized",
            Failure::DeviceNotFound { .. } => "device_not_found",
            Failure::HubNotFound { .. } => "hub_not_found",
            Failure::QuotaExceeded { .. } => "quota_exceeded",
            Failure::NetworkRefused { .. } => "network_refused",
            Failure::MessageTooLarge { .. } => "message_too_large",
            Failure::Throttled { .. } => "throttled",
            Failure::ServiceUnavailable { .. } => "service_unavailable",
            Failure::ConnectionDropped { .. } => "connection_dropped",
            Failure::NoAnswer { .. } => "no_answer",
            Failure::Unexpected { .. } => "unexpected_answer",
            Failure::NotLanded { .. } => "not_landed",
            Failure::CannotReadBack(_) => "cannot_read_back",
        }
    }

    /// The most likely reasons, most likely first.
    pub fn cause(&self) -> String {
        match self {
            Failure::Unusable(_) => "The connection string cannot be used for a live test as it is.".into(),
            Failure::HostNotFound { .. } => "The hub name in HostName is misspelt, the hub was deleted, or this network's DNS blocks Azure's names.".into(),
            Failure::DnsFailed { .. } => "This computer's DNS is not working or not reachable.".into(),
            Failure::ConnectionRefused { port, .. } => format!("Something on the way (a firewall, or nothing listening at that address) refuses connections to port {port}."),
            Failure::ConnectTimeout { port: 443, .. } | Failure::ConnectFailed { port: 443, .. } => {
                "A firewall drops outgoing connections to port 443, or the network needs a proxy that is not set.".into()
            }
            Failure::ConnectTimeout { port, .. } | Failure::ConnectFailed { port, .. } => format!(
                "A firewall drops outgoing connections to port {port}; many networks allow only web traffic (port 443)."
            ),
            Failure::WebSocketRefused { .. } => "A proxy or firewall lets HTTPS through but not WebSockets, or answers in the hub's place.".into(),
            Failure::OwnPortBehindProxy { port, .. } => format!(
                "Azure's device SDKs take {} through a proxy only over WebSockets on port 443; its own port {port} needs a direct connection, which networks with a proxy rarely allow.",
                own_port_protocol(*port)
            ),
            Failure::MqttSignInRefused { code: 4 | 5, device } => format!(
                "The key is wrong or was regenerated, the token expired (check this computer's clock), device '{device}' is disabled or not registered, or the hub's network settings refuse this address; MQTT does not say which."
            ),
            Failure::MqttSignInRefused { .. } => "The hub could not take the connection right now, or something on the way is not IoT Hub.".into(),
            Failure::ClosedWithoutAcknowledgement { protocol } => format!(
                "{protocol} gives no reason: the device or hub is throttled, the hub's daily quota is used up, the message is too large, or the device was disabled."
            ),
            Failure::AmqpRefused { .. } => "The hub refused the message for a reason the test does not expect.".into(),
            Failure::NoTwinsOnThisTier => "The hub is on a Basic tier (B1, B2 or B3), which carries device-to-cloud messages only: no device twins, direct methods or cloud-to-device messages.".into(),
            Failure::MethodRefused { status: 401, .. } => "The service key used to call the method is wrong, or its policy lacks ServiceConnect.".into(),
            Failure::MethodRefused { status: 404, .. } => "The device's connection did not take method calls, or it was gone before the call arrived.".into(),
            Failure::MethodRefused { status: 504, .. } => "The device got the call but its answer did not reach the hub in time: something on the way delays MQTT traffic.".into(),
            Failure::MethodRefused { .. } => "The hub, or something in front of it, answered in a way Azure IoT Hub does not.".into(),
            Failure::MethodAnsweredWrongly { .. } => "The hub passed on something other than what the device answered.".into(),
            Failure::ProxyRefused { .. } => "The proxy does not allow tunnels to Azure IoT Hub, or it needs credentials.".into(),
            Failure::ProxyForbidden { .. } => "The proxy's rules allow only some hosts or ports, and this one is not among them.".into(),
            Failure::ProxyNameUnknown { .. } => "The hub name in HostName is misspelt or the hub was deleted, or the proxy's own name service cannot look up Azure's names.".into(),
            Failure::ProxyCannotReach { .. } => "The proxy could not connect onward: the hub is not answering there, or the proxy's own network blocks it.".into(),
            Failure::ProxyUnreachable { .. } => "The proxy's address in the settings is wrong, or the proxy is down.".into(),
            Failure::ProxyNeedsCredentials { schemes, .. } if !hubsetup_net::offers_basic(schemes) => {
                "The proxy wants your Windows sign-in (NTLM or Kerberos), which IoT Hub Setup cannot give it yet.".into()
            }
            Failure::ProxyNeedsCredentials { rejected: true, .. } => "The user name or password for the proxy is wrong, or has changed.".into(),
            Failure::ProxyNeedsCredentials { .. } => "The network's proxy lets only people who sign in through.".into(),
            Failure::CertificateUntrusted { issuer: Some(issuer), .. } => format!(
                "A TLS-inspecting proxy or security product on this network ({issuer}) replaces Azure's certificate with its own."
            ),
            Failure::CertificateUntrusted { issuer: None, .. } => {
                "A TLS-inspecting proxy or security product on this network replaces Azure's certificate with its own.".into()
            }
            Failure::CertificateWrongHost { .. } => {
                "A proxy or security product answers in the hub's place, or DNS sends the hub's name to another server.".into()
            }
            Failure::CertificateExpired { .. } => {
                "A TLS-inspecting proxy serves an outdated certificate, or this computer's date is wrong.".into()
            }
            Failure::TlsFailed { .. } => "A proxy or firewall interferes with secure connections, or the hub requires a newer TLS version.".into(),
            Failure::Unauthorized { clock_skew_secs: Some(skew), .. } => format!(
                "This computer's clock is {} {} the hub's, so the hub saw the short-lived token as expired or not yet valid.",
                duration_words(*skew),
                if *skew > 0 { "ahead of" } else { "behind" }
            ),
            Failure::Unauthorized { policy: Some(policy), .. } => format!(
                "The key of policy '{policy}' is wrong or was regenerated, the policy lacks the DeviceConnect permission, or a device's key was pasted where the policy's belongs."
            ),
            Failure::Unauthorized { device, .. } => format!(
                "The key is wrong or was regenerated since the string was copied, or it belongs to another device than '{device}' or to a shared access policy."
            ),
            Failure::DeviceNotFound { .. } => "The DeviceId is misspelt (IDs are case-sensitive), the device entry was deleted, or it is disabled.".into(),
            Failure::HubNotFound { .. } => "The hub was deleted or is still being created.".into(),
            Failure::QuotaExceeded { .. } => "All of today's messages for this hub's tier and units have been used; the quota resets at midnight UTC.".into(),
            Failure::NetworkRefused { .. } => {
                "The hub's networking settings (public network access off, an IP filter or a network rule) refuse senders outside the customer's network.".into()
            }
            Failure::MessageTooLarge { .. } => "The hub's limit is 256 KB per message; this should not happen with the small test message.".into(),
            Failure::Throttled { .. } => "The hub is sending more messages than its tier and units allow per second.".into(),
            Failure::ServiceUnavailable { .. } => "Azure IoT Hub has a temporary problem in this region.".into(),
            Failure::ConnectionDropped { .. } => "A proxy, firewall or unstable network cuts the connection.".into(),
            Failure::NoAnswer { .. } => "The network is very slow, or a proxy holds the request.".into(),
            Failure::Unexpected { .. } => "The hub, or something in front of it, answered in a way Azure IoT Hub does not.".into(),
            Failure::NotLanded { .. } => "Message routing sends the hub's messages to other endpoints only (a route that leaves out the built-in \"events\" endpoint), or the endpoint is slow right now.".into(),
            Failure::CannotReadBack(_) => "The key or consumer group given for reading back does not allow reading the hub's Event Hub-compatible endpoint, or this network keeps the app from reaching it.".into(),
        }
    }

    /// What to do next.
    pub fn fix(&self) -> String {
        match self {
            Failure::Unusable(_) => "Correct the string (`hubsetup check` explains each problem), then test again.".into(),
            Failure::HostNotFound { .. } => "Compare HostName with the hub's Overview page in the Azure portal; if it is right, try from another network.".into(),
            Failure::DnsFailed { .. } => "Check this computer's network connection and DNS settings, then test again.".into(),
            Failure::ConnectionRefused { port: 443, .. } | Failure::ConnectTimeout { port: 443, .. } | Failure::ConnectFailed { port: 443, .. } => {
                "Ask the network administrator to allow outgoing HTTPS (port 443) to *.azure-devices.net, or set HTTPS_PROXY if the network needs a proxy.".into()
            }
            Failure::ConnectionRefused { port, .. } | Failure::ConnectTimeout { port, .. } | Failure::ConnectFailed { port, .. } => format!(
                "Ask the network administrator to allow outgoing {} (port {port}) to *.azure-devices.net, or set the client's transport to {}, which uses port 443.",
                own_port_protocol(*port),
                own_port_setting(*port)
            ),
            Failure::OwnPortBehindProxy { port, .. } => format!(
                "Set the client's transport to {} and give it the proxy, or test from a network without a proxy.",
                own_port_setting(*port)
            ),
            Failure::WebSocketRefused { .. } => "Ask the network administrator to allow WebSockets to *.azure-devices.net (path /$iothub/websocket), or use the protocol's own port.".into(),
            Failure::MqttSignInRefused { code: 4 | 5, .. } => "Look at the HTTPS test's result, which names the exact reason; then copy the Primary Connection String again from IoT Hub → Devices, or enable the device.".into(),
            Failure::MqttSignInRefused { .. } => "Test again in a minute; if it persists, check that HostName is the hub's real host name.".into(),
            Failure::ClosedWithoutAcknowledgement { .. } => "Look at the HTTPS or AMQP test's result, which names the hub's reason; test again in a minute.".into(),
            Failure::AmqpRefused { .. } => "Test again; if it persists, report the hub's answer above to IoT Hub Setup's developers.".into(),
            Failure::NoTwinsOnThisTier => "If the partner needs twins, methods or cloud-to-device messages, change the hub to a Standard tier (IoT Hub → Pricing and scale); device-to-cloud messages work as they are.".into(),
            Failure::MethodRefused { status: 401, .. } => "Sign in again, or give the hub's service connection string (a policy with ServiceConnect), then test again.".into(),
            Failure::MethodRefused { .. } | Failure::MethodAnsweredWrongly { .. } => "Test again; if it persists, try from another network or report the hub's answer to IoT Hub Setup's developers.".into(),
            Failure::ProxyForbidden { port, .. } => format!("Ask the network administrator to allow CONNECT to *.azure-devices.net on port {port} through the proxy."),
            Failure::ProxyNameUnknown { .. } => "Compare HostName with the hub's Overview page in the Azure portal; if it is right, ask the network administrator why the proxy cannot look it up.".into(),
            Failure::ProxyCannotReach { .. } => "Test again in a few minutes; if it keeps failing, ask the network administrator whether the proxy may reach *.azure-devices.net.".into(),
            Failure::ProxyUnreachable { .. } => "Check the proxy's address (HTTPS_PROXY or the system's proxy settings) and that the proxy is running, then test again.".into(),
            Failure::ProxyRefused { .. } => "Ask the network administrator to allow CONNECT to *.azure-devices.net:443 through the proxy, or give the proxy's credentials in HTTPS_PROXY (http://user:password@proxy:port).".into(),
            Failure::ProxyNeedsCredentials { schemes, .. } if !hubsetup_net::offers_basic(schemes) => {
                "Ask the network administrator to let *.azure-devices.net through the proxy without sign-in, or for a proxy account with a user name and password (Basic).".into()
            }
            Failure::ProxyNeedsCredentials { .. } => {
                "Sign in to the proxy with your network user name and password (the app asks; in a terminal run `hubsetup proxy sign-in`); they are kept in the system's credential store. Then test again.".into()
            }
            Failure::CertificateUntrusted { .. } | Failure::CertificateWrongHost { .. } | Failure::CertificateExpired { .. } => {
                "Ask the network administrator for the proxy's root certificate and trust it with --ca-bundle FILE.pem, or exempt *.azure-devices.net from TLS inspection.".into()
            }
            Failure::TlsFailed { .. } => "Test from another network; if it works there, ask the network administrator about TLS inspection.".into(),
            Failure::Unauthorized { clock_skew_secs: Some(_), .. } => {
                "Set this computer's clock to the correct time (turn on automatic date and time), then test again.".into()
            }
            Failure::Unauthorized { policy: Some(_), .. } => {
                "Copy the policy's connection string again (IoT Hub → Shared access policies) and check it has DeviceConnect, or test with the device's own connection string.".into()
            }
            Failure::Unauthorized { device, .. } => format!(
                "Copy the Primary Connection String again from IoT Hub → Devices → {device}, then test again."
            ),
            Failure::DeviceNotFound { device, .. } => format!(
                "Check that '{device}' is listed and enabled under IoT Hub → Devices; create or enable it, or correct the DeviceId."
            ),
            Failure::HubNotFound { .. } => "Check the hub in the Azure portal; if it is being created, wait a minute and test again.".into(),
            Failure::QuotaExceeded { .. } => "Wait until after midnight UTC, or add units or choose a larger tier (IoT Hub → Pricing and scale).".into(),
            Failure::NetworkRefused { .. } => "In IoT Hub → Networking, allow public network access (or add the partner's addresses to the IP filter), then test again.".into(),
            Failure::MessageTooLarge { .. } => "Report this to IoT Hub Setup's developers.".into(),
            Failure::Throttled { .. } => "Test again in a minute; if it persists, add units or choose a larger tier.".into(),
            Failure::ServiceUnavailable { .. } => "Test again in a few minutes and check Azure's status page for IoT Hub in the hub's region.".into(),
            Failure::ConnectionDropped { .. } => "Test again; if it keeps happening, try another network or ask the network administrator about the proxy or firewall.".into(),
            Failure::NoAnswer { .. } => "Test again; if it keeps happening, try another network.".into(),
            Failure::Unexpected { .. } => "Check that HostName is the hub's real host name and that no proxy rewrites traffic, then test again.".into(),
            Failure::NotLanded { .. } => "In IoT Hub → Message routing, make sure a route (or the fallback route) sends to the built-in endpoint \"events\", then test again.".into(),
            Failure::CannotReadBack(_) => "Do what the message above says, or test without reading back: the send itself worked.".into(),
        }
    }

    /// Whether this network, not the hub or the string, stopped the test: the protocol's port
    /// or its WebSocket is blocked, or something on the way intercepts TLS.
    pub fn is_network_blocked(&self) -> bool {
        matches!(
            self,
            Failure::ConnectionRefused { .. }
                | Failure::ConnectTimeout { .. }
                | Failure::ConnectFailed { .. }
                | Failure::OwnPortBehindProxy { .. }
                | Failure::WebSocketRefused { .. }
                | Failure::ProxyRefused { .. }
                | Failure::ProxyForbidden { .. }
                | Failure::CertificateUntrusted { .. }
                | Failure::CertificateWrongHost { .. }
                | Failure::CertificateExpired { .. }
                | Failure::TlsFailed { .. }
        )
    }

    pub fn diagnosis(&self) -> Diagnosis {
        Diagnosis {
            kind: self.kind(),
            summary: self.to_string(),
            cause: self.cause(),
            fix: self.fix(),
        }
    }
}

impl Failure {
    /// A connection that did not open, on Azure's `port`.
    pub(crate) fn connecting(error: hubsetup_net::ConnectError, port: u16) -> Failure {
        use hubsetup_net::ConnectError;
        match error {
            ConnectError::NotFound { looked_up } => Failure::HostNotFound { host: looked_up },
            ConnectError::LookupFailed { looked_up, detail } => Failure::DnsFailed {
                host: looked_up,
                detail,
            },
            ConnectError::Timeout { address, seconds } => Failure::ConnectTimeout {
                address: address.to_string(),
                port,
                seconds,
            },
            ConnectError::Refused { address } => Failure::ConnectionRefused {
                address: address.to_string(),
                port,
            },
            ConnectError::Failed { address, detail } => Failure::ConnectFailed {
                address: address.to_string(),
                port,
                detail,
            },
            ConnectError::Proxy(tunnel) => Failure::from(tunnel),
        }
    }
}

impl From<hubsetup_net::TunnelError> for Failure {
    fn from(error: hubsetup_net::TunnelError) -> Failure {
        use hubsetup_net::TunnelError;
        match error {
            TunnelError::NeedsLogin {
                proxy,
                schemes,
                rejected,
            } => Failure::ProxyNeedsCredentials {
                proxy,
                schemes,
                rejected,
            },
            TunnelError::Forbidden { proxy, host, port } => {
                Failure::ProxyForbidden { proxy, host, port }
            }
            TunnelError::NameUnknown {
                proxy,
                host,
                answer,
            } => Failure::ProxyNameUnknown {
                proxy,
                host,
                answer,
            },
            TunnelError::CannotReach {
                proxy,
                host,
                port,
                answer,
            } => Failure::ProxyCannotReach {
                proxy,
                host,
                port,
                answer,
            },
            TunnelError::ProxyUnreachable { proxy, detail } => {
                Failure::ProxyUnreachable { proxy, detail }
            }
            TunnelError::Refused {
                proxy,
                host,
                answer,
            } => Failure::ProxyRefused {
                proxy,
                host,
                answer,
            },
        }
    }
}
