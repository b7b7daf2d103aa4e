use super::*;
use proptest::prelude::*;

const KEY: &str = "+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";
const DEVICE: &str = "HostName=my-hub.azure-devices.net;DeviceId=io.microshare.contact.unpacked.event;SharedAccessKey=+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";

/// Every error and warning text and every field view of an inspection, for leak checks.
fn all_text(inspection: &Inspection) -> String {
    let mut text = format!("{inspection:?}");
    for field in &inspection.fields {
        text.push_str(&field.value);
    }
    for warning in &inspection.warnings {
        text.push_str(&warning.to_string());
    }
    if let Err(errors) = &inspection.result {
        text.push_str(&describe_all(errors));
    }
    text
}

const EMPTY: &str = "The connection string is empty. Paste the device's Primary Connection String from the Azure portal (IoT Hub → Devices → your device).";
const NO_EQUALS_1: &str = "Part 1 of the connection string has no '=' sign. Every part must look like Name=value, with parts separated by ';'. The string was probably cut or joined wrongly when it was copied; copy it again in one piece.";
const NO_EQUALS_3: &str = "Part 3 of the connection string has no '=' sign. Every part must look like Name=value, with parts separated by ';'. The string was probably cut or joined wrongly when it was copied; copy it again in one piece.";
const NOT_BASE64: &str = "The SharedAccessKey is not valid base64 (only letters, digits, '+', '/' and a final '=' may appear). Part of it was probably lost or changed when it was copied; copy it again.";
const NO_IDENTITY: &str = "The string has neither a DeviceId nor a SharedAccessKeyName, so it names no device and no access policy. Copy a device's connection string (IoT Hub → Devices) or a policy's (IoT Hub → Shared access policies).";
const NO_KEY: &str = "The SharedAccessKey field is missing, so the string cannot sign in. Copy the Primary Connection String again, including its SharedAccessKey=… part.";
const BAD_CHARS: &str = "letters, digits and the characters - . % _ * ? ! ( ) , : = @ $ '.";

