//! The macOS stage: the whole workspace linted for Apple silicon. Nothing can be linked without
//! Apple's SDK; the release workflow tests on an Apple silicon Mac and builds for both
//! processors there.
//! Our code has no path that differs between the two processors, so linting both here (as
//! until December 2026) doubled the stage's time and found nothing more.
//!
//! The check is all compiling, so `cargo xtask test` runs it beside the end-to-end tests,
//! which mostly wait on windows, servers and Wine and use little of the processors.

use std::process::Command;

use crate::{cross, root, status};

pub const TARGETS: &[&str] = &["aarch64-apple-darwin"];

fn clippy() -> Command {
    let mut clippy = cross::cargo("clippy", TARGETS);
    clippy.args(["--workspace", "--all-targets", "--", "-D", "warnings"]);
    // OpenSSL's build needs Apple's SDK: the check lints with Sequoia's pure-Rust backend,
    // which shares every line of our code (the release workflow builds OpenSSL on a Mac).
    clippy.env("RUSTFLAGS", "--cfg hubsetup_pure_rust_crypto");
    // ring compiles a little C; clang targets Apple, and the one SDK header it reads is
    // stood in for by xtask/macos/TargetConditionals.h.
    let header_dir = root().join("xtask/macos");
    for target in TARGETS {
        let target = target.replace('-', "_");
        clippy.env(format!("CC_{target}"), "clang").env(
            format!("CFLAGS_{target}"),
            format!(
                "-ffreestanding -DRING_CORE_NOSTDLIBINC -I{}",
                header_dir.display()
            ),
        );
    }
    clippy
}

/// The check; `cargo xtask test` runs it as a side stage.
pub fn check() -> Result<(), String> {
    status(clippy())
}
