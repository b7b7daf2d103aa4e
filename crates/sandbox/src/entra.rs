//! The Entra ID stand-in: device-code sign-in, authorization code with PKCE and a loopback
//! redirect (through a one-button sign-in page), refresh tokens, and signed access tokens that
//! expire. Error answers use Entra's OAuth shape and AADSTS codes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::http::{empty, json_response, oauth_error, response, with_header, Req, Resp};
use crate::state::{
    self, now_ms, AuthCodeGrant, DeviceCodeGrant, RefreshGrant, State, Tenant, TENANT_ID,
    USER_DISPLAY_NAME, USER_NAME,
};
use crate::SandboxConfig;

pub(crate) mod claims;

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const CODE_LIFETIME_MS: u64 = 10 * 60 * 1000;
const DEVICE_CODE_LIFETIME_SECS: u64 = 900;
const REFRESH_LIFETIME_MS: u64 = 24 * 3600 * 1000;

/// The claims of a sandbox access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub aud: String,
    pub iss: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub tid: String,
    pub oid: String,
    pub upn: String,
    pub appid: String,
    pub scp: String,
    /// Authentication contexts the sign-in satisfied (Conditional Access step-up).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acrs: Vec<String>,
}

/// Why ARM refuses a bearer token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BearerProblem {
    Malformed,
    BadSignature,
    Expired { exp: u64 },
    WrongAudience { aud: String },
}

fn sign(key: &str, data: &str) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap_or_default();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(data.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Checks a bearer token: our signature, not expired, for `audience`.
pub(crate) fn verify_access_token(
    token: &str,
    signing_key: &str,
    audience: &str,
    now_secs: u64,
) -> Result<Claims, BearerProblem> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BearerProblem::Malformed);
    };
    let expected = sign(signing_key, &format!("{header}.{payload}"));
    let same = expected.len() == signature.len()
        && expected
            .bytes()
            .zip(signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(BearerProblem::BadSignature);
    }
    let claims: Claims = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(BearerProblem::Malformed)?;
    if claims.exp <= now_secs {
        return Err(BearerProblem::Expired { exp: claims.exp });
    }
    if claims.aud.trim_end_matches('/') != audience.trim_end_matches('/') {
        return Err(BearerProblem::WrongAudience { aud: claims.aud });
    }
    Ok(claims)
}

/// The issuer of `tenant`'s tokens; `{tenantid}` in the discovery document of
/// `organizations` and `common`, as Entra writes it.
pub(crate) fn issuer(config: &SandboxConfig, tenant: &str) -> String {
    format!("https://login.{}/{tenant}/v2.0", config.suffix)
}

/// The resource a scope list asks for: `https://management.x/.default offline_access` gives
/// `https://management.x/`.
fn audience_of(scope: &str) -> Option<String> {
    scope
        .split_whitespace()
        .find(|s| s.starts_with("https://"))
        .map(|s| {
            let resource = s
                .trim_end_matches("/.default")
                .trim_end_matches("/user_impersonation");
            format!("{}/", resource.trim_end_matches('/'))
        })
}

/// Who asks for tokens, for what, in which tenant.
struct TokenRequest<'a> {
    client_id: &'a str,
    scope: &'a str,
    tenant: &'static Tenant,
    /// MSAL's `client_info=1`: answer with the account's home IDs.
    client_info: bool,
    /// Authentication contexts the sign-in proved.
    acrs: Vec<String>,
}

/// The user's object ID in `tenant` (a guest has its own object in each directory).
fn user_object_id(tenant: &Tenant) -> &'static str {
    if tenant.home {
        HOME_OBJECT_ID
    } else {
        "0d5cbd5c-0000-4000-8000-00000000ad02"
    }
}
const HOME_OBJECT_ID: &str = "0d5cbd5c-0000-4000-8000-00000000ad01";