/// Malformed strings (`<KEY>` stands for a valid key) and the exact errors they get.
fn malformed_cases() -> Vec<(String, Vec<String>)> {
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("", vec![EMPTY.into()]),
        ("  \n\t ", vec![EMPTY.into()]),
        ("\"\"", vec![EMPTY.into()]),
        (";;;", vec![EMPTY.into()]),
        ("HostName=my-hub.azure-devices.net;DeviceId=d1;SharedAccessKey", vec![NO_EQUALS_3.into()]),
        ("my-hub.azure-devices.net;DeviceId=d1;SharedAccessKey=<KEY>", vec![NO_EQUALS_1.into()]),
        ("HostName=my-hub.azure-devices.net;=d1;SharedAccessKey=<KEY>", vec![
            "Part 2 of the connection string starts with '=' and has no field name. The string was probably cut wrongly when it was copied; copy it again in one piece.".into(),
        ]),
        ("HostName=my-hub.azure-devices.net;DeviceId=d1;deviceid=d2;SharedAccessKey=<KEY>", vec![
            "The field DeviceId appears more than once. Each field may appear only once; copy the string again from its source instead of combining two strings.".into(),
        ]),
        ("HostName=a.azure-devices.net;HOSTNAME=b.azure-devices.net;hostname=c;DeviceId=d1;SharedAccessKey=<KEY>", vec![
            "The field HostName appears more than once. Each field may appear only once; copy the string again from its source instead of combining two strings.".into(),
        ]),
        ("HostName=;DeviceId=d1;SharedAccessKey=<KEY>", vec![
            "The field HostName is empty. Copy the string again; its HostName value was lost.".into(),
        ]),
        ("HostName=my-hub.azure-devices.net;DeviceId=;SharedAccessKey=<KEY>", vec![
            "The field DeviceId is empty. Copy the string again; its DeviceId value was lost.".into(),
        ]),
        ("HostName=my-hub.azure-devices.net;DeviceId=d1;SharedAccessKey=", vec![
            "The field SharedAccessKey is empty. Copy the string again; its SharedAccessKey value was lost.".into(),
        ]),
        ("DeviceId=d1;SharedAccessKey=<KEY>", vec![
            "The HostName field is missing. It names the hub, as in HostName=my-hub.azure-devices.net; copy the whole string, not just part of it.".into(),
        ]),
        ("HostName=my-hub.azure-devices.net;DeviceId=d1", vec![NO_KEY.into()]),
        ("HostName=my-hub.azure-devices.net;SharedAccessKey=<KEY>", vec![NO_IDENTITY.into()]),
        ("HostName=my-hub.azure-devices.net;DevicId=d1;SharedAccessKey=<KEY>", vec![NO_IDENTITY.into()]),
        ("HostName=my-hub.azure-devices.net", vec![NO_KEY.into(), NO_IDENTITY.into()]),
        ("HostName=my-hub.azure-devices.net;DeviceId=d1;SharedAccessKey=not base64!", vec![NOT_BASE64.into()]),
        ("HostName=my-hub.azure-devices.net;DeviceId=d1;SharedAccessKey=<KEY><KEY>", vec![NOT_BASE64.into()]),
        ("HostName=my-hub.azure-devices.net;DeviceId=d1;SharedAccessKey=+XLy-MVZ_aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=", vec![NOT_BASE64.into()]),
        ("HostName=my-hub.azure-devices.net;DeviceId=d1;SharedAccessKey=c29tZUtleQ==", vec![
            "The SharedAccessKey decodes to 7 bytes, but Azure keys are 16 to 64 bytes long (keys the hub generates are 32). It was probably cut short or joined with other text when it was copied; copy it again.".into(),
        ]),
        ("HostName=my-hub.azure-devices.net;DeviceId=d1;SharedAccessKey=QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2BhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGCg4SFhoeIiYqLjI2Oj5A=", vec![
            "The SharedAccessKey decodes to 80 bytes, but Azure keys are 16 to 64 bytes long (keys the hub generates are 32). It was probably cut short or joined with other text when it was copied; copy it again.".into(),
        ]),
        ("HostName=my-hub.azure-devices.net;DeviceId=sensor#1;SharedAccessKey=<KEY>", vec![
            format!("The device ID contains '#' at position 7, which Azure does not allow. Use only {BAD_CHARS}"),
        ]),
        ("HostName=my-hub.azure-devices.net;DeviceId=my device;SharedAccessKey=<KEY>", vec![
            format!("The device ID contains a space at position 3, which Azure does not allow. Use only {BAD_CHARS}"),
        ]),
        ("HostName=my-hub.azure-devices.net;DeviceId=<LONG>;SharedAccessKey=<KEY>", vec![
            "The device ID has 129 characters; Azure allows at most 128. Shorten it.".into(),
        ]),
        ("HostName=my-hub.azure-devices.net;ModuleId=m1;SharedAccessKeyName=p;SharedAccessKey=<KEY>", vec![
            "The string has a ModuleId but no DeviceId; a module always belongs to a device. Copy the module's connection string again.".into(),
        ]),
        ("HostName=my-hub.azure-devices.net;DeviceId=d1;ModuleId=m 1;SharedAccessKey=<KEY>", vec![
            format!("The module ID contains a space at position 2, which Azure does not allow. Use only {BAD_CHARS}"),
        ]),
        ("HostName=my_hub.azure-devices.net;DeviceId=d1;SharedAccessKey=<KEY>", vec![
            "The hub name contains '_' at position 3, which Azure does not allow. Use only letters, digits and hyphens. (The hub name is the first part of HostName.)".into(),
        ]),
        ("HostName=hb.azure-devices.net;DeviceId=d1;SharedAccessKey=<KEY>", vec![
            "The hub name has 2 characters; it needs at least 3. (The hub name is the first part of HostName.)".into(),
        ]),
        ("HostName=my-hub-.azure-devices.cn;DeviceId=d1;SharedAccessKey=<KEY>", vec![
            "The hub name ends with a hyphen; it must end with a letter or digit. (The hub name is the first part of HostName.)".into(),
        ]),
        ("HostName=https://my-hub.azure-devices.net/;DeviceId=d1;SharedAccessKey=<KEY>", vec![
            "HostName must be a bare host name such as my-hub.azure-devices.net, without '://'. Remove everything but the host name.".into(),
        ]),
        ("HostName=my-hub.azure-devices.net:443;DeviceId=d1;SharedAccessKey=<KEY>", vec![
            "HostName must be a bare host name such as my-hub.azure-devices.net, without ':port'. Remove everything but the host name.".into(),
        ]),
        ("HostName=my-hub;DeviceId=d1;SharedAccessKey=<KEY>", vec![
            "HostName 'my-hub' is only a name, not a full host name. Use the hub's full host name, for example my-hub.azure-devices.net, as shown on the hub's Overview page.".into(),
        ]),
        ("HostName=iot..contoso.com;DeviceId=d1;SharedAccessKey=<KEY>", vec![
            "HostName 'iot..contoso.com' is not a valid host name: it has an empty part between dots. Copy the host name again from the hub's Overview page.".into(),
        ]),
        ("HostName=my hub.example.com;DeviceId=d1;SharedAccessKey=<KEY>", vec![
            "HostName 'my hub.example.com' is not a valid host name: only letters, digits, hyphens and dots may appear in it. Copy the host name again from the hub's Overview page.".into(),
        ]),
        ("HostName=my-hub.azure-devices.net;DeviceId=d1;SharedAccessKey=<KEY>;GatewayHostName=edge gw", vec![
            "GatewayHostName 'edge gw' is not a valid host name: only letters, digits, hyphens and dots may appear in it. Copy the host name again from the hub's Overview page.".into(),
        ]),
        ("HostName=my-hub.azure-devices.net;DeviceId=d1;x509=yes", vec![
            "x509 must be 'true' when present, not 'yes'. Remove the x509 part for a key-based string.".into(),
            NO_KEY.into(),
        ]),
        ("HostName=my-hub.azure-devices.net;DeviceId=d1;x509=true;SharedAccessKey=<KEY>", vec![
            "The string says x509=true and also carries a SharedAccessKey; a device uses one or the other. Ask for the device's connection string again.".into(),
        ]),
        ("HostName=my-hub.azure-devices.net;x509=true", vec![
            "The string says x509=true but names no DeviceId. Certificate authentication is for devices; ask for the device's connection string.".into(),
        ]),
        ("HostName=my-hub.azure-devices.net;DeviceId=d1;SharedAccessSignature=SharedAccessSignature sr=x&sig=y&se=1", vec![
            "The string carries a ready-made SharedAccessSignature instead of a SharedAccessKey. Such a token expires and cannot be used to make new ones; ask for the Primary Connection String, which carries the key.".into(),
        ]),
        ("HostName=my-hub-.azure-devices.net;DeviceId=;SharedAccessKey=%%%", vec![
            "The field DeviceId is empty. Copy the string again; its DeviceId value was lost.".into(),
            "The hub name ends with a hyphen; it must end with a letter or digit. (The hub name is the first part of HostName.)".into(),
            NOT_BASE64.into(),
        ]),
    ];
    cases
        .into_iter()
        .map(|(input, expected)| {
            let input = input
                .replace("<KEY>", KEY)
                .replace("<LONG>", &"d".repeat(129));
            (input, expected)
        })
        .collect()
}

