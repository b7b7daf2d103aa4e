//! Shared access signature tokens, made and checked exactly as Azure IoT Hub does.
//!
//! A token is `SharedAccessSignature sr={uri}&sig={signature}&se={expiry}[&skn={policy}]`. The
//! signature is HMAC-SHA256, keyed with the decoded key, over `{sr}\n{se}`, where `sr` is the
//! URL-encoded resource URI; it is sent base64-encoded and URL-encoded. Field order carries no
//! meaning. See `shared/reference/azure-iot-hub.md` §1.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::Sha256;

use crate::secret::SharedAccessKey;

/// Everything but ASCII letters, digits and `-._~` is escaped, with uppercase hex, as the
/// Python and .NET SDKs do; Node additionally escapes `!'()*`, which this set does too.
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const PREFIX: &str = "SharedAccessSignature ";

/// URL-encodes one token field value.
pub fn url_encode(value: &str) -> String {
    utf8_percent_encode(value, URL_ENCODE).to_string()
}

/// The base64 HMAC-SHA256 of `string_to_sign` under `key`.
fn signature(key: &[u8], string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// A SAS token. Its fields are kept as they appear on the wire (URL-encoded), because the
/// signature is computed over `sr` exactly as sent.
#[derive(Clone, PartialEq, Eq)]
pub struct SasToken {
    encoded_resource: String,
    encoded_signature: String,
    expiry: u64,
    key_name: Option<String>,
}

/// Makes a token for `resource_uri` (e.g. `my-hub.azure-devices.net/devices/dev1`, no scheme),
/// valid until `expiry` seconds since the Unix epoch; `key_name` is the policy name for a
/// shared access policy's key, `None` for a device's own key.
pub fn generate(
    key: &SharedAccessKey,
    resource_uri: &str,
    expiry: u64,
    key_name: Option<&str>,
) -> SasToken {
    let encoded_resource = url_encode(resource_uri);
    let sig = signature(key.as_bytes(), &format!("{encoded_resource}\n{expiry}"));
    SasToken {
        encoded_resource,
        encoded_signature: url_encode(&sig),
        expiry,
        key_name: key_name.map(str::to_owned),
    }
}

/// Why a token was refused. Messages name the cause and the fix; none repeats the signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("The token does not start with 'SharedAccessSignature '. Send the whole token, including that word.")]
    MissingPrefix,
    #[error(
        "The token has no '{field}' field. Make a new token; this one was cut or built by hand."
    )]
    MissingField { field: &'static str },
    #[error(
        "The token has the field '{field}' twice. Make a new token; this one was built wrongly."
    )]
    DuplicateField { field: String },
    #[error("The token has an unknown field '{field}'. Tokens carry only sr, sig, se and skn.")]
    UnknownField { field: String },
    #[error("The token's part '{part}' is not of the form name=value.")]
    MalformedPart { part: String },
    #[error("The token's expiry (se) must be whole seconds since 1970; make a new token.")]
    InvalidExpiry,
    #[error("The token's resource (sr) is not valid URL-encoded text; make a new token.")]
    InvalidResource,
    #[error(
        "The token expired {seconds_ago} s ago. Make a new one; if it was just made, this \
         computer's clock is probably wrong: set it to the correct time."
    )]
    Expired { seconds_ago: u64 },
    #[error(
        "The token's signature does not match the key. The key is wrong or was rotated, or a \
         device key was used where a policy key was expected (or the other way round)."
    )]
    SignatureMismatch,
    #[error("The token is for '{token_scope}', which does not cover '{requested}'. Make a token for the right hub and device.")]
    OutOfScope {
        token_scope: String,
        requested: String,
    },
    #[error(
        "The token names the access policy '{found}' (skn), but this resource needs a device \
         key token without skn. Use the device's own connection string."
    )]
    UnexpectedKeyName { found: String },
    #[error(
        "The token has no access policy name (skn), but it is checked against a policy key. \
         Make the token from the policy's connection string, which names the policy."
    )]
    MissingKeyName,
}

