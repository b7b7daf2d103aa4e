//! `hubsetup key-info` and `hubsetup export` with keys made by the real gpg, decrypted by it.
#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{assert_no_key, assert_no_key_in_files, device_string, hubsetup, text};
use hubsetup_testsupport::{spaced, GpgHome};

#[test]
fn key_info_shows_what_to_compare_from_a_file_or_a_paste() {
    let home = GpgHome::new();
    let (fingerprint, file) = home.contact("Sam Support <sam@partner.example>");
    let from_file = hubsetup(&["key-info", file.to_str().unwrap()], "", &[]);
    let pasted = std::fs::read_to_string(&file).unwrap();
    let from_paste = hubsetup(&["key-info", "-"], &pasted, &[]);
    for output in [from_file, from_paste] {
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let stdout = text(&output.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 6, "{stdout}");
        assert_eq!(lines[0], format!("Fingerprint:  {}", spaced(&fingerprint)));
        assert_eq!(lines[1], "User ID:      Sam Support <sam@partner.example>");
        assert_eq!(
            lines[2],
            "Algorithm:    EdDSA Ed25519 (encrypts with ECDH Curve25519)"
        );
        assert!(
            lines[3].starts_with("Created:      ") && lines[3].contains(", 20"),
            "{stdout}"
        );
        assert_eq!(lines[4], "Expires:      never");
        assert_eq!(
            lines[5],
            "Before sending anything to this key, compare its fingerprint with the support \
             contact by phone or in person."
        );
    }
}

#[test]
fn key_info_refuses_private_keys_and_asks_to_choose_among_several() {
    let home = GpgHome::new();
    let (first, _) = home.contact("First <first@example.com>");
    let (second, _) = home.contact("Second <second@example.com>");

    let secret = home.dir.path().join("secret.asc");
    std::fs::write(
        &secret,
        home.run(&["--armor", "--export-secret-keys", &first]),
    )
    .unwrap();
    let output = hubsetup(&["key-info", secret.to_str().unwrap()], "", &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).starts_with(&format!(
            "error: {}: This is a private key ({}), not a public key. Do not share it",
            secret.display(),
            spaced(&first)
        )),
        "{}",
        text(&output.stderr)
    );

    let both = home.dir.path().join("both.asc");
    std::fs::write(&both, home.run(&["--armor", "--export", &first, &second])).unwrap();
    let output = hubsetup(&["key-info", both.to_str().unwrap()], "", &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: {}: This holds 2 keys; choose the one to use by its fingerprint:\n",
            both.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "  {}  First <first@example.com>\n",
            spaced(&first)
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("\nPass the one to use with --fingerprint.\n"),
        "{stderr}"
    );

    let chosen = hubsetup(
        &["key-info", both.to_str().unwrap(), "--fingerprint", &second],
        "",
        &[],
    );
    assert_eq!(chosen.status.code(), Some(0), "{}", text(&chosen.stderr));
    assert!(text(&chosen.stdout).contains("User ID:      Second <second@example.com>\n"));

    let missing = hubsetup(&["key-info", "/nonexistent/key.asc"], "", &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        text(&missing.stderr),
        "error: Could not read the key file /nonexistent/key.asc: No such file or directory (os \
         error 2).\n"
    );
}

