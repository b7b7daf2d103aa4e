use super::*;
use hubsetup_sandbox::{Sandbox, SandboxConfig};

#[test]
fn loopback_is_used_only_for_the_sandbox_hosts() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let network = Network::new(&sandbox.cloud(), None).unwrap();
    assert_eq!(
        network.loopback_for("management.sandbox.test"),
        Some(sandbox.address())
    );
    assert_eq!(
        network.loopback_for("hub.azure-devices.sandbox.test"),
        Some(sandbox.address())
    );
    assert_eq!(network.loopback_for("management.azure.com"), None);
    let public = Network::new(&Cloud::public(), None).unwrap();
    assert_eq!(public.loopback_for("management.azure.com"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_name_server_knows_which_hubs_exist() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let network = Network::new(&sandbox.cloud(), None).unwrap();
    assert_eq!(
        network
            .resolve("contoso-plant-hub.azure-devices.sandbox.test")
            .await,
        Ok(vec![sandbox.address()])
    );
    assert_eq!(
        network.resolve("login.sandbox.test").await,
        Ok(vec![sandbox.address()])
    );
    assert_eq!(
        network
            .resolve("no-such-hub.azure-devices.sandbox.test")
            .await,
        Err(ResolveError::NotFound)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_http_client_reaches_the_sandbox_over_verified_tls() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let network = Network::new(&sandbox.cloud(), None).unwrap();
    let client = network.http_client().unwrap();
    let answer = client
        .get("https://management.sandbox.test/subscriptions?api-version=2022-12-01")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401, "reached ARM, which wants a token");
    // Without the sandbox's CA the same request fails certificate verification.
    let mut untrusting = sandbox.cloud();
    untrusting.extra_root_ca_pem = None;
    let client = Network::new(&untrusting, None)
        .unwrap()
        .http_client()
        .unwrap();
    let error = client
        .get("https://management.sandbox.test/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        crate::Unreachable::new("management.sandbox.test", &error).detail,
        "the certificate is issued by 'CN=IoT Hub Setup sandbox CA,O=IoT Hub Setup (local test \
         CA)', which this computer does not trust"
    );
    let stray = network
        .http_client()
        .unwrap()
        .get("https://example.com/")
        .send()
        .await
        .unwrap_err();
    assert!(
        format!("{stray:?}").contains("is not a host of the sandbox"),
        "{stray:?}"
    );
}

/// An authority found only in a certificate folder (not in the bundle read at start) is
/// trusted when a chain needs it; a folder without it still names the untrusted issuer.
#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_folder_is_read_when_the_bundle_lacks_the_issuer() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let mut untrusting = sandbox.cloud();
    untrusting.extra_root_ca_pem = None;
    // The bundle: this computer's, which does not hold the sandbox's authority.
    let bundle = crate::roots::SystemRoots::of_this_computer().now;
    assert!(
        !bundle.is_empty(),
        "the tests need the system's CA bundle (ca-certificates)"
    );
    let folder = tempfile::tempdir().unwrap();
    let unrelated = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("sandbox-ca.pem"), sandbox.ca_pem()).unwrap();
    std::fs::write(unrelated.path().join("empty.pem"), "").unwrap();
    let get = |folders: Vec<std::path::PathBuf>| {
        let network = Network::with_roots(
            &untrusting,
            None,
            ProxySettings::none(),
            crate::roots::SystemRoots {
                now: bundle.clone(),
                later: folders,
            },
        )
        .unwrap();
        async move {
            network
                .http_client()
                .unwrap()
                .get("https://management.sandbox.test/subscriptions?api-version=2022-12-01")
                .send()
                .await
        }
    };
    let answer = get(vec![unrelated.path().into(), folder.path().into()]).await;
    assert_eq!(
        answer.unwrap().status(),
        401,
        "reached ARM over verified TLS"
    );
    let error = get(vec![unrelated.path().into()]).await.unwrap_err();
    assert!(
        crate::Unreachable::new("management.sandbox.test", &error)
            .detail
            .starts_with("the certificate is issued by 'CN=IoT Hub Setup sandbox CA"),
        "{error:?}"
    );
}

#[test]
fn extra_bundles_must_hold_certificates() {
    let dir = std::env::temp_dir().join(format!("hubsetup-net-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "no certificates here").unwrap();
    let error = Network::new(&Cloud::public(), Some(&empty)).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("The certificate bundle {} holds no PEM certificate (-----BEGIN CERTIFICATE-----). Export your proxy's root certificate in PEM format.", empty.display())
    );
    let missing = dir.join("missing.pem");
    assert!(Network::new(&Cloud::public(), Some(&missing))
        .unwrap_err()
        .to_string()
        .starts_with("The certificate bundle"));
    std::fs::remove_dir_all(dir).unwrap();
}
