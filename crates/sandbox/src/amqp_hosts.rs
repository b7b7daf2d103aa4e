//! Which AMQP server a connection on 5671 (or on a WebSocket on 443) reaches, by the host it
//! names: an Event Hubs namespace (`eventhubs`), or a hub's own host for devices and services
//! (`hub_amqp`), as DNS names select them in Azure.

use std::sync::Arc;

use crate::eventhubs::{hub_of_host, hub_of_namespace, Endpoints};

/// Serves AMQP on an open stream to `host`; a host the sandbox does not serve is closed.
pub(crate) async fn serve_amqp<S>(stream: S, host: String, endpoints: Arc<Endpoints>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + std::fmt::Debug + Send + Unpin + 'static,
{
    let suffix = endpoints.config.suffix.clone();
    if let Some(hub) = hub_of_namespace(&host, &suffix).map(str::to_owned) {
        crate::eventhubs::serve_namespace(stream, host, hub, endpoints).await;
    } else if let Some(hub) = hub_of_host(&host, &suffix).map(str::to_owned) {
        crate::hub_amqp::serve(stream, host, hub, endpoints).await;
    }
}