#[test]
fn export_writes_a_private_file_that_every_recipient_decrypts() {
    let sam = GpgHome::new();
    let (sam_fingerprint, sam_key) = sam.contact("Sam Support <sam@partner.example>");
    let kim = GpgHome::new();
    let (kim_fingerprint, kim_key) = kim.contact("Kim Backup <kim@partner.example>");
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("for-support.asc");
    let device = device_string("io.microshare.contact.unpacked.event");

    let output = hubsetup(
        &[
            "export",
            "--to",
            sam_key.to_str().unwrap(),
            "--to",
            kim_key.to_str().unwrap(),
            "--out",
            file.to_str().unwrap(),
        ],
        &device,
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        format!(
            "Encrypted the connection string for \
             your-hub.azure-devices.net/devices/io.microshare.contact.unpacked.event to:\n  \
             {}  Sam Support <sam@partner.example>\n  \
             {}  Kim Backup <kim@partner.example>\n\
             Wrote {}. Only the holders of these keys can open it (gpg --decrypt). Recorded in \
             the register of hand-offs (hubsetup handoffs).\n",
            spaced(&sam_fingerprint),
            spaced(&kim_fingerprint),
            file.display()
        )
    );
    assert_no_key(&output);
    assert_eq!(text(&sam.decrypt(&file)), format!("{device}\n"));
    assert_eq!(text(&kim.decrypt(&file)), format!("{device}\n"));
    assert_no_key_in_files(out.path());
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let noted = hubsetup(
        &[
            "export",
            "--to",
            sam_key.to_str().unwrap(),
            "--out",
            file.to_str().unwrap(),
            "--sender",
            "Alice Admin <alice@example.com>",
        ],
        &device,
        &[],
    );
    assert_eq!(noted.status.code(), Some(0), "{}", text(&noted.stderr));
    let opened = text(&sam.decrypt(&file));
    assert!(
        opened.starts_with(
            "IoT Hub connection string\n\
             Hub:     your-hub (your-hub.azure-devices.net)\n\
             Device:  io.microshare.contact.unpacked.event\n\
             Date:    20"
        ),
        "{opened}"
    );
    assert!(
        opened.ends_with(&format!(
            "\nFrom:    Alice Admin <alice@example.com>\n\n{device}\n"
        )),
        "{opened}"
    );
}

#[test]
fn each_export_is_recorded_in_the_register_without_its_key() {
    let sam = GpgHome::new();
    let (sam_fingerprint, sam_key) = sam.contact("Sam Support <sam@partner.example>");
    let state = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("for-support.asc");
    let device = device_string("meter-1");
    let env = [("HUBSETUP_STATE_DIR", state.path())];
    let export = |file: &Path| {
        hubsetup(
            &[
                "export",
                "--to",
                sam_key.to_str().unwrap(),
                "--out",
                file.to_str().unwrap(),
                "--sender",
                "Alice Admin <alice@example.com>",
            ],
            &device,
            &env,
        )
    };
    let output = export(&file);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    let listed = hubsetup(&["handoffs", "--json"], "", &env);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    let handoffs: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let handoff = &handoffs[0];
    assert_eq!(handoff["hub"], "your-hub.azure-devices.net");
    assert_eq!(
        handoff["target"],
        serde_json::json!({"kind": "device", "device_id": "meter-1"})
    );
    assert_eq!(
        handoff["recipients"][0]["fingerprint"],
        spaced(&sam_fingerprint)
    );
    assert_eq!(handoff["file"], file.display().to_string());
    assert_eq!(handoff["note"], "Alice Admin <alice@example.com>");
    assert_eq!(handoff["key_id"].as_str().unwrap().len(), 12);
    let shown = hubsetup(&["handoffs"], "", &env);
    assert!(
        text(&shown.stdout).contains("your-hub.azure-devices.net / device meter-1, key "),
        "{}",
        text(&shown.stdout)
    );
    assert_no_key(&listed);
    assert_no_key(&shown);
    assert_no_key_in_files(state.path());

    // A register that cannot be read stops the next hand-off before anything is written.
    let register = state.path().join("handoffs.json");
    std::fs::write(&register, "not json").unwrap();
    let second = out.path().join("second.asc");
    let refused = export(&second);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains(&format!(
            "The register of hand-offs ({}) cannot be read: expected ident",
            register.display()
        )),
        "{}",
        text(&refused.stderr)
    );
    assert!(
        !second.exists(),
        "a hand-off was written without being recorded"
    );
    assert_eq!(std::fs::read_to_string(&register).unwrap(), "not json");
}

#[test]
fn export_refuses_an_unusable_key_and_writes_nothing() {
    let home = GpgHome::new();
    let garbage = home.dir.path().join("not-a-key.asc");
    std::fs::write(&garbage, "hello").unwrap();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("for-support.asc");
    let output = hubsetup(
        &[
            "export",
            "--to",
            garbage.to_str().unwrap(),
            "--out",
            file.to_str().unwrap(),
        ],
        &device_string("dev1"),
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).starts_with(&format!(
            "error: {}: This is not an OpenPGP public key.",
            garbage.display()
        )),
        "{}",
        text(&output.stderr)
    );
    assert!(!file.exists());
}