fn signed_jwt(state: &State, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT","kid":"sandbox"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signature = sign(&state.token_signing_key, &format!("{header}.{payload}"));
    format!("{header}.{payload}.{signature}")
}

fn mint_tokens(state: &mut State, config: &SandboxConfig, request: TokenRequest<'_>) -> Resp {
    let TokenRequest {
        client_id,
        scope,
        tenant,
        client_info,
        acrs,
    } = request;
    let Some(audience) = audience_of(scope) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid. Ask for a resource, e.g. https://management.azure.com/.default.",
        );
    };
    let now = now_ms() / 1000;
    let lifetime = config.access_token_lifetime.as_secs();
    let claims = Claims {
        aud: audience.clone(),
        iss: issuer(config, tenant.id),
        iat: now,
        nbf: now,
        exp: now + lifetime,
        tid: tenant.id.into(),
        oid: user_object_id(tenant).into(),
        upn: USER_NAME.into(),
        appid: client_id.into(),
        scp: "user_impersonation".into(),
        acrs: acrs.clone(),
    };
    let access_token = signed_jwt(state, &json!(claims));
    let mut body = json!({
        "token_type": "Bearer",
        "scope": format!("{audience}/user_impersonation {audience}/.default"),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    });
    let asked = |wanted: &str| scope.split_whitespace().any(|s| s == wanted);
    if asked("openid") {
        body["id_token"] = json!(signed_jwt(
            state,
            &json!({
                "aud": client_id,
                "iss": issuer(config, tenant.id),
                "iat": now,
                "nbf": now,
                "exp": now + lifetime,
                "name": USER_DISPLAY_NAME,
                "oid": user_object_id(tenant),
                "preferred_username": USER_NAME,
                "sub": state::random_hex(16),
                "tid": tenant.id,
                "ver": "2.0",
            })
        ));
    }
    if client_info {
        let home = json!({ "uid": HOME_OBJECT_ID, "utid": TENANT_ID });
        body["client_info"] = json!(URL_SAFE_NO_PAD.encode(home.to_string()));
    }
    if asked("offline_access") {
        let refresh = state::random_hex(32);
        state.refresh_tokens.insert(
            refresh.clone(),
            RefreshGrant {
                client_id: client_id.into(),
                scope: scope.into(),
                expires_at_ms: now_ms() + REFRESH_LIFETIME_MS,
                acrs,
            },
        );
        body["refresh_token"] = json!(refresh);
    }
    json_response(StatusCode::OK, &body)
}

fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn unknown_client(client_id: &str) -> Resp {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        700016,
        &format!(
            "Application with identifier '{client_id}' was not found in the directory 'Contoso'."
        ),
    )
}

pub(crate) fn handle(req: &Req, state: &mut State, config: &SandboxConfig) -> Resp {
    let segments = req.segments();
    match (&req.method, segments.as_slice()) {
        (&Method::GET, ["devicelogin"]) => return device_login_page(None),
        (&Method::POST, ["devicelogin"]) => return device_login_submit(req, state),
        (&Method::GET, ["common", "discovery", "instance"]) => {
            return instance_discovery(req, config)
        }
        _ => {}
    }
    let Some((path_tenant, rest)) = segments.split_first() else {
        return not_a_sign_in_request();
    };
    let Some(tenant) = state::tenant(path_tenant) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!("Tenant '{path_tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        );
    };
    match (&req.method, rest) {
        (&Method::GET, ["v2.0", ".well-known", "openid-configuration"]) => {
            discovery(config, path_tenant, tenant)
        }
        (&Method::POST, ["oauth2", "v2.0", "devicecode"]) => device_code(req, state, config),
        (&Method::POST, ["oauth2", "v2.0", "token"]) if tenant.blocks_sign_in => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            53003,
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        ),
        (&Method::POST, ["oauth2", "v2.0", "token"]) => token(req, state, config, tenant),
        (&Method::GET, ["oauth2", "v2.0", "authorize"]) => authorize_page(req),
        (&Method::POST, ["oauth2", "v2.0", "authorize"]) => authorize_submit(req, state),
        _ => not_a_sign_in_request(),
    }
}

