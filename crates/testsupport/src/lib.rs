//! What the tests of several crates share, so that none keeps a copy: a GnuPG home of its own
//! for the real `gpg`, which the hand-off is checked against (the hand-off crate's tests and
//! the CLI's), and an ARM session signed in to the sandbox ([`signed_in`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A GnuPG home directly under /tmp (gpg-agent's socket path must stay short); its agent is
/// stopped and the folder removed on drop. Keys made here have no passphrase.
#[derive(Debug)]
pub struct GpgHome {
    pub dir: tempfile::TempDir,
}

impl Default for GpgHome {
    fn default() -> Self {
        GpgHome::new()
    }
}

impl GpgHome {
    pub fn new() -> GpgHome {
        let dir = tempfile::Builder::new()
            .prefix("hs-gpg")
            .tempdir_in(if cfg!(unix) {
                PathBuf::from("/tmp")
            } else {
                std::env::temp_dir()
            })
            .expect("a folder for a GnuPG home");
        // gpg warns about homes others may read.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
                .expect("the GnuPG home made private");
        }
        GpgHome { dir }
    }

    /// `gpg` in this home, without a passphrase prompt, whatever it answers.
    pub fn output(&self, args: &[&str]) -> Output {
        Command::new("gpg")
            .arg("--homedir")
            .arg(self.dir.path())
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .expect("gpg runs (Debian package gnupg; `cargo xtask test` installs it)")
    }

    /// `gpg` in this home; what it prints, once it has succeeded.
    pub fn run(&self, args: &[&str]) -> Vec<u8> {
        let output = self.output(args);
        assert!(
            output.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    /// Makes a key for `uid` whose primary key is `primary` (signing), with an encryption
    /// subkey `subkey` if given; returns its fingerprint.
    pub fn generate(&self, uid: &str, primary: &str, subkey: Option<&str>) -> String {
        self.run(&["--quick-gen-key", uid, primary, "sign", "never"]);
        let fingerprint = self.fingerprint(uid);
        if let Some(subkey) = subkey {
            self.run(&["--quick-add-key", &fingerprint, subkey, "encr", "never"]);
        }
        fingerprint
    }

    /// The fingerprint of the key for `uid`.
    pub fn fingerprint(&self, uid: &str) -> String {
        let listing = String::from_utf8(self.run(&["--with-colons", "--list-keys", uid]))
            .expect("gpg's listing is UTF-8");
        let line = listing
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .expect("a fingerprint line");
        line.split(':')
            .nth(9)
            .expect("the fingerprint field")
            .to_owned()
    }

    /// The public keys of `fingerprints`, ASCII-armored.
    pub fn export(&self, fingerprints: &[&str]) -> Vec<u8> {
        self.run(&[&["--armor", "--export"], fingerprints].concat())
    }

    /// A support contact's key as most have one (Ed25519 with a Curve25519 encryption
    /// subkey) for `uid`, exported to a file in the home: its fingerprint and the file.
    pub fn contact(&self, uid: &str) -> (String, PathBuf) {
        let fingerprint = self.generate(uid, "ed25519", Some("cv25519"));
        let file = self.dir.path().join(format!("{fingerprint}.asc"));
        std::fs::write(&file, self.export(&[&fingerprint])).expect("the key file written");
        (fingerprint, file)
    }

    /// What `gpg --decrypt` gives for `file`.
    pub fn decrypt(&self, file: &Path) -> Vec<u8> {
        self.run(&["--decrypt", &file.to_string_lossy()])
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.dir.path())
            .args(["--kill", "all"])
            .output();
    }
}

/// `gpg --fingerprint`'s grouping: ten groups of four, two spaces in the middle.
pub fn spaced(hex: &str) -> String {
    let groups: Vec<&str> = (0..hex.len()).step_by(4).map(|i| &hex[i..i + 4]).collect();
    format!("{}  {}", groups[..5].join(" "), groups[5..].join(" "))
}

/// An ARM session signed in to `sandbox` by device code, as an admin would be (the fast
/// sandbox approves the code at once).
pub async fn signed_in(sandbox: &hubsetup_sandbox::Sandbox) -> hubsetup_provision::Azure {
    use hubsetup_identity::{sign_in, AzureCli, SignInMethod, SignInOptions, SystemBrowser};

    let network = hubsetup_net::Network::new(&sandbox.cloud(), None).expect("network");
    let credential = sign_in(
        SignInMethod::DeviceCode,
        &network,
        &SignInOptions::default(),
        &AzureCli::default(),
        &SystemBrowser,
        &|_| {},
    )
    .await
    .expect("device code sign-in");
    hubsetup_provision::Azure::new(&network, credential, std::sync::Arc::new(|_| {}))
        .expect("session")
}

/// Copies the sandbox's seeded hub `from` as hub `name` in `subscription` and `group`, so that
/// a test sees it under another resource group's roles, policies or tier.
pub fn copy_hub(
    sandbox: &hubsetup_sandbox::Sandbox,
    from: &str,
    name: &str,
    subscription: &str,
    group: &str,
) {
    sandbox.with_state(|s| {
        let mut hub = s.hubs[from].clone();
        hub.name = name.into();
        hub.subscription_id = subscription.into();
        hub.resource_group = group.into();
        s.hubs.insert(name.to_ascii_lowercase(), hub);
    });
}
