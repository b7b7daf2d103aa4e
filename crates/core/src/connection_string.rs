//! IoT Hub connection strings: forgiving about how they were pasted, strict about what they say.
//!
//! A string is `Name=value` parts separated by `;`. Device strings carry `HostName`, `DeviceId`
//! and `SharedAccessKey` (optionally `ModuleId`, `GatewayHostName`); policy strings carry
//! `HostName`, `SharedAccessKeyName` and `SharedAccessKey`; certificate devices say `x509=true`
//! instead of carrying a key. Field names are case-insensitive, as in Azure's SDKs.
//!
//! [`inspect`] reports every field (masked) and every problem at once, so a person can fix a
//! string in one go; [`ConnectionString::parse`] is the same check for code that only wants the
//! result.

use std::fmt;

use zeroize::Zeroizing;

use crate::cloud::Cloud;
use crate::names::{self, NameError};
use crate::sas::{self, SasToken};
use crate::secret::{KeyError, SharedAccessKey};

/// The fields of a connection string, in the order a canonical string lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    HostName,
    DeviceId,
    ModuleId,
    SharedAccessKeyName,
    SharedAccessKey,
    SharedAccessSignature,
    X509,
    GatewayHostName,
}

impl Field {
    const ALL: [Field; 8] = [
        Field::HostName,
        Field::DeviceId,
        Field::ModuleId,
        Field::SharedAccessKeyName,
        Field::SharedAccessKey,
        Field::SharedAccessSignature,
        Field::X509,
        Field::GatewayHostName,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::HostName => "HostName",
            Field::DeviceId => "DeviceId",
            Field::ModuleId => "ModuleId",
            Field::SharedAccessKeyName => "SharedAccessKeyName",
            Field::SharedAccessKey => "SharedAccessKey",
            Field::SharedAccessSignature => "SharedAccessSignature",
            Field::X509 => "x509",
            Field::GatewayHostName => "GatewayHostName",
        }
    }

    fn from_name(name: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    fn is_secret(self) -> bool {
        matches!(self, Field::SharedAccessKey | Field::SharedAccessSignature)
    }
}

/// A problem that makes a connection string unusable. Each message says what is wrong, the
/// likely cause and what to do; none contains the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionStringError {
    #[error(
        "The connection string is empty. Paste the device's Primary Connection String from the \
         Azure portal (IoT Hub → Devices → your device)."
    )]
    Empty,
    #[error(
        "Part {part} of the connection string has no '=' sign. Every part must look like \
         Name=value, with parts separated by ';'. The string was probably cut or joined wrongly \
         when it was copied; copy it again in one piece."
    )]
    PartWithoutEquals { part: usize },
    #[error(
        "Part {part} of the connection string starts with '=' and has no field name. The string \
         was probably cut wrongly when it was copied; copy it again in one piece."
    )]
    EmptyFieldName { part: usize },
    #[error(
        "The field {field} appears more than once. Each field may appear only once; copy the \
         string again from its source instead of combining two strings."
    )]
    DuplicateField { field: &'static str },
    #[error("The field {field} is empty. Copy the string again; its {field} value was lost.")]
    EmptyValue { field: &'static str },
    #[error(
        "The HostName field is missing. It names the hub, as in \
         HostName=my-hub.azure-devices.net; copy the whole string, not just part of it."
    )]
    MissingHostName,
    #[error(
        "The SharedAccessKey field is missing, so the string cannot sign in. Copy the Primary \
         Connection String again, including its SharedAccessKey=… part."
    )]
    MissingKey,
    #[error(
        "The string has neither a DeviceId nor a SharedAccessKeyName, so it names no device and \
         no access policy. Copy a device's connection string (IoT Hub → Devices) or a policy's \
         (IoT Hub → Shared access policies)."
    )]
    MissingIdentity,
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("{0}")]
    DeviceId(NameError),
    #[error("{0}")]
    ModuleId(NameError),
    #[error(
        "The string has a ModuleId but no DeviceId; a module always belongs to a device. Copy \
         the module's connection string again."
    )]
    ModuleWithoutDevice,
    #[error("{error} (The hub name is the first part of HostName.)")]
    HubName { error: NameError },
    #[error(
        "{field} must be a bare host name such as my-hub.azure-devices.net, without '{found}'. \
         Remove everything but the host name."
    )]
    HostNotBare {
        field: &'static str,
        found: &'static str,
    },
    #[error(
        "HostName '{host}' is only a name, not a full host name. Use the hub's full host name, \
         for example {host}.azure-devices.net, as shown on the hub's Overview page."
    )]
    HostWithoutDomain { host: String },
    #[error(
        "{field} '{host}' is not a valid host name: {reason}. Copy the host name again from \
         the hub's Overview page."
    )]
    InvalidHost {
        field: &'static str,
        host: String,
        reason: &'static str,
    },
    #[error(
        "x509 must be 'true' when present, not '{value}'. Remove the x509 part for a key-based \
         string."
    )]
    InvalidX509Value { value: String },
    #[error(
        "The string says x509=true and also carries a SharedAccessKey; a device uses one or the \
         other. Ask for the device's connection string again."
    )]
    X509WithKey,
    #[error(
        "The string says x509=true but names no DeviceId. Certificate authentication is for \
         devices; ask for the device's connection string."
    )]
    X509WithoutDevice,
    #[error(
        "The string carries a ready-made SharedAccessSignature instead of a SharedAccessKey. \
         Such a token expires and cannot be used to make new ones; ask for the Primary \
         Connection String, which carries the key."
    )]
    TokenInsteadOfKey,
    #[error(
        "This string authenticates with an X.509 certificate (x509=true), so it has no key to \
         sign a token or test a connection with. Use the device's certificate, or ask for a \
         string with a SharedAccessKey."
    )]
    X509HasNoKey,
}