#[test]
fn malformed_strings_get_exact_errors_and_never_leak_the_key() {
    let cases = malformed_cases();
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    for (input, expected) in cases {
        let inspection = inspect(&input);
        let got: Vec<String> = match &inspection.result {
            Ok(_) => panic!("accepted malformed input {input:?}"),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        };
        assert_eq!(got, expected, "for input {input:?}");
        let text = all_text(&inspection);
        assert!(
            !text.contains(KEY) && !text.contains(&KEY[..20]),
            "key leaked for {input:?}: {text}"
        );
    }
}

#[test]
fn pasted_noise_is_forgiven() {
    let noisy = [
        format!("  {DEVICE}  "),
        format!("\"{DEVICE}\""),
        format!("'{DEVICE};'"),
        format!("“{DEVICE}”"),
        format!("{DEVICE};"),
        format!("\u{FEFF}{}", DEVICE.replace(";", ";\u{200B}")),
        DEVICE.replace("SharedAccessKey=+XLy", "SharedAccessKey=+XLy\r\n   "),
        DEVICE.replace(";DeviceId", ";\n DeviceId"),
        DEVICE
            .replace("HostName", "hostname")
            .replace("DeviceId", "DEVICEID")
            .replace("SharedAccessKey", "sharedaccesskey"),
        DEVICE.replace(";", " ; ").replacen("=", " = ", 2),
        DEVICE.trim_end_matches('=').to_owned(),
    ];
    let expected = ConnectionString::parse(DEVICE).unwrap();
    for input in noisy {
        let parsed = ConnectionString::parse(&input)
            .unwrap_or_else(|e| panic!("{input:?}: {}", describe_all(&e)));
        assert_eq!(parsed, expected, "{input:?}");
        assert_eq!(parsed.expose().as_str(), DEVICE);
    }
}

