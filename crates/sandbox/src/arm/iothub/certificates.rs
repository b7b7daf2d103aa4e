//! A hub's X.509 CA certificates (`…/IotHubs/{name}/certificates`), which devices that sign in
//! with certificates chain to: uploaded as PEM or base64 DER, read for their subject, expiry
//! and SHA-1 thumbprint, and verified by proof of possession (a verification code, then a
//! certificate with that code as its common name, signed by the uploaded certificate's key),
//! each change guarded by the certificate's etag, as in Azure.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hyper::StatusCode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use x509_cert::der::Decode;

use crate::http::{empty, json_response, provider_error, Req, Resp};
use crate::state::{now_ms, random_hex, Hub};

/// One certificate as the hub keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Certificate {
    name: String,
    /// The certificate as it was uploaded (PEM or base64 DER), as Azure shows it back.
    uploaded: String,
    der: Vec<u8>,
    verified: bool,
    created_ms: u64,
    updated_ms: u64,
    etag: String,
    /// The code the last `generateVerificationCode` gave, which the proof must name.
    verification_code: Option<String>,
}

pub(super) fn list(hub: &Hub) -> Resp {
    let value: Vec<Value> = hub.certificates.iter().map(|c| describe(hub, c)).collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}

pub(super) fn get(hub: &Hub, name: &str) -> Resp {
    match find(hub, name) {
        Some(i) => json_response(StatusCode::OK, &describe(hub, &hub.certificates[i])),
        None => not_found(hub, name),
    }
}

/// `PUT`: a new certificate (201), or a new body for one whose etag `If-Match` names (200).
pub(super) fn put(hub: &mut Hub, name: &str, req: &Req) -> Resp {
    let valid_name = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
    if !valid_name {
        return bad_request(
            "InvalidCertificateName",
            &format!("The certificate name '{name}' is invalid: use 1 to 64 letters, digits, hyphens, periods and underscores."),
        );
    }
    let body = req.json().unwrap_or_default();
    let uploaded = body
        .pointer("/properties/certificate")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(der) = read_certificate(uploaded) else {
        return bad_request(
            "InvalidCertificate",
            "The certificate could not be read: give an X.509 certificate as PEM (-----BEGIN CERTIFICATE-----), as base64 DER, or a .pem or .cer file's bytes in base64.",
        );
    };
    let verified = body
        .pointer("/properties/isVerified")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let now = now_ms();
    let existing = find(hub, name);
    if let Err(refusal) = etag_matches(hub, existing, req) {
        return refusal;
    }
    let certificate = Certificate {
        name: name.to_owned(),
        uploaded: uploaded.to_owned(),
        der,
        verified,
        created_ms: existing.map_or(now, |i| hub.certificates[i].created_ms),
        updated_ms: now,
        etag: new_etag(),
        verification_code: None,
    };
    let status = match existing {
        Some(i) => {
            hub.certificates[i] = certificate;
            StatusCode::OK
        }
        None => {
            hub.certificates.push(certificate);
            StatusCode::CREATED
        }
    };
    let i = existing.unwrap_or(hub.certificates.len() - 1);
    json_response(status, &describe(hub, &hub.certificates[i]))
}

pub(super) fn delete(hub: &mut Hub, name: &str, req: &Req) -> Resp {
    let Some(i) = find(hub, name) else {
        return empty(StatusCode::NO_CONTENT);
    };
    if let Err(refusal) = etag_matches(hub, Some(i), req) {
        return refusal;
    }
    hub.certificates.remove(i);
    empty(StatusCode::OK)
}

/// `POST …/generateVerificationCode`: a new code for the proof of possession.
pub(super) fn generate_verification_code(hub: &mut Hub, name: &str, req: &Req) -> Resp {
    let Some(i) = find(hub, name) else {
        return not_found(hub, name);
    };
    if let Err(refusal) = etag_matches(hub, Some(i), req) {
        return refusal;
    }
    let certificate = &mut hub.certificates[i];
    certificate.verification_code = Some(random_hex(24).to_ascii_uppercase());
    certificate.etag = new_etag();
    certificate.updated_ms = now_ms();
    let mut shown = describe(hub, &hub.certificates[i]);
    shown["properties"]["verificationCode"] = json!(hub.certificates[i].verification_code);
    json_response(StatusCode::OK, &shown)
}