impl SasToken {
    /// Reads a token as sent in an `Authorization` header or as an MQTT password.
    pub fn parse(text: &str) -> Result<SasToken, TokenError> {
        let body = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(TokenError::MissingPrefix)?;
        let (mut sr, mut sig, mut se, mut skn) = (None, None, None, None);
        for part in body.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| TokenError::MalformedPart {
                    part: truncate(part),
                })?;
            let slot = match name {
                "sr" => &mut sr,
                "sig" => &mut sig,
                "se" => &mut se,
                "skn" => &mut skn,
                other => {
                    return Err(TokenError::UnknownField {
                        field: truncate(other),
                    })
                }
            };
            if slot.replace(value).is_some() {
                return Err(TokenError::DuplicateField {
                    field: name.to_owned(),
                });
            }
        }
        let expiry = se
            .ok_or(TokenError::MissingField { field: "se" })?
            .parse::<u64>()
            .map_err(|_| TokenError::InvalidExpiry)?;
        let key_name =
            skn.map(|v| decode(v).ok_or(TokenError::MalformedPart { part: "skn".into() }));
        Ok(SasToken {
            encoded_resource: sr
                .ok_or(TokenError::MissingField { field: "sr" })?
                .to_owned(),
            encoded_signature: sig
                .ok_or(TokenError::MissingField { field: "sig" })?
                .to_owned(),
            expiry,
            key_name: key_name.transpose()?,
        })
    }

    /// Seconds since the Unix epoch after which the token is refused.
    pub fn expiry(&self) -> u64 {
        self.expiry
    }

    /// The policy name (`skn`), if the token was made with a policy key.
    pub fn key_name(&self) -> Option<&str> {
        self.key_name.as_deref()
    }

    /// The resource URI the token covers, decoded (`host/devices/id`).
    pub fn resource_uri(&self) -> Result<String, TokenError> {
        decode(&self.encoded_resource).ok_or(TokenError::InvalidResource)
    }

    /// The token in its header form. It grants access until it expires: treat it as a secret.
    pub fn expose(&self) -> String {
        let mut text = format!(
            "{PREFIX}sr={}&sig={}&se={}",
            self.encoded_resource, self.encoded_signature, self.expiry
        );
        if let Some(name) = &self.key_name {
            text.push_str("&skn=");
            text.push_str(&url_encode(name));
        }
        text
    }

    /// Checks, in Azure's order: that `skn` is present exactly when the keys are a policy's
    /// (`policy_name`); the signature against any of `keys` (primary, secondary) over `sr`
    /// exactly as sent; expiry against `now`; and that the token covers `requested_resource`
    /// (a decoded `host[/devices/id…]`), host case-insensitively and path by whole segments.
    pub fn verify(
        &self,
        keys: &[&SharedAccessKey],
        policy_name: Option<&str>,
        now: u64,
        requested_resource: &str,
    ) -> Result<(), TokenError> {
        match (policy_name, self.key_name()) {
            (None, Some(found)) => {
                return Err(TokenError::UnexpectedKeyName {
                    found: found.to_owned(),
                })
            }
            (Some(_), None) => return Err(TokenError::MissingKeyName),
            (Some(expected), Some(found)) if expected != found => {
                return Err(TokenError::SignatureMismatch)
            }
            _ => {}
        }
        let string_to_sign = format!("{}\n{}", self.encoded_resource, self.expiry);
        let presented = decode(&self.encoded_signature)
            .and_then(|s| STANDARD.decode(s).ok())
            .ok_or(TokenError::SignatureMismatch)?;
        let matches = keys.iter().any(|key| {
            let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
            mac.update(string_to_sign.as_bytes());
            mac.verify_slice(&presented).is_ok()
        });
        if !matches {
            return Err(TokenError::SignatureMismatch);
        }
        if self.expiry <= now {
            return Err(TokenError::Expired {
                seconds_ago: now - self.expiry,
            });
        }
        let token_scope = self.resource_uri()?;
        if !covers(&token_scope, requested_resource) {
            return Err(TokenError::OutOfScope {
                token_scope,
                requested: requested_resource.to_owned(),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for SasToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SasToken")
            .field("resource", &self.encoded_resource)
            .field("signature", &"****")
            .field("expiry", &self.expiry)
            .field("key_name", &self.key_name)
            .finish()
    }
}

/// Whether a token scoped to `scope` grants access to `requested`: same host (DNS is
/// case-insensitive), and `scope`'s path is a whole-segment prefix of `requested`'s.
fn covers(scope: &str, requested: &str) -> bool {
    let split = |uri: &str| -> (String, Vec<String>) {
        let uri = without_scheme(uri);
        let mut segments = uri.trim_end_matches('/').split('/');
        let host = segments.next().unwrap_or_default().to_ascii_lowercase();
        (host, segments.map(str::to_owned).collect())
    };
    let (scope_host, scope_path) = split(scope);
    let (requested_host, requested_path) = split(requested);
    scope_host == requested_host && requested_path.starts_with(&scope_path)
}

/// A resource URI without its scheme: Event Hubs' tokens name one (`sb://namespace/entity`),
/// IoT Hub's do not.
pub fn without_scheme(uri: &str) -> &str {
    uri.split_once("://").map_or(uri, |(_, rest)| rest)
}

fn decode(value: &str) -> Option<String> {
    percent_decode_str(value)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

fn truncate(text: &str) -> String {
    text.chars().take(20).collect()
}

#[cfg(test)]
mod tests;
