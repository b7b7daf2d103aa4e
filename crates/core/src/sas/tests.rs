//! The official SDK vectors of `shared/reference/azure-iot-hub.md` §1, compared as exact
//! strings, and the verification rules the sandbox relies on.

use super::*;

const CLI_KEY: &str = "+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";

fn key(b64: &str) -> SharedAccessKey {
    SharedAccessKey::from_base64(b64).unwrap()
}

#[test]
fn vector_a_node_common_signature_and_token() {
    assert_eq!(
        url_encode(&signature(b"password", "uri\n12345")),
        "kcWxXAK2OAaAoq2oCkaGzX2NMqDB8nCyNuq2fPYCDhk%3D"
    );
    let node = "SharedAccessSignature sr=uri&sig=kcWxXAK2OAaAoq2oCkaGzX2NMqDB8nCyNuq2fPYCDhk%3D&skn=encode%28%27Me%27%29&se=12345";
    let token = SasToken::parse(node).unwrap();
    assert_eq!(token.key_name(), Some("encode('Me')"));
    assert_eq!(token.expiry(), 12345);
    assert_eq!(token.resource_uri().unwrap(), "uri");
    // Same fields in our order; Node puts skn before se, which carries no meaning.
    assert_eq!(
        token.expose(),
        "SharedAccessSignature sr=uri&sig=kcWxXAK2OAaAoq2oCkaGzX2NMqDB8nCyNuq2fPYCDhk%3D&se=12345&skn=encode%28%27Me%27%29"
    );
}

#[test]
fn vector_b_node_service_lenient_key_bytes() {
    // Node decodes the invalid base64 "key" to 0x91 0xEC; the vector signs with those bytes.
    assert_eq!(
        url_encode(&signature(&[0x91, 0xEC], "host\n12345")),
        "88JmrIsVYOGmRSjCO1x1LLbv0K001Gikh1rjfJqbQXA%3D"
    );
    let token = SasToken::parse(
        "SharedAccessSignature sr=host&sig=88JmrIsVYOGmRSjCO1x1LLbv0K001Gikh1rjfJqbQXA%3D&skn=policy&se=12345",
    )
    .unwrap();
    assert_eq!((token.key_name(), token.expiry()), (Some("policy"), 12345));
}

#[test]
fn vector_c_python_hmac() {
    assert_eq!(
        signature(
            key("NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=").as_bytes(),
            "sign this message"
        ),
        "8NJRMT83CcplGrAGaUVIUM/md5914KpWVNngSVoF9/M="
    );
}

#[test]
fn vector_d_cli_extension_device_token() {
    let token = generate(
        &key(CLI_KEY),
        "iot-hub-for-test.azure-devices.net/devices/iot-device-for-test",
        1471940363,
        None,
    );
    assert_eq!(
        token.expose(),
        "SharedAccessSignature sr=iot-hub-for-test.azure-devices.net%2Fdevices%2Fiot-device-for-test&sig=SIumZ1ACqqPJZ2okHDlW9MSYKykEpqsQY3z6FMOICd4%3D&se=1471940363"
    );
}

#[test]
fn vector_d2_cli_extension_hub_policy_token() {
    let token = generate(
        &key(CLI_KEY),
        "iot-hub-for-test.azure-devices.net",
        1471940363,
        Some("iothubowner"),
    );
    assert_eq!(
        token.expose(),
        "SharedAccessSignature sr=iot-hub-for-test.azure-devices.net&sig=770sPjjYxRYpNz8%2FhEN7XR5XU5KDGYGTinSP8YyeTXw%3D&se=1471940363&skn=iothubowner"
    );
}

#[test]
fn vector_d3_cli_extension_module_token() {
    let token = generate(
        &key(CLI_KEY),
        "iot-hub-for-test.azure-devices.net/devices/iot-device-for-test/modules/module-for-test",
        1471940363,
        Some("iothubowner"),
    );
    assert_eq!(
        token.expose(),
        "SharedAccessSignature sr=iot-hub-for-test.azure-devices.net%2Fdevices%2Fiot-device-for-test%2Fmodules%2Fmodule-for-test&sig=JwAxBBBPYA0E%2FTHdnrXzUfBfuZ7deH6pppCniJ23Uu0%3D&se=1471940363&skn=iothubowner"
    );
}

