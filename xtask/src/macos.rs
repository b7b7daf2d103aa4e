//! The macOS stage: the whole workspace linted for Apple silicon and Intel Macs. Nothing can
//! be linked without Apple's SDK; the release workflow builds and tests on a Mac.

use crate::{cross, root, status};

pub const TARGETS: &[&str] = &["aarch64-apple-darwin", "x86_64-apple-darwin"];

pub fn check() -> Result<(), String> {
    let mut clippy = cross::cargo("clippy", TARGETS);
    clippy.args(["--workspace", "--all-targets", "--", "-D", "warnings"]);
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
    status(clippy)
}
