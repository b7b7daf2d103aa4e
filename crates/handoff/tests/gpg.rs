//! Interoperability with the real GnuPG: keys made by `gpg` in throwaway homes, messages made by
//! this crate, opened by `gpg --decrypt` and compared byte for byte; and every refusal, with
//! its exact message, on keys `gpg` made.
//!
//! Needs `gpg` (Debian package gnupg; `cargo xtask test` installs it). The homes live directly
//! under /tmp because gpg-agent's socket path must stay short.
#![cfg(unix)]

use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::SystemTime;

use hubsetup_core::ConnectionString;
use hubsetup_handoff::{
    plaintext, write_encrypted, HandoffError, Note, PublicKey, Signer, SigningKey,
};
use hubsetup_testsupport::{spaced, GpgHome};

const KEY: &str = "+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";
const DEVICE: &str = "HostName=your-hub.azure-devices.net;DeviceId=io.microshare.contact.unpacked.event;SharedAccessKey=+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";

/// `home.run` as on 1 January 2020, for keys that have expired since.
fn run_in_2020(home: &GpgHome, args: &[&str]) -> Vec<u8> {
    home.run(&[&["--faked-system-time", "20200101T000000!"], args].concat())
}

/// What `gpg --decrypt` prints, after checking from its status lines that the message is
/// what GnuPG 2.2 reads: SEIPDv1 with a good MDC (method 2), AES-256 (9), no AEAD (0).
fn decrypt_checked(home: &GpgHome, file: &Path) -> Vec<u8> {
    let output = home.output(&["--status-fd", "2", "--decrypt", file.to_str().unwrap()]);
    let status = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{status}");
    for line in [
        "[GNUPG:] DECRYPTION_INFO 2 9 0\n",
        "[GNUPG:] DECRYPTION_OKAY\n",
        "[GNUPG:] GOODMDC\n",
    ] {
        assert!(status.contains(line), "no {line} in {status}");
    }
    output.stdout
}

fn device() -> ConnectionString {
    ConnectionString::parse(DEVICE).unwrap()
}

fn refusal(bytes: &[u8]) -> String {
    PublicKey::read(bytes, None).unwrap_err().to_string()
}

struct Contact {
    home: GpgHome,
    fingerprint: String,
    key: PublicKey,
}

fn contact(uid: &'static str, primary: &'static str, subkey: &'static str) -> Contact {
    let home = GpgHome::new();
    let fingerprint = home.generate(uid, primary, Some(subkey));
    let key = PublicKey::read(&home.export(&[&fingerprint]), None).unwrap();
    Contact {
        home,
        fingerprint,
        key,
    }
}

