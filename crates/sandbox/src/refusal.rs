//! Why the hub refuses, whatever the protocol brought the request: HTTPS answers with the status
//! and code, MQTT and AMQP with their own refusals for the same reason.

use hyper::StatusCode;

use crate::http::{hub_error, Resp};
use crate::state::Hub;

/// Why the hub refuses, whatever the protocol: HTTPS answers with the status and code, MQTT
/// and AMQP with their own refusals for the same reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) detail: String,
}

impl Refusal {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        detail: impl Into<String>,
    ) -> Refusal {
        Refusal {
            status,
            code,
            detail: detail.into(),
        }
    }

    pub(crate) fn response(&self) -> Resp {
        hub_error(self.status, self.code, &self.detail)
    }
}

pub(crate) fn unauthorized(detail: &str) -> Refusal {
    Refusal::new(StatusCode::UNAUTHORIZED, "IotHubUnauthorizedAccess", detail)
}

pub(crate) fn device_not_found(hub: &Hub, id: &str) -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        "DeviceNotFound",
        format!(
            "Device {id} not registered or disabled on IotHub {}",
            hub.name
        ),
    )
}
