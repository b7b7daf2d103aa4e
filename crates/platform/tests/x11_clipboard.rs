//! The secret clipboard on a real X server (Xvfb), read back by another program (xclip) as a
//! clipboard manager would. Needs apt's `xvfb` and `xclip`, which `cargo xtask test` installs.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use hubsetup_platform::SecretClipboard;

struct Xvfb(Child);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a private X server and points this test process at it.
fn xvfb() -> Xvfb {
    let mut child = Command::new("Xvfb")
        .args(["-displayfd", "1", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb is needed for this test: apt-get install xvfb (cargo xtask test does)");
    let mut display = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut display)
        .unwrap();
    // This file is its own test process with a single test, so nothing else reads DISPLAY.
    std::env::set_var("DISPLAY", format!(":{}", display.trim()));
    Xvfb(child)
}

fn xclip(target: Option<&str>) -> String {
    let mut command = Command::new("xclip");
    command.args(["-selection", "clipboard", "-o"]);
    if let Some(target) = target {
        command.args(["-t", target]);
    }
    let output = command
        .output()
        .expect("xclip is needed: apt-get install xclip");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn a_copied_secret_is_hidden_from_clipboard_managers_and_cleared_only_while_unchanged() {
    let _server = xvfb();
    let clipboard = SecretClipboard::new();
    let secret = "HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=c2VjcmV0";
    clipboard.copy(secret).unwrap();
    assert!(xclip(None) == secret, "the copied text is on the clipboard");
    let targets = xclip(Some("TARGETS"));
    assert!(
        targets.lines().any(|t| t == "x-kde-passwordManagerHint"),
        "offered targets: {targets}"
    );
    assert_eq!(xclip(Some("x-kde-passwordManagerHint")), "secret");

    assert!(!clipboard.clear_if_unchanged("something else").unwrap());
    assert!(clipboard.clear_if_unchanged(secret).unwrap());
    assert_eq!(xclip(None), "", "cleared");
}
