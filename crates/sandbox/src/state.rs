//! What the sandbox remembers: subscriptions, resource groups, hubs with their policies,
//! devices and received messages, long-running operations, and sign-in grants. In memory, and
//! saved as JSON after every change when a state directory is given, so a restarted sandbox
//! carries on where it was (which tests of "the app was killed mid-way" need).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hubsetup_core::names::DEFAULT_HUB_POLICIES;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::eventhubs::log::{EventLog, ReceivedMessage};
use crate::SandboxError;

mod alerts;
mod storage;
pub use alerts::{Alerting, Condition, InsightsResource, Mail};
pub use storage::{Container, RoleAssignment, StorageAccount};

const STATE_FILE: &str = "state.json";

/// The signed-in user's home tenant, where the sandbox's apps and most subscriptions live.
pub const TENANT_ID: &str = "72f988bf-0000-4000-8000-5a4d60c0ffee";
/// A partner's tenant that invited the user as a guest.
pub const GUEST_TENANT_ID: &str = "9b2e4c1d-0000-4000-8000-fab71ca7e000";
/// A tenant whose Conditional Access blocks the user's sign-ins (from unmanaged devices).
pub const BLOCKING_TENANT_ID: &str = "5e1ec7ed-0000-4000-8000-0000b10c4ed0";
/// The directories the user may sign in to, home first.
pub const TENANTS: &[Tenant] = &[
    Tenant {
        id: TENANT_ID,
        display_name: "Contoso",
        default_domain: "contoso.onmicrosoft.com",
        home: true,
        blocks_sign_in: false,
    },
    Tenant {
        id: GUEST_TENANT_ID,
        display_name: "Fabrikam Partners",
        default_domain: "fabrikampartners.onmicrosoft.com",
        home: false,
        blocks_sign_in: false,
    },
    Tenant {
        id: BLOCKING_TENANT_ID,
        display_name: "Northwind Traders",
        default_domain: "northwindtraders.onmicrosoft.com",
        home: false,
        blocks_sign_in: true,
    },
];
/// The signed-in user.
pub const USER_NAME: &str = "admin@contoso.example";
pub const USER_DISPLAY_NAME: &str = "Contoso Admin";
/// Subscriptions seeded at first start.
pub const SUBSCRIPTION_PRODUCTION: &str = "11111111-1111-4111-8111-111111111111";
pub const SUBSCRIPTION_DEV: &str = "22222222-2222-4222-8222-222222222222";
pub const SUBSCRIPTION_UNREGISTERED: &str = "33333333-3333-4333-8333-333333333333";
pub const SUBSCRIPTION_DISABLED: &str = "44444444-4444-4444-8444-444444444444";
/// The guest tenant's subscription, visible only with a token for that tenant.
pub const SUBSCRIPTION_GUEST: &str = "55555555-5555-4555-8555-555555555555";
/// Where the user holds roles on single resource groups only (see `arm::rbac`).
pub const SUBSCRIPTION_SHARED: &str = "66666666-6666-4666-8666-666666666666";
/// Where Azure Policy denies what enterprises deny (see `arm::policy`).
pub const SUBSCRIPTION_REGULATED: &str = "77777777-7777-4777-8777-777777777777";
/// Hub names that other tenants own: never available, never visible.
pub const NAMES_TAKEN_ELSEWHERE: &[&str] = &[
    "contoso",
    "iothub",
    "my-hub",
    "test-hub",
    "fabrikam-hub",
    "your-hub",
    "demo-hub",
];
/// Regions where the sandbox offers IotHubs: (name, display name, latitude, longitude).
/// An Azure region as ARM lists it (`az account list-locations`).
#[derive(Debug, Clone, Copy)]
pub struct Region {
    pub name: &'static str,
    pub display: &'static str,
    pub latitude: &'static str,
    pub longitude: &'static str,
    pub geography: &'static str,
    pub geography_group: &'static str,
    pub physical_location: &'static str,
    /// The paired region's name and display name: a hub's secondary location.
    pub paired: (&'static str, &'static str),
}

