//! `cargo xtask run | cli | test | bench | fuzz`: the project's commands, which install what
//! they need.
//!
//! On Linux, missing Debian packages are installed with apt when running as root; otherwise
//! the exact command to run is printed. Nothing here is needed on macOS or Windows beyond Rust.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// Debian packages that building and running the desktop app needs (Tauri on WebKitGTK).
const APP_APT_PACKAGES: &[&str] = &[
    "pkg-config",
    "build-essential",
    "libwebkit2gtk-4.1-dev",
    "libssl-dev",
    "libxdo-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
];

/// Debian packages the test run needs besides the app's. The keychain tests need a session bus
/// (dbus-x11), a Secret Service (gnome-keyring) and secret-tool (libsecret-tools); the hand-off
/// tests need gpg (gnupg); the end-to-end tests a display (xvfb), WebKit's WebDriver and a
/// second program on the clipboard (xclip).
const TEST_APT_PACKAGES: &[&str] = &[
    "python3-venv",
    "dbus-x11",
    "gnome-keyring",
    "libsecret-tools",
    "gnupg",
    "xvfb",
    "webkit2gtk-driver",
    "xclip",
];

/// Runs `"$@"` inside a private session bus with an unlocked gnome-keyring whose keyrings live
/// in a temporary folder, so tests use a real Secret Service and never the user's keyring.
const WITH_SECRET_SERVICE: &str = r#"keyrings=$(mktemp -d) || exit 1
echo -n test | XDG_DATA_HOME="$keyrings" gnome-keyring-daemon --unlock --components=secrets >/dev/null || {
    echo "xtask: gnome-keyring-daemon did not start" >&2; exit 1; }
