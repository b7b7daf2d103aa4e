//! What the CLI tests share: running `hubsetup`, checking that no key leaks, a throwaway GnuPG
//! home, and a sandbox with short waits described in a file for `--sandbox`.
// Each test file uses only part of this module.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub const KEY: &str = "+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw=";

/// A device string for `device_id`, with [`KEY`].
pub fn device_string(device_id: &str) -> String {
    format!("HostName=your-hub.azure-devices.net;DeviceId={device_id};SharedAccessKey={KEY}")
}

/// Runs `hubsetup` with `stdin` piped in and `env` added to a clean connection-string env.
pub fn hubsetup(args: &[&str], stdin: &str, env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hubsetup"));
    cmd.args(args)
        .env_remove("HUBSETUP_CONNECTION_STRING")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        cmd.env(name, value);
    }
    // Commands that keep state (the register of hand-offs) keep it apart from the user's.
    let own_state = tempfile::tempdir().unwrap();
    if !env
        .iter()
        .any(|(name, _)| *name == "HUBSETUP_CONFIG_DIR" || *name == "HUBSETUP_STATE_DIR")
    {
        cmd.env("HUBSETUP_STATE_DIR", own_state.path());
    }
    let mut child = cmd.spawn().expect("hubsetup starts");
    let written = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    // A command that refuses its arguments may exit before reading its input.
    if let Err(e) = written {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "writing to hubsetup: {e}"
        );
    }
    child.wait_with_output().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

pub fn assert_no_key(output: &Output) {
    for stream in [&output.stdout, &output.stderr] {
        assert!(
            !text(stream).contains(&KEY[..12]),
            "key leaked: {}",
            text(stream)
        );
    }
}

/// Fails if the key of `connection_string` (its `SharedAccessKey`) shows in either output.
pub fn assert_key_hidden(output: &Output, connection_string: &str) {
    let key = connection_string
        .split("SharedAccessKey=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("a string with a SharedAccessKey");
    for stream in [&output.stdout, &output.stderr] {
        assert!(!text(stream).contains(key), "the key leaked");
    }
}

/// Fails unless every file in `dir` is free of the key.
pub fn assert_no_key_in_files(dir: &Path) {
    for file in std::fs::read_dir(dir).unwrap() {
        let path = file.unwrap().path();
        let content = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert!(!content.contains(&KEY[..12]), "key in {}", path.display());
    }
}

/// A sandbox with short waits (device codes approved at the first poll), and the file that
/// describes it for `--sandbox`, in a folder that lives as long as the returned guard.
pub fn fast_sandbox() -> (
    hubsetup_sandbox::Sandbox,
    tempfile::TempDir,
    std::path::PathBuf,
) {
    let sandbox = hubsetup_sandbox::Sandbox::start(hubsetup_sandbox::SandboxConfig {
        hub_provisioning_time: std::time::Duration::from_millis(300),
        retry_after_secs: 1,
        device_code_pending_polls: 0,
        device_code_interval_secs: 0,
        ..hubsetup_sandbox::SandboxConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let description = dir.path().join("sandbox.json");
    std::fs::write(
        &description,
        serde_json::to_string(&sandbox.cloud()).unwrap(),
    )
    .unwrap();
    (sandbox, dir, description)
}
