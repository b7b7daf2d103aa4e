//! The `$cbs` node (AMQP claims-based security): a client puts a SAS token for
//! `sb://{namespace}/{entity}` and gets the claims of the policy that signed it. The token is
//! checked as Event Hubs checks SAS: signature over `sr` as sent with the policy key's text as
//! the HMAC key, expiry, scope by whole path segments, `skn` naming one of the hub's policies.

use hubsetup_core::sas::{without_scheme, SasToken};
use hubsetup_core::{SharedAccessKey, TokenError};

use super::Peer;
use crate::amqp::{Reply, Request};
use crate::state::now_ms;

/// The rights a put token gave on this connection.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    /// `host/entity…`, without the scheme.
    pub(crate) scope: String,
    pub(crate) expires_at: u64,
    /// ServiceConnect: may read events and the management node's properties.
    pub(crate) listen: bool,
}

/// The one token type the built-in endpoint takes.
pub(crate) const SAS_TOKEN_TYPE: &str = "servicebus.windows.net:sastoken";

/// Answers a put-token request: 202 with the claim recorded, or 401 with Event Hubs' reason.
pub(crate) fn put_token(request: &Request<'_>, peer: &Peer) -> Reply {
    if request.text("operation").as_deref() != Some("put-token") {
        return Reply::status(400, "The $cbs node only supports the put-token operation.");
    }
    let audience = request.text("name").unwrap_or_default();
    if request.text("type").as_deref() != Some(SAS_TOKEN_TYPE) {
        return Reply::status(
            401,
            "InvalidToken: The IoT hub's built-in Event Hub-compatible endpoint accepts shared access signatures only (token type servicebus.windows.net:sastoken).",
        );
    }
    let Some(token) = request.body_text() else {
        return Reply::status(400, "The put-token request has no token in its body.");
    };
    match grant(&token, Some(&audience), peer) {
        Ok(()) => Reply::status(202, "Accepted"),
        Err(reason) => Reply::status(401, &reason),
    }
}

/// Checks a token sent along with a request (`security_token`) and records its claim, for
/// the entity the token names.
pub(crate) fn put_token_text(token: &str, peer: &Peer) -> Result<(), Reply> {
    grant(token, None, peer).map_err(|reason| Reply::status(401, &reason))
}

/// Checks `token` for `audience` (by default the resource it names itself) and records the
/// claim it gives on this connection, or says why not in Event Hubs' words.
fn grant(token: &str, audience: Option<&str>, peer: &Peer) -> Result<(), String> {
    let invalid = || "InvalidSignature: The token has an invalid signature.".to_owned();
    let token = SasToken::parse(token).map_err(|_| "InvalidToken: The token is not a shared access signature (SharedAccessSignature sr=…&sig=…&se=…&skn=…).".to_owned())?;
    let named = token.resource_uri().map_err(|_| invalid())?;
    let audience = without_scheme(audience.unwrap_or(&named))
        .trim_end_matches('/')
        .to_owned();
    if !audience
        .split('/')
        .next()
        .is_some_and(|host| host.eq_ignore_ascii_case(&peer.host))
    {
        return Err(format!(
            "InvalidAudience: The token's audience '{audience}' is not this namespace ({}).",
            peer.host
        ));
    }
    let state = peer.endpoints.state.lock().expect("state lock");
    let hub = state
        .hubs
        .get(&peer.hub)
        .ok_or_else(|| "The IoT hub of this endpoint no longer exists.".to_owned())?;
    if hub.network.disable_local_auth {
        return Err("LocalAuthDisabled: Local (SAS) authentication is disabled on this IoT hub, and its built-in Event Hub-compatible endpoint takes shared access keys only.".to_owned());
    }
    let policy_name = token.key_name().ok_or_else(invalid)?;
    let policy = hub.policy(policy_name).ok_or_else(invalid)?;
    // Event Hubs signs with the key's text itself, where IoT Hub signs with its decoded bytes.
    let keys: Vec<SharedAccessKey> = [&policy.primary_key, &policy.secondary_key]
        .into_iter()
        .filter_map(|k| SharedAccessKey::from_bytes(k.as_bytes().to_vec()).ok())
        .collect();
    let key_refs: Vec<&SharedAccessKey> = keys.iter().collect();
    let now = now_ms() / 1000;
    token
        .verify(&key_refs, Some(policy_name), now, &audience)
        .map_err(|error| match error {
            TokenError::Expired { .. } => format!(
                "ExpiredToken: The token is expired. Expiration time: '{}'",
                super::timestamp_text(token.expiry() * 1000)
            ),
            TokenError::OutOfScope { .. } => {
                format!("InvalidAudience: The token's resource (sr) does not cover '{audience}'.")
            }
            _ => invalid(),
        })?;
    let claim = Claim {
        scope: without_scheme(&named).trim_end_matches('/').to_owned(),
        expires_at: token.expiry(),
        listen: policy.has_right("ServiceConnect"),
    };
    drop(state);
    peer.claims.lock().expect("claims").push(claim);
    Ok(())
}

impl Peer {
    /// Whether a put token, still valid, lets this connection read `resource` (`entity/…`).
    pub(crate) fn may_listen(&self, resource: &str) -> Result<(), Refusal> {
        let requested = format!("{}/{resource}", self.host).to_ascii_lowercase();
        let now = now_ms() / 1000;
        let claims = self.claims.lock().expect("claims");
        let covering: Vec<&Claim> = claims
            .iter()
            .filter(|c| {
                let scope = c.scope.to_ascii_lowercase();
                requested == scope || requested.starts_with(&format!("{scope}/"))
            })
            .collect();
        if covering.is_empty() {
            return Err(Refusal::NoToken);
        }
        if covering.iter().all(|c| c.expires_at <= now) {
            return Err(Refusal::Expired);
        }
        if !covering.iter().any(|c| c.listen && c.expires_at > now) {
            return Err(Refusal::NoListenClaim);
        }
        Ok(())
    }
}

/// Why a link or a request is refused by the claims check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    NoToken,
    Expired,
    NoListenClaim,
}

impl Refusal {
    pub(crate) fn describe(self, resource: &str) -> String {
        match self {
            Refusal::NoToken => format!("Unauthorized access. No token was put on $cbs for '{resource}': put a shared access signature first."),
            Refusal::Expired => format!("Unauthorized access. The token put for '{resource}' has expired; put a new one."),
            Refusal::NoListenClaim => format!("Unauthorized access. 'Listen' claim(s) are required to perform this operation. Resource: '{resource}'."),
        }
    }
}
