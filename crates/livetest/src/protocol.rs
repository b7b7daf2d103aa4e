//! The protocols a device may send with, as Azure's device SDKs name them, and what the matrix
//! of their results means for a partner: which transport to set when its own port is blocked.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A way to send device-to-cloud messages to IoT Hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// HTTPS on 443.
    Https,
    /// MQTT 3.1.1 over TLS on 8883.
    Mqtt,
    /// MQTT over a WebSocket on 443 (`/$iothub/websocket`, subprotocol `mqtt`).
    MqttWs,
    /// AMQP 1.0 over TLS on 5671.
    Amqp,
    /// AMQP over a WebSocket on 443 (`/$iothub/websocket`, subprotocol `AMQPWSB10`).
    AmqpWs,
}

/// Where a hub's host takes WebSockets.
pub(crate) const WEBSOCKET_PATH: &str = "/$iothub/websocket";

impl Protocol {
    /// Every protocol, in the order the matrix shows them.
    pub const ALL: [Protocol; 5] = [
        Protocol::Https,
        Protocol::Mqtt,
        Protocol::MqttWs,
        Protocol::Amqp,
        Protocol::AmqpWs,
    ];

    /// The name on the command line (`--protocol mqtt,amqp-ws`).
    pub fn id(self) -> &'static str {
        match self {
            Protocol::Https => "https",
            Protocol::Mqtt => "mqtt",
            Protocol::MqttWs => "mqtt-ws",
            Protocol::Amqp => "amqp",
            Protocol::AmqpWs => "amqp-ws",
        }
    }

    /// The name for people.
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Https => "HTTPS",
            Protocol::Mqtt => "MQTT",
            Protocol::MqttWs => "MQTT over WebSockets",
            Protocol::Amqp => "AMQP",
            Protocol::AmqpWs => "AMQP over WebSockets",
        }
    }

    /// Azure's port for it.
    pub fn port(self) -> u16 {
        match self {
            Protocol::Https | Protocol::MqttWs | Protocol::AmqpWs => 443,
            Protocol::Mqtt => 8883,
            Protocol::Amqp => 5671,
        }
    }

    /// The transport setting Azure's device SDKs use for it (`TransportType.Mqtt_WebSocket_Only`
    /// in C#, `MqttWs` in Node, `websockets=True` in Python all name MQTT_WS).
    pub fn transport_setting(self) -> &'static str {
        match self {
            Protocol::Https => "HTTP",
            Protocol::Mqtt => "MQTT",
            Protocol::MqttWs => "MQTT_WS",
            Protocol::Amqp => "AMQP",
            Protocol::AmqpWs => "AMQP_WS",
        }
    }

    /// The WebSocket subprotocol it is carried in, for the two that go over WebSockets.
    pub(crate) fn websocket(self) -> Option<&'static str> {
        match self {
            Protocol::MqttWs => Some("mqtt"),
            Protocol::AmqpWs => Some("AMQPWSB10"),
            _ => None,
        }
    }

    /// The protocol whose own port is `port`: MQTT's 8883, else AMQP's 5671.
    pub(crate) fn on_own_port(port: u16) -> Protocol {
        if port == Protocol::Mqtt.port() {
            Protocol::Mqtt
        } else {
            Protocol::Amqp
        }
    }

    /// The same protocol over WebSockets on 443.
    pub(crate) fn over_websockets(self) -> Protocol {
        match self {
            Protocol::Mqtt | Protocol::MqttWs => Protocol::MqttWs,
            Protocol::Amqp | Protocol::AmqpWs => Protocol::AmqpWs,
            Protocol::Https => Protocol::Https,
        }
    }

    /// The same protocol on the other port: its WebSocket form, or its own port's.
    fn counterpart(self) -> Option<Protocol> {
        match self {
            Protocol::Mqtt => Some(Protocol::MqttWs),
            Protocol::MqttWs => Some(Protocol::Mqtt),
            Protocol::Amqp => Some(Protocol::AmqpWs),
            Protocol::AmqpWs => Some(Protocol::Amqp),
            Protocol::Https => None,
        }
    }

    /// `mqtt,amqp-ws` (or `all`) as protocols, each once, in the order given.
    pub fn parse_list(text: &str) -> Result<Vec<Protocol>, String> {
        let mut protocols = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name.eq_ignore_ascii_case("all") {
                protocols.extend(Protocol::ALL);
                continue;
            }
            let protocol = Protocol::ALL
                .into_iter()
                .find(|p| p.id().eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    format!(
                        "'{name}' is not a protocol the live test knows: use {} or all.",
                        Protocol::ALL.map(Protocol::id).join(", ")
                    )
                })?;
            protocols.push(protocol);
        }
        let mut seen = Vec::new();
        protocols.retain(|p| {
            let first = !seen.contains(p);
            seen.push(*p);
            first
        });
        if protocols.is_empty() {
            return Err(
                "Name at least one protocol: https, mqtt, mqtt-ws, amqp, amqp-ws or all.".into(),
            );
        }
        Ok(protocols)
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// What to tell the partner, from which protocols worked: for each protocol that failed only
/// because of this network while its other form worked, the setting that gets through.
pub(crate) fn advice(results: &[(Protocol, bool, bool)]) -> Vec<String> {
    let worked = |protocol: Protocol| results.iter().any(|(p, ok, _)| *p == protocol && *ok);
    let mut advice = Vec::new();
    for (protocol, ok, blocked_here) in results {
        if *ok || !*blocked_here {
            continue;
        }
        let port = protocol.port();
        let sentence = match protocol.counterpart().filter(|other| worked(*other)) {
            Some(other) => format!(
                "{protocol} on {port} is blocked from this network; {other} on {} works: set the client's transport to {}.",
                other.port(),
                other.transport_setting()
            ),
            None => format!(
                "{protocol} on {port} is blocked from this network; ask the network administrator to allow outgoing port {port} to *.azure-devices.net for clients that use {protocol}."
            ),
        };
        advice.push(sentence);
    }
    if !results.is_empty() && results.iter().all(|(_, ok, _)| *ok) {
        advice.push(format!(
            "Every protocol tested works from this network ({}).",
            results
                .iter()
                .map(|(p, _, _)| p.label())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    advice
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_read_in_order_once_and_wrong_names_are_explained() {
        assert_eq!(
            Protocol::parse_list("mqtt, amqp-ws,MQTT").unwrap(),
            [Protocol::Mqtt, Protocol::AmqpWs]
        );
        assert_eq!(Protocol::parse_list("all").unwrap(), Protocol::ALL);
        assert_eq!(
            Protocol::parse_list("mqtt,coap").unwrap_err(),
            "'coap' is not a protocol the live test knows: use https, mqtt, mqtt-ws, amqp, amqp-ws or all."
        );
        assert!(Protocol::parse_list(" , ").is_err());
    }

    #[test]
    fn a_blocked_port_is_answered_with_the_transport_that_works() {
        let advice = advice(&[
            (Protocol::Https, true, false),
            (Protocol::Mqtt, false, true),
            (Protocol::MqttWs, true, false),
            (Protocol::Amqp, false, true),
            (Protocol::AmqpWs, false, false),
        ]);
        assert_eq!(
            advice,
            [
                "MQTT on 8883 is blocked from this network; MQTT over WebSockets on 443 works: set the client's transport to MQTT_WS.",
                "AMQP on 5671 is blocked from this network; ask the network administrator to allow outgoing port 5671 to *.azure-devices.net for clients that use AMQP.",
            ]
        );
    }
}