fn not_a_sign_in_request() -> Resp {
    oauth_error(
        StatusCode::NOT_FOUND,
        "invalid_request",
        900561,
        "The endpoint only accepts the documented sign-in requests.",
    )
}

/// MSAL's authority check: an authorization endpoint on this host is known, with the
/// discovery document of its tenant; any other host is an `invalid_instance`.
fn instance_discovery(req: &Req, config: &SandboxConfig) -> Resp {
    let login_host = format!("login.{}", config.suffix);
    let tenant = req
        .query("authorization_endpoint")
        .and_then(|endpoint| url::Url::parse(endpoint).ok())
        .filter(|url| url.scheme() == "https" && url.host_str() == Some(login_host.as_str()))
        .and_then(|url| {
            let first = url.path_segments()?.next()?.to_owned();
            (!first.is_empty()).then_some(first)
        });
    let Some(tenant) = tenant else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({
                "error": "invalid_instance",
                "error_description": "AADSTS50049: Unknown or invalid instance.",
                "error_codes": [50049],
            }),
        );
    };
    json_response(
        StatusCode::OK,
        &json!({
            "tenant_discovery_endpoint": format!("https://{login_host}/{tenant}/v2.0/.well-known/openid-configuration"),
            "api-version": "1.1",
            "metadata": [{
                "preferred_network": login_host,
                "preferred_cache": login_host,
                "aliases": [login_host],
            }],
        }),
    )
}

/// The OpenID Connect discovery document of a tenant path, with every field MSAL and other
/// OIDC clients read.
fn discovery(config: &SandboxConfig, path_tenant: &str, tenant: &Tenant) -> Resp {
    let login = format!("https://login.{}", config.suffix);
    let base = format!("{login}/{path_tenant}/oauth2/v2.0");
    let named = !["organizations", "common"].contains(&path_tenant.to_ascii_lowercase().as_str());
    let issuer_tenant = if named { tenant.id } else { "{tenantid}" };
    json_response(
        StatusCode::OK,
        &json!({
            "token_endpoint": format!("{base}/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{login}/{path_tenant}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": issuer(config, issuer_tenant),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": format!("https://graph.{}/oidc/userinfo", config.suffix),
            "authorization_endpoint": format!("{base}/authorize"),
            "device_authorization_endpoint": format!("{base}/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{base}/logout"),
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": config.suffix,
            "cloud_graph_host_name": format!("graph.{}", config.suffix),
            "msgraph_host": format!("graph.{}", config.suffix),
            "code_challenge_methods_supported": ["plain", "S256"],
        }),
    )
}

fn device_code(req: &Req, state: &mut State, config: &SandboxConfig) -> Resp {
    let form = req.form();
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    if !is_guid(&client_id) {
        return unknown_client(&client_id);
    }
    let scope = form.get("scope").cloned().unwrap_or_default();
    if audience_of(&scope).is_none() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid.",
        );
    }
    let user_code: String = state::random_hex(5)
        .to_uppercase()
        .chars()
        .take(9)
        .collect();
    let device_code = state::random_hex(24);
    state.device_codes.insert(
        device_code.clone(),
        DeviceCodeGrant {
            client_id,
            scope,
            user_code: user_code.clone(),
            expires_at_ms: now_ms() + DEVICE_CODE_LIFETIME_SECS * 1000,
            polls: 0,
            approved: false,
            last_poll_ms: 0,
            acrs: claims::requested_contexts(form.get("claims").map_or("", String::as_str)),
        },
    );
    let uri = format!("https://login.{}/devicelogin", config.suffix);
    json_response(
        StatusCode::OK,
        &json!({
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": uri,
            "expires_in": DEVICE_CODE_LIFETIME_SECS,
            "interval": config.device_code_interval_secs,
            "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
        }),
    )
}

