//! The Entra ID stand-in, and ARM's refusal of bad bearer tokens.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use hubsetup_sandbox::SandboxConfig;
use sha2::{Digest, Sha256};

fn token_request(
    sandbox: &hubsetup_sandbox::Sandbox,
    http: &reqwest::blocking::Client,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    json(
        http.post(format!(
            "{}/organizations/oauth2/v2.0/token",
            login(sandbox)
        ))
        .form(form)
        .send()
        .unwrap(),
    )
}

/// Asks for a device code for `scope` on the organizations endpoint.
fn device_code_for(
    sandbox: &hubsetup_sandbox::Sandbox,
    http: &reqwest::blocking::Client,
    scope: &str,
) -> (u16, serde_json::Value) {
    json(
        http.post(format!(
            "{}/organizations/oauth2/v2.0/devicecode",
            login(sandbox)
        ))
        .form(&[("client_id", CLIENT_ID), ("scope", scope)])
        .send()
        .unwrap(),
    )
}

/// The token request that polls the device code in `code`.
fn device_code_poll(code: &serde_json::Value) -> [(&'static str, &str); 3] {
    [
        ("client_id", CLIENT_ID),
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", code["device_code"].as_str().unwrap()),
    ]
}

#[test]
fn device_code_is_pending_then_gives_tokens_that_arm_accepts() {
    let sandbox = start(SandboxConfig {
        device_code_pending_polls: 2,
        ..fast_config()
    });
    let http = client(&sandbox, &[]);
    let (status, code) = device_code_for(&sandbox, &http, &arm_scope(&sandbox));
    assert_eq!(status, 200);
    assert_eq!(
        code["verification_uri"],
        format!("{}/devicelogin", login(&sandbox))
    );
    assert_eq!(code["expires_in"], 900);
    assert!(code["message"]
        .as_str()
        .unwrap()
        .contains(code["user_code"].as_str().unwrap()));
    let poll = device_code_poll(&code);
    for _ in 0..2 {
        let (status, pending) = token_request(&sandbox, &http, &poll);
        assert_eq!(status, 400);
        assert_eq!(pending["error"], "authorization_pending");
        assert_eq!(pending["error_codes"], serde_json::json!([70016]));
        assert!(pending["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS70016: "));
        for field in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
            assert!(pending[field].is_string(), "{field} missing: {pending}");
        }
    }
    let (status, tokens) = token_request(&sandbox, &http, &poll);
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert!(tokens["refresh_token"].is_string());
    let (status, subscriptions) = arm_get(
        &sandbox,
        &http,
        tokens["access_token"].as_str().unwrap(),
        "/subscriptions?api-version=2022-12-01",
    );
    assert_eq!(status, 200);
    assert_eq!(subscriptions["value"].as_array().unwrap().len(), 6);
    // A used device code is gone.
    let (status, used) = token_request(&sandbox, &http, &poll);
    assert_eq!(
        (status, used["error"].as_str().unwrap()),
        (400, "bad_verification_code")
    );
}

/// A held approval keeps every poll pending, however many, until the test releases it: the
/// order of "Cancel" and "approved" is the test's to decide, not the clock's.
#[test]
fn a_held_device_code_approval_waits_for_its_release() {
    let sandbox = start(SandboxConfig {
        device_code_pending_polls: 0,
        ..fast_config()
    });
    let http = client(&sandbox, &[]);
    let holds = format!(
        "https://control.{}/holds/device-code-approval",
        sandbox.config().suffix
    );
    assert_eq!(http.put(&holds).send().unwrap().status(), 204);
    let (_, code) = device_code_for(&sandbox, &http, &arm_scope(&sandbox));
    let poll = device_code_poll(&code);
    for _ in 0..5 {
        let (status, pending) = token_request(&sandbox, &http, &poll);
        assert_eq!(
            (status, pending["error"].as_str()),
            (400, Some("authorization_pending"))
        );
    }
    assert_eq!(http.delete(&holds).send().unwrap().status(), 204);
    let (status, tokens) = token_request(&sandbox, &http, &poll);
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["access_token"].is_string());
}