#[test]
fn device_string_fields_and_masked_form() {
    let cs = ConnectionString::parse(DEVICE).unwrap();
    assert_eq!(cs.host_name(), "my-hub.azure-devices.net");
    assert_eq!(cs.hub_name(), "my-hub");
    assert_eq!(cs.device_id(), Some("io.microshare.contact.unpacked.event"));
    assert_eq!(cs.policy_name(), None);
    assert_eq!(
        cs.resource_uri(),
        "my-hub.azure-devices.net/devices/io.microshare.contact.unpacked.event"
    );
    assert_eq!(
        cs.masked(),
        "HostName=my-hub.azure-devices.net;DeviceId=io.microshare.contact.unpacked.event;SharedAccessKey=****…6rw="
    );
    assert!(!format!("{cs:?}").contains(KEY));
    let inspection = inspect(DEVICE);
    let views: Vec<(&str, &str)> = inspection
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.value.as_str()))
        .collect();
    assert_eq!(
        views,
        [
            ("HostName", "my-hub.azure-devices.net"),
            ("DeviceId", "io.microshare.contact.unpacked.event"),
            ("SharedAccessKey", "****…6rw="),
        ]
    );
    assert!(inspection.warnings.is_empty());
}

#[test]
fn policy_module_gateway_and_x509_strings() {
    let policy = ConnectionString::parse(&format!(
        "HostName=h1b.azure-devices.us;SharedAccessKeyName=wizard-policy;SharedAccessKey={KEY}"
    ))
    .unwrap();
    assert_eq!(policy.policy_name(), Some("wizard-policy"));
    assert_eq!(policy.resource_uri(), "h1b.azure-devices.us");
    assert_eq!(
        policy.sas_token(None, 1700000000).unwrap().expose(),
        "SharedAccessSignature sr=h1b.azure-devices.us&sig=b411pIlYNr2jzttmC0lQEAY5uRM1kAgzTKgrmVUktvU%3D&se=1700000000&skn=wizard-policy"
    );

    let module = format!("HostName=hub.azure-devices.net;DeviceId=d1;ModuleId=m1;SharedAccessKey={KEY};GatewayHostName=edgegw");
    let cs = ConnectionString::parse(&module).unwrap();
    assert_eq!(
        cs.resource_uri(),
        "hub.azure-devices.net/devices/d1/modules/m1"
    );
    assert_eq!(cs.gateway_host_name(), Some("edgegw"));
    assert_eq!(cs.expose().as_str(), module);

    let for_device = format!("HostName=hub.azure-devices.net;DeviceId=d1;SharedAccessKeyName=device;SharedAccessKey={KEY}");
    let cs = ConnectionString::parse(&for_device).unwrap();
    assert!(matches!(
        cs.credential(),
        Credential::PolicyKey {
            identity: Some(_),
            ..
        }
    ));
    assert_eq!(cs.sas_token(None, 5).unwrap().key_name(), Some("device"));
    assert_eq!(
        cs.sas_token(None, 5).unwrap().resource_uri().unwrap(),
        "hub.azure-devices.net/devices/d1"
    );

    let x509 =
        ConnectionString::parse("HostName=hub.azure-devices.net;DeviceId=cam-7;x509=True").unwrap();
    assert!(matches!(x509.credential(), Credential::X509 { .. }));
    assert_eq!(
        x509.masked(),
        "HostName=hub.azure-devices.net;DeviceId=cam-7;x509=true"
    );
    assert_eq!(
        x509.sas_token(None, 5).unwrap_err(),
        ConnectionStringError::X509HasNoKey
    );
    assert_eq!(
        ConnectionStringError::X509HasNoKey.to_string(),
        "This string authenticates with an X.509 certificate (x509=true), so it has no key to sign a token or test a connection with. Use the device's certificate, or ask for a string with a SharedAccessKey."
    );
}

