//! Reading a hub's messages when signed in: its Event Hub-compatible endpoint from the hub's
//! resource (`properties.eventHubEndpoints.events`), the key of a policy allowed to read it
//! (ServiceConnect, through listkeys), and a consumer group of our own so that reading does
//! not disturb the hub's other readers.

use hubsetup_events::{EventHubAddress, EventsError};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};

use crate::arm::{ArmFailure, Azure, IOTHUB_API};
use crate::catalog::HubInfo;
use crate::http::Repeat;
use crate::progress::Progress;
use crate::Error;

/// The consumer group the app creates (after asking) to read on.
pub const OWN_CONSUMER_GROUP: &str = "hubsetup-watch";

/// A consumer group the setup made (or found) for reading the hub's messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsumerGroupSummary {
    pub name: String,
    pub created: bool,
}

/// Policies tried in this order; any other with ServiceConnect comes after.
const PREFERRED_POLICIES: [&str; 2] = ["service", "iothubowner"];

impl Azure {
    /// The hub's Event Hub-compatible endpoint with the key of a policy that may read it.
    pub async fn event_hub_address(&self, hub: &HubInfo) -> Result<EventHubAddress, Error> {
        let resource = self.current_hub_json(hub).await?;
        if resource.pointer("/properties/disableLocalAuth") == Some(&json!(true)) {
            return Err(EventsError::LocalAuthDisabled.into());
        }
        let events = resource
            .pointer("/properties/eventHubEndpoints/events")
            .cloned()
            .unwrap_or_default();
        let text = |field: &str| {
            events
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        if text("endpoint").is_empty() || text("path").is_empty() {
            return Err(Error::UnexpectedAnswer {
                what: format!(
                    "the hub '{}' without an Event Hub-compatible endpoint",
                    hub.name
                ),
            });
        }
        let mut policies = self.list_keys(hub).await?;
        policies.retain(|p| p.has_right("ServiceConnect"));
        policies.sort_by_key(|p| {
            PREFERRED_POLICIES
                .iter()
                .position(|name| *name == p.name)
                .unwrap_or(PREFERRED_POLICIES.len())
        });
        let policy = policies
            .first()
            .ok_or_else(|| EventsError::NoPolicyCanRead {
                hub: hub.name.clone(),
            })?;
        Ok(EventHubAddress::new(
            text("endpoint"),
            text("path"),
            &policy.name,
            &policy.primary.expose_base64(),
        ))
    }

    /// The names of the hub's consumer groups on its built-in endpoint.
    pub async fn consumer_groups(&self, hub: &HubInfo) -> Result<Vec<String>, Error> {
        let url = self.url(&groups_path(hub, None), IOTHUB_API);
        let items = self.list(&url, &hub.subscription_id).await?;
        Ok(items
            .iter()
            .filter_map(|g| g.get("name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect())
    }

    /// Creates the consumer group `name` (creating one that exists changes nothing).
    pub async fn create_consumer_group(&self, hub: &HubInfo, name: &str) -> Result<(), Error> {
        let url = self.url(&groups_path(hub, Some(name)), IOTHUB_API);
        let body = serde_json::to_vec(&json!({ "properties": { "name": name } }))
            .expect("a JSON value serializes");
        let answer = self
            .call(Method::PUT, &url, Some(&body), None, Repeat::Safe)
            .await?;
        if answer.status.is_success() {
            return Ok(());
        }
        Err(self
            .explain(ArmFailure::of(&answer), &hub.subscription_id)
            .await)
    }

    /// The consumer group `name`: reused if the hub has it, else created.
    pub(crate) async fn ensure_consumer_group(
        &self,
        hub: &HubInfo,
        name: &str,
    ) -> Result<ConsumerGroupSummary, Error> {
        let exists = self.has_consumer_group(hub, name).await?;
        let name_owned = name.to_owned();
        if exists {
            self.report(Progress::ConsumerGroupReused { name: name_owned });
        } else {
            self.create_consumer_group(hub, name).await?;
            self.report(Progress::ConsumerGroupCreated { name: name_owned });
        }
        Ok(ConsumerGroupSummary {
            name: name.to_owned(),
            created: !exists,
        })
    }

    /// Whether the hub has the consumer group `name` (names are compared as Azure does, in
    /// any case).
    pub async fn has_consumer_group(&self, hub: &HubInfo, name: &str) -> Result<bool, Error> {
        Ok(self
            .consumer_groups(hub)
            .await?
            .iter()
            .any(|g| g.eq_ignore_ascii_case(name)))
    }

    /// Deletes the consumer group `name`; one already gone is fine.
    pub async fn delete_consumer_group(&self, hub: &HubInfo, name: &str) -> Result<(), Error> {
        let url = self.url(&groups_path(hub, Some(name)), IOTHUB_API);
        let answer = self
            .call(Method::DELETE, &url, None, None, Repeat::Safe)
            .await?;
        if answer.status.is_success() || answer.status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(self
            .explain(ArmFailure::of(&answer), &hub.subscription_id)
            .await)
    }
}

fn groups_path(hub: &HubInfo, name: Option<&str>) -> String {
    let list = format!("{}/eventHubEndpoints/events/ConsumerGroups", hub.path());
    match name {
        Some(name) => format!("{list}/{name}"),
        None => list,
    }
}