fn token(req: &Req, state: &mut State, config: &SandboxConfig, tenant: &'static Tenant) -> Resp {
    let form = req.form();
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let client_id = field("client_id");
    if !is_guid(&client_id) {
        return unknown_client(&client_id);
    }
    let granted = match field("grant_type").as_str() {
        DEVICE_CODE_GRANT => poll_device_code(&field("device_code"), &client_id, state, config),
        "authorization_code" => redeem_code(&form, &client_id, state),
        "refresh_token" => {
            let grant = state.refresh_tokens.remove(&field("refresh_token"));
            match grant {
                Some(g) if g.client_id == client_id && g.expires_at_ms > now_ms() => {
                    let scope = form.get("scope").cloned().unwrap_or(g.scope.clone());
                    let wanted = claims::requested_contexts(&field("claims"));
                    if wanted.iter().any(|c| !g.acrs.contains(c)) {
                        // Stepping up needs the person: the refresh token stays usable.
                        let resource = audience_of(&scope).unwrap_or_default();
                        state.refresh_tokens.insert(field("refresh_token"), g);
                        return claims::interaction_required(&resource, &field("claims"));
                    }
                    Ok((scope, g.acrs))
                }
                _ => Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    700082,
                    "The refresh token has expired or is invalid. The user must sign in again.",
                )),
            }
        }
        other => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        )),
    };
    match granted {
        Ok((scope, acrs)) => {
            let request = TokenRequest {
                client_id: &client_id,
                scope: &scope,
                tenant,
                client_info: field("client_info") == "1",
                acrs,
            };
            mint_tokens(state, config, request)
        }
        Err(refusal) => refusal,
    }
}

/// The scope a device code was approved for and the contexts its sign-in proved, or why not
/// (yet).
fn poll_device_code(
    device_code: &str,
    client_id: &str,
    state: &mut State,
    config: &SandboxConfig,
) -> Result<(String, Vec<String>), Resp> {
    let now = now_ms();
    let Some(grant) = state.device_codes.get_mut(device_code) else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "bad_verification_code",
            70019,
            "Verification code is not recognised.",
        ));
    };
    if grant.client_id != client_id {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "The device code was issued to another application.",
        ));
    }
    if grant.expires_at_ms <= now {
        state.device_codes.remove(device_code);
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "expired_token",
            70020,
            "The device code has expired; start the sign-in again.",
        ));
    }
    // Polling faster than the interval earns slow_down, as RFC 8628 says (with slack for timers).
    let interval_ms = u64::from(config.device_code_interval_secs) * 1000;
    if grant.last_poll_ms != 0 && now + 250 < grant.last_poll_ms + interval_ms {
        grant.last_poll_ms = now;
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "slow_down",
            70016,
            "The client is polling too often; wait for the interval.",
        ));
    }
    grant.last_poll_ms = now;
    if state.device_code_approval_held
        || (!grant.approved && grant.polls < config.device_code_pending_polls)
    {
        grant.polls += 1;
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        ));
    }
    let grant = state
        .device_codes
        .remove(device_code)
        .expect("present above");
    Ok((grant.scope, grant.acrs))
}

/// The scope an authorization code was issued for and the contexts its sign-in proved, once
/// its redirect and PKCE verifier match.
fn redeem_code(
    form: &std::collections::HashMap<String, String>,
    client_id: &str,
    state: &mut State,
) -> Result<(String, Vec<String>), Resp> {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let Some(grant) = state.auth_codes.remove(field("code")) else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired or was already used.",
        ));
    };
    if grant.expires_at_ms <= now_ms() || grant.client_id != client_id {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70008,
            "The provided authorization code has expired or belongs to another application.",
        ));
    }
    if grant.redirect_uri != field("redirect_uri") {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            500112,
            "The reply address does not match the reply address used when the code was requested.",
        ));
    }
    let verifier_hash = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
    if verifier_hash != grant.code_challenge {
        return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request."));
    }
    Ok((grant.scope, grant.acrs))
}

