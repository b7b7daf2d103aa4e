//! A strict local stand-in for Azure: Entra ID sign-in, Azure Resource Manager with the
//! Microsoft.Devices provider, and IoT Hub's registry and device-to-cloud endpoints, all over
//! HTTPS on loopback.
//!
//! It is a test oracle: SAS signatures, expiry and scope, bearer tokens, etags, quotas, tiers
//! and long-running operations are checked as `shared/reference/azure-iot-hub.md` describes,
//! and answers carry Azure's status codes, error codes and body shapes. Hosts look like
//! Azure's (`login.`, `management.` and `{hub}.azure-devices.` under [`SandboxConfig::suffix`]);
//! clients reach them through [`Cloud::loopback`] instead of DNS. It also serves public-key
//! lookups (Web Key Directory, a VKS key server, Keybase) for the hand-off, see [`keys`], and
//! Azure's retail price list for the Tier step, see [`prices`].
//!
//! Start it in-process with [`Sandbox::start`] (its own runtime thread, so it works from sync
//! and async code alike) or as a process with `hubsetup sandbox`.

// An error answer is a whole HTTP response, returned early from checks; boxing it buys nothing.
#![allow(clippy::result_large_err)]

mod amqp;
mod amqp_hosts;
mod app;
mod arm;
mod dns;
mod entra;
mod eventhubs;
mod faults;
mod graph;
mod http;
mod hub;
mod hub_amqp;
mod jobs;
pub mod keys;
mod messages;
mod monitor;
mod mqtt;
pub mod prices;
mod refusal;
mod routing;
mod server;
pub mod state;
mod storage;
mod tls;
mod twins;
mod websocket;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hubsetup_core::{Cloud, ConnectionString, SharedAccessKey};
use tokio::sync::oneshot;

pub use eventhubs::ReceivedMessage;
pub use faults::{Fault, FaultRule};
#[doc(hidden)]
pub use routing::bench_route;
pub use storage::{find_azurite, WITHOUT_AZURITE};

/// Why the sandbox could not start or keep its state.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("The sandbox could not listen on {address}: {source}. Choose another port, or 0 for any free one.")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("The sandbox could not make its certificates: {0}.")]
    Tls(String),
    #[error("The sandbox's state could not be kept: {0}. Check that the state directory exists and is writable.")]
    State(String),
    #[error("The sandbox could not start its worker threads: {0}.")]
    Runtime(std::io::Error),
}

/// How the sandbox behaves; the defaults suit a person walking the wizard, tests shorten the
/// waits.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// 0 picks a free port.
    pub port: u16,
    /// Where state, the CA and its key are kept across restarts; `None` keeps all in memory.
    pub state_dir: Option<PathBuf>,
    /// The domain under which the sandbox's hosts live.
    pub suffix: String,
    /// How long hub creation and updates stay `Running`.
    pub hub_provisioning_time: Duration,
    /// The `Retry-After` the sandbox asks for while operations run.
    pub retry_after_secs: u32,
    /// How many polls of a device code answer `authorization_pending` before tokens are given
    /// (unless the code is entered on the sign-in page first).
    pub device_code_pending_polls: u32,
    pub device_code_interval_secs: u32,
    pub access_token_lifetime: Duration,
    /// Overrides every hub's daily message quota (normally set by tier and units).
    pub daily_message_quota: Option<u64>,
    /// The loopback port of the Event Hub-compatible endpoints (AMQP over TLS, Azure's 5671);
    /// 0 picks a free one.
    pub amqp_port: u16,
    /// The loopback port of the hubs' MQTT endpoints for devices (over TLS, Azure's 8883);
    /// 0 picks a free one.
    pub mqtt_port: u16,
    /// How much faster than Azure's clock routing batches storage writes: 60 writes a
    /// 60-second batch after one second. 1 is Azure's pace.
    pub routing_time_scale: u32,
    /// Azurite's `azurite-blob` program, which plays the storage accounts' Blob service; `None`
    /// leaves storage accounts without data.
    pub azurite: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> SandboxConfig {
        SandboxConfig {
            port: 0,
            state_dir: None,
            suffix: "sandbox.test".into(),
            hub_provisioning_time: Duration::from_secs(8),
            retry_after_secs: 2,
            device_code_pending_polls: 2,
            device_code_interval_secs: 1,
            access_token_lifetime: Duration::from_secs(3600),
            daily_message_quota: None,
            amqp_port: 0,
            mqtt_port: 0,
            azurite: None,
            routing_time_scale: 1,
        }
    }
}

