//! A hub's manual failover (`POST …/IotHubs/{name}/failover`): to its paired region only, a
//! long-running operation after which the hub's locations have swapped roles, as in Azure.

use hyper::StatusCode;
use serde_json::{json, Value};

use super::super::resources::region_named;
use super::async_headers;
use crate::http::{empty, provider_error, Req, Resp};
use crate::state::{now_ms, Hub, State};
use crate::SandboxConfig;

/// The hub's locations, primary first, as its properties show them.
pub(super) fn locations(hub: &Hub) -> Value {
    let Some(region) = region_named(&hub.location) else {
        return Value::Null;
    };
    let (mut primary, mut secondary) = (region.display, region.paired.1);
    if hub.failed_over {
        std::mem::swap(&mut primary, &mut secondary);
    }
    json!([
        { "location": primary, "role": "primary" },
        { "location": secondary, "role": "secondary" },
    ])
}

pub(super) fn failover(
    req: &Req,
    state: &mut State,
    config: &SandboxConfig,
    sub: &str,
    group: &str,
    name: &str,
) -> Resp {
    let wanted = req
        .json()
        .and_then(|b| b.get("failoverRegion")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    let Some(hub) = super::hub_in(state, sub, group, name) else {
        return super::hub_not_found(group, name);
    };
    let now = now_ms();
    if now < hub.busy_until_ms {
        return provider_error(
            StatusCode::CONFLICT,
            "OperationInProgress",
            &format!(
                "IotHub '{}' is being created or updated; wait for that to finish.",
                hub.name
            ),
        );
    }
    let secondary = locations(hub)
        .pointer("/1/location")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let plain = |r: &str| r.replace(' ', "").to_ascii_lowercase();
    if wanted.is_empty() || plain(&wanted) != plain(&secondary) {
        return provider_error(
            StatusCode::BAD_REQUEST,
            "InvalidFailoverRegion",
            &format!(
                "IotHub '{}' can fail over only to its secondary location, {secondary}; '{wanted}' was given.",
                hub.name
            ),
        );
    }
    let done_at = now + config.hub_provisioning_time.as_millis() as u64;
    hub.failed_over = !hub.failed_over;
    hub.busy_until_ms = done_at;
    let location = hub.location.clone();
    async_headers(
        empty(StatusCode::ACCEPTED),
        state,
        config,
        sub,
        &location,
        done_at,
    )
}
