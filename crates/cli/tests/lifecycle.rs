//! After a hand-off: `hubsetup export` records it, `hubsetup revoke` cuts the string off at
//! once (both keys replaced, or the device disabled) and the register says it was revoked.

mod common;

use common::{assert_no_key, fast_sandbox, hubsetup, text};
use hubsetup_testsupport::GpgHome;

const PRODUCTION: &str = "11111111-1111-4111-8111-111111111111";
const HUB: &str = "contoso-plant-hub";
const DEVICE: &str = "io.microshare.contact.unpacked.event";

#[test]
fn a_revoked_string_is_refused_and_the_register_says_so() {
    let (sandbox, dir, description) = fast_sandbox();
    let sam = GpgHome::new();
    let (_, sam_key) = sam.contact("Sam Support <sam@partner.example>");
    let env = [("HUBSETUP_STATE_DIR", dir.path())];
    let device = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    let handed_off = device.expose().to_string();
    let file = dir.path().join("partner.asc");
    let export = hubsetup(
        &[
            "export",
            "--to",
            sam_key.to_str().unwrap(),
            "--out",
            file.to_str().unwrap(),
        ],
        &handed_off,
        &env,
    );
    assert_eq!(export.status.code(), Some(0), "{}", text(&export.stderr));
    let verify = |string: &str| {
        hubsetup(
            &[
                "verify",
                "--protocol",
                "https",
                "--sandbox",
                description.to_str().unwrap(),
            ],
            string,
            &env,
        )
    };
    assert_eq!(verify(&handed_off).status.code(), Some(0));

    let sandbox_args = [
        "--sandbox",
        description.to_str().unwrap(),
        "--method",
        "device-code",
        "--subscription",
        PRODUCTION,
        "--hub",
        HUB,
    ];
    let revoke = hubsetup(
        &[
            &["revoke", "--device", DEVICE, "--renew-keys"][..],
            &sandbox_args[..],
        ]
        .concat(),
        "",
        &env,
    );
    assert_eq!(revoke.status.code(), Some(0), "{}", text(&revoke.stderr));
    assert!(
        text(&revoke.stdout).ends_with(&format!(
        "Replaced both keys of device '{DEVICE}': every string of it handed off no longer works.\n\
         1 hand-off in the register marked revoked (hubsetup handoffs).\n"
    )),
        "{}",
        text(&revoke.stdout)
    );
    assert_no_key(&revoke);

    let refused = verify(&handed_off);
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        text(&refused.stdout).contains("The key is wrong or was regenerated"),
        "{}",
        text(&refused.stdout)
    );
    let register = hubsetup(&["handoffs"], "", &env);
    assert!(
        text(&register.stdout).contains("\n  revoked on "),
        "{}",
        text(&register.stdout)
    );

    // Disabling instead: the device's current string is refused too.
    let current = sandbox.device_connection_string(HUB, DEVICE).unwrap();
    let disable = hubsetup(
        &[
            &["revoke", "--device", DEVICE, "--disable"][..],
            &sandbox_args[..],
        ]
        .concat(),
        "",
        &env,
    );
    assert_eq!(disable.status.code(), Some(0), "{}", text(&disable.stderr));
    assert!(
        text(&disable.stdout).contains("Disabled device"),
        "{}",
        text(&disable.stdout)
    );
    assert!(text(&disable.stdout)
        .ends_with("0 hand-offs in the register marked revoked (hubsetup handoffs).\n"));
    assert_ne!(verify(&current.expose()).status.code(), Some(0));

    let gone = hubsetup(
        &[
            &["revoke", "--device", "deleted-meanwhile", "--renew-keys"][..],
            &sandbox_args[..],
        ]
        .concat(),
        "",
        &env,
    );
    assert_ne!(gone.status.code(), Some(0));
    assert!(
        text(&gone.stderr)
            .contains("Device 'deleted-meanwhile' is no longer in hub 'contoso-plant-hub'"),
        "{}",
        text(&gone.stderr)
    );
}
