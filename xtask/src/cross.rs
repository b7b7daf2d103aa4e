//! Cross builds with Debian's Rust (`rustc-web`): its `rust-web-src` lets cargo build the
//! standard library for a target with `-Zbuild-std`, where rustup would download it. Its
//! builds live in their own target folder, so they never mix with the Linux builds of
//! rustup's compiler.

use std::path::PathBuf;
use std::process::Command;

use crate::{root, target_dir};

const DEBIAN_BIN: &str = "/usr/bin";

/// Debian's `cargo SUBCOMMAND` for `targets`, std built from source. `clippy` runs Debian's
/// cargo-clippy directly: through `cargo clippy` cargo would find rustup's first.
pub fn cargo(subcommand: &str, targets: &[&str]) -> Command {
    let mut cmd = if subcommand == "clippy" {
        let mut cmd = Command::new(format!("{DEBIAN_BIN}/cargo-clippy"));
        cmd.arg("clippy");
        cmd
    } else {
        let mut cmd = Command::new(format!("{DEBIAN_BIN}/cargo"));
        cmd.arg(subcommand);
        cmd
    };
    // libtest always: cargo otherwise adds it to test builds only, which changes the standard
    // library's build, and every dependency is then compiled again for the tests.
    cmd.current_dir(root())
        .arg("-Zbuild-std=std,test")
        .arg("--locked");
    for target in targets {
        cmd.args(["--target", target]);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env("PATH", format!("{DEBIAN_BIN}:{path}"))
        .env("CARGO", format!("{DEBIAN_BIN}/cargo"))
        .env("RUSTC", format!("{DEBIAN_BIN}/rustc"))
        .env("RUSTDOC", format!("{DEBIAN_BIN}/rustdoc"))
        // -Zbuild-std is unstable; Debian's stable compiler allows it with this.
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", dir())
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO_MANIFEST_DIR");
    cmd
}

/// The cross builds' target folder.
pub fn dir() -> PathBuf {
    target_dir().join("cross")
}