#[test]
fn gpg_decrypts_what_we_encrypt_for_every_key_type_byte_for_byte() {
    let kinds = [
        (
            "RSA 3072 <rsa3072@example.com>",
            "rsa3072",
            "rsa3072",
            "RSA 3072",
            "RSA 3072",
        ),
        (
            "RSA 4096 <rsa4096@example.com>",
            "rsa4096",
            "rsa4096",
            "RSA 4096",
            "RSA 4096",
        ),
        (
            "Curve 25519 <cv25519@example.com>",
            "ed25519",
            "cv25519",
            "EdDSA Ed25519",
            "ECDH Curve25519",
        ),
        (
            "NIST P-256 <p256@example.com>",
            "nistp256",
            "nistp256",
            "ECDSA NIST P-256",
            "ECDH NIST P-256",
        ),
        (
            "RSA 2048 <rsa2048@example.com>",
            "rsa2048",
            "rsa2048",
            "RSA 2048",
            "RSA 2048",
        ),
        (
            "NIST P-384 <p384@example.com>",
            "nistp384",
            "nistp384",
            "ECDSA NIST P-384",
            "ECDH NIST P-384",
        ),
        (
            "NIST P-521 <p521@example.com>",
            "nistp521",
            "nistp521",
            "ECDSA NIST P-521",
            "ECDH NIST P-521",
        ),
        // GnuPG VS-Desktop's and many European public-sector keys.
        (
            "Brainpool 256 <bp256@example.com>",
            "brainpoolP256r1",
            "brainpoolP256r1",
            "ECDSA brainpoolP256r1",
            "ECDH brainpoolP256r1",
        ),
        (
            "Brainpool 384 <bp384@example.com>",
            "brainpoolP384r1",
            "brainpoolP384r1",
            "ECDSA brainpoolP384r1",
            "ECDH brainpoolP384r1",
        ),
        (
            "Brainpool 512 <bp512@example.com>",
            "brainpoolP512r1",
            "brainpoolP512r1",
            "ECDSA brainpoolP512r1",
            "ECDH brainpoolP512r1",
        ),
    ];
    // Key generation dominates the run time, so the homes are made side by side.
    let contacts: Vec<Contact> = thread::scope(|scope| {
        let handles: Vec<_> = kinds
            .iter()
            .map(|(uid, primary, subkey, ..)| scope.spawn(|| contact(uid, primary, subkey)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let out = tempfile::tempdir().unwrap();
    let note = Note {
        sender: Some("Alice Admin <alice@example.com>".into()),
        date: SystemTime::now(),
    };

    for (contact, (uid, _, _, algorithm, encryption)) in contacts.iter().zip(kinds) {
        let info = contact.key.info();
        assert_eq!(info.fingerprint, spaced(&contact.fingerprint));
        assert_eq!(info.user_ids, [uid]);
        assert_eq!(info.algorithm, algorithm);
        assert_eq!(info.encryption_algorithm, encryption);
        assert_eq!(info.expires, None);

        let file = out.path().join(format!("{}.asc", contact.fingerprint));
        write_encrypted(
            &file,
            &device(),
            Some(&note),
            std::slice::from_ref(&contact.key),
            None,
        )
        .unwrap();
        let armored = std::fs::read_to_string(&file).unwrap();
        assert!(
            armored.starts_with("-----BEGIN PGP MESSAGE-----\n"),
            "{armored}"
        );
        assert_eq!(
            decrypt_checked(&contact.home, &file),
            plaintext(&device(), Some(&note)).unwrap().as_bytes(),
            "{uid}"
        );
    }

    let everyone: Vec<PublicKey> = contacts.iter().map(|c| c.key.clone()).collect();
    let file = out.path().join("everyone.asc");
    write_encrypted(&file, &device(), None, &everyone, None).unwrap();
    for contact in &contacts {
        assert_eq!(
            decrypt_checked(&contact.home, &file),
            format!("{DEVICE}\n").as_bytes(),
            "each recipient opens the shared message with only their own key"
        );
    }

    for file in std::fs::read_dir(out.path()).unwrap() {
        let content = std::fs::read_to_string(file.unwrap().path()).unwrap();
        assert!(
            !content.contains(&KEY[..12]),
            "the key is in a written file"
        );
    }
}

#[test]
fn binary_and_pasted_keys_are_read_too() {
    let home = GpgHome::new();
    let fingerprint = home.generate("Sam <sam@example.com>", "ed25519", Some("cv25519"));
    let binary = home.run(&["--export", &fingerprint]);
    assert_eq!(
        PublicKey::read(&binary, None).unwrap().info().fingerprint,
        spaced(&fingerprint)
    );
    let armored = String::from_utf8(home.export(&[&fingerprint])).unwrap();
    let pasted = format!(
        "Hi, here is my key:\r\n\r\n{}\r\nRegards, Sam\r\n",
        armored.replace('\n', "\r\n")
    );
    assert_eq!(
        PublicKey::read(pasted.as_bytes(), None)
            .unwrap()
            .info()
            .fingerprint,
        spaced(&fingerprint)
    );
}

#[test]
fn a_private_key_is_refused_with_a_warning() {
    let home = GpgHome::new();
    let fingerprint = home.generate("Sam <sam@example.com>", "ed25519", Some("cv25519"));
    let secret = home.run(&["--armor", "--export-secret-keys", &fingerprint]);
    assert_eq!(
        refusal(&secret),
        format!(
            "This is a private key ({}), not a public key. Do not share it or send it anywhere: \
             whoever has it can read everything encrypted to it. Ask the support contact for \
             their public key instead (`gpg --armor --export their@email`); if this private key \
             came from them, tell them to revoke it and make a new one.",
            spaced(&fingerprint)
        )
    );
}

#[test]
fn an_expired_key_is_refused_with_its_expiry_date() {
    let home = GpgHome::new();
    run_in_2020(
        &home,
        &[
            "--quick-gen-key",
            "Old <old@example.com>",
            "ed25519",
            "sign",
            "1y",
        ],
    );
    let fingerprint = home.fingerprint("Old");
    run_in_2020(
        &home,
        &["--quick-add-key", &fingerprint, "cv25519", "encr", "1y"],
    );
    assert_eq!(
        refusal(&home.export(&[&fingerprint])),
        format!(
            "The key {} expired on 2020-12-31. Ask the support contact to extend it (`gpg \
             --quick-set-expire FINGERPRINT 1y`) and send the updated public key.",
            spaced(&fingerprint)
        )
    );
}

#[test]
fn a_revoked_key_is_refused() {
    let home = GpgHome::new();
    let fingerprint = home.generate("Gone <gone@example.com>", "ed25519", Some("cv25519"));
    // gpg keeps a revocation certificate for every key it makes, defused by a leading ':'.
    let certificate = home
        .dir
        .path()
        .join("openpgp-revocs.d")
        .join(format!("{fingerprint}.rev"));
    let armed = std::fs::read_to_string(&certificate)
        .unwrap()
        .replace(":-----BEGIN", "-----BEGIN");
    std::fs::write(&certificate, armed).unwrap();
    home.run(&["--import", certificate.to_str().unwrap()]);
    assert_eq!(
        refusal(&home.export(&[&fingerprint])),
        format!(
            "The key {} has been revoked by its owner and must not be used. Ask the support \
             contact for their current public key.",
            spaced(&fingerprint)
        )
    );
}

#[test]
fn a_key_that_can_only_sign_is_refused() {
    let home = GpgHome::new();
    let fingerprint = home.generate("Signer <signer@example.com>", "ed25519", None);
    assert_eq!(
        refusal(&home.export(&[&fingerprint])),
        format!(
            "The key {} cannot encrypt: it has no valid encryption subkey. Ask the support \
             contact for a key that has one (they can add it with `gpg --quick-add-key \
             FINGERPRINT cv25519 encr`).",
            spaced(&fingerprint)
        )
    );
}

#[test]
fn anything_that_is_not_a_key_is_refused() {
    let home = GpgHome::new();
    let fingerprint = home.generate("Sam <sam@example.com>", "ed25519", Some("cv25519"));
    let key = PublicKey::read(&home.export(&[&fingerprint]), None).unwrap();
    let out = tempfile::tempdir().unwrap();
    let message = out.path().join("message.asc");
    write_encrypted(&message, &device(), None, &[key], None).unwrap();
    let signature = home.run(&["--armor", "--detach-sign"]);
    let not_keys: [&[u8]; 6] = [
        b"",
        b"   \n",
        b"Hello, this is my key: trust me",
        &[0x99, 0x01, 0xff, 0x00, 0x13, 0x37],
        &std::fs::read(&message).unwrap(),
        &signature,
    ];
    for bytes in not_keys {
        assert_eq!(
            refusal(bytes),
            "This is not an OpenPGP public key. Check that you picked the right file or copied \
             the whole key: an exported public key starts with '-----BEGIN PGP PUBLIC KEY \
             BLOCK-----' (the support contact makes one with `gpg --armor --export \
             their@email`).",
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn several_keys_need_a_choice() {
    let home = GpgHome::new();
    let first = home.generate("First <first@example.com>", "ed25519", Some("cv25519"));
    let second = home.generate("Second <second@example.com>", "ed25519", Some("cv25519"));
    let both = home.export(&[&first, &second]);
    let listed = |fingerprints: [&str; 2]| {
        let mut lines: Vec<String> = fingerprints
            .iter()
            .map(|fpr| {
                let uid = if *fpr == first {
                    "First <first@example.com>"
                } else {
                    "Second <second@example.com>"
                };
                format!("  {}  {uid}", spaced(fpr))
            })
            .collect();
        lines.sort();
        lines
    };
    let message = refusal(&both);
    let (head, rest) = message.split_once('\n').unwrap();
    assert_eq!(
        head,
        "This holds 2 keys; choose the one to use by its fingerprint:"
    );
    let mut lines: Vec<String> = rest.lines().map(str::to_owned).collect();
    lines.sort();
    assert_eq!(lines, listed([&first, &second]));

    let chosen = PublicKey::read(&both, Some(&spaced(&second).to_lowercase())).unwrap();
    assert_eq!(chosen.info().user_ids, ["Second <second@example.com>"]);

    let wrong = "0000 1111 2222 3333 4444  5555 6666 7777 8888 9999";
    let error = PublicKey::read(&both, Some(wrong)).unwrap_err();
    assert!(matches!(error, HandoffError::NoSuchKey { .. }));
    let message = error.to_string();
    let (head, rest) = message.split_once('\n').unwrap();
    assert_eq!(
        head,
        format!("No key with the fingerprint {wrong} is here. It holds:")
    );
    let mut lines: Vec<String> = rest.lines().map(str::to_owned).collect();
    lines.sort();
    assert_eq!(lines, listed([&first, &second]));
}

/// Keys the crypto backend cannot use say which algorithm, never "No binding signature".
#[test]
fn an_algorithm_that_cannot_be_used_is_named() {
    let home = GpgHome::new();
    let elgamal = home.generate("Old DSA <dsa@example.com>", "dsa2048", Some("elg2048"));
    assert_eq!(
        refusal(&home.export(&[&elgamal])),
        format!(
            "The key {} uses ElGamal 2048, which IoT Hub Setup cannot encrypt to. Ask the \
             support contact for a key made with Curve25519 (`gpg --quick-gen-key 'Name \
             <mail>' future-default`) or RSA 3072.",
            spaced(&elgamal)
        )
    );
}

/// A key as it looks after years of use: a sign-only primary, an encryption subkey that
/// expired, one that was revoked, and two valid ones. The message is for the two valid ones
/// only (gpg's own packet listing says which), and either opens it.
#[test]
fn only_the_valid_encryption_subkeys_of_a_well_used_key_are_encrypted_to() {
    let home = GpgHome::new();
    run_in_2020(
        &home,
        &[
            "--quick-gen-key",
            "Worn <worn@example.com>",
            "ed25519",
            "sign",
            "never",
        ],
    );
    let fingerprint = home.fingerprint("worn@example.com");
    run_in_2020(
        &home,
        &["--quick-add-key", &fingerprint, "cv25519", "encr", "1d"],
    );
    for subkey in ["cv25519", "rsa2048", "nistp256"] {
        home.run(&["--quick-add-key", &fingerprint, subkey, "encr", "never"]);
    }
    // Revokes the third subkey, the RSA one, as a person would in `gpg --edit-key`.
    let mut revoke = Command::new("gpg")
        .arg("--homedir")
        .arg(home.dir.path())
        .args(["--batch", "--command-fd", "0", "--edit-key", &fingerprint])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        revoke.stdin.as_mut().unwrap(),
        b"key 3\nrevkey\ny\n0\n\ny\nsave\n",
    )
    .unwrap();
    assert!(revoke.wait().unwrap().success());

    let listing = String::from_utf8(home.run(&[
        "--with-colons",
        "--list-options",
        "show-unusable-subkeys",
        "--list-keys",
        &fingerprint,
    ]))
    .unwrap();
    // (validity, algorithm, key ID) of each subkey: `sub:VALIDITY:BITS:ALGO:KEYID:…`.
    let subkeys: Vec<(String, String, String)> = listing
        .lines()
        .filter(|line| line.starts_with("sub:"))
        .map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields[1].into(), fields[3].into(), fields[4].into())
        })
        .collect();
    let validity: Vec<&str> = subkeys.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(validity, ["e", "u", "r", "u"], "{listing}");

    let key = PublicKey::read(&home.export(&[&fingerprint]), None).unwrap();
    assert_eq!(key.info().algorithm, "EdDSA Ed25519");
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("worn.asc");
    write_encrypted(&file, &device(), None, &[key], None).unwrap();

    let packets = home.output(&["--list-packets", file.to_str().unwrap()]);
    let mut encrypted_to: Vec<String> = String::from_utf8_lossy(&packets.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix(":pubkey enc packet: "))
        .map(|rest| rest.rsplit(' ').next().unwrap().to_owned())
        .collect();
    encrypted_to.sort();
    let mut valid: Vec<String> = subkeys
        .iter()
        .filter(|s| s.0 == "u")
        .map(|s| s.2.clone())
        .collect();
    valid.sort();
    assert_eq!(encrypted_to, valid);
    assert_eq!(
        decrypt_checked(&home, &file),
        format!("{DEVICE}\n").as_bytes()
    );
}

#[test]
fn a_short_rsa_key_and_sha1_signatures_are_refused_for_what_they_are() {
    let home = GpgHome::new();
    let short = home.generate("Short <short@example.com>", "rsa1024", Some("rsa1024"));
    assert_eq!(
        refusal(&home.export(&[&short])),
        format!(
            "The key {} is RSA 1024, too short to be safe today (at least 2048 bits). Ask the \
             support contact for a new key (`gpg --quick-gen-key 'Name <mail>' future-default`, \
             or rsa3072).",
            spaced(&short)
        )
    );
    home.run(&[
        "--cert-digest-algo",
        "SHA1",
        "--quick-gen-key",
        "Old <old@example.com>",
        "ed25519",
        "default",
        "never",
    ]);
    let old = home.fingerprint("old@example.com");
    assert_eq!(
        refusal(&home.export(&[&old])),
        format!(
            "The key {} is bound to its name only by SHA-1 signatures, which can be forged \
             today. Ask the support contact to renew them (`gpg --quick-set-expire FINGERPRINT \
             2y` makes new ones) and send the key again.",
            spaced(&old)
        )
    );
}

#[test]
fn a_key_that_expires_within_30_days_is_accepted_with_a_warning() {
    let home = GpgHome::new();
    home.run(&[
        "--quick-gen-key",
        "Soon <soon@example.com>",
        "future-default",
        "default",
        "20d",
    ]);
    let soon = home.fingerprint("soon@example.com");
    let key = PublicKey::read(&home.export(&[&soon]), None).unwrap();
    let ends = key.info().expires.unwrap();
    let mut day = humantime::format_rfc3339_seconds(ends).to_string();
    day.truncate(10);
    assert_eq!(
        key.info().expiry_warning.as_deref(),
        Some(
            format!(
                "This key stops working on {day} (in 19 days). Files sent before then stay \
                 readable; ask the support contact to extend it (`gpg --quick-set-expire \
                 FINGERPRINT 1y`)."
            )
            .as_str()
        )
    );
    let later = home.generate("Later <later@example.com>", "ed25519", Some("cv25519"));
    let fine = PublicKey::read(&home.export(&[&later]), None).unwrap();
    assert_eq!(fine.info().expiry_warning, None);
}

/// The sender signs with a passphrase-protected secret key file that gpg made; the recipient's
/// gpg, which knows the sender's public key, reports a good signature by that key. The sender
/// also encrypts to themself, and their own gpg opens the file too.
#[test]
fn a_signed_hand_off_verifies_in_the_recipients_gpg() {
    let sender = GpgHome::new();
    sender.run(&[
        "--passphrase",
        "correct horse",
        "--quick-gen-key",
        "Alex Admin <alex@contoso.example>",
        "ed25519",
        "sign",
        "never",
    ]);
    let alex = sender.fingerprint("alex@contoso.example");
    sender.run(&[
        "--passphrase",
        "correct horse",
        "--quick-add-key",
        &alex,
        "cv25519",
        "encr",
        "never",
    ]);
    let secret = sender.run(&[
        "--passphrase",
        "correct horse",
        "--armor",
        "--export-secret-keys",
        &alex,
    ]);
    let sam = contact("Sam Support <sam@partner.example>", "ed25519", "cv25519");
    let imported = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(imported.path(), sender.export(&[&alex])).unwrap();
    sam.home
        .run(&["--import", imported.path().to_str().unwrap()]);

    assert_eq!(
        SigningKey::read(&secret, None).unwrap_err().to_string(),
        format!(
            "The secret key {} is protected by a passphrase. Give the passphrase to unlock it.",
            spaced(&alex)
        )
    );
    assert_eq!(
        SigningKey::read(&secret, Some("wrong"))
            .unwrap_err()
            .to_string(),
        format!(
            "The passphrase for the secret key {} is wrong. Nothing was opened; try again.",
            spaced(&alex)
        )
    );
    let key = SigningKey::read(&secret, Some("correct horse")).unwrap();
    assert_eq!(key.fingerprint(), spaced(&alex));
    assert_eq!(key.user_id(), Some("Alex Admin <alex@contoso.example>"));
    let signer = Signer::KeyFile(Box::new(key));
    let alex_public = signer.public_key().unwrap();
    assert_eq!(alex_public.info().fingerprint, spaced(&alex));

    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("signed.asc");
    write_encrypted(
        &file,
        &device(),
        None,
        &[sam.key.clone(), alex_public],
        Some(&signer),
    )
    .unwrap();
    let opened = sam
        .home
        .output(&["--status-fd", "2", "--decrypt", file.to_str().unwrap()]);
    let status = String::from_utf8_lossy(&opened.stderr);
    assert!(opened.status.success(), "{status}");
    assert_eq!(opened.stdout, format!("{DEVICE}\n").as_bytes());
    assert!(
        status.contains(&format!("[GNUPG:] VALIDSIG {alex} ")),
        "{status}"
    );
    assert!(
        status.contains("Good signature from \"Alex Admin <alex@contoso.example>\""),
        "{status}"
    );
    let own = sender.output(&[
        "--passphrase",
        "correct horse",
        "--decrypt",
        file.to_str().unwrap(),
    ]);
    assert_eq!(own.stdout, format!("{DEVICE}\n").as_bytes());

    let sign_only = GpgHome::new();
    let fingerprint = sign_only.generate("Only <only@example.com>", "ed25519", None);
    let secret = sign_only.run(&["--armor", "--export-secret-keys", &fingerprint]);
    let signer = Signer::KeyFile(Box::new(SigningKey::read(&secret, None).unwrap()));
    assert_eq!(
        signer.public_key().unwrap_err().to_string(),
        format!(
            "Your key {} can sign but not encrypt, so the file cannot be made readable to you \
             as well. Add an encryption subkey (`gpg --quick-add-key FINGERPRINT cv25519 \
             encr`), or send it without a copy for yourself.",
            spaced(&fingerprint)
        )
    );
}
