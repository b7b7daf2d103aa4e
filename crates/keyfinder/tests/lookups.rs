//! Key lookups against the sandbox's Web Key Directory, VKS key server and Keybase, with keys
//! made by the real `gpg` (Debian package gnupg) and published as a key's owner would.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hubsetup_keyfinder::{Finder, LookupError, Query};
use hubsetup_net::Network;
use hubsetup_sandbox::keys::PublishedKey;
use hubsetup_sandbox::{Fault, FaultRule, Sandbox, SandboxConfig};

/// A key made by gpg in a home of its own: its fingerprint, binary and armored forms.
fn gpg_key(uid: &str) -> (String, Vec<u8>, String) {
    let home = tempfile::Builder::new()
        .prefix("hs-kf")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        let output = Command::new("gpg")
            .arg("--homedir")
            .arg(home.path())
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .expect("gpg runs (Debian package gnupg)");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    gpg(&["--quick-gen-key", uid, "future-default", "default", "never"]);
    let listing = String::from_utf8(gpg(&["--with-colons", "--list-keys"])).unwrap();
    let fingerprint = listing
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .unwrap()
        .split(':')
        .nth(9)
        .unwrap()
        .to_owned();
    let binary = gpg(&["--export", &fingerprint]);
    let armored = String::from_utf8(gpg(&["--armor", "--export", &fingerprint])).unwrap();
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home.path())
        .args(["--kill", "all"])
        .output();
    (fingerprint, binary, armored)
}

fn publish(sandbox: &Sandbox, uid: &str, emails: &[&str], keybase: Option<&str>) -> String {
    let (fingerprint, binary, armored) = gpg_key(uid);
    let key = PublishedKey {
        emails: emails.iter().map(|e| e.to_string()).collect(),
        fingerprint: fingerprint.clone(),
        keybase: keybase.map(str::to_owned),
        binary: STANDARD.encode(binary),
        armored,
    };
    sandbox.with_state(|state| state.published_keys.push(key));
    fingerprint
}

fn finder(sandbox: &Sandbox) -> Finder {
    Finder::new(&Network::new(&sandbox.cloud(), None).unwrap()).unwrap()
}

async fn find(finder: &Finder, query: &str) -> Result<hubsetup_keyfinder::Found, LookupError> {
    finder.find(&Query::parse(query)?).await
}

fn spaced(hex: &str) -> String {
    let groups: Vec<&str> = (0..hex.len()).step_by(4).map(|i| &hex[i..i + 4]).collect();
    format!("{}  {}", groups[..5].join(" "), groups[5..].join(" "))
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_found_where_their_owners_publish_them() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let suffix = sandbox.config().suffix.clone();
    let sam = format!("sam@partner.{suffix}");
    let ops = format!("ops@contoso.{suffix}");
    let elsewhere = format!("kim@elsewhere.{suffix}");
    let sam_fpr = publish(
        &sandbox,
        &format!("Sam Support <{sam}>"),
        &[&sam],
        Some("samsupport"),
    );
    let ops_fpr = publish(&sandbox, &format!("Contoso Ops <{ops}>"), &[&ops], None);
    let kim_fpr = publish(&sandbox, &format!("Kim <{elsewhere}>"), &[&elsewhere], None);
    let finder = finder(&sandbox);

    let advanced = find(&finder, &format!("Sam@Partner.{suffix}"))
        .await
        .unwrap();
    assert_eq!(advanced.key.info().fingerprint, spaced(&sam_fpr));
    assert_eq!(
        advanced.source,
        format!("in the Web Key Directory of partner.{suffix}")
    );
    assert!(
        advanced
            .location
            .starts_with(&format!("https://openpgpkey.partner.{suffix}/")),
        "{}",
        advanced.location
    );

    let direct = find(&finder, &ops).await.unwrap();
    assert_eq!(direct.key.info().fingerprint, spaced(&ops_fpr));
    assert!(
        direct.location.starts_with(&format!(
            "https://contoso.{suffix}/.well-known/openpgpkey/hu/"
        )),
        "{}",
        direct.location
    );

    let key_server = find(&finder, &elsewhere).await.unwrap();
    assert_eq!(key_server.key.info().fingerprint, spaced(&kim_fpr));
    assert_eq!(key_server.source, format!("on keys.{suffix}"));

    let by_fingerprint = find(&finder, &spaced(&sam_fpr).to_lowercase())
        .await
        .unwrap();
    assert_eq!(by_fingerprint.key.info().fingerprint, spaced(&sam_fpr));

    let keybase = find(&finder, "keybase:SamSupport").await.unwrap();
    assert_eq!(keybase.key.info().fingerprint, spaced(&sam_fpr));
    assert_eq!(keybase.source, "on Keybase as samsupport");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_lookup_failure_says_what_happened() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let suffix = sandbox.config().suffix.clone();
    let finder = finder(&sandbox);

    let nobody = find(&finder, &format!("nobody@partner.{suffix}"))
        .await
        .unwrap_err();
    assert_eq!(
        nobody.to_string(),
        format!(
            "No public key for nobody@partner.{suffix} was found. Searched: the Web Key Directory of \
             partner.{suffix}; keys.{suffix}. Ask the support contact to publish their key (for \
             example at keys.openpgp.org, which asks them to confirm their address) or to send it \
             to you as a file."
        )
    );
    let keybase = find(&finder, "keybase:nobody").await.unwrap_err();
    assert!(
        keybase
            .to_string()
            .starts_with("No public key for the Keybase user nobody was found. Searched: keybase."),
        "{keybase}"
    );

    // A key published under an address its user IDs do not name.
    let claimed = format!("sam@partner.{suffix}");
    let mallory = publish(
        &sandbox,
        "Mallory <mallory@evil.example>",
        &[&claimed],
        None,
    );
    let mismatch = find(&finder, &claimed).await.unwrap_err();
    assert_eq!(
        mismatch.to_string(),
        format!(
            "The key {} found for {claimed} (in the Web Key Directory of partner.{suffix}) does not \
             name that address: its user IDs are Mallory <mallory@evil.example>. It may be someone \
             else's key: do not use it. Ask the support contact for their key as a file.",
            spaced(&mallory)
        )
    );

    sandbox.inject(FaultRule {
        host: format!("keys.{suffix}"),
        path_prefix: None,
        fault: Fault::Status {
            status: 429,
            count: 1,
            retry_after_secs: Some(60),
        },
    });
    let limited = find(&finder, &"AB".repeat(20)).await.unwrap_err();
    assert_eq!(
        limited.to_string(),
        format!(
            "keys.{suffix} is refusing more lookups from this network for now (429 Too Many \
             Requests). Try again in a few minutes, or ask the support contact for their key as a \
             file."
        )
    );

    for bad in ["sam", "keybase:", "0x1234"] {
        assert_eq!(
            Query::parse(bad).unwrap_err().to_string(),
            format!(
                "'{bad}' is not something a key can be looked up by. Give an e-mail address \
                 (sam@partner.example), a fingerprint (40 or 64 hexadecimal digits, spaces allowed) \
                 or keybase:NAME."
            )
        );
    }
}