/// `POST …/verify`: the proof, a certificate whose common name is the verification code,
/// signed by the uploaded certificate's key.
pub(super) fn verify(hub: &mut Hub, name: &str, req: &Req) -> Resp {
    let Some(i) = find(hub, name) else {
        return not_found(hub, name);
    };
    if let Err(refusal) = etag_matches(hub, Some(i), req) {
        return refusal;
    }
    let Some(code) = hub.certificates[i].verification_code.clone() else {
        return bad_request(
            "VerificationCodeNotGenerated",
            &format!("No verification code was generated for the certificate '{name}': generate one first, then sign a certificate with it as the common name."),
        );
    };
    let proof = req
        .json()
        .and_then(|b| b.get("certificate")?.as_str().map(str::to_owned))
        .and_then(|text| read_certificate(&text));
    let Some(proof) = proof else {
        return bad_request(
            "InvalidCertificate",
            "The verification certificate could not be read: give it as PEM or as base64 DER.",
        );
    };
    if common_name(&proof).as_deref() != Some(code.as_str()) {
        return bad_request(
            "CertificateVerificationFailed",
            &format!(
                "The verification certificate's common name must be the verification code {code}."
            ),
        );
    }
    if let Err(problem) = signed_by(&proof, &hub.certificates[i].der) {
        return bad_request(
            "CertificateVerificationFailed",
            &format!("The verification certificate is not signed by the key of the certificate '{name}' ({problem}): sign it with that certificate's private key."),
        );
    }
    let certificate = &mut hub.certificates[i];
    certificate.verified = true;
    certificate.verification_code = None;
    certificate.etag = new_etag();
    certificate.updated_ms = now_ms();
    json_response(StatusCode::OK, &describe(hub, &hub.certificates[i]))
}

/// DER from what a client uploads: PEM, base64 DER, or base64 of a PEM file (`az iot hub
/// certificate create` sends the file's bytes in base64, whichever it holds).
fn read_certificate(text: &str) -> Option<Vec<u8>> {
    let from_pem = |bytes: &[u8]| {
        CertificateDer::from_pem_slice(bytes)
            .ok()
            .map(|d| d.to_vec())
    };
    let der = from_pem(text.as_bytes()).or_else(|| {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let decoded = STANDARD.decode(compact).ok()?;
        from_pem(&decoded).or(Some(decoded))
    })?;
    x509_cert::Certificate::from_der(&der).ok().map(|_| der)
}

fn common_name(der: &[u8]) -> Option<String> {
    let certificate = x509_cert::Certificate::from_der(der).ok()?;
    let subject = certificate.tbs_certificate.subject.to_string();
    subject
        .split(',')
        .find_map(|part| part.trim().strip_prefix("CN="))
        .map(str::to_owned)
}

