//! The Windows stage: the CLI and the desktop app built and linted in one pass, the installer
//! built from its one definition (`installer/windows/iot-hub-setup.nsi`), and the Rust tests
//! of every crate with Windows-specific code run as Windows binaries under Wine.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{cross, root, side, status, target_dir, version};

pub const TARGET: &str = "x86_64-pc-windows-gnu";

/// Crates whose tests run under Wine: those with code that differs on Windows (credential
/// store, folders, file access lists, clipboard, sign-in's browser and `az.cmd`, the Internet
/// Options proxy) and those that write private files through it.
const TESTED_CRATES: &[&str] = &[
    "hubsetup-core",
    "hubsetup-platform",
    "hubsetup-vault",
    "hubsetup-handoff",
    "hubsetup-identity",
    "hubsetup-net",
    "hubsetup-provision",
    "hubsetup-wizard",
];

/// What the Windows build made, for the end-to-end tests.
#[derive(Debug)]
pub struct Build {
    pub cli: PathBuf,
    pub installer: PathBuf,
}

/// Windows builds in a stage of their own, `x86_64-pc-windows-gnu` linked by MinGW.
pub fn cargo(subcommand: &str) -> Command {
    let mut cmd = cross::cargo(subcommand, &[TARGET]);
    cmd.env(
        "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER",
        "x86_64-w64-mingw32-gcc",
    );
    cmd
}

fn binaries() -> PathBuf {
    cross::dir().join(TARGET).join("debug")
}

/// `cargo SUBCOMMAND` for Windows with clippy linting the workspace's own crates as they are
/// compiled (clippy-driver wrapping rustc, `-D warnings`), so that they are compiled once
/// rather than checked by `cargo clippy` and then built again. Every step uses it: the wrapper
/// is part of what cargo remembers of a build.
fn linted(subcommand: &str) -> Command {
    let mut cmd = cargo(subcommand);
    crate::lint_while_compiling(&mut cmd, Path::new("/usr/bin/clippy-driver"));
    cmd
}

/// The CLI and the app, linted as they are built, and the installer that packs them.
pub fn build() -> Result<Build, String> {
    // The CLI and the app pull in every crate with Windows-specific code; the crates tested
    // under Wine are linted with their tests by [`rust_tests_under_wine`].
    let mut build = linted("build");
    build.args(["--package", "hubsetup-cli", "--package", "hubsetup-app"]);
    status(build)?;
    let installer = installer(&binaries(), &target_dir().join("windows-installer"))?;
    Ok(Build {
        cli: binaries().join("hubsetup.exe"),
        installer,
    })
}

/// The environment every Wine run shares: our prefix, no debug chatter, no offer to install
/// Mono or Gecko, and our `bcryptprimitives.dll` before Wine's.
pub fn wine_env(command: &mut Command, prefix: &Path) {
    command
        .env("WINEPREFIX", prefix)
        .env("WINEDEBUG", "-all")
        .env("WINEDLLOVERRIDES", "bcryptprimitives=n,b;mscoree,mshtml=");
}

pub const WINE: &str = "/usr/lib/wine/wine64";

/// A fresh Wine prefix, with the ProcessPrng shim Rust needs: fresh, so that nothing a
/// stopped run left in its Credential Manager or registry is found by the next.
pub fn wine_prefix() -> Result<PathBuf, String> {
    let prefix = target_dir().join("wine-prefix");
    if prefix.exists() {
        let mut stop = Command::new("/usr/lib/wine/wineserver");
        stop.arg("-k");
        wine_env(&mut stop, &prefix);
        // Nothing may be running in it; that is fine.
        let _ = stop.status();
        std::fs::remove_dir_all(&prefix)
            .map_err(|e| format!("could not remove the old Wine prefix: {e}"))?;
    }
    let mut boot = Command::new(WINE);
    boot.args(["wineboot", "--init"]);
    wine_env(&mut boot, &prefix);
    boot.stdout(Stdio::null()).stderr(Stdio::null());
    status(boot)?;
    let shim = shim()?;
    std::fs::copy(
        &shim,
        prefix.join("drive_c/windows/system32/bcryptprimitives.dll"),
    )
    .map_err(|e| format!("could not put the shim into the Wine prefix: {e}"))?;
    Ok(prefix)
}