/// Something worth knowing that does not stop the string from working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// A field that no IoT Hub client reads; `name` is `None` when it might be a secret.
    UnknownField {
        part: usize,
        name: Option<String>,
        suggestion: Option<&'static str>,
    },
    /// The host is not under any known cloud's IoT Hub suffix.
    UnrecognisedHost { host: String },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::UnknownField {
                part,
                name,
                suggestion,
            } => {
                match name {
                    Some(name) => write!(f, "The field '{name}' (part {part}) is not part of an IoT Hub connection string and is ignored.")?,
                    None => write!(f, "Part {part} has a field name that is not part of an IoT Hub connection string; it is ignored.")?,
                }
                if let Some(suggestion) = suggestion {
                    write!(f, " Did you mean {suggestion}?")?;
                }
                Ok(())
            }
            Warning::UnrecognisedHost { host } => write!(
                f,
                "'{host}' is not an IoT Hub host of Azure, Azure China or Azure US Government \
                 (*.azure-devices.net, .cn, .us). That is expected for the sandbox or a custom \
                 domain; otherwise check the hub name."
            ),
        }
    }
}

/// A device or module identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    pub device_id: String,
    pub module_id: Option<String>,
}

/// How the string authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The device's (or module's) own key: tokens carry no `skn`.
    DeviceKey {
        identity: DeviceIdentity,
        key: SharedAccessKey,
    },
    /// A shared access policy's key, optionally used on behalf of one device.
    PolicyKey {
        policy_name: String,
        key: SharedAccessKey,
        identity: Option<DeviceIdentity>,
    },
    /// A device that authenticates with a certificate; there is no key.
    X509 { identity: DeviceIdentity },
}

/// A checked connection string. It has no `Display`: use [`ConnectionString::masked`] to show
/// it and [`ConnectionString::expose`] to hand it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionString {
    host_name: String,
    credential: Credential,
    gateway_host_name: Option<String>,
}

/// One field as a person may see it: secrets masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldView {
    pub name: String,
    pub value: String,
}

/// Everything [`inspect`] found: the fields, the warnings, and the string or its problems.
#[derive(Debug)]
pub struct Inspection {
    pub fields: Vec<FieldView>,
    pub warnings: Vec<Warning>,
    pub result: Result<ConnectionString, Vec<ConnectionStringError>>,
}