/// Whether `issuer`'s key made `proof`'s signature. Version 1 certificates count, as in Azure:
/// `openssl x509 -req`, which Azure's tutorial uses for the proof, makes them.
fn signed_by(proof: &[u8], issuer: &[u8]) -> Result<(), &'static str> {
    use ring::signature;
    use x509_cert::der::Encode;

    let proof = x509_cert::Certificate::from_der(proof).map_err(|_| "unreadable")?;
    let issuer = x509_cert::Certificate::from_der(issuer).map_err(|_| "unreadable")?;
    let key = &issuer.tbs_certificate.subject_public_key_info;
    let curve = key
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<x509_cert::der::asn1::ObjectIdentifier>().ok())
        .map(|oid| oid.to_string());
    let algorithm: &dyn signature::VerificationAlgorithm = match (
        proof.signature_algorithm.oid.to_string().as_str(),
        curve.as_deref(),
    ) {
        ("1.2.840.10045.4.3.2", Some("1.2.840.10045.3.1.7")) => &signature::ECDSA_P256_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", Some("1.2.840.10045.3.1.7")) => &signature::ECDSA_P256_SHA384_ASN1,
        ("1.2.840.10045.4.3.2", Some("1.3.132.0.34")) => &signature::ECDSA_P384_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", Some("1.3.132.0.34")) => &signature::ECDSA_P384_SHA384_ASN1,
        ("1.2.840.113549.1.1.11", _) => &signature::RSA_PKCS1_2048_8192_SHA256,
        ("1.2.840.113549.1.1.12", _) => &signature::RSA_PKCS1_2048_8192_SHA384,
        ("1.2.840.113549.1.1.13", _) => &signature::RSA_PKCS1_2048_8192_SHA512,
        ("1.3.101.112", _) => &signature::ED25519,
        _ => return Err("an unsupported signature algorithm"),
    };
    let signed = proof.tbs_certificate.to_der().map_err(|_| "unreadable")?;
    let signature_bytes = proof.signature.as_bytes().ok_or("unreadable")?;
    let public_key = key.subject_public_key.as_bytes().ok_or("unreadable")?;
    signature::UnparsedPublicKey::new(algorithm, public_key)
        .verify(&signed, signature_bytes)
        .map_err(|_| "the signature does not match")
}

fn describe(hub: &Hub, c: &Certificate) -> Value {
    let parsed = x509_cert::Certificate::from_der(&c.der).ok();
    let subject = parsed
        .as_ref()
        .map(|p| p.tbs_certificate.subject.to_string());
    let http_date = |since_epoch: std::time::Duration| {
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + since_epoch)
    };
    let expiry = parsed
        .as_ref()
        .map(|p| http_date(p.tbs_certificate.validity.not_after.to_unix_duration()));
    let thumbprint: String = Sha1::digest(&c.der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    json!({
        "id": format!("{}/certificates/{}", super::hub_id(hub), c.name),
        "name": c.name,
        "type": "Microsoft.Devices/IotHubs/Certificates",
        "etag": c.etag,
        "properties": {
            "subject": subject,
            "expiry": expiry,
            "thumbprint": thumbprint,
            "isVerified": c.verified,
            "created": http_date(std::time::Duration::from_millis(c.created_ms)),
            "updated": http_date(std::time::Duration::from_millis(c.updated_ms)),
            "certificate": c.uploaded,
        },
    })
}

/// A change to an existing certificate names its etag in `If-Match`; a new one (`None`) needs
/// none.
fn etag_matches(hub: &Hub, existing: Option<usize>, req: &Req) -> Result<(), Resp> {
    let Some(i) = existing else {
        return Ok(());
    };
    let current = hub.certificates[i].etag.trim_matches('"');
    match req.header("if-match").map(|t| t.trim().trim_matches('"')) {
        Some(tag) if tag == "*" || tag == current => Ok(()),
        _ => Err(provider_error(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            &format!(
                "The etag given in If-Match does not match the etag of the certificate '{}': read the certificate again and send its etag.",
                hub.certificates[i].name
            ),
        )),
    }
}

fn find(hub: &Hub, name: &str) -> Option<usize> {
    hub.certificates
        .iter()
        .position(|c| c.name.eq_ignore_ascii_case(name))
}

fn new_etag() -> String {
    format!("\"{}\"", random_hex(8))
}

fn bad_request(code: &str, message: &str) -> Resp {
    provider_error(StatusCode::BAD_REQUEST, code, message)
}

fn not_found(hub: &Hub, name: &str) -> Resp {
    provider_error(
        StatusCode::NOT_FOUND,
        "CertificateNotFound",
        &format!(
            "The certificate '{name}' was not found on IotHub '{}'.",
            hub.name
        ),
    )
}