/// Whether a redirect URI is a loopback HTTP address, the only kind a desktop app may use.
fn is_loopback_redirect(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| {
        u.scheme() == "http" && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
    })
}

fn html_page(status: StatusCode, title: &str, body: &str) -> Resp {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}\
         button{{font-size:1rem;padding:.6rem 1.4rem}}</style></head><body>{body}</body></html>"
    );
    with_header(
        response(status, "text/html; charset=utf-8", page),
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http://localhost:* http://127.0.0.1:*",
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn authorize_page(req: &Req) -> Resp {
    let q = |name: &str| req.query(name).unwrap_or_default();
    if !is_guid(q("client_id")) {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Sign-in error",
            "<h1>Sign-in error</h1><p>AADSTS700016: the application was not found.</p>",
        );
    }
    if !is_loopback_redirect(q("redirect_uri")) {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Sign-in error",
            "<h1>Sign-in error</h1><p>AADSTS50011: the redirect URI must be a loopback address such as http://localhost:PORT.</p>",
        );
    }
    let problem = if q("response_type") != "code" {
        Some("unsupported_response_type")
    } else if q("code_challenge").is_empty() || q("code_challenge_method") != "S256" {
        Some("invalid_request")
    } else {
        None
    };
    if let Some(error) = problem {
        return redirect(
            q("redirect_uri"),
            &[("error", error), ("state", q("state"))],
        );
    }
    let hidden: String = [
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "claims",
    ]
    .iter()
    .map(|name| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(q(name))
        )
    })
    .collect();
    html_page(
        StatusCode::OK,
        "Sign in – IoT Hub Setup sandbox",
        &format!(
            "<h1>Sign in</h1><p>IoT Hub Setup wants to manage Azure resources as <strong>{USER_NAME}</strong> \
             in the sandbox (no real Azure account is used).</p>\
             <form method=\"post\">{hidden}<button id=\"approve\" name=\"decision\" value=\"approve\" type=\"submit\">Sign in</button> \
             <button id=\"cancel\" name=\"decision\" value=\"cancel\" type=\"submit\">Cancel</button></form>"
        ),
    )
}

fn redirect(base: &str, params: &[(&str, &str)]) -> Resp {
    let mut url = match url::Url::parse(base) {
        Ok(url) => url,
        Err(_) => return empty(StatusCode::BAD_REQUEST),
    };
    url.query_pairs_mut()
        .extend_pairs(params.iter().filter(|(_, v)| !v.is_empty()));
    with_header(empty(StatusCode::FOUND), "location", url.as_str())
}

fn authorize_submit(req: &Req, state: &mut State) -> Resp {
    let form = req.form();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if !is_loopback_redirect(field("redirect_uri")) || !is_guid(field("client_id")) {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Sign-in error",
            "<h1>Sign-in error</h1><p>The sign-in request was altered.</p>",
        );
    }
    if field("decision") != "approve" {
        return redirect(
            field("redirect_uri"),
            &[
                ("error", "access_denied"),
                (
                    "error_description",
                    "AADSTS65004: User declined to consent.",
                ),
                ("state", field("state")),
            ],
        );
    }
    let code = state::random_hex(24);
    state.auth_codes.insert(
        code.clone(),
        AuthCodeGrant {
            client_id: field("client_id").into(),
            scope: field("scope").into(),
            redirect_uri: field("redirect_uri").into(),
            code_challenge: field("code_challenge").into(),
            expires_at_ms: now_ms() + CODE_LIFETIME_MS,
            acrs: claims::requested_contexts(field("claims")),
        },
    );
    redirect(
        field("redirect_uri"),
        &[("code", &code), ("state", field("state"))],
    )
}

