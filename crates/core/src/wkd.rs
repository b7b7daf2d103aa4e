//! Web Key Directory names (draft-koch-openpgp-webkey-service): where the public key of a mail
//! address is published on its domain's web server. The key lookup and the sandbox that serves
//! lookups share these names, so both always agree with what GnuPG asks for.

use sha1::{Digest, Sha1};

/// A mail address split for a lookup: the local part as written (sent as `?l=`), and the
/// domain in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAddress {
    pub local: String,
    pub domain: String,
}

impl MailAddress {
    /// `local@domain`, with exactly one `@`, a local part and a domain with a dot: one address,
    /// not a list (no `,` or `;`).
    pub fn parse(address: &str) -> Option<MailAddress> {
        let address = address.trim();
        let (local, domain) = address.split_once('@')?;
        let valid = !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !address
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '/' | '?' | ',' | ';'));
        valid.then(|| MailAddress {
            local: local.to_owned(),
            domain: domain.to_ascii_lowercase(),
        })
    }

    /// Whether `text` is one address exactly as written, nothing around it (a field for an
    /// address, not a search box).
    pub fn is_address(text: &str) -> bool {
        text.trim() == text && MailAddress::parse(text).is_some()
    }

    /// The address as a key's user ID should hold it (domain in lower case).
    pub fn address(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }

    /// The z-base-32 encoded SHA-1 of the local part in lower case: the file's name.
    pub fn hashed_local_part(&self) -> String {
        zbase32(&Sha1::digest(self.local.to_lowercase().as_bytes()))
    }

    /// The advanced method's URL, on the domain's `openpgpkey.` host.
    pub fn advanced_url(&self) -> String {
        format!(
            "https://openpgpkey.{domain}/.well-known/openpgpkey/{domain}/hu/{}?l={}",
            self.hashed_local_part(),
            self.query_local(),
            domain = self.domain
        )
    }

    /// The direct method's URL, on the domain itself.
    pub fn direct_url(&self) -> String {
        format!(
            "https://{}/.well-known/openpgpkey/hu/{}?l={}",
            self.domain,
            self.hashed_local_part(),
            self.query_local()
        )
    }

    /// The local part for `?l=`: as GnuPG sends it, escaping only what would end the query
    /// or break the URL.
    fn query_local(&self) -> String {
        const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
            .add(b' ')
            .add(b'"')
            .add(b'#')
            .add(b'%')
            .add(b'&')
            .add(b'/')
            .add(b';')
            .add(b'=')
            .add(b'?');
        percent_encoding::utf8_percent_encode(&self.local.to_lowercase(), ESCAPED).to_string()
    }
}

/// z-base-32 (RFC 6189's alphabet), 5 bits per character, most significant first.
fn zbase32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The draft's own example, which GnuPG's `gpg-wks-client --print-wkd-url` also prints.
    #[test]
    fn names_match_the_specification() {
        let joe = MailAddress::parse("Joe.Doe@Example.ORG").unwrap();
        assert_eq!(joe.hashed_local_part(), "iy9q119eutrkn8s1mk4r39qejnbu3n5q");
        assert_eq!(
            joe.advanced_url(),
            "https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=joe.doe"
        );
        assert_eq!(
            joe.direct_url(),
            "https://example.org/.well-known/openpgpkey/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=joe.doe"
        );
    }

    #[test]
    fn only_mail_addresses_are_looked_up() {
        for bad in [
            "sam",
            "sam@",
            "@partner.example",
            "sam@partner",
            "a@b@c.d",
            "sam @x.y",
            "sam,ops@x.y",
            "sam;ops@x.y",
        ] {
            assert_eq!(MailAddress::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_field_for_one_address_takes_it_exactly_as_written() {
        assert!(MailAddress::is_address("admin@contoso.com"));
        assert!(!MailAddress::is_address(" admin@contoso.com"));
        assert!(!MailAddress::is_address("admin at contoso"));
    }

    /// GnuPG's own client names the same URLs, for addresses beyond the draft's example
    /// (Debian's, so on Linux).
    #[cfg(target_os = "linux")]
    #[test]
    fn gnupg_asks_for_the_same_urls() {
        let client = "/usr/lib/gnupg/gpg-wks-client";
        if !std::path::Path::new(client).exists() {
            panic!("{client} (Debian package gnupg) is needed: `cargo xtask test` installs it");
        }
        for address in [
            "sam.support@partner.example",
            "Ops+IoT@Contoso.COM",
            "x_y-z@a.b.c",
            "o'brien!~*$@example.org",
        ] {
            let output = std::process::Command::new(client)
                .args(["--print-wkd-url", address])
                .output()
                .unwrap();
            let printed = String::from_utf8(output.stdout).unwrap();
            let ours = MailAddress::parse(address).unwrap().advanced_url();
            assert_eq!(printed.trim(), ours, "{address}");
        }
    }
}
