//! The shared access key: the one secret a connection string carries.
//!
//! It holds the decoded key bytes in memory that is zeroized on drop, prints as `****` under
//! `Debug`, has no `Display`, and hands out its base64 form only through [`SharedAccessKey::expose_base64`],
//! whose name makes every use easy to find in review.

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use zeroize::Zeroizing;

/// Azure accepts keys of 16 to 64 bytes; it generates 32-byte keys.
pub const KEY_LEN: std::ops::RangeInclusive<usize> = 16..=64;

/// Accepts keys with or without `=` padding: a lost `=` at the end of a pasted key changes no
/// byte, so refusing it would only annoy.
const LENIENT_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "The SharedAccessKey is not valid base64 (only letters, digits, '+', '/' and a final '=' \
         may appear). Part of it was probably lost or changed when it was copied; copy it again."
    )]
    NotBase64,
    #[error(
        "The SharedAccessKey decodes to {bytes} bytes, but Azure keys are 16 to 64 bytes long \
         (keys the hub generates are 32). It was probably cut short or joined with other text \
         when it was copied; copy it again."
    )]
    Length { bytes: usize },
}

/// A primary or secondary key of a device or shared access policy.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedAccessKey {
    bytes: Zeroizing<Vec<u8>>,
}

impl SharedAccessKey {
    /// Reads a base64 key as Azure shows it, checking its decoded length.
    pub fn from_base64(text: &str) -> Result<SharedAccessKey, KeyError> {
        let bytes = Zeroizing::new(
            LENIENT_PADDING
                .decode(text)
                .map_err(|_| KeyError::NotBase64)?,
        );
        SharedAccessKey::from_bytes(bytes)
    }

    /// Wraps raw key bytes, checking their length.
    pub fn from_bytes(bytes: impl Into<Zeroizing<Vec<u8>>>) -> Result<SharedAccessKey, KeyError> {
        let bytes = bytes.into();
        if !KEY_LEN.contains(&bytes.len()) {
            return Err(KeyError::Length { bytes: bytes.len() });
        }
        Ok(SharedAccessKey { bytes })
    }

    /// The raw bytes, used as the HMAC key.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The key in standard padded base64, as Azure shows it. This is the secret in clear text.
    pub fn expose_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.bytes.as_slice()))
    }

    /// `****…` and the last four base64 characters, enough to tell two keys apart.
    pub fn masked(&self) -> String {
        let full = self.expose_base64();
        let tail = &full[full.len() - 4..];
        format!("****…{tail}")
    }
}

impl fmt::Debug for SharedAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedAccessKey(****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";

    #[test]
    fn debug_never_shows_the_key() {
        let key = SharedAccessKey::from_base64(KEY).unwrap();
        let debug = format!("{key:?} {:?}", Some(&key));
        assert!(!debug.contains("XLy"), "{debug}");
        assert_eq!(debug, "SharedAccessKey(****) Some(SharedAccessKey(****))");
    }

    #[test]
    fn masked_shows_only_the_last_four_characters() {
        let key = SharedAccessKey::from_base64(KEY).unwrap();
        assert_eq!(key.masked(), "****…6rw=");
    }

    #[test]
    fn missing_padding_is_forgiven_and_restored() {
        let key = SharedAccessKey::from_base64(KEY.trim_end_matches('=')).unwrap();
        assert_eq!(key.expose_base64().as_str(), KEY);
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        assert_eq!(
            SharedAccessKey::from_base64("abc$def").unwrap_err(),
            KeyError::NotBase64
        );
        assert_eq!(
            SharedAccessKey::from_base64("c29tZUtleQ==").unwrap_err(),
            KeyError::Length { bytes: 7 }
        );
        let long = STANDARD.encode([7u8; 65]);
        assert_eq!(
            SharedAccessKey::from_base64(&long).unwrap_err(),
            KeyError::Length { bytes: 65 }
        );
        assert!(SharedAccessKey::from_bytes(vec![1u8; 16]).is_ok());
        assert!(SharedAccessKey::from_bytes(vec![1u8; 64]).is_ok());
    }
}
