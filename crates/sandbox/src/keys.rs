//! Public-key lookups as people make them, for the hand-off's key search:
//!
//! - Web Key Directory on the sandbox's mail domains: `partner.{suffix}` publishes through the
//!   advanced method (`openpgpkey.partner.{suffix}`), `contoso.{suffix}` through the direct one
//!   (it has no `openpgpkey.` host, so that name does not resolve, as on such domains).
//! - A verifying key server at `keys.{suffix}`, as keys.openpgp.org serves it: its VKS API and
//!   HKP's `op=get`.
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

/// keys.openpgp.org's two APIs on its host: VKS (`/vks/v1/by-email/{address}`,
/// `/vks/v1/by-fingerprint/{FPR}`) and HKP (`/pks/lookup?op=get&search=…`), which `gpg
/// --recv-keys` and `sq keyserver get` use.
pub(crate) fn key_server(req: &Req, state: &State) -> Resp {
    let segments = req.segments();
    let found = match (&req.method, segments.as_slice()) {
        (&Method::GET, ["vks", "v1", "by-email", address]) => by_email(address, state),
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
            by_hex(fingerprint, state)
        }
        (&Method::GET, ["pks", "lookup"]) => match hkp_lookup(req) {
            Ok(HkpSearch::Hex(hex)) => by_hex(&hex, state),
            Ok(HkpSearch::Email(address)) => by_email(&address, state),
            Err(refusal) => return refusal,
        },
        _ => return not_found(),
    };
    match found {
        Ok(key) => response(StatusCode::OK, "application/pgp-keys", key.armored.clone()),
        Err(message) => response(StatusCode::NOT_FOUND, "text/plain", message),
    }
}

/// What an HKP `op=get` searches for.
#[derive(Debug, PartialEq)]
enum HkpSearch {
    /// A fingerprint or long key ID, upper-case, without `0x`.
    Hex(String),
    Email(String),
}

/// Reads an HKP request's `op` and `search` as keys.openpgp.org does: `get` only (it keeps no
/// index of user IDs that could be listed), by fingerprint, long key ID or exact address.
fn hkp_lookup(req: &Req) -> Result<HkpSearch, Resp> {
    let bad = |message: &str| response(StatusCode::BAD_REQUEST, "text/plain", message.to_owned());
    match req.query("op") {
        Some("get") => {}
        Some("index" | "vindex") => {
            return Err(response(
                StatusCode::NOT_IMPLEMENTED,
                "text/plain",
                "Searching is not supported: look a key up by its fingerprint or an exact e-mail address with op=get",
            ))
        }
        Some(other) => return Err(bad(&format!("Invalid operation: {other}"))),
        None => return Err(bad("Missing parameter: op")),
    }
    let search = req
        .query("search")
        .ok_or_else(|| bad("Missing parameter: search"))?;
    if let Some(hex) = search
        .strip_prefix("0x")
        .or_else(|| search.strip_prefix("0X"))
    {
        let valid = matches!(hex.len(), 16 | 40 | 64) && hex.chars().all(|c| c.is_ascii_hexdigit());
        return if valid {
            Ok(HkpSearch::Hex(hex.to_ascii_uppercase()))
        } else {
            Err(bad("Invalid search query: give a fingerprint or long key ID as 0x followed by hexadecimal"))
        };
    }
    if MailAddress::parse(search).is_some() {
        Ok(HkpSearch::Email(search.to_owned()))
    } else {
        Err(bad(
            "Invalid search query: give a fingerprint, a long key ID or an exact e-mail address",
        ))
    }
}

/// The key with this fingerprint, or whose fingerprint ends in this long key ID (v4 keys).
fn by_hex<'a>(hex: &str, state: &'a State) -> Result<&'a PublishedKey, String> {
    let found = state.published_keys.iter().find(|k| {
        if hex.len() == 16 {
            k.fingerprint.ends_with(hex)
        } else {
            k.fingerprint == hex
        }
    });
    let what = if hex.len() == 16 {
        "key ID"
    } else {
        "fingerprint"
    };
    found.ok_or_else(|| format!("No key found for {what} {hex}"))
}

fn by_email<'a>(address: &str, state: &'a State) -> Result<&'a PublishedKey, String> {
    let wanted = address.to_ascii_lowercase();
    state
        .published_keys
        .iter()
        .find(|k| k.emails.iter().any(|e| e.to_ascii_lowercase() == wanted))
        .ok_or_else(|| format!("No key found for email address {address}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(query: &str) -> Result<HkpSearch, (StatusCode, String)> {
        let req = Req {
            method: Method::GET,
            host: "keys.sandbox.test".into(),
            path: "/pks/lookup".into(),
            segments: vec!["pks".into(), "lookup".into()],
            query: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            headers: Default::default(),
            body: Default::default(),
        };
        hkp_lookup(&req).map_err(|mut refusal| {
            let body = crate::http::body_of(&mut refusal);
            (
                refusal.status(),
                String::from_utf8_lossy(&body).into_owned(),
            )
        })
    }

    #[test]
    fn hkp_gets_by_fingerprint_key_id_or_address() {
        let fingerprint = "54840868640C9D7EBA8ED1310D354F169F04FBD0";
        assert_eq!(
            lookup(&format!(
                "op=get&options=mr&search=0x{}",
                fingerprint.to_lowercase()
            )),
            Ok(HkpSearch::Hex(fingerprint.into()))
        );
        assert_eq!(
            lookup("op=get&search=0x0D354F169F04FBD0"),
            Ok(HkpSearch::Hex("0D354F169F04FBD0".into()))
        );
        assert_eq!(
            lookup("op=get&search=sam%40partner.sandbox.test"),
            Ok(HkpSearch::Email("sam@partner.sandbox.test".into()))
        );
    }

    #[test]
    fn hkp_refuses_what_it_cannot_answer_in_words() {
        assert_eq!(
            lookup("op=index&search=sam"),
            Err((
                StatusCode::NOT_IMPLEMENTED,
                "Searching is not supported: look a key up by its fingerprint or an exact e-mail address with op=get".into()
            ))
        );
        assert_eq!(
            lookup("op=get&search=0x9F04FBD0"),
            Err((
                StatusCode::BAD_REQUEST,
                "Invalid search query: give a fingerprint or long key ID as 0x followed by hexadecimal".into()
            ))
        );
        assert_eq!(
            lookup("op=get&search=Sam"),
            Err((
                StatusCode::BAD_REQUEST,
                "Invalid search query: give a fingerprint, a long key ID or an exact e-mail address".into()
            ))
        );
        assert_eq!(
            lookup("op=stats"),
            Err((StatusCode::BAD_REQUEST, "Invalid operation: stats".into()))
        );
    }
}
