//! Finding a support contact's public key where people publish them: by e-mail address
//! through the address's Web Key Directory (advanced, then direct method) and then a verifying
//! key server (keys.openpgp.org's VKS API); by fingerprint on the key server; by Keybase user
//! name; or in the user's own GnuPG keyring.
//!
//! Every online lookup goes through the app's [`Network`] (proxy, extra root certificates, the
//! sandbox's hosts). What is found is checked like a key from a file ([`PublicKey::read`]), and
//! a key found by address must name that address. The caller shows where it came from and its
//! fingerprint, and asks the user to confirm the fingerprint with the person out of band.

use hubsetup_core::cloud::host_of;
use hubsetup_core::wkd::MailAddress;
use hubsetup_handoff::{gnupg, HandoffError, PublicKey};
use hubsetup_net::{Network, Unreachable};

/// What to look for, as a person types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Address(MailAddress),
    /// Upper-case hexadecimal, 40 (v4) or 64 (v6) digits.
    Fingerprint(String),
    Keybase(String),
}

impl Query {
    /// `sam@partner.example`, a fingerprint (spaces allowed), or `keybase:NAME`.
    pub fn parse(text: &str) -> Result<Query, LookupError> {
        let text = text.trim();
        if let Some(user) = text.strip_prefix("keybase:") {
            let valid = !user.is_empty()
                && user.len() <= 16
                && user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            return match valid {
                true => Ok(Query::Keybase(user.to_ascii_lowercase())),
                false => Err(LookupError::InvalidQuery(text.to_owned())),
            };
        }
        let hex: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let hex = hex.strip_prefix("0x").unwrap_or(&hex);
        if matches!(hex.len(), 40 | 64) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(Query::Fingerprint(hex.to_ascii_uppercase()));
        }
        MailAddress::parse(text)
            .map(Query::Address)
            .ok_or_else(|| LookupError::InvalidQuery(text.to_owned()))
    }
}

/// A key found, and where.
#[derive(Debug, Clone)]
pub struct Found {
    pub key: PublicKey,
    /// Where it came from, for people: `the Web Key Directory of partner.example`.
    pub source: String,
    /// The exact URL (or `gpg --export …`) it was read from.
    pub location: String,
}

/// Why no usable key was found. Messages say where was searched and what to do.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(
        "'{0}' is not something a key can be looked up by. Give an e-mail address \
         (sam@partner.example), a fingerprint (40 or 64 hexadecimal digits, spaces allowed) or \
         keybase:NAME."
    )]
    InvalidQuery(String),
    #[error(
        "No public key for {query} was found. Searched: {}. Ask the support contact to publish \
         their key (for example at keys.openpgp.org, which asks them to confirm their address) \
         or to send it to you as a file.",
        searched.join("; ")
    )]
    NotFound {
        query: String,
        searched: Vec<String>,
    },
    #[error(
        "{server} is refusing more lookups from this network for now (429 Too Many Requests). \
         Try again in a few minutes, or ask the support contact for their key as a file."
    )]
    RateLimited { server: String },
    #[error("{server} answered the lookup with {status}. Try again later, or ask the support contact for their key as a file.")]
    ServerError { server: String, status: String },
    #[error(
        "The key {fingerprint} found for {address} ({origin}) does not name that address: its \
         user IDs are {}. It may be someone else's key: do not use it. Ask the support contact \
         for their key as a file.",
        if user_ids.is_empty() { "none".to_owned() } else { user_ids.join(", ") }
    )]
    AddressNotInKey {
        address: String,
        fingerprint: String,
        origin: String,
        user_ids: Vec<String>,
    },
    #[error("The key found {origin} cannot be used: {error}")]
    Unusable {
        origin: String,
        #[source]
        error: HandoffError,
    },
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    #[error(
        "GnuPG (gpg) is not installed, so there is no local keyring to search. Look the key up \
         online, or use a key file."
    )]
    NoGnupg,
    #[error("The HTTP client could not be set up: {0}.")]
    Client(String),
}

/// Looks keys up online through one network.
#[derive(Debug, Clone)]
pub struct Finder {
    client: reqwest::Client,
    key_server: String,
    keybase: String,
}

/// What one place answered.
enum Answer {
    Key(Vec<u8>),
    Nothing,
}

impl Finder {
    pub fn new(network: &Network) -> Result<Finder, LookupError> {
        let cloud = network.cloud();
        Ok(Finder {
            client: network
                .http_client()
                .map_err(|e| LookupError::Client(e.to_string()))?,
            key_server: cloud.key_server.trim_end_matches('/').to_owned(),
            keybase: cloud.keybase.trim_end_matches('/').to_owned(),
        })
    }

    /// The key for `query`, from the first place that has it.
    pub async fn find(&self, query: &Query) -> Result<Found, LookupError> {
        match query {
            Query::Address(address) => self.by_address(address).await,
            Query::Fingerprint(fingerprint) => {
                let url = format!("{}/vks/v1/by-fingerprint/{fingerprint}", self.key_server);
                let source = format!("on {}", host_of(&self.key_server));
                match self.fetch(&url, true).await? {
                    Answer::Key(bytes) => read(&bytes, Some(fingerprint), source, url),
                    Answer::Nothing => Err(LookupError::NotFound {
                        query: spaced(fingerprint),
                        searched: vec![host_of(&self.key_server)],
                    }),
                }
            }
            Query::Keybase(user) => {
                let url = format!("{}/{user}/pgp_keys.asc", self.keybase);
                let source = format!("on Keybase as {user}");
                match self.fetch(&url, true).await? {
                    Answer::Key(bytes) => read(&bytes, None, source, url),
                    Answer::Nothing => Err(LookupError::NotFound {
                        query: format!("the Keybase user {user}"),
                        searched: vec![host_of(&self.keybase)],
                    }),
                }
            }
        }
    }