#[test]
fn vector_e_legacy_java_signs_the_raw_uri_and_verifies() {
    let raw = "sdktesthub.private.azure-devices-int.net/devices/test8";
    let legacy_key = key("q+DKVojmMz014RjAwpNGZbAkdOocSVWMKPOccLfUmLE=");
    let sig = url_encode(&signature(
        legacy_key.as_bytes(),
        &format!("{raw}\n1462333672"),
    ));
    assert_eq!(sig, "ZrTYgp6uRmbDl4lzzewxFD9FoaNKIK7G2bdivDbtc9A%3D");
    // The service verifies over sr as sent, so an unencoded sr is accepted.
    let token = SasToken::parse(&format!(
        "SharedAccessSignature sr={raw}&sig={sig}&se=1462333672"
    ))
    .unwrap();
    assert_eq!(token.verify(&[&legacy_key], None, 1462333000, raw), Ok(()));
}

#[test]
fn vector_f_java_e2e_short_key() {
    let raw = "sdktesthub.private.azure-devices-int.net/devices/test8";
    assert_eq!(
        url_encode(&signature(b"someKey", &format!("{raw}\n1462333672"))),
        "muQ9Ny9BYertoUY%2BtyisIG16b67p8QHrDefXA4V1qLM%3D"
    );
}

#[test]
fn vector_g_embedded_c_format_round_trips() {
    let device = "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device&sig=cS1eHM%2FlDjsRsrZV9508wOFrgmZk4g8FNg8NwHVSiSQ&se=1578941692";
    let token = SasToken::parse(device).unwrap();
    assert_eq!(
        token.resource_uri().unwrap(),
        "myiothub.azure-devices.net/devices/my_device"
    );
    assert_eq!(token.key_name(), None);
    assert_eq!(token.expose(), device);
    let policy = format!("{device}&skn=iothubowner");
    assert_eq!(SasToken::parse(&policy).unwrap().expose(), policy);
}

#[test]
fn vectors_h_and_h2_wizard_defaults() {
    let device = generate(
        &key(CLI_KEY),
        "your-hub.azure-devices.net/devices/io.microshare.contact.unpacked.event",
        1700000000,
        None,
    );
    assert_eq!(
        device.expose(),
        "SharedAccessSignature sr=your-hub.azure-devices.net%2Fdevices%2Fio.microshare.contact.unpacked.event&sig=4fuehFOqy12Az4qz%2BAO7i5nyH63rDKDTvDXuXY4SB4w%3D&se=1700000000"
    );
    let hub = generate(
        &key(CLI_KEY),
        "your-hub.azure-devices.net",
        1700000000,
        Some("wizard-policy"),
    );
    assert_eq!(
        hub.expose(),
        "SharedAccessSignature sr=your-hub.azure-devices.net&sig=jV%2BwSCY%2BRVojhmxdzxGNuYXrKoQdw5Eg%2BpmhZiB4mAs%3D&se=1700000000&skn=wizard-policy"
    );
}

const HOST: &str = "hub1.azure-devices.net";
const OTHER_KEY: &str = "NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=";

fn device_token(device: &str, expiry: u64) -> SasToken {
    generate(
        &key(CLI_KEY),
        &format!("{HOST}/devices/{device}"),
        expiry,
        None,
    )
}

#[test]
fn verify_accepts_primary_or_secondary_key() {
    let token = device_token("dev1", 2000);
    let (primary, secondary) = (key(OTHER_KEY), key(CLI_KEY));
    let resource = format!("{HOST}/devices/dev1");
    assert_eq!(
        token.verify(&[&primary, &secondary], None, 1000, &resource),
        Ok(())
    );
    assert_eq!(
        token.verify(&[&primary], None, 1000, &resource),
        Err(TokenError::SignatureMismatch)
    );
}

#[test]
fn verify_refuses_expired_tokens_saying_by_how_much() {
    let token = device_token("dev1", 1000);
    let err = token
        .verify(
            &[&key(CLI_KEY)],
            None,
            1090,
            &format!("{HOST}/devices/dev1"),
        )
        .unwrap_err();
    assert_eq!(err, TokenError::Expired { seconds_ago: 90 });
    assert!(err.to_string().starts_with("The token expired 90 s ago."));
    // Expiry equal to now is already expired.
    assert!(token
        .verify(
            &[&key(CLI_KEY)],
            None,
            1000,
            &format!("{HOST}/devices/dev1")
        )
        .is_err());
}

#[test]
fn scope_matches_whole_path_segments_only() {
    let k = key(CLI_KEY);
    let token = device_token("dev1", 2000);
    let ok = |requested: &str| token.verify(&[&k], None, 1000, requested);
    assert_eq!(ok(&format!("{HOST}/devices/dev1")), Ok(()));
    assert_eq!(ok(&format!("{HOST}/devices/dev1/modules/m1")), Ok(()));
    assert_eq!(ok("HUB1.Azure-Devices.NET/devices/dev1"), Ok(()));
    assert_eq!(
        ok(&format!("{HOST}/devices/dev10")),
        Err(TokenError::OutOfScope {
            token_scope: format!("{HOST}/devices/dev1"),
            requested: format!("{HOST}/devices/dev10"),
        })
    );
    assert!(
        ok(&format!("{HOST}/devices/DEV1")).is_err(),
        "device IDs are case-sensitive"
    );
    assert!(ok("hub2.azure-devices.net/devices/dev1").is_err());
    let hub_token = generate(&k, HOST, 2000, Some("device"));
    assert_eq!(
        hub_token.verify(&[&k], Some("device"), 1000, &format!("{HOST}/devices/any")),
        Ok(())
    );
}