/// A key published in the sandbox's Web Key Directory: `find-key` shows where it came from and
/// saves it; `export --to ADDRESS` looks it up itself, and its holder decrypts the file.
#[test]
fn keys_are_looked_up_by_address_and_exported_to() {
    let (sandbox, _dir, description) = common::fast_sandbox();
    let suffix = sandbox.config().suffix.clone();
    let address = format!("sam@partner.{suffix}");
    let sam = GpgHome::new();
    let (fingerprint, key_file) = sam.contact(&format!("Sam Support <{address}>"));
    let binary = sam.run(&["--export", &fingerprint]);
    sandbox.with_state(|state| {
        state
            .published_keys
            .push(hubsetup_sandbox::keys::PublishedKey {
                emails: vec![address.clone()],
                fingerprint: fingerprint.clone(),
                keybase: None,
                binary: base64_of(&binary),
                armored: std::fs::read_to_string(&key_file).unwrap(),
            })
    });
    let sandbox_arg = ["--sandbox", description.to_str().unwrap()];
    let out = tempfile::tempdir().unwrap();
    let saved = out.path().join("sam.asc");

    let found = hubsetup(
        &[
            &["find-key", &address, "--save", saved.to_str().unwrap()][..],
            &sandbox_arg,
        ]
        .concat(),
        "",
        &[],
    );
    assert_eq!(found.status.code(), Some(0), "{}", text(&found.stderr));
    let stdout = text(&found.stdout);
    assert!(
        stdout.starts_with(&format!(
            "Found in the Web Key Directory of partner.{suffix}: https://openpgpkey.partner.{suffix}/.well-known/openpgpkey/partner.{suffix}/hu/"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("Fingerprint:  {}\n", spaced(&fingerprint))),
        "{stdout}"
    );
    assert!(stdout.contains("read its fingerprint to the support contact by phone or in person"));
    let key_info = hubsetup(&["key-info", saved.to_str().unwrap()], "", &[]);
    assert!(
        text(&key_info.stdout).contains(&spaced(&fingerprint)),
        "the saved key reads back"
    );

    let file = out.path().join("for-sam.asc");
    let device = device_string("io.microshare.contact.unpacked.event");
    let exported = hubsetup(
        &[
            &["export", "--to", &address, "--out", file.to_str().unwrap()][..],
            &sandbox_arg,
        ]
        .concat(),
        &device,
        &[],
    );
    assert_eq!(
        exported.status.code(),
        Some(0),
        "{}",
        text(&exported.stderr)
    );
    assert!(text(&exported.stdout).contains(&format!(
        "Found in the Web Key Directory of partner.{suffix}"
    )));
    assert!(text(&sam.decrypt(&file)).contains(&device));

    let nobody = hubsetup(
        &[
            &[
                "export",
                "--to",
                &format!("nobody@partner.{suffix}"),
                "--out",
                file.to_str().unwrap(),
            ][..],
            &sandbox_arg,
        ]
        .concat(),
        &device,
        &[],
    );
    assert_eq!(nobody.status.code(), Some(2));
    assert!(
        text(&nobody.stderr).starts_with(&format!(
            "error: No public key for nobody@partner.{suffix} was found."
        )),
        "{}",
        text(&nobody.stderr)
    );
    assert_no_key(&nobody);
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The support side: files made by `gpg --encrypt --sign` (and by `hubsetup export`) opened
/// with a secret key file or with the user's own GnuPG; who signed them is said.
#[test]
fn open_reads_a_signed_file_with_a_key_file_or_gnupg() {
    let sam = GpgHome::new();
    let (sam_fingerprint, sam_key) = sam.contact("Sam Support <sam@partner.example>");
    let alice = GpgHome::new();
    let (alice_fingerprint, alice_key) = alice.contact("Alice Admin <alice@contoso.example>");
    alice.run(&["--import", sam_key.to_str().unwrap()]);
    sam.run(&["--import", alice_key.to_str().unwrap()]);
    let work = tempfile::tempdir().unwrap();
    let device = device_string("io.microshare.contact.unpacked.event");
    let plain = work.path().join("plain.txt");
    std::fs::write(&plain, format!("Hub: your-hub\n\n{device}\n")).unwrap();
    let signed = work.path().join("signed.asc");
    alice.run(&[
        "--armor",
        "--trust-model",
        "always",
        "--local-user",
        &alice_fingerprint,
        "--recipient",
        &sam_fingerprint,
        "--output",
        signed.to_str().unwrap(),
        "--encrypt",
        "--sign",
        plain.to_str().unwrap(),
    ]);
    let secret = work.path().join("sam-secret.asc");
    std::fs::write(
        &secret,
        sam.run(&["--armor", "--export-secret-keys", &sam_fingerprint]),
    )
    .unwrap();
    let (file, key) = (signed.to_str().unwrap(), secret.to_str().unwrap());
    let good = format!(
        "Signed by Alice Admin <alice@contoso.example> ({}): the signature is good.",
        spaced(&alice_fingerprint)
    );

    let with_key = hubsetup(
        &[
            "open",
            file,
            "--key",
            key,
            "--signer",
            alice_key.to_str().unwrap(),
        ],
        "",
        &[],
    );
    assert_eq!(
        with_key.status.code(),
        Some(0),
        "{}",
        text(&with_key.stderr)
    );
    assert_eq!(
        text(&with_key.stdout),
        format!("Opened {file}.\n{good}\n  Hub: your-hub\nHostName=your-hub.azure-devices.net;DeviceId=io.microshare.contact.unpacked.event;SharedAccessKey=****…6rw=\n")
    );
    assert_no_key(&with_key);

    let unknown = hubsetup(&["open", file, "--key", key], "", &[]);
    assert!(
        text(&unknown.stdout)
            .contains("which you do not have, so who made the file cannot be checked"),
        "{}",
        text(&unknown.stdout)
    );

    let with_gnupg = hubsetup(
        &["open", file, "--reveal"],
        "",
        &[("GNUPGHOME", sam.dir.path())],
    );
    assert_eq!(
        with_gnupg.status.code(),
        Some(0),
        "{}",
        text(&with_gnupg.stderr)
    );
    assert!(
        text(&with_gnupg.stdout).contains(&good),
        "{}",
        text(&with_gnupg.stdout)
    );
    assert!(
        text(&with_gnupg.stdout).contains(&device),
        "--reveal shows the string"
    );

    // Someone else's key opens nothing.
    let kim = GpgHome::new();
    let (kim_fingerprint, _) = kim.contact("Kim Other <kim@partner.example>");
    let kim_secret = work.path().join("kim-secret.asc");
    std::fs::write(
        &kim_secret,
        kim.run(&["--armor", "--export-secret-keys", &kim_fingerprint]),
    )
    .unwrap();
    let wrong = hubsetup(
        &["open", file, "--key", kim_secret.to_str().unwrap()],
        "",
        &[],
    );
    assert_eq!(wrong.status.code(), Some(2));
    assert_eq!(
        text(&wrong.stderr),
        format!(
            "error: This file was not encrypted to the key {}. Ask the sender which key they used, \
             or open it with the key it was made for.\n",
            spaced(&kim_fingerprint)
        )
    );
    let not_for_gnupg = hubsetup(&["open", file], "", &[("GNUPGHOME", kim.dir.path())]);
    assert!(
        text(&not_for_gnupg.stderr).starts_with(
            "error: None of the secret keys in your GnuPG keyring can open this file."
        ),
        "{}",
        text(&not_for_gnupg.stderr)
    );

    // A secret key protected by a passphrase: read from stdin when it is not a terminal.
    let pat = GpgHome::new();
    let gpg_with = |passphrase: &str, args: &[&str]| {
        let output = Command::new("gpg")
            .arg("--homedir")
            .arg(pat.dir.path())
            .args([
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                passphrase,
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
        output.stdout
    };
    gpg_with(
        "correct horse",
        &[
            "--quick-gen-key",
            "Pat <pat@partner.example>",
            "future-default",
            "default",
            "never",
        ],
    );
    let pat_public = work.path().join("pat.asc");
    std::fs::write(
        &pat_public,
        gpg_with("", &["--armor", "--export", "pat@partner.example"]),
    )
    .unwrap();
    let pat_secret = work.path().join("pat-secret.asc");
    std::fs::write(
        &pat_secret,
        gpg_with(
            "correct horse",
            &["--armor", "--export-secret-keys", "pat@partner.example"],
        ),
    )
    .unwrap();
    let for_pat = work.path().join("for-pat.asc");
    let made = hubsetup(
        &[
            "export",
            "--to",
            pat_public.to_str().unwrap(),
            "--out",
            for_pat.to_str().unwrap(),
        ],
        &device,
        &[],
    );
    assert_eq!(made.status.code(), Some(0), "{}", text(&made.stderr));
    let (file, key) = (for_pat.to_str().unwrap(), pat_secret.to_str().unwrap());
    let unlocked = hubsetup(&["open", file, "--key", key], "correct horse\n", &[]);
    assert_eq!(
        unlocked.status.code(),
        Some(0),
        "{}",
        text(&unlocked.stderr)
    );
    assert!(text(&unlocked.stdout)
        .contains("Not signed: anyone with your public key could have made this file."));
    let refused = hubsetup(&["open", file, "--key", key], "wrong\n", &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).ends_with("is wrong. Nothing was opened; try again.\n"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!text(&refused.stderr).contains("wrong\n\n"));
}

/// Alice signs through her GnuPG (its agent holds the key) and keeps a copy for herself; Sam's
/// gpg says the signature is good, Alice's own gpg opens the file too, and `hubsetup open`
/// on Sam's side names her.
#[test]
fn export_signs_through_gnupg_and_encrypts_to_self() {
    let sam = GpgHome::new();
    let (_, sam_key) = sam.contact("Sam Support <sam@partner.example>");
    let alice = GpgHome::new();
    let (alice_fingerprint, alice_key) = alice.contact("Alice Admin <alice@contoso.example>");
    sam.run(&["--import", alice_key.to_str().unwrap()]);
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("for-sam.asc");
    let device = device_string("d1");
    let alice_home = [("GNUPGHOME", alice.dir.path())];

    let export = hubsetup(
        &[
            "export",
            "--to",
            sam_key.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--sign",
            "alice@contoso.example",
            "--to-self",
        ],
        &device,
        &alice_home,
    );
    assert_eq!(export.status.code(), Some(0), "{}", text(&export.stderr));
    let said = text(&export.stdout);
    assert!(
        said.contains(&format!(
            "Signed by your GnuPG key {}.",
            spaced(&alice_fingerprint)
        )),
        "{said}"
    );
    assert_no_key(&export);

    let status = sam.run(&[
        "--status-fd",
        "1",
        "--decrypt",
        "--output",
        "/dev/null",
        out.to_str().unwrap(),
    ]);
    assert!(
        text(&status).contains(&format!("[GNUPG:] VALIDSIG {alice_fingerprint} ")),
        "{}",
        text(&status)
    );
    assert_eq!(text(&sam.decrypt(&out)), format!("{device}\n"));
    assert_eq!(text(&alice.decrypt(&out)), format!("{device}\n"));

    let opened = hubsetup(
        &["open", out.to_str().unwrap()],
        "",
        &[("GNUPGHOME", sam.dir.path())],
    );
    assert!(
        text(&opened.stdout).contains(&format!(
            "Signed by Alice Admin <alice@contoso.example> ({}): the signature is good.",
            spaced(&alice_fingerprint)
        )),
        "{}",
        text(&opened.stdout)
    );

    let nobody = hubsetup(
        &[
            "export",
            "--to",
            sam_key.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--sign",
            "bob@contoso.example",
        ],
        &device,
        &alice_home,
    );
    assert_eq!(nobody.status.code(), Some(2), "{}", text(&nobody.stderr));
    assert_eq!(
        text(&nobody.stderr),
        "error: --sign bob@contoso.example: no such file, and your GnuPG has no secret key for \
         it. Give your secret key's file, or a fingerprint or address from `gpg \
         --list-secret-keys`.\n"
    );
    assert_no_key(&nobody);
}
