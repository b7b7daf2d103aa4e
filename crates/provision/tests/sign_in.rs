//! Each way of signing in, end to end against the sandbox's Entra ID stand-in, ending with a
//! call to ARM that only a valid token passes.

mod common;

use common::*;
use hubsetup_identity::{
    sign_in, AzureCli, BrowserOpener, Credential, SignInMethod, SignInOptions, SignInProgress,
    SystemBrowser,
};
use hubsetup_provision::{Azure, Progress};
use hubsetup_sandbox::{Sandbox, SandboxConfig};

/// Lists subscriptions, which needs a token ARM accepts.
async fn assert_signed_in(sandbox: &Sandbox, credential: Credential) {
    let azure = Azure::new(&network(sandbox), credential, hubsetup_provision::silent()).unwrap();
    let subscriptions = azure.subscriptions().await.unwrap();
    let names: Vec<&str> = subscriptions.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Contoso Production",
            "Contoso Dev/Test",
            "Contoso New Projects",
            "Contoso Legacy (disabled)",
            "Contoso Shared Services",
            "Contoso Regulated"
        ]
    );
    assert!(!subscriptions[3].is_usable());
}

async fn sign_in_with(
    sandbox: &Sandbox,
    method: SignInMethod,
    cli: &AzureCli,
    opener: &dyn BrowserOpener,
    events: &Events,
) -> Result<Credential, hubsetup_identity::Error> {
    sign_in(
        method,
        &network(sandbox),
        &SignInOptions::default(),
        cli,
        opener,
        &|step| events.reporter()(step.into()),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_shows_the_code_and_polls_until_approved() {
    let sandbox = start(SandboxConfig {
        device_code_pending_polls: 2,
        ..fast_config()
    });
    let events = Events::default();
    let credential = sign_in_with(
        &sandbox,
        SignInMethod::DeviceCode,
        &AzureCli::default(),
        &SystemBrowser,
        &events,
    )
    .await
    .unwrap();
    assert_eq!(credential.method(), SignInMethod::DeviceCode);
    let all = events.all();
    let Progress::SignIn(SignInProgress::DeviceCode {
        user_code,
        verification_uri,
        expires_in_secs,
    }) = &all[0]
    else {
        panic!("{all:?}");
    };
    assert_eq!(user_code.len(), 9);
    assert_eq!(
        verification_uri,
        &format!("https://login.{}/devicelogin", sandbox.config().suffix)
    );
    assert_eq!(*expires_in_secs, 900);
    assert_eq!(
        all.last(),
        Some(&Progress::SignIn(SignInProgress::SignedIn {
            method: SignInMethod::DeviceCode
        }))
    );
    assert_signed_in(&sandbox, credential).await;
}

/// Plays the person in the browser: opens the sign-in page, presses `decision`, and follows
/// the redirect to the app's loopback listener.
async fn browse(sandbox_client: reqwest::Client, url: String, decision: &'static str) {
    let page = sandbox_client
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form: Vec<(String, String)> = page
        .split("<input type=\"hidden\" ")
        .skip(1)
        .map(|input| {
            let attribute = |name: &str| {
                let start = input.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                let value = &input[start..];
                value[..value.find('"').unwrap()]
                    .replace("&quot;", "\"")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            };
            (attribute("name"), attribute("value"))
        })
        .collect();
    form.push(("decision".into(), decision.into()));
    let answer = sandbox_client.post(&url).form(&form).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 302);
    let redirect = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(redirect.starts_with("http://localhost:"), "{redirect}");
    let loopback = reqwest::Client::builder().no_proxy().build().unwrap();
    let landing = loopback
        .get(&redirect)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(landing.contains("IoT Hub Setup"), "{landing}");
}

fn browser(sandbox: &Sandbox, decision: &'static str) -> impl BrowserOpener {
    let client = network(sandbox)
        .http_client_builder()
        .unwrap()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    move |url: &str| {
        tokio::spawn(browse(client.clone(), url.to_owned(), decision));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sign_in_uses_pkce_and_a_loopback_redirect() {
    let sandbox = start(fast_config());
    let events = Events::default();
    let credential = sign_in_with(
        &sandbox,
        SignInMethod::Browser,
        &AzureCli::default(),
        &browser(&sandbox, "approve"),
        &events,
    )
    .await
    .unwrap();
    let Progress::SignIn(SignInProgress::OpenBrowser { url }) = &events.all()[0] else {
        panic!("{:?}", events.all());
    };
    let url = url::Url::parse(url).unwrap();
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(url.path(), "/organizations/oauth2/v2.0/authorize");
    assert_eq!(query["client_id"], "04b07795-8ddb-461a-bbee-02f9e1bf7b46");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(
        query["scope"],
        format!(
            "https://management.{}/.default offline_access",
            sandbox.config().suffix
        )
    );
    assert!(query["redirect_uri"].starts_with("http://localhost:"));
    assert_signed_in(&sandbox, credential).await;

    let refused = sign_in_with(
        &sandbox,
        SignInMethod::Browser,
        &AzureCli::default(),
        &browser(&sandbox, "cancel"),
        &events,
    )
    .await
    .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "Sign-in was cancelled or refused (AADSTS65004: User declined to consent.). Sign in again \
         and approve the request, or ask your Azure administrator whether you may use IoT Hub Setup."
    );
}

/// On Windows the CLI is a batch file, `az.cmd`, run through `cmd`. The real CLI cannot run
/// under Wine here, so a batch file stands in for it; elsewhere
/// `tests/python/test_azure_cli.py` signs in with the real CLI and this reuses its login.
#[cfg(windows)]
mod batch_file_cli {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use hubsetup_identity::DEFAULT_CLIENT_ID;

    use super::*;

    /// A token from the sandbox, as `az account get-access-token` would have it.
    async fn token_from_sandbox(sandbox: &Sandbox) -> String {
        let http = network(sandbox).http_client().unwrap();
        let login = format!(
            "https://login.{}/organizations/oauth2/v2.0",
            sandbox.config().suffix
        );
        let client_id = DEFAULT_CLIENT_ID;
        let scope = format!("https://management.{}/.default", sandbox.config().suffix);
        let code: serde_json::Value = http
            .post(format!("{login}/devicecode"))
            .form(&[("client_id", client_id), ("scope", &scope)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let tokens: serde_json::Value = http
            .post(format!("{login}/token"))
            .form(&[
                ("client_id", client_id),
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", code["device_code"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens["access_token"].as_str().unwrap().to_owned()
    }

    /// A stand-in `az.cmd` that answers exactly the expected command with `json`: a batch file
    /// like the real CLI's, which runs through `cmd`. The real CLI cannot run under Wine here;
    /// elsewhere `tests/python/test_azure_cli.py` signs in with the real one and reuses it.
    fn stub_az(dir: &std::path::Path, expected_args: &str, json: &str) -> std::path::PathBuf {
        let token = dir.join("token.json");
        std::fs::write(&token, json).unwrap();
        let script = format!(
            "@echo off\r\nif not \"%*\"==\"{expected_args}\" (\r\n  echo ERROR: unexpected arguments: %* 1>&2\r\n  exit /b 2\r\n)\r\ntype \"{}\"\r\n",
            token.display()
        );
        let path = dir.join("az.cmd");
        std::fs::write(&path, script).unwrap();
        path
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_azure_cli_batch_file_login_is_reused() {
        let sandbox = start(fast_config());
        let token = token_from_sandbox(&sandbox).await;
        let expires_on =
            SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(3600);
        let dir = tempfile::tempdir().unwrap();
        let az = stub_az(
            dir.path(),
            &format!(
                "account get-access-token --resource https://management.{}/ --output json",
                sandbox.config().suffix
            ),
            &format!(
                r#"{{"accessToken":"{token}","expires_on":{},"tokenType":"Bearer"}}"#,
                expires_on.as_secs()
            ),
        );
        let cli = AzureCli::with_program(&az);
        assert!(cli.is_installed());
        let events = Events::default();
        let credential = sign_in_with(
            &sandbox,
            SignInMethod::AzureCli,
            &cli,
            &SystemBrowser,
            &events,
        )
        .await
        .unwrap();
        assert_eq!(
            events.all(),
            [Progress::SignIn(SignInProgress::SignedIn {
                method: SignInMethod::AzureCli
            })]
        );
        assert_signed_in(&sandbox, credential).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_azure_cli_is_named() {
    let sandbox = start(fast_config());
    let dir = tempfile::tempdir().unwrap();
    let events = Events::default();
    let missing = AzureCli::with_program(dir.path().join("no-az"));
    let error = sign_in_with(
        &sandbox,
        SignInMethod::AzureCli,
        &missing,
        &SystemBrowser,
        &events,
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "The Azure CLI (az) is not installed or not on the PATH, so its sign-in cannot be reused. \
         Install it and run `az login`, or sign in with the browser or a device code instead."
    );
}
