//! `cargo xtask run | test | fuzz`: the project's commands, which install what they need.
//!
//! On Linux, missing Debian packages are installed with apt when running as root; otherwise
//! the exact command to run is printed. Nothing here is needed on macOS or Windows beyond Rust.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// Debian packages the test run needs (besides the Rust toolchain). The keychain tests need a
/// session bus (dbus-x11), a Secret Service (gnome-keyring) and secret-tool (libsecret-tools);
/// the hand-off tests need gpg (gnupg).
const TEST_APT_PACKAGES: &[&str] = &[
    "pkg-config",
    "python3-venv",
    "dbus-x11",
    "gnome-keyring",
    "libsecret-tools",
    "gnupg",
];

/// Runs its arguments inside the private D-Bus session `dbus-run-session` made, with
/// gnome-keyring's Secret Service unlocked (password "test", keyrings in a temporary folder), so
/// the keychain tests use a real Secret Service and never the developer's own keyring.
const WITH_SECRET_SERVICE: &str = r#"keyrings=$(mktemp -d) || exit 1
echo -n test | XDG_DATA_HOME="$keyrings" gnome-keyring-daemon --unlock --components=secrets >/dev/null || {
    echo "xtask: gnome-keyring-daemon did not start" >&2; exit 1; }
"$@"; status=$?
rm -rf "$keyrings"
exit $status"#;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(),
        Some("fuzz") => fuzz(args.get(1).map(String::as_str).unwrap_or("30")),
        Some("bench") => bench(),
        _ => {
            eprintln!(
                "usage: cargo xtask run [-- hubsetup arguments] | test | bench | fuzz [SECONDS]\n  \
                 run   start IoT Hub Setup (for now the hubsetup CLI)\n  \
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
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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

fn run(args: &[String]) -> Result<(), String> {
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

fn test() -> Result<(), String> {
    ensure_apt_packages(TEST_APT_PACKAGES)?;
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
    status(cargo_test())?;
    official_clients()
}

/// `cargo test --workspace`; on Linux inside [`WITH_SECRET_SERVICE`], telling the keychain tests
/// (which fail without it) through HUBSETUP_TEST_SECRET_SERVICE that they have one.
fn cargo_test() -> Command {
    let mut tests = cargo();
    tests.args(["test", "--workspace", "--locked"]);
    if !cfg!(target_os = "linux") {
        return tests;
    }
    let mut session = Command::new("dbus-run-session");
    session
        .current_dir(root())
        .args(["--", "sh", "-c", WITH_SECRET_SERVICE, "sh"])
        .arg(tests.get_program())
        .args(tests.get_args())
        .env("HUBSETUP_TEST_SECRET_SERVICE", "1");
    session
}

fn hubsetup_binary(profile: &str) -> PathBuf {
    target_dir()
        .join(profile)
        .join(format!("hubsetup{}", std::env::consts::EXE_SUFFIX))
}

/// The benchmarks, which print their figures; release builds, as users run them.
fn bench() -> Result<(), String> {
    ensure_apt_packages(&["curl"])?;
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
    bench.args(["bench", "--package", "hubsetup-sandbox", "--package", "hubsetup-cli", "--locked"]);
    bench.env("HUBSETUP_BIN", hubsetup_binary("release"));
    status(bench)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// Microsoft's official IoT clients (Python) against the sandbox, in a virtualenv of their own.
fn official_clients() -> Result<(), String> {
    let venv = target_dir().join("official-clients-venv");
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
    install.arg(root().join("tests/official_clients/requirements.txt"));
    status(install)?;
    let mut build = cargo();
    build.args(["build", "--package", "hubsetup-cli", "--locked"]);
    status(build)?;
    let mut pytest = Command::new(&python);
    pytest.args([
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/official_clients",
    ]);
    pytest.env("HUBSETUP_BIN", hubsetup_binary("debug"));
    pytest.current_dir(root());
    status(pytest)
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
