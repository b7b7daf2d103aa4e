//! The macOS stage: the whole workspace linted for Apple silicon and Intel Macs. Nothing can
//! be linked without Apple's SDK; the release workflow builds and tests on a Mac.
//!
//! The check is all compiling, so `cargo xtask test` runs it while the end-to-end tests,
//! which mostly wait on windows, servers and Wine, use little of the processors.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::{cross, root, target_dir};

pub const TARGETS: &[&str] = &["aarch64-apple-darwin", "x86_64-apple-darwin"];

/// The check running in the background, its output going to a log.
#[derive(Debug)]
pub struct Check {
    child: Child,
    log: PathBuf,
}

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

/// Starts the check; [`Check::finish`] waits for it.
pub fn start() -> Result<Check, String> {
    let log = target_dir().join("macos-check.log");
    let output = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let errors = output.try_clone().map_err(|e| e.to_string())?;
    let mut clippy = clippy();
    eprintln!(
        "xtask: $ {clippy:?} (in the background, output in {})",
        log.display()
    );
    let child = clippy
        .stdout(Stdio::from(output))
        .stderr(Stdio::from(errors))
        .spawn()
        .map_err(|e| format!("could not start the macOS check: {e}"))?;
    Ok(Check { child, log })
}

impl Check {
    /// Waits for the check, prints what it said, and fails if it failed.
    pub fn finish(mut self) -> Result<(), String> {
        let exit = self.child.wait().map_err(|e| e.to_string())?;
        let said = std::fs::read_to_string(&self.log).unwrap_or_default();
        eprintln!("xtask: the macOS check said:\n{said}");
        if exit.success() {
            Ok(())
        } else {
            Err(format!(
                "the macOS check (clippy for {}) failed ({exit}); see above",
                TARGETS.join(", ")
            ))
        }
    }
}

impl Drop for Check {
    /// A check left behind by a failing test run is stopped with it.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
