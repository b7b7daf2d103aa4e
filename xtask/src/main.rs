//! `cargo xtask run | test | fuzz`: the project's commands, which install what they need.
//!
//! On Linux, missing Debian packages are installed with apt when running as root; otherwise
//! the exact command to run is printed. Nothing here is needed on macOS or Windows beyond Rust.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// Debian packages the test run needs (besides the Rust toolchain).
const TEST_APT_PACKAGES: &[&str] = &["pkg-config"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(),
        Some("fuzz") => fuzz(args.get(1).map(String::as_str).unwrap_or("30")),
        _ => {
            eprintln!(
                "usage: cargo xtask run [-- hubsetup arguments] | test | fuzz [SECONDS]\n  \
                 run   start IoT Hub Setup (for now the hubsetup CLI)\n  \
                 test  install what the tests need, then run lints and every test\n  \
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
    let mut tests = cargo();
    tests.args(["test", "--workspace", "--locked"]);
    status(tests)
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
