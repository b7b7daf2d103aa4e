//! Debian packages: which stage needs which, and installing the missing ones.

use std::process::Command;

use crate::status;

/// Building and running the desktop app (Tauri on WebKitGTK).
pub const APP: &[&str] = &[
    "pkg-config",
    "build-essential",
    "libwebkit2gtk-4.1-dev",
    "libssl-dev",
    "libxdo-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    // bindgen reads OpenSSL's headers for Sequoia's OpenSSL backend (hubsetup-handoff).
    "libclang-dev",
];

/// The Linux tests besides the app's packages. The keychain tests need a session bus
/// (dbus-x11), a Secret Service (gnome-keyring) and secret-tool (libsecret-tools); the hand-off
/// tests need gpg (gnupg); the end-to-end tests a display (xvfb), WebKit's WebDriver and a
/// second program on the clipboard (xclip); the proxy tests a real proxy with Basic
/// authentication (squid) and openssl for its password file; the key-lookup tests Sequoia's sq
/// and iproute2 (loopback in a network namespace of their own).
pub const TEST: &[&str] = &[
    "python3-venv",
    "dbus-x11",
    "gnome-keyring",
    "libsecret-tools",
    "gnupg",
    "xvfb",
    "webkit2gtk-driver",
    "xclip",
    "squid",
    "openssl",
    "sq",
    "iproute2",
];

/// Cross builds: Debian's Rust with its standard library's source (cargo builds std for the
/// Windows and macOS targets from it, as rustup's downloads are not reachable here) and clippy.
pub const CROSS_RUST: &[&str] = &["rustc-web", "cargo-web", "rust-web-src", "rust-web-clippy"];

/// The Windows build, its tests under Wine and its installer: MinGW links, Wine runs (on an
/// X display from xvfb-run, which needs xauth, for the clipboard), NSIS packs.
pub const WINDOWS: &[&str] = &["mingw-w64", "wine64", "nsis", "xauth"];

/// Checking the macOS build: clang compiles ring's C for Apple's targets.
pub const MACOS: &[&str] = &["clang"];

/// Everything `cargo xtask test` needs, and `extra`.
pub fn ensure_for_tests(extra: &[&str]) -> Result<(), String> {
    ensure(&[APP, TEST, CROSS_RUST, WINDOWS, MACOS, extra].concat())
}

/// Installs missing Debian packages when running as root on a Debian-like system; otherwise
/// says exactly what to run.
pub fn ensure(packages: &[&str]) -> Result<(), String> {
    if !cfg!(target_os = "linux")
        || Command::new("dpkg-query")
            .arg("--version")
            .output()
            .is_err()
    {
        return Ok(());
    }
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            let out = Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output();
            !out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !is_root {
        return Err(format!(
            "missing Debian packages; run: sudo apt-get update && sudo apt-get install -y {}",
            missing.join(" ")
        ));
    }
    let mut update = Command::new("apt-get");
    update.arg("update").arg("-qq");
    status(update)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing);
    install.env("DEBIAN_FRONTEND", "noninteractive");
    status(install)
}
