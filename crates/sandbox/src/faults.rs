//! Faults on demand: latency, a number of error answers, dropped connections and broken
//! certificates, per host and path prefix. Clients' retry logic and error messages are tested
//! against these.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Every matching request waits this long before it is handled.
    Latency { millis: u64 },
    /// The next `count` matching requests get `status` (429, 500 or 503) in the service's own
    /// error shape, with `Retry-After` when given.
    Status {
        status: u16,
        count: u32,
        retry_after_secs: Option<u32>,
    },
    /// The next `count` matching requests have their connection closed without an answer.
    DropConnection { count: u32 },
    /// TLS handshakes for the host get a certificate issued for another host.
    WrongHostCertificate,
    /// TLS handshakes for the host get a certificate that has expired.
    ExpiredCertificate,
}

/// A fault and where it applies: an exact host (case-insensitive) and optionally a path prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    pub host: String,
    #[serde(default)]
    pub path_prefix: Option<String>,
    pub fault: Fault,
}

/// What the server does to one request because of the faults in force.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) delay: Duration,
    pub(crate) action: Option<Action>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Status {
        status: u16,
        retry_after_secs: Option<u32>,
    },
    Drop,
}

pub(crate) enum TlsFault {
    WrongHost,
    Expired,
}

/// The faults in force, shared by the TLS resolver and the request handler.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Mutex<Vec<FaultRule>>,
}

impl Faults {
    pub(crate) fn add(&self, rule: FaultRule) {
        self.rules.lock().expect("faults lock").push(rule);
    }

    pub(crate) fn clear(&self) {
        self.rules.lock().expect("faults lock").clear();
    }

    pub(crate) fn tls_fault(&self, host: &str) -> Option<TlsFault> {
        let rules = self.rules.lock().expect("faults lock");
        rules
            .iter()
            .filter(|r| r.host.eq_ignore_ascii_case(host))
            .find_map(|r| match r.fault {
                Fault::WrongHostCertificate => Some(TlsFault::WrongHost),
                Fault::ExpiredCertificate => Some(TlsFault::Expired),
                _ => None,
            })
    }

    /// Sums the latency of every matching rule and uses up one answer of the first matching
    /// rule that still has answers left.
    pub(crate) fn plan(&self, host: &str, path: &str) -> Plan {
        let mut rules = self.rules.lock().expect("faults lock");
        let mut plan = Plan::default();
        let matching = rules.iter_mut().filter(|r| {
            r.host.eq_ignore_ascii_case(host)
                && r.path_prefix
                    .as_deref()
                    .is_none_or(|prefix| path.starts_with(prefix))
        });
        for rule in matching {
            match &mut rule.fault {
                Fault::Latency { millis } => plan.delay += Duration::from_millis(*millis),
                Fault::Status {
                    status,
                    count,
                    retry_after_secs,
                } if *count > 0 && plan.action.is_none() => {
                    *count -= 1;
                    plan.action = Some(Action::Status {
                        status: *status,
                        retry_after_secs: *retry_after_secs,
                    });
                }
                Fault::DropConnection { count } if *count > 0 && plan.action.is_none() => {
                    *count -= 1;
                    plan.action = Some(Action::Drop);
                }
                _ => {}
            }
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_used_up_in_order_and_latency_adds_up() {
        let faults = Faults::default();
        let host = "hub1.azure-devices.sandbox.test";
        faults.add(FaultRule {
            host: host.into(),
            path_prefix: Some("/devices/".into()),
            fault: Fault::Status {
                status: 429,
                count: 2,
                retry_after_secs: Some(1),
            },
        });
        faults.add(FaultRule {
            host: host.into(),
            path_prefix: None,
            fault: Fault::DropConnection { count: 1 },
        });
        faults.add(FaultRule {
            host: host.into(),
            path_prefix: None,
            fault: Fault::Latency { millis: 30 },
        });
        faults.add(FaultRule {
            host: host.into(),
            path_prefix: None,
            fault: Fault::Latency { millis: 20 },
        });

        let throttled = Some(Action::Status {
            status: 429,
            retry_after_secs: Some(1),
        });
        let first = faults.plan(
            "HUB1.azure-devices.sandbox.test",
            "/devices/d/messages/events",
        );
        assert_eq!(
            first,
            Plan {
                delay: Duration::from_millis(50),
                action: throttled
            }
        );
        assert_eq!(
            faults.plan(host, "/devices/d").action,
            Some(Action::Status {
                status: 429,
                retry_after_secs: Some(1)
            })
        );
        assert_eq!(faults.plan(host, "/devices/d").action, Some(Action::Drop));
        assert_eq!(faults.plan(host, "/devices/d").action, None);
        assert_eq!(faults.plan("other.host", "/").delay, Duration::ZERO);
        faults.clear();
        assert_eq!(faults.plan(host, "/").delay, Duration::ZERO);
    }
}
