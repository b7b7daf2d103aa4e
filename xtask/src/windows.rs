//! The Windows stage: the CLI and the desktop app built and linted in one pass, the installer
//! built from its one definition (`installer/windows/iot-hub-setup.nsi`), and the Rust tests
//! of every crate with Windows-specific code run as Windows programs under Wine. Every cargo
//! call names the same packages and the same standard library, so the dependencies are
//! compiled once for all of it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{cross, root, side, status, target_dir, version};

pub const TARGET: &str = "x86_64-pc-windows-gnu";

/// Crates whose tests run under Wine: those with code that differs on Windows (credential
/// store, folders, file access lists, clipboard, sign-in's browser and `az.cmd`, the Internet
/// Options proxy, the user's locale) and those that write private files through it.
const TESTED_CRATES: &[&str] = &[
    "hubsetup-core",
    "hubsetup-platform",
    "hubsetup-vault",
    "hubsetup-handoff",
    "hubsetup-identity",
    "hubsetup-net",
    "hubsetup-provision",
    "hubsetup-wizard",
    "hubsetup-locale",
    "hubsetup-cost",
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

/// The programs the installer packs.
const PROGRAMS: &[&str] = &["hubsetup-cli", "hubsetup-app"];

/// Names every package the stage compiles, in each of its cargo calls: cargo unifies features
/// over the packages of one call, so calls that name the same packages share every compiled
/// dependency (naming only the tested crates compiled most dependencies again).
fn every_package(cmd: &mut Command) {
    for package in PROGRAMS.iter().chain(TESTED_CRATES) {
        cmd.args(["--package", package]);
    }
}

/// The CLI and the app, linted as they are built, and the installer that packs them.
pub fn build() -> Result<Build, String> {
    let mut build = linted("build");
    every_package(&mut build);
    status(build)?;
    let installer = installer(
        &binaries(),
        &target_dir().join("windows-installer"),
        Packing::Fast,
    )?;
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

/// The Rust tests of [`TESTED_CRATES`] as Windows programs under Wine, in a fresh prefix,
/// under Xvfb for the clipboard; returns how many tests ran.
pub fn rust_tests_under_wine() -> Result<usize, String> {
    let prefix = wine_prefix()?;
    let tests = test_programs()?;
    // Each program runs in its package's folder, as `cargo test` runs it.
    let mut under_x = Command::new("xvfb-run");
    under_x.args([
        "--auto-servernum",
        "sh",
        "-c",
        r#"failed=0
while [ $# -gt 0 ]; do
    echo "xtask: $2 (in $1)"
    (cd "$1" && "$0" "$2") || failed=1
    shift 2
done
exit $failed"#,
        WINE,
    ]);
    for (folder, program) in &tests {
        under_x.arg(folder).arg(program);
    }
    wine_env(&mut under_x, &prefix);
    let shown = "the Rust tests under Wine";
    side::say(&format!(
        "xtask: {} test programs of {} crates under Wine",
        tests.len(),
        TESTED_CRATES.len()
    ));
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
        return Err(format!("{shown} failed ({exit}); see which above"));
    }
    side::say(&format!(
        "xtask: {passed} Rust tests ran as Windows binaries under Wine"
    ));
    Ok(passed)
}

/// Compiles the tests of every package the stage builds (see [`every_package`]), linted, and
/// gives those of [`TESTED_CRATES`] as (package folder, program).
fn test_programs() -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let mut compile = linted("test");
    compile.args(["--no-run", "--message-format=json-render-diagnostics"]);
    every_package(&mut compile);
    compile.current_dir(root());
    side::say(&format!("xtask: $ {compile:?}"));
    let started = std::time::Instant::now();
    let mut running = side::spawn(&mut compile, true)
        .map_err(|e| format!("could not compile the tests for Windows: {e}"))?;
    let mut programs = Vec::new();
    let output = running.child.stdout.take().expect("piped");
    for line in BufReader::new(output).lines() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(program) = test_program(&line) {
            programs.push(program);
        }
    }
    let exit = running.wait().map_err(|e| e.to_string())?;
    crate::record_step(&compile, started);
    if !exit.success() {
        return Err(format!("compiling the tests for Windows failed ({exit})"));
    }
    Ok(programs)
}

/// From one of cargo's JSON messages, a test program of a tested crate and its package's
/// folder.
fn test_program(message: &str) -> Option<(PathBuf, PathBuf)> {
    let field = |name: &str| {
        let start = message.find(&format!("\"{name}\":\""))? + name.len() + 4;
        let end = start + message[start..].find('"')?;
        Some(&message[start..end])
    };
    let profile = &message[message.find("\"profile\":{")?..];
    let is_test = profile[..profile.find('}')?].contains("\"test\":true");
    if field("reason")? != "compiler-artifact" || !is_test {
        return None;
    }
    let package = field("package_id")?;
    if !TESTED_CRATES
        .iter()
        .any(|name| package.contains(&format!("#{name}@")))
    {
        return None;
    }
    let folder = Path::new(field("manifest_path")?).parent()?.to_owned();
    Some((folder, PathBuf::from(field("executable")?)))
}

/// The count of `test result: ok. 12 passed; …`, libtest's summary line.
fn passed_count(line: &str) -> usize {
    line.strip_prefix("test result: ")
        .and_then(|rest| rest.split("; ").next())
        .and_then(|first| first.split_whitespace().rev().nth(1))
        .and_then(|count| count.parse().ok())
        .unwrap_or(0)
}

/// How the installer packs the programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// As released: solid LZMA, the smallest download.
    Smallest,
    /// zlib, for the tests: a tenth of the time to pack.
    Fast,
}

/// The setup program, built by NSIS from the one installer definition that the release
/// workflow builds too. `binaries` holds the two programs and WebView2Loader.dll; they are
/// packed without their symbols, as a release build has none.
pub fn installer(binaries: &Path, out: &Path, packing: Packing) -> Result<PathBuf, String> {
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
    if packing == Packing::Fast {
        makensis.arg("-DCOMPRESSOR=zlib");
    }
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
    fn finds_the_test_programs_of_tested_crates_in_cargos_messages() {
        let net = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/crates/net#hubsetup-net@0.1.0","manifest_path":"/w/crates/net/Cargo.toml","target":{"kind":["lib"],"name":"hubsetup_net","test":true},"profile":{"opt_level":"0","test":true},"executable":"/t/deps/hubsetup_net-1a2b.exe","fresh":true}"#;
        assert_eq!(
            super::test_program(net),
            Some((
                "/w/crates/net".into(),
                "/t/deps/hubsetup_net-1a2b.exe".into()
            ))
        );
        let program = net.replace(
            r#""profile":{"opt_level":"0","test":true}"#,
            r#""profile":{"opt_level":"0","test":false}"#,
        );
        assert_eq!(super::test_program(&program), None, "not a test build");
        let cli = net.replace("#hubsetup-net@", "#hubsetup-cli@");
        assert_eq!(super::test_program(&cli), None, "not a tested crate");
    }

    #[test]
    fn counts_passed_tests_from_libtest_summaries() {
        let line = "test result: ok. 36 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.52s";
        assert_eq!(super::passed_count(line), 36);
        assert_eq!(super::passed_count("running 36 tests"), 0);
    }
}