impl SandboxConfig {
    /// Short waits for tests and demos: hubs are ready in 300 ms, device codes at the first
    /// poll, and `Retry-After` asks for one second.
    pub fn fast() -> SandboxConfig {
        SandboxConfig {
            hub_provisioning_time: Duration::from_millis(300),
            retry_after_secs: 1,
            device_code_pending_polls: 0,
            device_code_interval_secs: 0,
            ..SandboxConfig::default()
        }
    }
}

/// A running sandbox. Dropping it stops the server.
pub struct Sandbox {
    app: Arc<app::App>,
    address: SocketAddr,
    /// Where the hubs' Event Hub-compatible endpoints take AMQP (Azure's port 5671).
    amqp_address: SocketAddr,
    mqtt_address: SocketAddr,
    ca_pem: String,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Starts a sandbox on loopback with its own runtime thread.
    pub fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        if let Some(dir) = &config.state_dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                SandboxError::State(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let state = match &config.state_dir {
            Some(dir) => state::State::load(dir)?.unwrap_or_else(state::State::seeded),
            None => state::State::seeded(),
        };
        if let Some(dir) = &config.state_dir {
            state.save(dir)?;
        }
        let faults = Arc::new(faults::Faults::default());
        let authority = tls::Authority::load_or_create(config.state_dir.as_deref())?;
        let resolver = Arc::new(tls::CertificateResolver::new(
            &authority,
            &config.suffix,
            faults.clone(),
        )?);
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls::server_config(
            resolver.clone(),
            &[b"http/1.1"],
        )?));
        let amqp_acceptor =
            tokio_rustls::TlsAcceptor::from(Arc::new(tls::server_config(resolver, &[])?));
        let mqtt_acceptor = amqp_acceptor.clone();

        let (listener, dns_socket) = bind(config.port)?;
        let address = listener.local_addr().map_err(SandboxError::Runtime)?;
        listener
            .set_nonblocking(true)
            .map_err(SandboxError::Runtime)?;
        let (amqp_listener, amqp_address) = bind_loopback(config.amqp_port)?;
        let (mqtt_listener, mqtt_address) = bind_loopback(config.mqtt_port)?;
        dns_socket
            .set_nonblocking(true)
            .map_err(SandboxError::Runtime)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hubsetup-sandbox")
            .enable_all()
            .build()
            .map_err(SandboxError::Runtime)?;
        let (outbox, routed) = tokio::sync::mpsc::unbounded_channel();
        let (job_queue, jobs) = tokio::sync::mpsc::unbounded_channel();
        let mut state = state;
        state.outbox = Some(outbox);
        state.job_queue = Some(job_queue);
        let state = Arc::new(Mutex::new(state));
        let event_hubs = Arc::new(eventhubs::Endpoints {
            state: state.clone(),
            config: config.clone(),
            faults: faults.clone(),
            readers: eventhubs::Readers::default(),
        });
        let storage = Arc::new(storage::Storage::new(
            config.azurite.clone(),
            config.state_dir.as_deref(),
            &config.suffix,
        ));
        let app = Arc::new(app::App {
            storage,
            config,
            state,
            faults,
            event_hubs,
            sessions: Default::default(),
        });
        let (shutdown, stopped) = oneshot::channel();
        let server_app = app.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("hubsetup-sandbox".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let sockets = tokio::net::TcpListener::from_std(listener).and_then(|tcp| {
                        Ok((
                            tcp,
                            tokio::net::UdpSocket::from_std(dns_socket)?,
                            tokio::net::TcpListener::from_std(amqp_listener)?,
                            tokio::net::TcpListener::from_std(mqtt_listener)?,
                        ))
                    });
                    match sockets {
                        Ok((listener, dns_socket, amqp_listener, mqtt_listener)) => {
                            let _ = ready_tx.send(Ok(()));
                            tokio::spawn(routing::writer::run(
                                routed,
                                server_app.state.clone(),
                                server_app.storage.clone(),
                                server_app.config.routing_time_scale,
                            ));
                            tokio::spawn(monitor::evaluate::run(server_app.state.clone()));
                            tokio::spawn(jobs::run(
                                jobs,
                                server_app.state.clone(),
                                server_app.storage.clone(),
                            ));
                            tokio::spawn(dns::serve(dns_socket, server_app.clone()));
                            let endpoints = server_app.event_hubs.clone();
                            tokio::spawn(tls::serve_tls(
                                amqp_listener,
                                amqp_acceptor,
                                move |stream, host| {
                                    amqp_hosts::serve_amqp(stream, host, endpoints.clone())
                                },
                            ));
                            let app = server_app.clone();
                            tokio::spawn(tls::serve_tls(
                                mqtt_listener,
                                mqtt_acceptor,
                                move |stream, host| mqtt::serve_mqtt(stream, host, app.clone()),
                            ));
                            server::serve(listener, acceptor, server_app, stopped).await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(SandboxError::Runtime)?;
        ready_rx
            .recv()
            .map_err(|_| {
                SandboxError::Runtime(std::io::Error::other("the server thread ended early"))
            })?
            .map_err(SandboxError::Runtime)?;
        Ok(Sandbox {
            app,
            address,
            amqp_address,
            mqtt_address,
            ca_pem: authority.cert_pem,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.app.config
    }

    /// The loopback address every sandbox host is served on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Where the hubs' Event Hub-compatible endpoints take AMQP over TLS.
    pub fn amqp_address(&self) -> SocketAddr {
        self.amqp_address
    }

    /// Where the hubs take MQTT from devices (Azure's port 8883).
    pub fn mqtt_address(&self) -> SocketAddr {
        self.mqtt_address
    }

    /// Whether storage accounts hold data: Azurite was given and found.
    pub fn has_storage(&self) -> bool {
        self.app.storage.available()
    }

    /// The CA certificate (PEM) that clients must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The sandbox as a cloud for the core's clients.
    pub fn cloud(&self) -> Cloud {
        let suffix = &self.app.config.suffix;
        Cloud {
            id: "sandbox".into(),
            display_name: "Sandbox (no Azure account needed)".into(),
            login_endpoint: format!("https://login.{suffix}"),
            arm_endpoint: format!("https://management.{suffix}"),
            iot_hub_suffix: format!("azure-devices.{suffix}"),
            storage_suffix: format!("core.{suffix}"),
            extra_root_ca_pem: Some(self.ca_pem.clone()),
            loopback: Some(self.address),
            loopback_ports: [
                (5671, self.amqp_address.port()),
                (8883, self.mqtt_address.port()),
            ]
            .into(),
            dns_server: Some(self.address),
            key_server: format!("https://keys.{suffix}"),
            keybase: format!("https://keybase.{suffix}"),
            retail_prices: Some(format!("https://prices.{suffix}")),
        }
    }

    /// The host name of hub `hub`.
    pub fn hub_host(&self, hub: &str) -> String {
        format!(
            "{}.azure-devices.{}",
            hub.to_ascii_lowercase(),
            self.app.config.suffix
        )
    }

    /// Runs `f` on the sandbox's state, to arrange a situation for a test (disable a device,
    /// break a hub's network settings) or to look at the outcome. Changes are saved.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut state::State) -> R) -> R {
        let mut state = self.app.state.lock().expect("state lock");
        let result = f(&mut state);
        if let Some(dir) = &self.app.config.state_dir {
            // A test helper: a failure to save shows up as a lost change in the test itself.
            let _ = state.save(dir);
        }
        result
    }

    /// Lets `by` pass for `hub` without a message, as the control endpoint's
    /// `POST /hubs/{hub}/time-passes` does: its measurements and devices' activity move into
    /// the past, and its alert rules are evaluated.
    pub fn let_time_pass(&self, hub: &str, by: std::time::Duration) {
        self.with_state(|s| monitor::evaluate::time_passes(s, hub, by.as_millis() as u64));
    }

    /// What Azure Monitor's action groups have e-mailed so far, oldest first.
    pub fn mail(&self) -> Vec<state::Mail> {
        self.with_state(|s| s.alerting.outbox.clone())
    }

    /// The messages `device` of `hub` has sent, oldest first.
    pub fn messages(&self, hub: &str, device: &str) -> Vec<ReceivedMessage> {
        self.with_state(|s| {
            s.hubs
                .get(&hub.to_ascii_lowercase())
                .and_then(|h| h.devices.get(device))
                .map(|d| d.messages.clone())
                .unwrap_or_default()
        })
    }

    /// Disables `device` of `hub`, as an administrator does in the portal.
    /// Holds every device code's approval (`true`) until released (`false`), as the control
    /// endpoint's `PUT`/`DELETE /holds/device-code-approval` do for a sandbox process.
    pub fn hold_device_code_approval(&self, held: bool) {
        self.with_state(|s| s.device_code_approval_held = held);
    }

    pub fn disable_device(&self, hub: &str, device: &str) {
        self.with_state(|s| {
            if let Some(device) = s
                .hubs
                .get_mut(&hub.to_ascii_lowercase())
                .and_then(|h| h.devices.get_mut(device))
            {
                device.status = "disabled".into();
            }
        });
    }

    /// The primary connection string of a device, as the portal would show it.
    pub fn device_connection_string(&self, hub: &str, device: &str) -> Option<ConnectionString> {
        let key = self.with_state(|s| {
            s.hubs
                .get(&hub.to_ascii_lowercase())?
                .devices
                .get(device)
                .map(|d| d.primary_key.clone())
        })?;
        let key = SharedAccessKey::from_base64(&key).ok()?;
        Some(ConnectionString::for_device(
            &self.hub_host(hub),
            device,
            key,
        ))
    }

    /// The primary key of a hub's shared access policy, as listkeys shows it.
    fn policy_key(&self, hub: &str, policy: &str) -> Option<String> {
        self.with_state(|s| {
            s.hubs
                .get(&hub.to_ascii_lowercase())?
                .policy(policy)
                .map(|p| p.primary_key.clone())
        })
    }

    /// The primary connection string of a hub's shared access policy.
    pub fn policy_connection_string(&self, hub: &str, policy: &str) -> Option<ConnectionString> {
        let key = SharedAccessKey::from_base64(&self.policy_key(hub, policy)?).ok()?;
        Some(ConnectionString::for_policy(
            &self.hub_host(hub),
            policy,
            key,
        ))
    }

    /// The Event Hub-compatible connection string of a hub's policy, as the portal's "Built-in
    /// endpoints" page shows it.
    pub fn event_hub_connection_string(&self, hub: &str, policy: &str) -> Option<String> {
        let key = self.policy_key(hub, policy)?;
        Some(format!(
            "Endpoint=sb://{}/;SharedAccessKeyName={policy};SharedAccessKey={key};EntityPath={}",
            eventhubs::namespace_host(hub, &self.app.config.suffix),
            eventhubs::entity_path(hub)
        ))
    }

    /// Puts a fault in force.
    pub fn inject(&self, rule: FaultRule) {
        self.app.faults.add(rule);
    }

    pub fn clear_faults(&self) {
        self.app.faults.clear();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How many free TCP ports to try when their UDP twin is taken.
const BIND_ATTEMPTS: usize = 8;

/// The HTTPS listener and the DNS socket, on one loopback port number (clients are given one
/// address for both).
/// A non-blocking TCP listener on a loopback `port` (0: a free one), and its address.
fn bind_loopback(port: u16) -> Result<(std::net::TcpListener, SocketAddr), SandboxError> {
    let bind_to = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = std::net::TcpListener::bind(bind_to).map_err(|source| SandboxError::Bind {
        address: bind_to.to_string(),
        source,
    })?;
    let address = listener.local_addr().map_err(SandboxError::Runtime)?;
    listener
        .set_nonblocking(true)
        .map_err(SandboxError::Runtime)?;
    Ok((listener, address))
}

fn bind(port: u16) -> Result<(std::net::TcpListener, std::net::UdpSocket), SandboxError> {
    bind_with(port, std::net::UdpSocket::bind)
}

/// [`bind`], with the UDP bind given: with `port` 0, a free TCP port whose UDP twin another
/// program holds is given back and another one tried.
fn bind_with(
    port: u16,
    bind_udp: impl Fn(SocketAddr) -> std::io::Result<std::net::UdpSocket>,
) -> Result<(std::net::TcpListener, std::net::UdpSocket), SandboxError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let bind_to = SocketAddr::from(([127, 0, 0, 1], port));
        let listener =
            std::net::TcpListener::bind(bind_to).map_err(|source| SandboxError::Bind {
                address: bind_to.to_string(),
                source,
            })?;
        let address = listener.local_addr().map_err(SandboxError::Runtime)?;
        match bind_udp(address) {
            Ok(dns_socket) => return Ok((listener, dns_socket)),
            Err(e)
                if port == 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && attempt < BIND_ATTEMPTS => {}
            Err(source) => {
                return Err(SandboxError::Bind {
                    address: format!("{address} (UDP, for DNS)"),
                    source,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// A UDP bind that finds the first `taken` ports it is asked for held by another program.
    fn udp_with_taken(
        taken: usize,
        asked: &RefCell<Vec<u16>>,
    ) -> impl Fn(SocketAddr) -> std::io::Result<std::net::UdpSocket> + '_ {
        move |address| {
            asked.borrow_mut().push(address.port());
            if asked.borrow().len() <= taken {
                return Err(std::io::ErrorKind::AddrInUse.into());
            }
            std::net::UdpSocket::bind(address)
        }
    }

    #[test]
    fn a_free_port_whose_udp_twin_is_taken_is_skipped() {
        let asked = RefCell::new(Vec::new());
        let (listener, dns) = bind_with(0, udp_with_taken(2, &asked)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(dns.local_addr().unwrap().port(), port);
        assert_eq!(asked.borrow().len(), 3);
        assert_eq!(asked.borrow().last(), Some(&port));
    }

    #[test]
    fn udp_ports_taken_every_time_end_in_an_error_naming_the_last() {
        let asked = RefCell::new(Vec::new());
        let error = bind_with(0, udp_with_taken(usize::MAX, &asked)).unwrap_err();
        assert_eq!(asked.borrow().len(), BIND_ATTEMPTS);
        let last = asked.borrow()[BIND_ATTEMPTS - 1];
        assert!(
            error
                .to_string()
                .contains(&format!("127.0.0.1:{last} (UDP, for DNS)")),
            "{error}"
        );
    }

    #[test]
    fn a_chosen_port_is_not_swapped_for_another() {
        let asked = RefCell::new(Vec::new());
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let error = bind_with(port, udp_with_taken(1, &asked)).unwrap_err();
        assert_eq!(*asked.borrow(), [port]);
        assert!(
            error
                .to_string()
                .contains(&format!("127.0.0.1:{port} (UDP, for DNS)")),
            "{error}"
        );
    }
}
