//! Feeds arbitrary text to the connection string parser and checks its promises: it never
//! panics, a string it accepts formats back to text it parses to the same value, and no
//! message it produces contains the key.
#![no_main]

use hubsetup_core::connection_string::{describe_all, inspect, ConnectionString};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let inspection = inspect(input);
    match &inspection.result {
        Ok(cs) => {
            let canonical = cs.expose();
            let again = ConnectionString::parse(&canonical).expect("canonical form parses");
            assert_eq!(&again, cs);
            if let Some(key) = cs.key() {
                let secret = key.expose_base64();
                assert!(!cs.masked().contains(secret.as_str()));
                for warning in &inspection.warnings {
                    assert!(!warning.to_string().contains(secret.as_str()));
                }
            }
        }
        Err(errors) => {
            let _ = describe_all(errors);
        }
    }
});
