//! The hand-off with keys Sequoia makes: the note, the message format, key descriptions and
//! the refusals gpg cannot produce. Interoperability with gpg itself is in `tests/gpg.rs`.

use std::time::{Duration, UNIX_EPOCH};

use hubsetup_core::ConnectionString;
use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::parse::Parse;
use openpgp::serialize::SerializeInto;
use openpgp::types::Features;
use openpgp::{Packet, PacketPile, Profile};

use super::*;

const DEVICE: &str = "HostName=your-hub.azure-devices.net;DeviceId=io.microshare.contact.unpacked.event;SharedAccessKey=+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";
const MODULE: &str = "HostName=your-hub.azure-devices.net;DeviceId=gateway;ModuleId=reader;SharedAccessKey=+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";
const POLICY: &str = "HostName=your-hub.azure-devices.net;SharedAccessKeyName=wizard-policy;SharedAccessKey=+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";

fn cs(text: &str) -> ConnectionString {
    ConnectionString::parse(text).unwrap()
}

/// A Curve25519 key for Sam with an encryption subkey, as armored public key text.
fn public_key_text(builder: CertBuilder<'_>) -> Vec<u8> {
    let (cert, _) = builder
        .set_cipher_suite(CipherSuite::Cv25519)
        .add_userid("Sam Support <sam@partner.example>")
        .add_transport_encryption_subkey()
        .generate()
        .unwrap();
    let armored = cert.armored().to_vec().unwrap();
    armored
}

fn sam() -> PublicKey {
    PublicKey::read(&public_key_text(CertBuilder::new()), None).unwrap()
}

fn note(sender: Option<&str>) -> Note {
    Note {
        sender: sender.map(str::to_owned),
        date: UNIX_EPOCH + Duration::from_secs(1_740_821_400),
    }
}

#[test]
fn without_a_note_the_recipient_gets_just_the_string() {
    assert_eq!(
        plaintext(&cs(DEVICE), None).unwrap().as_str(),
        format!("{DEVICE}\n")
    );
}

#[test]
fn the_note_names_hub_device_date_and_sender() {
    assert_eq!(
        plaintext(
            &cs(DEVICE),
            Some(&note(Some(" Alice Admin <alice@example.com> ")))
        )
        .unwrap()
        .as_str(),
        format!(
            "IoT Hub connection string\n\
             Hub:     your-hub (your-hub.azure-devices.net)\n\
             Device:  io.microshare.contact.unpacked.event\n\
             Date:    2025-03-01T09:30:00Z\n\
             From:    Alice Admin <alice@example.com>\n\
             \n\
             {DEVICE}\n"
        )
    );
    assert_eq!(
        plaintext(&cs(MODULE), Some(&note(None))).unwrap().as_str(),
        format!(
            "IoT Hub connection string\n\
             Hub:     your-hub (your-hub.azure-devices.net)\n\
             Device:  gateway\n\
             Module:  reader\n\
             Date:    2025-03-01T09:30:00Z\n\
             \n\
             {MODULE}\n"
        )
    );
    assert_eq!(
        plaintext(&cs(POLICY), Some(&note(None))).unwrap().as_str(),
        format!(
            "IoT Hub connection string\n\
             Hub:     your-hub (your-hub.azure-devices.net)\n\
             Policy:  wizard-policy\n\
             Date:    2025-03-01T09:30:00Z\n\
             \n\
             {POLICY}\n"
        )
    );
}

#[test]
fn the_sender_is_one_short_line() {
    for sender in [
        "",
        "  ",
        "Alice\nBcc: everyone",
        &"a".repeat(SENDER_MAX_CHARS + 1),
    ] {
        let error = plaintext(&cs(DEVICE), Some(&note(Some(sender)))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "The sender must be one line of at most 200 characters, such as 'Alice Admin \
             <alice@example.com>'."
        );
    }
}