/// Joins several errors into one text, one per line.
pub fn describe_all(errors: &[ConnectionStringError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks a pasted string against the Azure clouds' host suffixes.
pub fn inspect(input: &str) -> Inspection {
    inspect_with_clouds(input, &Cloud::azure_clouds())
}

/// Checks a pasted string; hosts under any of `clouds` count as recognised.
pub fn inspect_with_clouds(input: &str, clouds: &[Cloud]) -> Inspection {
    let cleaned = clean_paste(input);
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut fields = Vec::new();
    let mut values: [Option<&str>; Field::ALL.len()] = Default::default();

    let parts: Vec<&str> = cleaned
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        errors.push(ConnectionStringError::Empty);
    }
    for (index, part) in parts.into_iter().enumerate() {
        let part_no = index + 1;
        let Some((name, value)) = part.split_once('=') else {
            errors.push(ConnectionStringError::PartWithoutEquals { part: part_no });
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            errors.push(ConnectionStringError::EmptyFieldName { part: part_no });
            continue;
        }
        let Some(field) = Field::from_name(name) else {
            let shown = printable_field_name(name);
            fields.push(FieldView {
                name: shown.clone().unwrap_or_else(|| format!("(part {part_no})")),
                value: "****".to_owned(),
            });
            warnings.push(Warning::UnknownField {
                part: part_no,
                name: shown,
                suggestion: suggest_field(name),
            });
            continue;
        };
        let slot = &mut values[field as usize];
        if slot.is_some() {
            let duplicate = ConnectionStringError::DuplicateField {
                field: field.name(),
            };
            if !errors.contains(&duplicate) {
                errors.push(duplicate);
            }
            continue;
        }
        *slot = Some(value);
        let shown = if field.is_secret() {
            masked_text(value)
        } else {
            value.to_owned()
        };
        fields.push(FieldView {
            name: field.name().to_owned(),
            value: shown,
        });
    }

    let get = |field: Field| values[field as usize];
    let result = if errors.is_empty() {
        build(get, clouds, &mut errors, &mut warnings)
    } else {
        None
    };
    Inspection {
        fields,
        warnings,
        result: match result {
            Some(cs) if errors.is_empty() => Ok(cs),
            _ => Err(errors),
        },
    }
}

/// Validates the fields' values and their combination, collecting every problem.
fn build<'a>(
    get: impl Fn(Field) -> Option<&'a str>,
    clouds: &[Cloud],
    errors: &mut Vec<ConnectionStringError>,
    warnings: &mut Vec<Warning>,
) -> Option<ConnectionString> {
    let mut non_empty = |field: Field| match get(field) {
        Some("") => {
            errors.push(ConnectionStringError::EmptyValue {
                field: field.name(),
            });
            None
        }
        other => other,
    };
    let host = non_empty(Field::HostName);
    let device_id = non_empty(Field::DeviceId);
    let module_id = non_empty(Field::ModuleId);
    let policy_name = non_empty(Field::SharedAccessKeyName);
    let key_text = non_empty(Field::SharedAccessKey);
    let token = non_empty(Field::SharedAccessSignature);
    let x509 = non_empty(Field::X509);
    let gateway = non_empty(Field::GatewayHostName);
    let empty_seen = !errors.is_empty();

    match host {
        Some(host) => {
            let hub = hub_label(host, clouds);
            let hub_problem = hub.and_then(|hub| names::check_hub_name(hub).err());
            if let Err(e) = check_bare(Field::HostName, host) {
                errors.push(e);
            } else if let Some(error) = hub_problem {
                errors.push(ConnectionStringError::HubName { error });
            } else if let Err(e) = check_host(Field::HostName, host) {
                errors.push(e);
            } else if hub.is_none() {
                warnings.push(Warning::UnrecognisedHost {
                    host: host.to_owned(),
                });
            }
        }
        None if get(Field::HostName).is_none() => {
            errors.push(ConnectionStringError::MissingHostName)
        }
        None => {}
    }
    if let Some(gateway) = gateway {
        if let Err(e) = check_host(Field::GatewayHostName, gateway) {
            errors.push(e);
        }
    }
    if let Some(id) = device_id {
        if let Err(e) = names::check_device_id(id) {
            errors.push(ConnectionStringError::DeviceId(e));
        }
    }
    if let Some(id) = module_id {
        if let Err(e) = names::check_module_id(id) {
            errors.push(ConnectionStringError::ModuleId(e));
        }
        if get(Field::DeviceId).is_none() {
            errors.push(ConnectionStringError::ModuleWithoutDevice);
        }
    }
    let is_x509 = match x509 {
        Some(value) if value.eq_ignore_ascii_case("true") => true,
        Some(value) => {
            errors.push(ConnectionStringError::InvalidX509Value {
                value: value.to_owned(),
            });
            false
        }
        None => false,
    };
    if token.is_some() {
        errors.push(ConnectionStringError::TokenInsteadOfKey);
    }
    let key = match key_text {
        Some(text) => SharedAccessKey::from_base64(text)
            .map_err(|e| errors.push(e.into()))
            .ok(),
        None => None,
    };
    if is_x509 {
        if key_text.is_some() {
            errors.push(ConnectionStringError::X509WithKey);
        }
        if get(Field::DeviceId).is_none() {
            errors.push(ConnectionStringError::X509WithoutDevice);
        }
    } else {
        if get(Field::SharedAccessKey).is_none() && token.is_none() {
            errors.push(ConnectionStringError::MissingKey);
        }
        if get(Field::DeviceId).is_none() && get(Field::SharedAccessKeyName).is_none() {
            errors.push(ConnectionStringError::MissingIdentity);
        }
    }
    if !errors.is_empty() || empty_seen {
        return None;
    }

    let identity = device_id.map(|id| DeviceIdentity {
        device_id: id.to_owned(),
        module_id: module_id.map(str::to_owned),
    });
    let credential = match (is_x509, policy_name, identity, key) {
        (true, _, Some(identity), _) => Credential::X509 { identity },
        (false, Some(policy), identity, Some(key)) => Credential::PolicyKey {
            policy_name: policy.to_owned(),
            key,
            identity,
        },
        (false, None, Some(identity), Some(key)) => Credential::DeviceKey { identity, key },
        _ => unreachable!("every other combination was reported as an error above"),
    };
    Some(ConnectionString {
        host_name: host?.to_owned(),
        credential,
        gateway_host_name: gateway.map(str::to_owned),
    })
}