fn device_login_page(message: Option<&str>) -> Resp {
    let note = message
        .map(|m| format!("<p role=\"alert\">{}</p>", escape(m)))
        .unwrap_or_default();
    html_page(
        StatusCode::OK,
        "Enter code – IoT Hub Setup sandbox",
        &format!(
            "<h1>Enter code</h1>{note}<p>Enter the code shown by IoT Hub Setup to sign in as <strong>{USER_NAME}</strong>.</p>\
             <form method=\"post\"><input id=\"code\" name=\"code\" aria-label=\"Code\" autocomplete=\"off\"> \
             <button id=\"next\" type=\"submit\">Next</button></form>"
        ),
    )
}

fn device_login_submit(req: &Req, state: &mut State) -> Resp {
    let code = req
        .form()
        .get("code")
        .map(|c| c.trim().to_uppercase())
        .unwrap_or_default();
    match state
        .device_codes
        .values_mut()
        .find(|g| g.user_code == code)
    {
        Some(grant) => {
            grant.approved = true;
            html_page(StatusCode::OK, "Signed in", "<h1>You are signed in</h1><p>Return to IoT Hub Setup; you can close this window.</p>")
        }
        None => device_login_page(Some(
            "That code is not recognised or has expired. Check it and try again.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_for_signature_expiry_and_audience() {
        let key = state::random_base64(32);
        let make = |claims: &Claims, key: &str| {
            let header = URL_SAFE_NO_PAD.encode(b"{}");
            let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
            format!(
                "{header}.{payload}.{}",
                sign(key, &format!("{header}.{payload}"))
            )
        };
        let claims = Claims {
            aud: "https://management.x/".into(),
            iss: "i".into(),
            iat: 0,
            nbf: 0,
            exp: 1000,
            tid: "t".into(),
            oid: "o".into(),
            upn: "u".into(),
            appid: "a".into(),
            scp: "s".into(),
            acrs: vec![],
        };
        let good = make(&claims, &key);
        assert!(verify_access_token(&good, &key, "https://management.x", 999).is_ok());
        assert_eq!(
            verify_access_token(&good, &key, "https://management.x/", 1000).unwrap_err(),
            BearerProblem::Expired { exp: 1000 }
        );
        assert_eq!(
            verify_access_token(&good, &key, "https://graph.x/", 10).unwrap_err(),
            BearerProblem::WrongAudience {
                aud: "https://management.x/".into()
            }
        );
        let foreign = make(&claims, &state::random_base64(32));
        assert_eq!(
            verify_access_token(&foreign, &key, "https://management.x/", 10).unwrap_err(),
            BearerProblem::BadSignature
        );
        let tampered = good.replacen('.', ".e", 1);
        assert_eq!(
            verify_access_token(&tampered, &key, "https://management.x/", 10).unwrap_err(),
            BearerProblem::BadSignature
        );
        assert_eq!(
            verify_access_token("abc", &key, "https://management.x/", 10).unwrap_err(),
            BearerProblem::Malformed
        );
    }

    #[test]
    fn scopes_name_their_audience() {
        assert_eq!(
            audience_of("https://management.x/.default offline_access").as_deref(),
            Some("https://management.x/")
        );
        assert_eq!(
            audience_of("openid https://management.x/user_impersonation").as_deref(),
            Some("https://management.x/")
        );
        assert_eq!(audience_of("openid offline_access"), None);
        assert!(is_guid("04b07795-8ddb-461a-bbee-02f9e1bf7b46"));
        assert!(!is_guid("04b07795-8ddb-461a-bbee-02f9e1bf7b4"));
        assert!(is_loopback_redirect("http://localhost:53127/"));
        assert!(is_loopback_redirect("http://127.0.0.1:8400/callback"));
        assert!(!is_loopback_redirect("https://evil.example/"));
    }
}