#[test]
fn key_info_is_what_a_person_compares() {
    let key = sam();
    let info = key.info();
    let groups: Vec<&str> = info.fingerprint.split(' ').collect();
    assert_eq!(
        groups.len(),
        11,
        "ten groups and the double space: {groups:?}"
    );
    assert_eq!(groups[5], "");
    assert!(groups.iter().filter(|g| !g.is_empty()).all(|g| g.len() == 4
        && g.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_lowercase())));
    assert_eq!(info.user_ids, ["Sam Support <sam@partner.example>"]);
    assert_eq!(info.algorithm, "EdDSA Ed25519");
    assert_eq!(info.encryption_algorithm, "ECDH Curve25519");
    assert!(info.created <= SystemTime::now());
    assert_eq!(info.expires, None);
    assert_eq!(
        key::date(UNIX_EPOCH + Duration::from_secs(1_740_821_400)),
        "2025-03-01"
    );
}

#[test]
fn messages_are_seipd_v1_even_for_keys_that_announce_v2() {
    let modern = public_key_text(
        CertBuilder::new()
            .set_features(Features::sequoia())
            .unwrap(),
    );
    let key = PublicKey::read(&modern, None).unwrap();
    let armored = encrypt(&cs(DEVICE), None, &[key, sam()], None).unwrap();
    assert!(armored.starts_with("-----BEGIN PGP MESSAGE-----\n"));
    assert_eq!(
        packet_versions(&armored),
        [("PKESK", 3), ("PKESK", 3), ("SEIP", 1)]
    );
    assert!(!armored.contains("+XLy+MVZ"));
}

/// The packets of an armored message, by kind and version.
fn packet_versions(armored: &str) -> Vec<(&'static str, u8)> {
    PacketPile::from_bytes(armored.as_bytes())
        .unwrap()
        .children()
        .map(|packet| match packet {
            Packet::PKESK(pkesk) => ("PKESK", pkesk.version()),
            Packet::SEIP(seip) => ("SEIP", seip.version()),
            other => panic!("unexpected packet {:?}", other.tag()),
        })
        .collect()
}

#[test]
fn version_6_keys_get_what_they_announce_unless_a_version_4_key_shares_the_message() {
    let v6 = PublicKey::read(
        &public_key_text(CertBuilder::new().set_profile(Profile::RFC9580).unwrap()),
        None,
    )
    .unwrap();
    assert_eq!(v6.info().algorithm, "Ed25519");
    assert_eq!(v6.info().encryption_algorithm, "X25519");
    assert_eq!(
        packet_versions(&encrypt(&cs(DEVICE), None, std::slice::from_ref(&v6), None).unwrap()),
        [("PKESK", 6), ("SEIP", 2)]
    );
    // GnuPG 2.2 on the version 4 side reads only SEIPDv1, and so the whole message is.
    assert_eq!(
        packet_versions(&encrypt(&cs(DEVICE), None, &[v6, sam()], None).unwrap()),
        [("PKESK", 3), ("PKESK", 3), ("SEIP", 1)]
    );
}

#[test]
fn there_must_be_a_recipient() {
    let error = encrypt(&cs(DEVICE), None, &[], None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Choose at least one public key to encrypt the connection string to."
    );
}

#[test]
fn the_file_is_replaced_atomically_and_private() {
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("for-sam.asc");
    std::fs::write(&path, "old").unwrap();
    write_encrypted(&path, &cs(DEVICE), None, &[sam()], None).unwrap();
    let names: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["for-sam.asc"]);
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.starts_with("-----BEGIN PGP MESSAGE-----\n"));
    assert!(!written.contains("+XLy+MVZ"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let missing = out.path().join("no-such-folder").join("for-sam.asc");
    let error = write_encrypted(&missing, &cs(DEVICE), None, &[sam()], None).unwrap_err();
    // The system's own words for a missing folder (Unix: error 2; Windows: error 3).
    let missing_folder = std::io::Error::from_raw_os_error(if cfg!(windows) { 3 } else { 2 });
    assert_eq!(
        error.to_string(),
        format!(
            "Could not write {}: {missing_folder}. Choose a folder you can write to.",
            missing.display()
        )
    );
}