/// Undoes what mail clients, chat apps and shells do to a pasted string: surrounding quotes and
/// whitespace, line breaks inside it, and invisible zero-width characters.
fn clean_paste(input: &str) -> String {
    let joined: String = input
        .lines()
        .map(str::trim)
        .collect::<String>()
        .chars()
        .filter(|c| {
            !matches!(
                c,
                '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
            )
        })
        .collect();
    let trimmed = joined.trim();
    const QUOTES: [(char, char); 4] = [('"', '"'), ('\'', '\''), ('`', '`'), ('“', '”')];
    for (open, close) in QUOTES {
        if let Some(inner) = trimmed
            .strip_prefix(open)
            .and_then(|s| s.strip_suffix(close))
        {
            return inner.trim().to_owned();
        }
    }
    trimmed.to_owned()
}

/// The hub name of `host` if it is an IoT Hub host: under a known cloud, or shaped like
/// `{hub}.azure-devices.{anything}` (as the sandbox's hosts are).
fn hub_label<'h>(host: &'h str, clouds: &[Cloud]) -> Option<&'h str> {
    clouds.iter().find_map(|c| c.hub_name_of(host)).or_else(|| {
        let (hub, rest) = host.split_once('.')?;
        let lower = rest.to_ascii_lowercase();
        (lower.starts_with("azure-devices.") && !clouds.is_empty()).then_some(hub)
    })
}

/// A host field must hold a host name alone: no scheme, path or port.
fn check_bare(field: Field, host: &str) -> Result<(), ConnectionStringError> {
    for found in ["://", "/", ":"] {
        if host.contains(found) {
            let found = if found == ":" { ":port" } else { found };
            return Err(ConnectionStringError::HostNotBare {
                field: field.name(),
                found,
            });
        }
    }
    Ok(())
}

fn check_host(field: Field, host: &str) -> Result<(), ConnectionStringError> {
    check_bare(field, host)?;
    let invalid = |reason| ConnectionStringError::InvalidHost {
        field: field.name(),
        host: shorten(host),
        reason,
    };
    if host.len() > 253 {
        return Err(invalid("it is longer than 253 characters"));
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err(invalid("it has an empty part between dots"));
        }
        if label.len() > 63 {
            return Err(invalid("one of its parts is longer than 63 characters"));
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(invalid(
                "only letters, digits, hyphens and dots may appear in it",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid("a part of it starts or ends with a hyphen"));
        }
    }
    // An IoT Edge gateway may be known by a bare name on the local network; a hub never is.
    if field == Field::HostName && !host.contains('.') {
        return Err(ConnectionStringError::HostWithoutDomain {
            host: shorten(host),
        });
    }
    Ok(())
}

fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Unknown field names are shown only when they cannot be a fragment of a key: short and made
/// of letters alone.
fn printable_field_name(name: &str) -> Option<String> {
    (name.len() <= 24 && name.chars().all(|c| c.is_ascii_alphabetic())).then(|| name.to_owned())
}