/// Builds `xtask/wine/bcryptprimitives.c` (see there why).
pub fn shim() -> Result<PathBuf, String> {
    let dll = target_dir().join("wine-shim/bcryptprimitives.dll");
    std::fs::create_dir_all(dll.parent().unwrap()).map_err(|e| e.to_string())?;
    let mut gcc = Command::new("x86_64-w64-mingw32-gcc");
    gcc.args(["-shared", "-O2", "-o"])
        .arg(&dll)
        .arg(root().join("xtask/wine/bcryptprimitives.c"))
        .arg("-ladvapi32");
    status(gcc)?;
    Ok(dll)
}

/// `cargo test` for Windows with Wine as the runner, in a fresh prefix, under Xvfb for the
/// clipboard; returns how many tests ran.
pub fn rust_tests_under_wine() -> Result<usize, String> {
    let prefix = wine_prefix()?;
    let mut tests = linted("test");
    for krate in TESTED_CRATES {
        tests.args(["--package", krate]);
    }
    tests.env("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER", WINE);
    wine_env(&mut tests, &prefix);
    let mut under_x = Command::new("xvfb-run");
    under_x.arg("--auto-servernum").arg(tests.get_program());
    under_x.args(tests.get_args()).current_dir(root());
    for (name, value) in tests.get_envs() {
        match value {
            Some(value) => under_x.env(name, value),
            None => under_x.env_remove(name),
        };
    }
    let shown = "cargo test (Windows, under Wine)";
    side::say(&format!("xtask: $ {under_x:?}"));
    let started = std::time::Instant::now();
    let mut running =
        side::spawn(&mut under_x, true).map_err(|e| format!("could not start {shown}: {e}"))?;
    let mut passed = 0;
    let output = running.child.stdout.take().expect("piped");
    for line in BufReader::new(output).lines() {
        let line = line.map_err(|e| e.to_string())?;
        side::say(&line);
        passed += passed_count(&line);
    }
    let exit = running.wait().map_err(|e| e.to_string())?;
    crate::record_step(&under_x, started);
    if !exit.success() {
        return Err(format!("{shown} failed ({exit})"));
    }
    side::say(&format!(
        "xtask: {passed} Rust tests ran as Windows binaries under Wine"
    ));
    Ok(passed)
}

/// The count of `test result: ok. 12 passed; …`, libtest's summary line.
fn passed_count(line: &str) -> usize {
    line.strip_prefix("test result: ")
        .and_then(|rest| rest.split("; ").next())
        .and_then(|first| first.split_whitespace().rev().nth(1))
        .and_then(|count| count.parse().ok())
        .unwrap_or(0)
}

/// The setup program, built by NSIS from the one installer definition that the release
/// workflow builds too. `binaries` holds the two programs and WebView2Loader.dll; they are
/// packed without their symbols, as a release build has none.
pub fn installer(binaries: &Path, out: &Path) -> Result<PathBuf, String> {
    let stage = out.join("stage");
    std::fs::create_dir_all(&stage).map_err(|e| e.to_string())?;
    for program in ["iot-hub-setup.exe", "hubsetup.exe"] {
        let mut strip = Command::new("x86_64-w64-mingw32-strip");
        strip
            .arg("-o")
            .arg(stage.join(program))
            .arg(binaries.join(program));
        status(strip)?;
    }
    std::fs::copy(
        binaries.join("WebView2Loader.dll"),
        stage.join("WebView2Loader.dll"),
    )
    .map_err(|e| format!("WebView2Loader.dll was not built beside the app: {e}"))?;
    let version = version()?;
    let setup = out.join(format!("IoT-Hub-Setup_{version}_x64-setup.exe"));
    let mut makensis = Command::new("makensis");
    makensis
        .arg("-V2")
        .arg(format!("-DVERSION={version}"))
        .arg(format!("-DBINDIR={}", stage.display()))
        .arg(format!("-DOUTFILE={}", setup.display()))
        .arg(root().join("installer/windows/iot-hub-setup.nsi"));
    status(makensis)?;
    Ok(setup)
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_passed_tests_from_libtest_summaries() {
        let line = "test result: ok. 36 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.52s";
        assert_eq!(super::passed_count(line), 36);
        assert_eq!(super::passed_count("running 36 tests"), 0);
    }
}
