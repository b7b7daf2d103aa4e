//! Everything that can go wrong reading a hub's events, in words for the person reading.

/// Why events could not be read. No message holds a key or token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventsError {
    #[error("This is not an Event Hub-compatible connection string. Copy it from the hub's \"Built-in endpoints\" page in the Azure portal (it starts with Endpoint=sb://), or sign in so the app finds it.")]
    NotAnEventHubString,
    #[error("A device connection string can send messages but not read them. Ask the hub's owner for the Event Hub-compatible connection string of a policy with the ServiceConnect right (the hub's \"service\" policy, on its \"Built-in endpoints\" page), or sign in.")]
    DeviceStringCannotRead,
    #[error("This is the hub's own connection string. Paste the Event Hub-compatible one instead, from the hub's \"Built-in endpoints\" page in the Azure portal (it starts with Endpoint=sb://), or sign in so the app finds it.")]
    HubStringNeedsEndpoint,
    #[error("The hub refused the connection string of the policy \"{policy}\": its key is wrong, or the policy may not read (it lacks the ServiceConnect right). Copy the \"service\" policy's connection string from the hub's \"Shared access policies\" page, or the Event Hub-compatible one from \"Built-in endpoints\".")]
    HubStringRefused { policy: String },
    #[error("The endpoint refused to sign in ({0}).")]
    SignInRefused(String),
    #[error("The connection string has no EntityPath (the event hub's name). Copy the whole Event Hub-compatible connection string from the hub's \"Built-in endpoints\" page.")]
    MissingEntityPath,
    #[error("Could not reach {host} on port {port}: {detail}. Check this computer's network connection; if the network goes out through a proxy, set it (HTTPS_PROXY, or the system's proxy settings).")]
    Unreachable {
        host: String,
        port: u16,
        detail: String,
    },
    #[error("Could not reach {host} on AMQP's port 5671 ({on_amqp_port}) nor over WebSockets on port 443 ({on_https_port}). A firewall may block both; ask the network's administrators to allow outgoing port 5671 or 443 to *.servicebus.windows.net, or set the network's proxy (HTTPS_PROXY).")]
    Blocked {
        host: String,
        on_amqp_port: String,
        on_https_port: String,
    },
    /// A proxy answered and did not open the tunnel: its own words, and what to do.
    #[error("{}. {}", reason.summary(), reason.fix())]
    Proxy { reason: hubsetup_net::TunnelError },
    #[error("The secure connection to {host} failed: {detail}. A proxy or security product may be inspecting TLS: trust its root certificate with --ca-bundle FILE.pem (or the app's network settings), or ask its administrators to exempt *.servicebus.windows.net and *.azure-devices.net.")]
    TlsFailed { host: String, detail: String },
    #[error("The endpoint refused the key: the signature is not valid. Copy the connection string again; the key may have been regenerated.")]
    WrongKey,
    #[error("The endpoint refused the token as expired. Check that this computer's clock and time zone are right, then try again.")]
    TokenExpired,
    #[error("The policy \"{policy}\" may not read events: it lacks the ServiceConnect right. Use the hub's \"service\" or \"iothubowner\" policy, or a policy with ServiceConnect.")]
    NoReadRight { policy: String },
    #[error("No shared access policy of the hub \"{hub}\" may read events (none has the ServiceConnect right). Add one in the portal (\"Shared access policies\", with Service connect), or ask the hub's owner for the Event Hub-compatible connection string of one.")]
    NoPolicyCanRead { hub: String },
    #[error("This hub has local (key) authentication turned off, and its built-in Event Hub-compatible endpoint only takes keys. Ask the hub's owner to turn local authentication on, or to route messages to an Event Hub that allows Microsoft Entra sign-in.")]
    LocalAuthDisabled,
    #[error("The consumer group \"{group}\" does not exist on this hub. Create it (in the portal under \"Built-in endpoints\", or let the app create one), or name one that exists.")]
    ConsumerGroupMissing { group: String },
    #[error("Partition {partition} does not exist on this hub's endpoint.")]
    PartitionMissing { partition: String },
    #[error("Five readers already read partition {partition} in consumer group \"{group}\", the most Event Hubs allows. Read with a consumer group of your own, or stop one of the other readers.")]
    TooManyReaders { group: String, partition: String },
    #[error("Another reader took over partition {partition} of consumer group \"{group}\": it asked for exclusive access (a higher epoch), as Stream Analytics, Azure Functions and event processors do. Read with a consumer group of your own so that neither disturbs the other.")]
    TakenOver { group: String, partition: String },
    #[error("The endpoint refused: {description} ({condition}).")]
    Endpoint {
        condition: String,
        description: String,
    },
    #[error("The connection to the endpoint was lost: {0}.")]
    Lost(String),
}

impl EventsError {
    /// Whether the network, not the string or the hub, stopped the reader.
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            EventsError::Unreachable { .. }
                | EventsError::Blocked { .. }
                | EventsError::Proxy { .. }
                | EventsError::TlsFailed { .. }
                | EventsError::Lost(_)
        )
    }
}