/// The known field an unknown name was probably meant to be.
fn suggest_field(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    Field::ALL
        .into_iter()
        .map(|f| (f, edit_distance(&lower, &f.name().to_ascii_lowercase())))
        .filter(|(_, d)| *d <= 3)
        .min_by_key(|(_, d)| *d)
        .map(|(f, _)| f.name())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// `****…` and the last four characters of a secret field's raw text.
fn masked_text(value: &str) -> String {
    let tail: String = value
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if value.chars().count() <= 8 {
        "****".to_owned()
    } else {
        format!("****…{tail}")
    }
}

impl ConnectionString {
    /// Parses a string, returning every problem if there is any.
    pub fn parse(input: &str) -> Result<ConnectionString, Vec<ConnectionStringError>> {
        inspect(input).result
    }

    /// Builds a device string as the Azure portal shows it.
    pub fn for_device(host_name: &str, device_id: &str, key: SharedAccessKey) -> ConnectionString {
        let identity = DeviceIdentity {
            device_id: device_id.to_owned(),
            module_id: None,
        };
        ConnectionString {
            host_name: host_name.to_owned(),
            credential: Credential::DeviceKey { identity, key },
            gateway_host_name: None,
        }
    }

    /// Builds a shared access policy string as the Azure portal shows it.
    pub fn for_policy(
        host_name: &str,
        policy_name: &str,
        key: SharedAccessKey,
    ) -> ConnectionString {
        ConnectionString {
            host_name: host_name.to_owned(),
            credential: Credential::PolicyKey {
                policy_name: policy_name.to_owned(),
                key,
                identity: None,
            },
            gateway_host_name: None,
        }
    }

    pub fn host_name(&self) -> &str {
        &self.host_name
    }

    /// The hub name: the first label of the host name.
    pub fn hub_name(&self) -> &str {
        self.host_name.split('.').next().unwrap_or(&self.host_name)
    }

    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    pub fn gateway_host_name(&self) -> Option<&str> {
        self.gateway_host_name.as_deref()
    }

    /// The device or module the string speaks for, if any.
    pub fn identity(&self) -> Option<&DeviceIdentity> {
        match &self.credential {
            Credential::DeviceKey { identity, .. } | Credential::X509 { identity } => {
                Some(identity)
            }
            Credential::PolicyKey { identity, .. } => identity.as_ref(),
        }
    }

    pub fn device_id(&self) -> Option<&str> {
        self.identity().map(|i| i.device_id.as_str())
    }

    pub fn key(&self) -> Option<&SharedAccessKey> {
        match &self.credential {
            Credential::DeviceKey { key, .. } | Credential::PolicyKey { key, .. } => Some(key),
            Credential::X509 { .. } => None,
        }
    }

    pub fn policy_name(&self) -> Option<&str> {
        match &self.credential {
            Credential::PolicyKey { policy_name, .. } => Some(policy_name),
            _ => None,
        }
    }

    /// The resource a token made from this string is scoped to by default: the device or
    /// module if the string names one, the whole hub otherwise.
    pub fn resource_uri(&self) -> String {
        let mut uri = self.host_name.clone();
        if let Some(identity) = self.identity() {
            uri.push_str("/devices/");
            uri.push_str(&identity.device_id);
            if let Some(module) = &identity.module_id {
                uri.push_str("/modules/");
                uri.push_str(module);
            }
        }
        uri
    }

    /// A SAS token for `resource_uri` (or [`ConnectionString::resource_uri`]) valid until
    /// `expiry` (seconds since the Unix epoch), with `skn` when the key is a policy's.
    pub fn sas_token(
        &self,
        resource_uri: Option<&str>,
        expiry: u64,
    ) -> Result<SasToken, ConnectionStringError> {
        let key = self.key().ok_or(ConnectionStringError::X509HasNoKey)?;
        let resource = resource_uri.map_or_else(|| self.resource_uri(), str::to_owned);
        Ok(sas::generate(key, &resource, expiry, self.policy_name()))
    }

    /// The canonical string with the key in clear text, for the keychain or an encrypted
    /// export. Never log or display it.
    pub fn expose(&self) -> Zeroizing<String> {
        let key = self.key().map(SharedAccessKey::expose_base64);
        Zeroizing::new(self.render(key.as_deref().map(String::as_str)))
    }

    /// The canonical string with the key masked, safe to show and log.
    pub fn masked(&self) -> String {
        let key = self.key().map(SharedAccessKey::masked);
        self.render(key.as_deref())
    }

    fn render(&self, key: Option<&str>) -> String {
        let mut parts = vec![format!("HostName={}", self.host_name)];
        if let Some(identity) = self.identity() {
            parts.push(format!("DeviceId={}", identity.device_id));
            if let Some(module) = &identity.module_id {
                parts.push(format!("ModuleId={module}"));
            }
        }
        if let Some(policy) = self.policy_name() {
            parts.push(format!("SharedAccessKeyName={policy}"));
        }
        match key {
            Some(key) => parts.push(format!("SharedAccessKey={key}")),
            None => parts.push("x509=true".to_owned()),
        }
        if let Some(gateway) = &self.gateway_host_name {
            parts.push(format!("GatewayHostName={gateway}"));
        }
        parts.join(";")
    }
}

#[cfg(test)]
mod tests;