const fn region(
    name: &'static str,
    display: &'static str,
    (latitude, longitude): (&'static str, &'static str),
    (geography, geography_group, physical_location): (&'static str, &'static str, &'static str),
    paired: (&'static str, &'static str),
) -> Region {
    Region {
        name,
        display,
        latitude,
        longitude,
        geography,
        geography_group,
        physical_location,
        paired,
    }
}

pub const REGIONS: &[Region] = &[
    region(
        "eastus",
        "East US",
        ("37.3719", "-79.8164"),
        ("United States", "US", "Virginia"),
        ("westus", "West US"),
    ),
    region(
        "eastus2",
        "East US 2",
        ("36.6681", "-78.3889"),
        ("United States", "US", "Virginia"),
        ("centralus", "Central US"),
    ),
    region(
        "westus2",
        "West US 2",
        ("47.233", "-119.852"),
        ("United States", "US", "Washington"),
        ("westcentralus", "West Central US"),
    ),
    region(
        "centralus",
        "Central US",
        ("41.5908", "-93.6208"),
        ("United States", "US", "Iowa"),
        ("eastus2", "East US 2"),
    ),
    region(
        "canadacentral",
        "Canada Central",
        ("43.653", "-79.383"),
        ("Canada", "Canada", "Toronto"),
        ("canadaeast", "Canada East"),
    ),
    region(
        "northeurope",
        "North Europe",
        ("53.3478", "-6.2597"),
        ("Europe", "Europe", "Ireland"),
        ("westeurope", "West Europe"),
    ),
    region(
        "westeurope",
        "West Europe",
        ("52.3667", "4.9"),
        ("Europe", "Europe", "Netherlands"),
        ("northeurope", "North Europe"),
    ),
    region(
        "uksouth",
        "UK South",
        ("50.941", "-0.799"),
        ("United Kingdom", "UK", "London"),
        ("ukwest", "UK West"),
    ),
    region(
        "francecentral",
        "France Central",
        ("46.3772", "2.373"),
        ("France", "Europe", "Paris"),
        ("francesouth", "France South"),
    ),
    region(
        "germanywestcentral",
        "Germany West Central",
        ("50.110924", "8.682127"),
        ("Germany", "Europe", "Frankfurt"),
        ("germanynorth", "Germany North"),
    ),
    region(
        "southeastasia",
        "Southeast Asia",
        ("1.283", "103.833"),
        ("Asia Pacific", "Asia Pacific", "Singapore"),
        ("eastasia", "East Asia"),
    ),
    region(
        "japaneast",
        "Japan East",
        ("35.68", "139.77"),
        ("Japan", "Asia Pacific", "Tokyo, Saitama"),
        ("japanwest", "Japan West"),
    ),
    region(
        "australiaeast",
        "Australia East",
        ("-33.86", "151.2094"),
        ("Australia", "Asia Pacific", "New South Wales"),
        ("australiasoutheast", "Australia Southeast"),
    ),
];

/// A Microsoft Entra tenant (directory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tenant {
    pub id: &'static str,
    pub display_name: &'static str,
    pub default_domain: &'static str,
    /// The user's own directory; in the others the user is a guest.
    pub home: bool,
    /// Conditional Access refuses every token for the user (AADSTS53003).
    pub blocks_sign_in: bool,
}

/// The tenant a sign-in path names: its ID or domain, or the home tenant for `organizations`
/// and `common`, as Entra resolves them for a work account.
pub fn tenant(name: &str) -> Option<&'static Tenant> {
    if name.eq_ignore_ascii_case("organizations") || name.eq_ignore_ascii_case("common") {
        return TENANTS.iter().find(|t| t.home);
    }
    TENANTS
        .iter()
        .find(|t| t.id.eq_ignore_ascii_case(name) || t.default_domain.eq_ignore_ascii_case(name))
}