#[test]
fn device_code_entered_on_the_page_signs_in_at_once_and_fast_polls_slow_down() {
    let sandbox = start(SandboxConfig {
        device_code_pending_polls: 100,
        device_code_interval_secs: 5,
        ..fast_config()
    });
    let http = client(&sandbox, &[]);
    let (_, code) = json(
        http.post(format!("{}/common/oauth2/v2.0/devicecode", login(&sandbox)))
            .form(&[("client_id", CLIENT_ID), ("scope", &arm_scope(&sandbox))])
            .send()
            .unwrap(),
    );
    assert_eq!(code["interval"], 5);
    let poll = device_code_poll(&code);
    assert_eq!(
        token_request(&sandbox, &http, &poll).1["error"],
        "authorization_pending"
    );
    assert_eq!(
        token_request(&sandbox, &http, &poll).1["error"],
        "slow_down"
    );
    let wrong = http
        .post(format!("{}/devicelogin", login(&sandbox)))
        .form(&[("code", "NOPE")])
        .send()
        .unwrap();
    assert!(wrong
        .text()
        .unwrap()
        .contains("That code is not recognised or has expired."));
    let page = http
        .post(format!("{}/devicelogin", login(&sandbox)))
        .form(&[("code", code["user_code"].as_str().unwrap())])
        .send()
        .unwrap();
    assert!(page.text().unwrap().contains("You are signed in"));
    std::thread::sleep(Duration::from_millis(5000));
    let (status, tokens) = token_request(&sandbox, &http, &poll);
    assert_eq!(status, 200, "{tokens}");
}

fn pkce_pair() -> (String, String) {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

#[test]
fn authorization_code_with_pkce_through_the_sign_in_page() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (verifier, challenge) = pkce_pair();
    let redirect = "http://localhost:53127/";
    let authorize = format!("{}/organizations/oauth2/v2.0/authorize", login(&sandbox));
    let query = [
        ("client_id", CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", redirect),
        ("scope", &arm_scope(&sandbox)),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("state", "xyz"),
    ];
    let page = http.get(&authorize).query(&query).send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));
    let html = page.text().unwrap();
    assert!(
        html.contains("id=\"approve\"") && html.contains("admin@contoso.example"),
        "{html}"
    );

    let mut form: Vec<(&str, &str)> = query
        .iter()
        .filter(|(k, _)| !k.starts_with("response") && *k != "code_challenge_method")
        .copied()
        .collect();
    form.push(("decision", "approve"));
    let approved = http.post(&authorize).form(&form).send().unwrap();
    assert_eq!(approved.status(), 302);
    let location = url::Url::parse(approved.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.as_str().split('?').next(), Some(redirect));
    let pairs: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(pairs["state"], "xyz");
    let code = pairs["code"].clone();

    let redeem = |verifier: &str| {
        token_request(
            &sandbox,
            &http,
            &[
                ("client_id", CLIENT_ID),
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
            ],
        )
    };
    let (status, wrong) = redeem("not-the-verifier");
    assert_eq!(status, 400);
    assert_eq!(wrong["error"], "invalid_grant");
    assert_eq!(wrong["error_codes"], serde_json::json!([501481]));
    // The failed attempt used the code up, as Entra does; start again.
    let (_, used) = redeem(&verifier);
    assert_eq!(used["error_codes"], serde_json::json!([70008]));

    let approved = http.post(&authorize).form(&form).send().unwrap();
    let location = url::Url::parse(approved.headers()["location"].to_str().unwrap()).unwrap();
    let code: String = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let (status, tokens) = token_request(
        &sandbox,
        &http,
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier),
        ],
    );
    assert_eq!(status, 200, "{tokens}");
    let (status, _) = arm_get(
        &sandbox,
        &http,
        tokens["access_token"].as_str().unwrap(),
        "/subscriptions?api-version=2022-12-01",
    );
    assert_eq!(status, 200);
}

