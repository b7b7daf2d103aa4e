//! Public-key lookups as people make them, for the hand-off's key search:
//!
//! - Web Key Directory on the sandbox's mail domains: `partner.{suffix}` publishes through the
//!   advanced method (`openpgpkey.partner.{suffix}`), `contoso.{suffix}` through the direct one
//!   (it has no `openpgpkey.` host, so that name does not resolve, as on such domains).
//! - A verifying key server's VKS API at `keys.{suffix}`, as keys.openpgp.org serves it.
//! - Keybase's public key file at `keybase.{suffix}/{user}/pgp_keys.asc`.
//!
//! Keys are published through the control endpoint (`POST /keys`) by tests that made them with
//! real OpenPGP tools; the sandbox keeps them as given and never parses OpenPGP. Rate limits
//! and outages come from the fault rules, as for every other service.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hubsetup_core::wkd::MailAddress;
use hyper::{Method, StatusCode};

use crate::http::{response, Req, Resp};
pub use crate::state::PublishedKey;
use crate::state::State;

/// The sandbox's mail domains (under its suffix), and whether each has an `openpgpkey.` host.
pub(crate) const MAIL_DOMAINS: [(&str, bool); 2] = [("partner", true), ("contoso", false)];

/// `GET /.well-known/openpgpkey/{domain}/hu/{hash}` (advanced) or
/// `/.well-known/openpgpkey/hu/{hash}` (direct) on `domain`: every key with an address of that
/// domain whose hashed local part matches, concatenated, as WKD serves them.
pub(crate) fn wkd(req: &Req, domain: &str, advanced: bool, state: &State) -> Resp {
    let segments = req.segments();
    let hash = match (advanced, segments.as_slice()) {
        (true, [".well-known", "openpgpkey", d, "hu", hash]) if *d == domain => *hash,
        (false, [".well-known", "openpgpkey", "hu", hash]) => *hash,
        (true, [".well-known", "openpgpkey", d, "policy"]) if *d == domain => {
            return response(StatusCode::OK, "text/plain", "")
        }
        (false, [".well-known", "openpgpkey", "policy"]) => {
            return response(StatusCode::OK, "text/plain", "")
        }
        _ => return not_found(),
    };
    if req.method != Method::GET {
        return response(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "");
    }
    let mut found = Vec::new();
    for key in &state.published_keys {
        let matches = key
            .emails
            .iter()
            .filter_map(|e| MailAddress::parse(e))
            .any(|address| address.domain == domain && address.hashed_local_part() == hash);
        if matches {
            found.extend(STANDARD.decode(&key.binary).unwrap_or_default());
        }
    }
    if found.is_empty() {
        return not_found();
    }
    response(StatusCode::OK, "application/octet-stream", found)
}

/// keys.openpgp.org's VKS API: `/vks/v1/by-email/{address}`, `/vks/v1/by-fingerprint/{FPR}`.
pub(crate) fn vks(req: &Req, state: &State) -> Resp {
    let segments = req.segments();
    let found = match (&req.method, segments.as_slice()) {
        (&Method::GET, ["vks", "v1", "by-email", address]) => {
            let wanted = address.to_ascii_lowercase();
            state
                .published_keys
                .iter()
                .find(|k| k.emails.iter().any(|e| e.to_ascii_lowercase() == wanted))
                .ok_or_else(|| format!("No key found for email address {address}"))
        }
        (&Method::GET, ["vks", "v1", "by-fingerprint", fingerprint]) => {
            let valid = matches!(fingerprint.len(), 40 | 64)
                && fingerprint
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase());
            if !valid {
                return response(
                    StatusCode::BAD_REQUEST,
                    "text/plain",
                    "Invalid fingerprint: use upper-case hexadecimal without spaces",
                );
            }
            state
                .published_keys
                .iter()
                .find(|k| k.fingerprint == *fingerprint)
                .ok_or_else(|| format!("No key found for fingerprint {fingerprint}"))
        }
        _ => return not_found(),
    };
    match found {
        Ok(key) => response(StatusCode::OK, "application/pgp-keys", key.armored.clone()),
        Err(message) => response(StatusCode::NOT_FOUND, "text/plain", message),
    }
}

/// Keybase's `/{user}/pgp_keys.asc`.
pub(crate) fn keybase(req: &Req, state: &State) -> Resp {
    match (&req.method, req.segments().as_slice()) {
        (&Method::GET, [user, "pgp_keys.asc"]) => state
            .published_keys
            .iter()
            .find(|k| {
                k.keybase
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(user))
            })
            .map_or_else(
                || {
                    response(
                        StatusCode::NOT_FOUND,
                        "text/plain",
                        "SELF-SIGNED PUBLIC KEY NOT FOUND",
                    )
                },
                |key| {
                    response(
                        StatusCode::OK,
                        "text/plain; charset=utf-8",
                        key.armored.clone(),
                    )
                },
            ),
        _ => not_found(),
    }
}

fn not_found() -> Resp {
    response(StatusCode::NOT_FOUND, "text/plain", "Not Found")
}