fn home_tenant_id() -> String {
    TENANT_ID.to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    #[serde(default = "home_tenant_id")]
    pub tenant_id: String,
    pub display_name: String,
    /// `Enabled` or `Disabled` (read-only), as ARM reports it.
    pub state: String,
    /// Whether the Microsoft.Devices resource provider is registered.
    pub registered: bool,
    pub resource_groups: Vec<ResourceGroup>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceGroup {
    pub name: String,
    pub location: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    pub key_name: String,
    pub primary_key: String,
    pub secondary_key: String,
    /// Comma-and-space joined rights in Azure's order, e.g. `RegistryRead, DeviceConnect`.
    pub rights: String,
}

impl Policy {
    pub fn has_right(&self, right: &str) -> bool {
        self.rights.split(',').any(|r| r.trim() == right)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Device {
    pub device_id: String,
    pub generation_id: String,
    pub etag: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub primary_key: String,
    pub secondary_key: String,
    pub iot_edge: bool,
    pub messages: Vec<ReceivedMessage>,
    /// Desired and reported properties (Standard and Free tiers).
    #[serde(default)]
    pub twin: Twin,
    /// When it last sent or connected, and whether it is connected now.
    #[serde(default)]
    pub activity: Activity,
}

/// A device's activity as the registry reports it (`lastActivityTime`, `connectionState`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Activity {
    /// Milliseconds since the epoch; 0 when never.
    pub last_activity_ms: u64,
    pub connection_changed_ms: u64,
    /// Open MQTT connections; none survive a restart.
    #[serde(skip)]
    pub connections: u32,
}

/// A device twin's properties, each side with its own version, as IoT Hub keeps them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Twin {
    pub desired: serde_json::Map<String, serde_json::Value>,
    pub desired_version: u64,
    pub reported: serde_json::Map<String, serde_json::Value>,
    pub reported_version: u64,
}

impl Default for Twin {
    fn default() -> Twin {
        Twin {
            desired: serde_json::Map::new(),
            desired_version: 1,
            reported: serde_json::Map::new(),
            reported_version: 1,
        }
    }
}

/// Settings that decide whether partners outside the customer's network can reach the hub.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Network {
    pub public_network_access: String,
    pub ip_filter_rules: serde_json::Value,
    pub network_rule_sets: serde_json::Value,
    pub disable_local_auth: bool,
    pub disable_device_sas: bool,
    pub min_tls_version: Option<String>,
}