#[test]
fn warnings_for_unknown_fields_and_hosts() {
    let inspection = inspect(&format!(
        "HostName=iot.contoso.com;DevicId=d1;DeviceId=d1;SharedAccessKey={KEY};ab12Cd34ef=x"
    ));
    assert!(inspection.result.is_ok());
    let warnings: Vec<String> = inspection
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        warnings,
        [
            "The field 'DevicId' (part 2) is not part of an IoT Hub connection string and is ignored. Did you mean DeviceId?",
            "Part 5 has a field name that is not part of an IoT Hub connection string; it is ignored.",
            "'iot.contoso.com' is not an IoT Hub host of Azure, Azure China or Azure US Government (*.azure-devices.net, .cn, .us). That is expected for the sandbox or a custom domain; otherwise check the hub name.",
        ]
    );
    // The sandbox is recognised once its cloud is passed in.
    let sandbox = Cloud {
        iot_hub_suffix: "azure-devices.sandbox.test".into(),
        ..Cloud::public()
    };
    let checked = inspect_with_clouds(
        &format!("HostName=hub1.azure-devices.sandbox.test;DeviceId=d;SharedAccessKey={KEY}"),
        &[sandbox],
    );
    assert!(
        checked.result.is_ok() && checked.warnings.is_empty(),
        "{checked:?}"
    );
}

fn device_id_strategy() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Za-z0-9\\-.%_*?!(),:=@$']{1,128}").unwrap()
}

fn hub_strategy() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z0-9][a-z0-9-]{1,48}[a-z0-9]").unwrap()
}

proptest! {
    #[test]
    fn any_valid_string_round_trips(
        hub in hub_strategy(),
        suffix in prop::sample::select(vec!["azure-devices.net", "azure-devices.cn", "azure-devices.us"]),
        device in proptest::option::of(device_id_strategy()),
        module in proptest::option::of(device_id_strategy()),
        policy in proptest::option::of("[A-Za-z0-9_.-]{1,64}"),
        key in prop::collection::vec(any::<u8>(), 16..=64),
        gateway in proptest::option::of("[a-z][a-z0-9]{0,10}(\\.[a-z][a-z0-9]{0,10}){0,2}"),
    ) {
        prop_assume!(device.is_some() || policy.is_some());
        let key = SharedAccessKey::from_bytes(key).unwrap();
        let host = format!("{hub}.{suffix}");
        let identity = device.map(|device_id| DeviceIdentity {
            device_id,
            module_id: module,
        });
        let credential = match policy {
            Some(policy_name) => Credential::PolicyKey { policy_name, key, identity },
            None => Credential::DeviceKey { identity: identity.unwrap(), key },
        };
        let original = ConnectionString { host_name: host, credential, gateway_host_name: gateway };
        let text = original.expose();
        let parsed = ConnectionString::parse(&text).map_err(|e| TestCaseError::fail(describe_all(&e)))?;
        prop_assert_eq!(&parsed, &original);
        prop_assert_eq!(parsed.expose(), text);
    }
}