#[test]
fn skn_must_match_the_kind_of_key() {
    let k = key(CLI_KEY);
    let policy_token = generate(&k, HOST, 2000, Some("registryRead"));
    assert_eq!(
        policy_token.verify(&[&k], None, 1000, HOST),
        Err(TokenError::UnexpectedKeyName {
            found: "registryRead".into()
        })
    );
    assert_eq!(
        device_token("d", 2000).verify(&[&k], Some("registryRead"), 1000, HOST),
        Err(TokenError::MissingKeyName)
    );
    assert_eq!(
        policy_token.verify(&[&k], Some("service"), 1000, HOST),
        Err(TokenError::SignatureMismatch)
    );
}

#[test]
fn tampering_with_any_signed_field_breaks_the_signature() {
    let k = key(CLI_KEY);
    let text = device_token("dev1", 2000).expose();
    let longer = SasToken::parse(&text.replace("se=2000", "se=9000")).unwrap();
    assert_eq!(
        longer.verify(&[&k], None, 1000, &format!("{HOST}/devices/dev1")),
        Err(TokenError::SignatureMismatch)
    );
    let moved = SasToken::parse(&text.replace("dev1", "dev2")).unwrap();
    assert_eq!(
        moved.verify(&[&k], None, 1000, &format!("{HOST}/devices/dev2")),
        Err(TokenError::SignatureMismatch)
    );
    let garbage = SasToken::parse(&text.replace("sig=", "sig=%%")).unwrap();
    assert_eq!(
        garbage.verify(&[&k], None, 1000, &format!("{HOST}/devices/dev1")),
        Err(TokenError::SignatureMismatch)
    );
}

#[test]
fn malformed_tokens_are_refused_precisely() {
    let parse = |t: &str| SasToken::parse(t).unwrap_err();
    assert_eq!(parse("sr=a&sig=b&se=1"), TokenError::MissingPrefix);
    assert_eq!(
        parse("SharedAccessSignature sig=b&se=1"),
        TokenError::MissingField { field: "sr" }
    );
    assert_eq!(
        parse("SharedAccessSignature sr=a&se=1"),
        TokenError::MissingField { field: "sig" }
    );
    assert_eq!(
        parse("SharedAccessSignature sr=a&sig=b"),
        TokenError::MissingField { field: "se" }
    );
    assert_eq!(
        parse("SharedAccessSignature sr=a&sig=b&se=soon"),
        TokenError::InvalidExpiry
    );
    assert_eq!(
        parse("SharedAccessSignature sr=a&sr=b&sig=b&se=1"),
        TokenError::DuplicateField { field: "sr".into() }
    );
    assert_eq!(
        parse("SharedAccessSignature sr=a&sig=b&se=1&x=y"),
        TokenError::UnknownField { field: "x".into() }
    );
    assert_eq!(
        parse("SharedAccessSignature sr=a&sig&se=1"),
        TokenError::MalformedPart { part: "sig".into() }
    );
}

#[test]
fn debug_hides_the_signature() {
    let token = device_token("dev1", 2000);
    let debug = format!("{token:?}");
    assert!(!debug.contains(&token.encoded_signature), "{debug}");
    assert!(debug.contains("****"));
}

#[test]
fn event_hubs_tokens_name_their_scheme_and_cover_the_entity_below() {
    // Event Hubs signs with the key's text as bytes, not its decoded value.
    let k = SharedAccessKey::from_bytes(CLI_KEY.as_bytes().to_vec()).unwrap();
    let token = generate(
        &k,
        "sb://ns.servicebus.windows.net/hub1",
        2000,
        Some("service"),
    );
    assert!(token
        .expose()
        .starts_with("SharedAccessSignature sr=sb%3A%2F%2Fns.servicebus.windows.net%2Fhub1&sig="));
    let ok = |requested: &str| token.verify(&[&k], Some("service"), 1000, requested);
    assert_eq!(
        ok("ns.servicebus.windows.net/hub1/consumergroups/$default/partitions/0"),
        Ok(())
    );
    assert_eq!(ok("sb://ns.servicebus.windows.net/hub1"), Ok(()));
    assert!(ok("ns.servicebus.windows.net/hub10").is_err());
    assert!(ok("other.servicebus.windows.net/hub1").is_err());
}