impl Default for Network {
    fn default() -> Network {
        Network {
            public_network_access: "Enabled".into(),
            ip_filter_rules: serde_json::json!([]),
            network_rule_sets: serde_json::Value::Null,
            disable_local_auth: false,
            disable_device_sas: false,
            min_tls_version: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hub {
    pub name: String,
    pub subscription_id: String,
    pub resource_group: String,
    pub location: String,
    pub sku: String,
    pub capacity: u64,
    pub etag: String,
    pub tags: serde_json::Value,
    pub network: Network,
    pub policies: Vec<Policy>,
    pub devices: BTreeMap<String, Device>,
    /// Properties the sandbox does not model, kept so that GET + PUT round-trips them.
    pub other_properties: serde_json::Map<String, serde_json::Value>,
    /// Until then the hub is being created or updated (milliseconds since the epoch).
    pub busy_until_ms: u64,
    /// Whether the pending work is the creation (the hub is not usable yet).
    pub creating: bool,
    pub quota_day: u64,
    pub messages_today: u64,
    /// Consumer groups of the built-in Event Hub-compatible endpoint.
    #[serde(default = "default_consumer_groups")]
    pub consumer_groups: Vec<String>,
    /// When the hub was created (milliseconds since the epoch), for its `systemData`.
    #[serde(default)]
    pub created_ms: u64,
    /// The hub's managed identities as ARM shows them (`type`; a system-assigned one's
    /// `principalId` and `tenantId`); `None` without any.
    #[serde(default)]
    pub identity: Option<serde_json::Value>,
    /// What the Event Hub-compatible endpoint holds; not saved (see `eventhubs::log`).
    #[serde(skip)]
    pub events: EventLog,
    /// How long the built-in endpoint keeps messages (`retentionTimeInDays`, 1 to 7).
    #[serde(default = "one_day")]
    pub retention_days: u32,
    /// Each custom endpoint's health as `routingEndpointsHealth` shows it, by endpoint name.
    #[serde(default)]
    pub endpoint_health: BTreeMap<String, serde_json::Value>,
    /// The routing of `other_properties`, checked and ready to route; made again when the hub
    /// is written or the sandbox restarts.
    #[serde(skip)]
    pub(crate) routing: Option<std::sync::Arc<crate::routing::Routing>>,
    /// Azure Monitor's platform metrics, minute by minute.
    #[serde(default)]
    pub(crate) metrics: crate::monitor::Meter,
    /// Whether a manual failover moved the hub to its paired region: its locations' roles
    /// are swapped.
    #[serde(default)]
    pub failed_over: bool,
    /// Its private endpoint connections as ARM shows them, made when a network admin's private
    /// endpoint asked for one (the control endpoint stands in for Microsoft.Network).
    #[serde(default)]
    pub private_endpoint_connections: Vec<serde_json::Value>,
    /// The X.509 CA certificates uploaded for devices that sign in with certificates.
    #[serde(default)]
    pub(crate) certificates: Vec<crate::arm::iothub::certificates::Certificate>,
    /// Its import and export jobs, newest last.
    #[serde(default)]
    pub(crate) jobs: Vec<crate::jobs::Job>,
}

fn one_day() -> u32 {
    1
}

/// Every hub has `$Default`.
pub fn default_consumer_groups() -> Vec<String> {
    vec!["$Default".to_owned()]
}

impl Hub {
    /// The messages the hub may take per day: its tier's allowance per unit times its units,
    /// unless the sandbox was started with another quota.
    pub fn daily_quota(&self, config: &crate::SandboxConfig) -> u64 {
        let (_, _, per_unit) = sku_facts(&self.sku).unwrap_or(("", 0, 0));
        config
            .daily_message_quota
            .unwrap_or(per_unit * self.capacity)
    }

    /// Messages counted today (days in UTC, as the quota resets at midnight UTC).
    pub fn messages_on(&self, day: u64) -> u64 {
        if self.quota_day == day {
            self.messages_today
        } else {
            0
        }
    }

    pub fn is_active(&self, now_ms: u64) -> bool {
        !self.creating || now_ms >= self.busy_until_ms
    }

    pub fn policy(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.key_name == name)
    }
}

/// A long-running ARM operation, answered `Running` until `done_at_ms`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Operation {
    pub subscription_id: String,
    pub done_at_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceCodeGrant {
    pub client_id: String,
    pub scope: String,
    pub user_code: String,
    pub expires_at_ms: u64,
    pub polls: u32,
    pub approved: bool,
    pub last_poll_ms: u64,
    /// Authentication contexts asked for with `claims`, proven when the code is entered.
    #[serde(default)]
    pub acrs: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthCodeGrant {
    pub client_id: String,
    pub scope: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub expires_at_ms: u64,
    #[serde(default)]
    pub acrs: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshGrant {
    pub client_id: String,
    pub scope: String,
    pub expires_at_ms: u64,
    /// The authentication contexts of the sign-in it came from.
    #[serde(default)]
    pub acrs: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct State {
    pub subscriptions: Vec<Subscription>,
    /// Keyed by lowercase hub name: hub names are global and case-insensitive.
    pub hubs: BTreeMap<String, Hub>,
    pub operations: BTreeMap<String, Operation>,
    pub device_codes: BTreeMap<String, DeviceCodeGrant>,
    pub auth_codes: BTreeMap<String, AuthCodeGrant>,
    pub refresh_tokens: BTreeMap<String, RefreshGrant>,
    /// The key that signs access tokens (base64).
    pub token_signing_key: String,
    pub etag_counter: u64,
    /// Public keys served by the key lookups (see [`crate::keys`]).
    #[serde(default)]
    pub published_keys: Vec<PublishedKey>,
    /// While true, no device code is approved however often it is polled: a test that must
    /// act before a sign-in ends (Cancel) holds it, then releases it (control `holds`).
    #[serde(default)]
    pub device_code_approval_held: bool,
    /// The price list's page size, when a test made it smaller than Azure's 1,000.
    #[serde(default)]
    pub prices_page_size: Option<usize>,
    /// Keyed by name: storage account names are global, lower case.
    #[serde(default)]
    pub storage_accounts: BTreeMap<String, StorageAccount>,
    /// Roles given through ARM (the seeded user's own are in `arm::rbac`).
    #[serde(default)]
    pub role_assignments: Vec<RoleAssignment>,
    /// Where routing sends messages for storage endpoints (see `routing::writer`).
    #[serde(skip)]
    pub(crate) outbox: Option<crate::routing::writer::Outbox>,
    /// Where import and export jobs wait to run (see `jobs`).
    #[serde(skip)]
    pub(crate) job_queue: Option<crate::jobs::Queue>,
    /// Azure Monitor's action groups, metric alerts and their e-mails.
    #[serde(default)]
    pub alerting: Alerting,
}

/// One public key published for the key lookups ([`crate::keys`]), as a test gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedKey {
    /// The addresses it is found by (WKD and VKS by e-mail).
    pub emails: Vec<String>,
    /// Upper-case hex, as VKS takes it.
    pub fingerprint: String,
    /// The Keybase user it is found by.
    #[serde(default)]
    pub keybase: Option<String>,
    /// The binary transferable public key (base64), served by WKD.
    pub binary: String,
    /// The ASCII-armored key, served by VKS and Keybase.
    pub armored: String,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Random bytes, base64-encoded: keys, codes and IDs.
pub fn random_base64(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

/// Random lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// The default policies Azure gives every new hub.
pub fn default_policies() -> Vec<Policy> {
    DEFAULT_HUB_POLICIES
        .into_iter()
        .map(|(name, rights)| Policy {
            key_name: name.into(),
            primary_key: random_base64(32),
            secondary_key: random_base64(32),
            rights: rights.into(),
        })
        .collect()
}

impl State {
    /// The world a new sandbox starts with: a production subscription with an existing S1 hub
    /// and device, a dev/test subscription that already owns its free hub, one whose
    /// Microsoft.Devices provider is not registered, and one that is disabled.
    pub fn seeded() -> State {
        let mut state = State {
            subscriptions: vec![
                subscription(
                    SUBSCRIPTION_PRODUCTION,
                    "Contoso Production",
                    "Enabled",
                    true,
                    &[("contoso-iot", "westeurope")],
                ),
                subscription(
                    SUBSCRIPTION_DEV,
                    "Contoso Dev/Test",
                    "Enabled",
                    true,
                    &[
                        ("contoso-dev", "northeurope"),
                        ("contoso-locked", "northeurope"),
                        ("contoso-sensitive", "northeurope"),
                    ],
                ),
                subscription(
                    SUBSCRIPTION_UNREGISTERED,
                    "Contoso New Projects",
                    "Enabled",
                    false,
                    &[],
                ),
                subscription(
                    SUBSCRIPTION_DISABLED,
                    "Contoso Legacy (disabled)",
                    "Disabled",
                    true,
                    &[],
                ),
                subscription(
                    SUBSCRIPTION_SHARED,
                    "Contoso Shared Services",
                    "Enabled",
                    true,
                    &[
                        ("team-iot", "westeurope"),
                        ("team-readonly", "westeurope"),
                        ("team-ops", "westeurope"),
                        ("platform-core", "westeurope"),
                    ],
                ),
                subscription(
                    SUBSCRIPTION_REGULATED,
                    "Contoso Regulated",
                    "Enabled",
                    true,
                    &[
                        ("regulated-eu", "westeurope"),
                        ("regulated-private", "westeurope"),
                        ("regulated-entra-only", "westeurope"),
                        ("regulated-modify", "westeurope"),
                    ],
                ),
                Subscription {
                    tenant_id: GUEST_TENANT_ID.into(),
                    ..subscription(
                        SUBSCRIPTION_GUEST,
                        "Fabrikam Partner Solutions",
                        "Enabled",
                        true,
                        &[("fabrikam-iot", "westeurope")],
                    )
                },
            ],
            hubs: BTreeMap::new(),
            operations: BTreeMap::new(),
            device_codes: BTreeMap::new(),
            auth_codes: BTreeMap::new(),
            refresh_tokens: BTreeMap::new(),
            token_signing_key: random_base64(32),
            etag_counter: 0,
            published_keys: Vec::new(),
            prices_page_size: None,
            device_code_approval_held: false,
            storage_accounts: BTreeMap::new(),
            role_assignments: Vec::new(),
            outbox: None,
            job_queue: None,
            alerting: Alerting::default(),
        };
        state.seed_hub(
            SUBSCRIPTION_PRODUCTION,
            "contoso-iot",
            "contoso-plant-hub",
            "westeurope",
            "S1",
        );
        let existing = Device {
            device_id: "io.microshare.contact.unpacked.event".into(),
            generation_id: "638000000000000001".into(),
            etag: "MA==".into(),
            status: "enabled".into(),
            status_reason: None,
            primary_key: random_base64(32),
            secondary_key: random_base64(32),
            iot_edge: false,
            messages: vec![],
            twin: Twin::default(),
            activity: Activity::default(),
        };
        if let Some(hub) = state.hubs.get_mut("contoso-plant-hub") {
            hub.devices.insert(existing.device_id.clone(), existing);
            // The customer's own reader, which a live test must not disturb.
            hub.consumer_groups.push("stream-analytics-prod".to_owned());
        }
        state.seed_hub(
            SUBSCRIPTION_DEV,
            "contoso-dev",
            "contoso-dev-free",
            "northeurope",
            "F1",
        );
        state
    }

    fn seed_hub(&mut self, subscription: &str, group: &str, name: &str, location: &str, sku: &str) {
        let etag = self.next_etag();
        self.hubs.insert(
            name.to_owned(),
            Hub {
                name: name.into(),
                subscription_id: subscription.into(),
                resource_group: group.into(),
                location: location.into(),
                sku: sku.into(),
                capacity: 1,
                etag,
                tags: serde_json::json!({}),
                network: Network::default(),
                policies: default_policies(),
                devices: BTreeMap::new(),
                other_properties: serde_json::Map::new(),
                busy_until_ms: 0,
                creating: false,
                created_ms: now_ms(),
                quota_day: 0,
                messages_today: 0,
                consumer_groups: default_consumer_groups(),
                identity: None,
                events: Default::default(),
                endpoint_health: BTreeMap::new(),
                failed_over: false,
                private_endpoint_connections: Vec::new(),
                certificates: Vec::new(),
                jobs: Vec::new(),
                retention_days: 1,
                routing: None,
                metrics: Default::default(),
            },
        );
    }

    /// A fresh ARM etag, quoted as ARM sends it.
    pub fn next_etag(&mut self) -> String {
        self.etag_counter += 1;
        format!(
            "\"{:08x}-0000-0000-0000-{:012x}\"",
            self.etag_counter, self.etag_counter
        )
    }

    pub fn subscription(&self, id: &str) -> Option<&Subscription> {
        self.subscriptions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(id))
    }

    pub fn subscription_mut(&mut self, id: &str) -> Option<&mut Subscription> {
        self.subscriptions
            .iter_mut()
            .find(|s| s.id.eq_ignore_ascii_case(id))
    }

    /// Reads the state saved in `dir`, if any.
    pub fn load(dir: &Path) -> Result<Option<State>, SandboxError> {
        match std::fs::read(dir.join(STATE_FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                SandboxError::State(format!(
                    "{} is damaged: {e}",
                    dir.join(STATE_FILE).display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SandboxError::State(format!(
                "cannot read {}: {e}",
                dir.join(STATE_FILE).display()
            ))),
        }
    }

    pub fn save(&self, dir: &Path) -> Result<(), SandboxError> {
        let bytes = serde_json::to_vec(self).map_err(|e| SandboxError::State(e.to_string()))?;
        write_private(&dir.join(STATE_FILE), &bytes)
    }
}

fn subscription(
    id: &str,
    name: &str,
    state: &str,
    registered: bool,
    groups: &[(&str, &str)],
) -> Subscription {
    Subscription {
        id: id.into(),
        tenant_id: home_tenant_id(),
        display_name: name.into(),
        state: state.into(),
        registered,
        resource_groups: groups
            .iter()
            .map(|(name, location)| ResourceGroup {
                name: (*name).into(),
                location: (*location).into(),
                tags: seeded_tags(name),
            })
            .collect(),
    }
}

/// Writes a state file privately and atomically (see `hubsetup_platform::private_file`).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SandboxError> {
    hubsetup_platform::private_file::write_atomically(path, bytes)
        .map_err(|e| SandboxError::State(format!("cannot write {}: {e}", path.display())))
}

/// The bounds of units per SKU, and the messages per day one unit allows.
pub(crate) fn sku_facts(sku: &str) -> Option<(&'static str, u64, u64)> {
    match sku {
        "F1" => Some(("Free", 1, 8_000)),
        "B1" => Some(("Basic", 200, 400_000)),
        "B2" => Some(("Basic", 200, 6_000_000)),
        "B3" => Some(("Basic", 10, 300_000_000)),
        "S1" => Some(("Standard", 200, 400_000)),
        "S2" => Some(("Standard", 200, 6_000_000)),
        "S3" => Some(("Standard", 10, 300_000_000)),
        _ => None,
    }
}

/// The tags a seeded resource group carries: `regulated-eu` has the `costCenter` its Azure
/// Policy requires, for new hubs to inherit.
fn seeded_tags(group: &str) -> BTreeMap<String, String> {
    match group {
        "regulated-eu" => BTreeMap::from([("costCenter".to_owned(), "4711".to_owned())]),
        _ => BTreeMap::new(),
    }
}
