//! The sandbox's name server: UDP on the same loopback port as HTTPS. Its hosts resolve to
//! loopback while they exist; a hub that does not exist gets "no such name", as a deleted or
//! mistyped hub does in Azure's DNS.

use std::net::Ipv4Addr;
use std::sync::Arc;

use hubsetup_core::dns_wire::{self, Answer};
use tokio::net::UdpSocket;

use crate::app::App;

impl App {
    fn answer_for(&self, name: &str) -> Answer {
        let exists = match self.service(&name.to_ascii_lowercase()) {
            Some(crate::app::Service::Hub(hub)) => self
                .state
                .lock()
                .expect("state lock")
                .hubs
                .contains_key(&hub.to_ascii_lowercase()),
            Some(crate::app::Service::Blob(account)) => self
                .state
                .lock()
                .expect("state lock")
                .storage_accounts
                .contains_key(account),
            Some(_) => true,
            None => false,
        };
        if exists {
            Answer::Addresses(vec![Ipv4Addr::LOCALHOST])
        } else {
            Answer::NoSuchName
        }
    }
}

/// Answers queries until the runtime stops.
pub(crate) async fn serve(socket: UdpSocket, app: Arc<App>) {
    let mut buffer = [0u8; 512];
    loop {
        let Ok((length, peer)) = socket.recv_from(&mut buffer).await else {
            continue;
        };
        let Some(question) = dns_wire::parse_question(&buffer[..length]) else {
            continue;
        };
        let reply = dns_wire::reply(&question, &app.answer_for(&question.name));
        let _ = socket.send_to(&reply, peer).await;
    }
}