"$@"; status=$?
rm -rf "$keyrings"
exit $status"#;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run_app(),
        Some("cli") => cli(&args[1..]),
        Some("test") => test(),
        Some("fuzz") => fuzz(args.get(1).map(String::as_str).unwrap_or("30")),
        Some("bench") => bench(),
        _ => {
            eprintln!(
                "usage: cargo xtask run | cli [hubsetup arguments] | test | bench | fuzz [SECONDS]\n  \
                 run   build and start the IoT Hub Setup wizard\n  \
                 cli   run the hubsetup command with the given arguments\n  \
                 test  install what the tests need, then run lints and every test\n  \
                 bench print the benchmark figures (release build)\n  \
                 fuzz  fuzz the connection string parser for SECONDS (default 30)"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    // `cargo run` says where the manifest is now; the path compiled in may be another clone's
    // when clones share a target directory.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn status(mut cmd: Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: $ {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

/// Builds the web front end into ui/dist, which the desktop app embeds.
fn build_ui() -> Result<(), String> {
    let ui = root().join("ui");
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let installed = ui.join("node_modules/.package-lock.json");
    let lock = ui.join("package-lock.json");
    let stale = match (std::fs::metadata(&installed), std::fs::metadata(&lock)) {
        (Ok(i), Ok(l)) => i.modified().ok() < l.modified().ok(),
        _ => true,
    };
    if stale {
        let mut install = Command::new(npm);
        install
            .current_dir(&ui)
            .args(["ci", "--no-audit", "--no-fund"]);
        status(install)?;
    }
    let mut build = Command::new(npm);
    build.current_dir(&ui).args(["run", "build"]);
    status(build)
}

/// `cargo xtask run`: the desktop wizard.
fn run_app() -> Result<(), String> {
    ensure_apt_packages(APP_APT_PACKAGES)?;
    build_ui()?;
    let mut app = cargo();
    app.args(["run", "--package", "hubsetup-app"]);
    status(app)
}

/// `cargo xtask cli …`: the hubsetup command.
fn cli(args: &[String]) -> Result<(), String> {
    let mut cmd = cargo();
    cmd.args(["run", "--quiet", "--package", "hubsetup-cli", "--"]);
    let args: Vec<&String> = args.iter().skip_while(|a| *a == "--").collect();
    if args.is_empty() {
        cmd.arg("--help");
    } else {
        cmd.args(args);
    }
    status(cmd)
}

/// Installs tauri-driver (the WebDriver bridge for Tauri apps) from crates.io if missing.
fn ensure_tauri_driver() -> Result<(), String> {
    let present = Command::new("tauri-driver")
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        return Ok(());
    }
    let mut install = cargo();
    install.args(["install", "tauri-driver", "--version", "^2", "--locked"]);
    status(install)
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

fn test() -> Result<(), String> {
    ensure_apt_packages(&[APP_APT_PACKAGES, TEST_APT_PACKAGES].concat())?;
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
    status(with_secret_service(cargo_test()))?;
    bindings_unchanged()?;
    // Type-checks the front end against the bindings the tests just generated.
    let mut check = Command::new(if cfg!(windows) { "npm.cmd" } else { "npm" });
    check.current_dir(root().join("ui")).args(["run", "check"]);
    status(check)?;
    python_tests()
}

fn cargo_test() -> Command {
    let mut tests = cargo();
    tests.args(["test", "--workspace", "--locked"]);
    tests
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

fn hubsetup_binary(profile: &str) -> PathBuf {
    target_dir()
        .join(profile)
        .join(format!("hubsetup{}", std::env::consts::EXE_SUFFIX))
}

/// The benchmarks, which print their figures; release builds, as users run them.
fn bench() -> Result<(), String> {
    ensure_apt_packages(&[APP_APT_PACKAGES, TEST_APT_PACKAGES, &["curl"]].concat())?;
    build_ui()?;
    ensure_tauri_driver()?;
    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "--package",
        "hubsetup-cli",
        "--locked",
    ]);
    status(build)?;
    let mut bench = cargo();
    bench.args([
        "bench",
        "--package",
        "hubsetup-sandbox",
        "--package",
        "hubsetup-cli",
        "--locked",
    ]);
    bench.env("HUBSETUP_BIN", hubsetup_binary("release"));
    status(bench)?;
    // The desktop app as users get it: the Tauri CLI builds the release binary and the .deb.
    let mut bundle = Command::new(if cfg!(windows) { "npx.cmd" } else { "npx" });
    bundle.current_dir(root().join("src-tauri"));
    bundle.args([
        "--yes",
        "@tauri-apps/cli@2.12.5",
        "build",
        "--bundles",
        "deb",
    ]);
    status(bundle)?;
    // The app's peer: a blank Tauri window, built with the same features as the Tauri CLI's build.
    let mut peer = cargo();
    peer.args([
        "build",
        "--release",
        "--package",
        "hubsetup-app",
        "--example",
        "blank_window",
        "--features",
        "tauri/custom-protocol",
        "--locked",
    ]);
    status(peer)?;
    let mut app = Command::new(python_venv()?);
    app.arg(root().join("tests/python/bench_app.py"))
        .current_dir(root().join("tests/python"));
    app.env("HUBSETUP_APP_BIN", app_binary("release"))
        .env(
            "HUBSETUP_PEER_BIN",
            target_dir()
                .join("release/examples")
                .join(format!("blank_window{}", std::env::consts::EXE_SUFFIX)),
        )
        .env_remove("DISPLAY");
    status(app)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// The virtualenv of the Python tests and benchmarks, with their pinned packages installed.
fn python_venv() -> Result<PathBuf, String> {
    let venv = target_dir().join("python-tests-venv");
    let python = venv.join(if cfg!(windows) {
        "Scripts/python.exe"
    } else {
        "bin/python"
    });
    if !python.exists() {
        let mut create = Command::new("python3");
        create.args(["-m", "venv"]).arg(&venv);
        status(create)?;
    }
    let mut install = Command::new(&python);
    install.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-r",
    ]);
    install.arg(root().join("tests/python/requirements.txt"));
    status(install)?;
    Ok(python)
}

fn app_binary(profile: &str) -> PathBuf {
    target_dir()
        .join(profile)
        .join(format!("iot-hub-setup{}", std::env::consts::EXE_SUFFIX))
}

/// The Python tests: Microsoft's official IoT clients against the sandbox, and the desktop
/// app driven through WebDriver under Xvfb; with a Secret Service.
fn python_tests() -> Result<(), String> {
    let python = python_venv()?;
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
    let mut pytest = Command::new(&python);
    pytest.args([
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--timeout=300",
        "tests/python",
    ]);
    pytest.env("HUBSETUP_BIN", hubsetup_binary("debug"));
    pytest.env("HUBSETUP_APP_BIN", app_binary("debug"));
    // The tests start their own Xvfb; a developer's display would show windows popping up.
    pytest.env_remove("DISPLAY");
    pytest.current_dir(root());
    status(with_secret_service(pytest))
}

fn fuzz(seconds: &str) -> Result<(), String> {
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        let mut install = cargo();
        install.args(["install", "cargo-fuzz", "--locked"]);
        status(install)?;
    }
    let mut cmd = cargo();
    // cargo-fuzz needs nightly flags; the stable toolchain allows them with RUSTC_BOOTSTRAP.
    cmd.env("RUSTC_BOOTSTRAP", "1").args([
        "fuzz",
        "run",
        "connection_string",
        "--",
        &format!("-max_total_time={seconds}"),
    ]);
    status(cmd)
}

/// Installs missing Debian packages when running as root on a Debian-like system; otherwise
/// says exactly what to run.
fn ensure_apt_packages(packages: &[&str]) -> Result<(), String> {
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
