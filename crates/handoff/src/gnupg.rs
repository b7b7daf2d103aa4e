//! The user's own GnuPG, for what its agent holds: secret keys that open received files and
//! sign sent ones. Text goes to and from `gpg` through pipes only, never a file; its machine-
//! readable status lines (`--status-fd`) say what happened.

use std::io::Write;
use std::process::{Command, Stdio};

use sequoia_openpgp as openpgp;
use zeroize::Zeroizing;

use crate::{HandoffError, PublicKey};

/// What one `gpg` run wrote: its output (perhaps secret, so wiped when dropped) and its status
/// lines.
pub(crate) struct Run {
    pub output: Zeroizing<Vec<u8>>,
    status: String,
    /// gpg's words for people, for failures nothing else explains.
    pub messages: String,
}

impl Run {
    /// Whether a `[GNUPG:] WORD …` status line was written.
    pub fn has(&self, word: &str) -> bool {
        self.lines().any(|rest| rest.starts_with(word))
    }

    /// Field `index` (from 0) after `WORD` on its status line.
    pub fn field(&self, word: &str, index: usize) -> Option<String> {
        self.lines().find_map(|rest| {
            let rest = rest.strip_prefix(word)?.strip_prefix(' ')?;
            rest.split_whitespace().nth(index).map(str::to_owned)
        })
    }

    /// Everything after `WORD FIELD ` on its status line, e.g. a user ID.
    pub fn rest_after(&self, word: &str) -> Option<String> {
        self.lines().find_map(|rest| {
            let rest = rest.strip_prefix(word)?.strip_prefix(' ')?;
            rest.split_once(' ').map(|(_, tail)| tail.to_owned())
        })
    }

    fn lines(&self) -> impl Iterator<Item = &str> {
        self.status
            .lines()
            .filter_map(|l| l.strip_prefix("[GNUPG:] "))
    }
}

/// Runs `gpg --batch --status-fd 2 ARGS` with `input` on its standard input.
pub(crate) fn run(args: &[&str], input: &[u8]) -> Result<Run, HandoffError> {
    let mut child = Command::new("gpg")
        .args(["--batch", "--no-tty", "--status-fd", "2"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|_| HandoffError::NoGnupg)?;
    let mut stdin = child.stdin.take().expect("piped");
    let input = Zeroizing::new(input.to_vec());
    // Written from a thread: gpg may answer before it has read everything.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child
        .wait_with_output()
        .map_err(|e| HandoffError::GnupgFailed {
            detail: e.to_string(),
        })?;
    let _ = writer.join();
    let stderr = String::from_utf8_lossy(&output.stderr);
    Ok(Run {
        output: Zeroizing::new(output.stdout),
        messages: stderr
            .lines()
            .filter(|l| !l.starts_with("[GNUPG:]"))
            .collect::<Vec<_>>()
            .join(" "),
        status: stderr.into_owned(),
    })
}

/// A secret key the user's GnuPG holds, as `gpg --list-secret-keys` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnKey {
    /// Hex in groups of four, as `gpg --fingerprint` prints it.
    pub fingerprint: String,
    pub user_id: Option<String>,
    /// Whether it can sign now (not expired, revoked or disabled).
    pub can_sign: bool,
}

/// The secret keys in the user's GnuPG keyring.
pub fn own_keys() -> Result<Vec<OwnKey>, HandoffError> {
    let listing = run(&["--with-colons", "--list-secret-keys"], b"")?;
    Ok(parse_secret_keys(&String::from_utf8_lossy(&listing.output)))
}

/// Reads `gpg --with-colons --list-secret-keys`: `sec` starts a key (field 12 its
/// capabilities, upper case for the whole key), then its `fpr` and first `uid`.
fn parse_secret_keys(listing: &str) -> Vec<OwnKey> {
    let mut keys: Vec<OwnKey> = Vec::new();
    let mut fingerprint_due = false;
    for line in listing.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.first().copied() {
            Some("sec") => {
                keys.push(OwnKey {
                    fingerprint: String::new(),
                    user_id: None,
                    can_sign: fields.get(11).is_some_and(|caps| caps.contains('S')),
                });
                fingerprint_due = true;
            }
            Some("fpr") if fingerprint_due => {
                if let (Some(key), Some(hex)) = (keys.last_mut(), fields.get(9)) {
                    key.fingerprint = openpgp::Fingerprint::from_hex(hex)
                        .map_or_else(|_| (*hex).to_owned(), |f| f.to_spaced_hex());
                }
                fingerprint_due = false;
            }
            Some("uid") => {
                if let (Some(key), Some(uid)) = (keys.last_mut(), fields.get(9)) {
                    if key.user_id.is_none() {
                        key.user_id = Some(unescape(uid));
                    }
                }
            }
            Some("ssb") => fingerprint_due = false,
            _ => {}
        }
    }
    keys
}

/// gpg escapes `:` and other bytes in colon listings as `\xNN`.
fn unescape(field: &str) -> String {
    let mut bytes = Vec::with_capacity(field.len());
    let raw = field.as_bytes();
    let mut at = 0;
    while at < raw.len() {
        let escaped = raw[at] == b'\\'
            && raw.get(at + 1) == Some(&b'x')
            && field
                .get(at + 2..at + 4)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .map(|byte| bytes.push(byte))
                .is_some();
        if escaped {
            at += 4;
        } else {
            bytes.push(raw[at]);
            at += 1;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `gpg --export NAME`: the public keys the user's GnuPG keyring holds for a fingerprint or
/// user ID (nothing when it has none).
pub fn export(name: &str) -> Result<Vec<u8>, HandoffError> {
    Ok(run(&["--export", name], b"")?.output.to_vec())
}

/// The public half of a key in the user's GnuPG keyring, to encrypt to oneself.
pub fn public_key(fingerprint: &str) -> Result<PublicKey, HandoffError> {
    PublicKey::read(&export(&fingerprint.replace(' ', ""))?, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_are_read_from_gpgs_colon_listing() {
        let listing = "\
sec:u:255:22:F33F9F1C951C7765:1764633600:::u:::scESC:::+:::ed25519:::0:
fpr:::::::::DFE661ABB9A35FD3A465D4D0F33F9F1C951C7765:
grp:::::::::0123:
uid:u::::1764633600::HASH::Alex Admin \\x3aIT\\x3a <alex@contoso.example>::::::::::0:
uid:u::::1764633600::HASH::Second <second@contoso.example>::::::::::0:
ssb:u:255:18:AAAAAAAAAAAAAAAA:1764633600::::::e:::+:::cv25519::
fpr:::::::::1111111111111111111111111111111111111111:
sec:e:3072:1:0123456789ABCDEF:1577836800:1609372800::u:::sc:::+:::::0:
fpr:::::::::0123456789ABCDEF0123456789ABCDEF01234567:
";
        assert_eq!(
            parse_secret_keys(listing),
            [
                OwnKey {
                    fingerprint: "DFE6 61AB B9A3 5FD3 A465  D4D0 F33F 9F1C 951C 7765".into(),
                    user_id: Some("Alex Admin :IT: <alex@contoso.example>".into()),
                    can_sign: true,
                },
                OwnKey {
                    fingerprint: "0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567".into(),
                    user_id: None,
                    can_sign: false,
                },
            ]
        );
    }
}