#[test]
fn sign_in_page_refuses_non_loopback_redirects_and_cancel_is_access_denied() {
    let sandbox = start(fast_config());
    let http = client(&sandbox, &[]);
    let (_, challenge) = pkce_pair();
    let authorize = format!("{}/organizations/oauth2/v2.0/authorize", login(&sandbox));
    let evil = http
        .get(&authorize)
        .query(&[
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", "https://evil.example/"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .unwrap();
    assert_eq!(evil.status(), 400);
    assert!(evil.text().unwrap().contains("AADSTS50011"));
    let no_pkce = http
        .get(&authorize)
        .query(&[
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("state", "s"),
        ])
        .send()
        .unwrap();
    assert_eq!(no_pkce.status(), 302);
    assert_eq!(
        no_pkce.headers()["location"],
        "http://127.0.0.1:9/cb?error=invalid_request&state=s"
    );
    let cancelled = http
        .post(&authorize)
        .form(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", "http://localhost:9/"),
            ("state", "s"),
            ("decision", "cancel"),
        ])
        .send()
        .unwrap();
    let location = cancelled.headers()["location"].to_str().unwrap();
    assert!(
        location
            .starts_with("http://localhost:9/?error=access_denied&error_description=AADSTS65004"),
        "{location}"
    );
}

#[test]
fn refresh_tokens_rotate_and_expired_access_tokens_are_refused() {
    let sandbox = start(SandboxConfig {
        access_token_lifetime: Duration::from_secs(1),
        ..fast_config()
    });
    let http = client(&sandbox, &[]);
    let (access, refresh) = sign_in(&sandbox, &http);
    let refresh = refresh.expect("offline_access gives a refresh token");
    std::thread::sleep(Duration::from_millis(2100));
    let response = http
        .get(format!(
            "{}/subscriptions?api-version=2022-12-01",
            arm(&sandbox)
        ))
        .bearer_auth(&access)
        .send()
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer authorization_uri="));
    let (_, body) = json(response);
    assert_eq!(body["error"]["code"], "ExpiredAuthenticationToken");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("The access token expiry UTC time '"));

    let refreshed = [
        ("client_id", CLIENT_ID),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let (status, tokens) = token_request(&sandbox, &http, &refreshed);
    assert_eq!(status, 200, "{tokens}");
    assert_ne!(tokens["refresh_token"].as_str(), Some(refresh.as_str()));
    assert_eq!(
        arm_get(
            &sandbox,
            &http,
            tokens["access_token"].as_str().unwrap(),
            "/subscriptions?api-version=2022-12-01"
        )
        .0,
        200
    );
    let (status, reused) = token_request(&sandbox, &http, &refreshed);
    assert_eq!(
        (status, reused["error"].as_str().unwrap()),
        (400, "invalid_grant")
    );
}

#[test]
fn arm_refuses_missing_tampered_foreign_and_misaddressed_tokens() {
    let sandbox = start(fast_config());
    let other = start(fast_config());
    let http = client(&sandbox, &[]);
    let url = format!("{}/subscriptions?api-version=2022-12-01", arm(&sandbox));
    let code = |response: reqwest::blocking::Response| {
        let (status, body) = json(response);
        (
            status,
            body["error"]["code"].as_str().unwrap().to_owned(),
            body["error"]["message"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        code(http.get(&url).send().unwrap()),
        (
            401,
            "AuthenticationFailed".into(),
            "Authentication failed. The 'Authorization' header is missing.".into()
        )
    );
    let (token, _) = sign_in(&sandbox, &http);
    let mut tampered = token.clone().into_bytes();
    let middle = token.find('.').unwrap() + 3;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        code(http.get(&url).bearer_auth(&tampered).send().unwrap()).1,
        "InvalidAuthenticationToken"
    );
    let (foreign, _) = sign_in(&other, &client(&other, &[]));
    assert_eq!(
        code(http.get(&url).bearer_auth(&foreign).send().unwrap()),
        (
            401,
            "InvalidAuthenticationToken".into(),
            "The access token is invalid.".into()
        )
    );
    let (_, code_body) = device_code_for(&sandbox, &http, "https://iothubs.azure.net/.default");
    let (_, hub_tokens) = token_request(
        &sandbox,
        &http,
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", code_body["device_code"].as_str().unwrap()),
        ],
    );
    assert!(
        hub_tokens["refresh_token"].is_null(),
        "no offline_access, no refresh token"
    );
    let (status, kind, _) = code(
        http.get(&url)
            .bearer_auth(hub_tokens["access_token"].as_str().unwrap())
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, kind.as_str()),
        (401, "InvalidAuthenticationTokenAudience")
    );
    let (status, unknown) = token_request(
        &sandbox,
        &http,
        &[("client_id", "not-a-guid"), ("grant_type", "refresh_token")],
    );
    assert_eq!(
        (status, unknown["error_codes"][0].as_u64()),
        (400, Some(700016))
    );
}