    /// The address's Web Key Directory (advanced, then direct), then the key server.
    async fn by_address(&self, address: &MailAddress) -> Result<Found, LookupError> {
        let directory = format!("in the Web Key Directory of {}", address.domain);
        let vks = format!(
            "{}/vks/v1/by-email/{}",
            self.key_server,
            percent_encoding::utf8_percent_encode(
                &address.address(),
                percent_encoding::NON_ALPHANUMERIC
            )
        );
        let places = [
            (address.advanced_url(), directory.clone(), false),
            (address.direct_url(), directory, false),
            (vks, format!("on {}", host_of(&self.key_server)), true),
        ];
        for (url, source, required) in places {
            if let Answer::Key(bytes) = self.fetch(&url, required).await? {
                return with_address(&bytes, address, source, url);
            }
        }
        Err(LookupError::NotFound {
            query: address.address(),
            searched: vec![
                format!("the Web Key Directory of {}", address.domain),
                host_of(&self.key_server),
            ],
        })
    }

    /// `GET url`: a key, or nothing there (404, or for a Web Key Directory that is not
    /// `required`, a host that does not exist or answer).
    async fn fetch(&self, url: &str, required: bool) -> Result<Answer, LookupError> {
        let server = host_of(url);
        let answer = match self.client.get(url).send().await {
            Ok(answer) => answer,
            Err(_) if !required => return Ok(Answer::Nothing),
            Err(e) => return Err(Unreachable::new(server, &e).into()),
        };
        match answer.status().as_u16() {
            200 => answer
                .bytes()
                .await
                .map(|b| Answer::Key(b.to_vec()))
                .map_err(|e| Unreachable::new(server, &e).into()),
            404 | 410 => Ok(Answer::Nothing),
            _ if !required => Ok(Answer::Nothing),
            429 => Err(LookupError::RateLimited { server }),
            _ => Err(LookupError::ServerError {
                server,
                status: answer.status().to_string(),
            }),
        }
    }
}

/// The key for `query` in the user's own GnuPG keyring (`gpg --export`), when gpg is installed.
pub fn find_in_gnupg(query: &Query) -> Result<Found, LookupError> {
    let wanted = match query {
        Query::Address(address) => format!("<{}>", address.address()),
        Query::Fingerprint(fingerprint) => fingerprint.clone(),
        Query::Keybase(_) => return Err(LookupError::InvalidQuery(format!("{query:?}"))),
    };
    let exported = gnupg::export(&wanted).map_err(|_| LookupError::NoGnupg)?;
    let location = format!("gpg --export {wanted}");
    if exported.is_empty() {
        return Err(LookupError::NotFound {
            query: wanted,
            searched: vec!["your GnuPG keyring".to_owned()],
        });
    }
    let source = "in your GnuPG keyring".to_owned();
    match query {
        Query::Address(address) => with_address(&exported, address, source, location),
        _ => read(&exported, None, source, location),
    }
}

/// The one key in `bytes` that names `address` among its user IDs.
fn with_address(
    bytes: &[u8],
    address: &MailAddress,
    source: String,
    location: String,
) -> Result<Found, LookupError> {
    let names = |user_id: &str| {
        let wanted = address.address().to_lowercase();
        let bracketed = user_id
            .rsplit_once('<')
            .and_then(|(_, rest)| rest.strip_suffix('>'))
            .unwrap_or(user_id);
        bracketed.trim().to_lowercase() == wanted
    };
    let found = match PublicKey::read(bytes, None) {
        Err(HandoffError::SeveralKeys { keys }) => {
            let matching: Vec<_> = keys
                .iter()
                .filter(|k| k.user_id.as_deref().is_some_and(names))
                .collect();
            match matching.as_slice() {
                [only] => read(bytes, Some(&only.fingerprint), source.clone(), location)?,
                _ => {
                    return Err(LookupError::Unusable {
                        origin: source,
                        error: HandoffError::SeveralKeys { keys },
                    })
                }
            }
        }
        other => found(other, source.clone(), location)?,
    };
    let info = found.key.info();
    if !info.user_ids.iter().any(|u| names(u)) {
        return Err(LookupError::AddressNotInKey {
            address: address.address(),
            fingerprint: info.fingerprint.clone(),
            origin: source,
            user_ids: info.user_ids.clone(),
        });
    }
    Ok(found)
}

fn read(
    bytes: &[u8],
    choice: Option<&str>,
    source: String,
    location: String,
) -> Result<Found, LookupError> {
    found(PublicKey::read(bytes, choice), source, location)
}

fn found(
    read: Result<PublicKey, HandoffError>,
    source: String,
    location: String,
) -> Result<Found, LookupError> {
    match read {
        Ok(key) => Ok(Found {
            key,
            source,
            location,
        }),
        Err(error) => Err(LookupError::Unusable {
            origin: source,
            error,
        }),
    }
}

/// Hex in groups of four, as fingerprints are shown.
fn spaced(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
