//! Azure Storage's Shared Key authorization (service version 2009-09-19 and later): an
//! HMAC-SHA256 of the request's canonical form with the account key.
//!
//! Azure's own description: <https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key>.
//! The sandbox's storage (Azurite) checks it, so a mistake here fails every test that stores.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::StorageError;

/// The standard headers the signature covers, in its order.
const SIGNED_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// What the signature covers of a request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as it goes on the wire (percent-encoded), starting with `/`.
    pub path: &'a str,
    /// Query parameters, decoded.
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
}

/// The `Authorization` header's value: `SharedKey {account}:{signature}`.
pub fn authorization(account: &str, key: &str, request: &Request) -> Result<String, StorageError> {
    let key = STANDARD.decode(key).map_err(|_| StorageError::AccountKey)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| StorageError::AccountKey)?;
    mac.update(string_to_sign(account, request).as_bytes());
    Ok(format!(
        "SharedKey {account}:{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

fn header<'a>(request: &Request<'a>, name: &str) -> &'a str {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or("", |(_, v)| v.trim())
}

fn string_to_sign(account: &str, request: &Request) -> String {
    let mut out = format!("{}\n", request.method.to_ascii_uppercase());
    for name in SIGNED_HEADERS {
        let value = header(request, name);
        // A zero length is signed as empty since service version 2015-02-21.
        let value = if name == "content-length" && value == "0" {
            ""
        } else {
            value
        };
        out.push_str(value);
        out.push('\n');
    }
    let mut ms_headers: Vec<(String, String)> = request
        .headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-ms-"))
        .map(|(n, v)| {
            let folded = v.split_whitespace().collect::<Vec<_>>().join(" ");
            (n.to_ascii_lowercase(), folded)
        })
        .collect();
    ms_headers.sort();
    for (name, value) in ms_headers {
        out.push_str(&format!("{name}:{value}\n"));
    }
    out.push_str(&format!("/{account}{}", request.path));
    let mut names: Vec<String> = request
        .query
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        let mut values: Vec<&str> = request
            .query
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| *v)
            .collect();
        values.sort_unstable();
        out.push_str(&format!("\n{name}:{}", values.join(",")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of Azure's page: a Put Blob of "Hello World" with two x-ms headers.
    fn put_blob() -> Request<'static> {
        Request {
            method: "PUT",
            path: "/mycontainer/hello%20world.txt",
            query: &[("timeout", "20"), ("comp", "block"), ("blockid", "YQ==")],
            headers: &[
                ("Content-Length", "11"),
                ("x-ms-version", "2021-08-06"),
                ("x-ms-date", "Fri, 26 Jun 2015 23:39:12 GMT"),
                ("X-Ms-Blob-Type", "  BlockBlob"),
                ("Content-Type", "text/plain"),
            ],
        }
    }

    #[test]
    fn the_canonical_form_orders_and_folds_as_azure_describes() {
        assert_eq!(
            string_to_sign("myaccount", &put_blob()),
            "PUT\n\n\n11\n\ntext/plain\n\n\n\n\n\n\n\
             x-ms-blob-type:BlockBlob\nx-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\nx-ms-version:2021-08-06\n\
             /myaccount/mycontainer/hello%20world.txt\nblockid:YQ==\ncomp:block\ntimeout:20"
        );
    }

    #[test]
    fn a_zero_length_is_signed_empty() {
        let request = Request {
            method: "get",
            path: "/c",
            query: &[("restype", "container"), ("comp", "list")],
            headers: &[("Content-Length", "0")],
        };
        assert_eq!(
            string_to_sign("a", &request),
            "GET\n\n\n\n\n\n\n\n\n\n\n\n/a/c\ncomp:list\nrestype:container"
        );
    }

    #[test]
    fn the_signature_is_keyed_and_a_bad_key_is_explained() {
        let one = authorization("myaccount", "a2V5LW9uZQ==", &put_blob()).unwrap();
        let two = authorization("myaccount", "a2V5LXR3bw==", &put_blob()).unwrap();
        assert!(one.starts_with("SharedKey myaccount:"));
        assert_ne!(one, two);
        assert_eq!(
            authorization("myaccount", "not base64!", &put_blob()),
            Err(StorageError::AccountKey)
        );
    }
}
