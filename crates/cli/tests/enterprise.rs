//! `hubsetup login` and `hubsetup provision` in an enterprise's Azure: a guest tenant, a role
//! on one resource group only, Azure Policy and a lock, each with its exact message and exit
//! code 2 (a choice to change), and nothing created.

mod common;

use std::path::Path;

use common::{fast_sandbox as sandbox, hubsetup, text};

const DEV: &str = "22222222-2222-4222-8222-222222222222";
const SHARED: &str = "66666666-6666-4666-8666-666666666666";
const REGULATED: &str = "77777777-7777-4777-8777-777777777777";
const GUEST_TENANT: &str = "9b2e4c1d-0000-4000-8000-fab71ca7e000";

/// `hubsetup login`, signed in with a device code.
fn login(dir: &tempfile::TempDir, description: &Path, more: &[&str]) -> std::process::Output {
    let mut args = vec![
        "login",
        "--sandbox",
        description.to_str().unwrap(),
        "--method",
        "device-code",
    ];
    args.extend_from_slice(more);
    hubsetup(&args, "", &[("HUBSETUP_CONFIG_DIR", dir.path())])
}

/// `hubsetup provision` of a new S1 hub, signed in with a device code.
fn provision(dir: &tempfile::TempDir, description: &Path, where_: &[&str]) -> std::process::Output {
    let mut args = vec![
        "provision",
        "--sandbox",
        description.to_str().unwrap(),
        "--method",
        "device-code",
    ];
    args.extend_from_slice(where_);
    hubsetup(&args, "", &[("HUBSETUP_CONFIG_DIR", dir.path())])
}

#[test]
fn login_to_a_guest_tenant_lists_its_subscriptions_only() {
    let (_sandbox, dir, description) = sandbox();
    let output = login(&dir, &description, &["--tenant", GUEST_TENANT, "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = listed["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Fabrikam Partner Solutions"]);
    let current: Vec<&str> = listed["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["current"] == true)
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(current, ["Fabrikam Partners"]);

    let output = login(&dir, &description, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains(&format!(
            "Tenants (directories) this account may use; sign in to another with --tenant ID:\n  \
         72f988bf-0000-4000-8000-5a4d60c0ffee  Contoso (contoso.onmicrosoft.com)  (current)\n  \
         {GUEST_TENANT}  Fabrikam Partners (fabrikampartners.onmicrosoft.com)  (guest)\n  \
         5e1ec7ed-0000-4000-8000-0000b10c4ed0  Northwind Traders (northwindtraders.onmicrosoft.com)  (guest)\n"
        )),
        "{}",
        text(&output.stdout)
    );

    let output = login(
        &dir,
        &description,
        &["--tenant", "northwindtraders.onmicrosoft.com"],
    );
    assert_ne!(output.status.code(), Some(0));
    assert!(
        text(&output.stderr).contains(
            "Your organization's sign-in policies do not allow this sign-in to \
             'northwindtraders.onmicrosoft.com' (AADSTS53003: Access has been blocked by \
             Conditional Access policies. The access policy does not allow token issuance): \
             Conditional Access may require a managed device"
        ),
        "{}",
        text(&output.stderr)
    );

    let output = login(&dir, &description, &["--tenant", "nowhere.onmicrosoft.com"]);
    assert_ne!(output.status.code(), Some(0));
    assert!(
        text(&output.stderr).contains(
            "There is no tenant 'nowhere.onmicrosoft.com' in Sandbox (no Azure account needed). \
             Check the tenant ID or domain"
        ),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_group_without_the_role_is_refused_before_anything_is_created() {
    let (sandbox, dir, description) = sandbox();
    let output = provision(
        &dir,
        &description,
        &[
            "--subscription",
            SHARED,
            "--hub",
            "reader-hub",
            "--resource-group",
            "team-readonly",
            "--region",
            "westeurope",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains(&format!(
            "You may not create or change IoT hubs here: Azure refused the action \
         Microsoft.Devices/IotHubs/write on the resource group 'team-readonly' (scope \
         /subscriptions/{SHARED}/resourceGroups/team-readonly)."
        )),
        "{}",
        text(&output.stderr)
    );
    assert!(sandbox
        .device_connection_string("reader-hub", "io.microshare.contact.unpacked.event")
        .is_none());
}

#[test]
fn a_plan_says_what_the_user_may_not_do() {
    let (_sandbox, dir, description) = sandbox();
    let output = provision(
        &dir,
        &description,
        &[
            "--subscription",
            SHARED,
            "--hub",
            "planned-hub",
            "--resource-group",
            "team-readonly",
            "--region",
            "westeurope",
            "--plan",
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let notes: Vec<&str> = plan["summary"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("You may not create or change IoT hubs here")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("You may not read IoT hubs' access keys here")),
        "{notes:?}"
    );
}

#[test]
fn policies_and_locks_refuse_in_words_and_tags_satisfy_them() {
    let (sandbox, dir, description) = sandbox();
    let output = provision(
        &dir,
        &description,
        &[
            "--subscription",
            REGULATED,
            "--hub",
            "us-hub",
            "--resource-group",
            "regulated-eu",
            "--region",
            "eastus",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains(
        "Azure Policy does not allow the hub 'us-hub': the assignment 'EU data residency: allowed \
         locations' requires hubs in westeurope, northeurope only. Choose one of these regions: \
         westeurope, northeurope."
    ), "{}", text(&output.stderr));

    let output = provision(
        &dir,
        &description,
        &[
            "--subscription",
            DEV,
            "--hub",
            "frozen-hub",
            "--resource-group",
            "contoso-locked",
            "--region",
            "northeurope",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("is locked by a ReadOnly lock 'freeze-for-audit'"),
        "{}",
        text(&output.stderr)
    );

    let output = provision(
        &dir,
        &description,
        &[
            "--subscription",
            REGULATED,
            "--hub",
            "eu-tagged-hub",
            "--resource-group",
            "regulated-eu",
            "--region",
            "westeurope",
            "--tag",
            "owner=iot-team",
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(sandbox
        .device_connection_string("eu-tagged-hub", "io.microshare.contact.unpacked.event")
        .is_some());
    let output = hubsetup(
        &["provision", "--tag", "owner"],
        "",
        &[("HUBSETUP_CONFIG_DIR", dir.path())],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr)
            .contains("'owner' is not a tag; write KEY=VALUE, e.g. costCenter=4711"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_claims_challenge_signs_in_again_and_carries_on() {
    let (sandbox, dir, description) = sandbox();
    let output = provision(
        &dir,
        &description,
        &[
            "--subscription",
            DEV,
            "--hub",
            "sensitive-hub",
            "--resource-group",
            "contoso-sensitive",
            "--region",
            "northeurope",
        ],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "Azure asks for more proof of who you are (Conditional Access, e.g. multi-factor \
         authentication): signing in again with device code sign-in."
        ),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("To sign in, open https://login.").count(),
        2,
        "{stderr}"
    );
    assert!(sandbox
        .device_connection_string("sensitive-hub", "io.microshare.contact.unpacked.event")
        .is_some());
}
