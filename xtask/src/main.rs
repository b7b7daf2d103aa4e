//! `cargo xtask run | cli | test | bench | fuzz | icons`: the project's commands, which install what
//! they need.
//!
//! On Linux, missing Debian packages are installed with apt when running as root; otherwise
//! the exact command to run is printed. Nothing here is needed on macOS or Windows beyond Rust.
//!
//! One module a stage: [`apt`] (packages), [`test`] (Linux checks, then [`windows`] under Wine
//! and [`macos`], then the end-to-end tests), [`bench`], with [`cross`] for Debian's Rust and
//! [`python`] for the Python tests' virtualenv.

mod apt;
mod bench;
mod cross;
mod disk;
mod icons;
mod macos;
mod python;
mod shapes;
mod side;
mod test;
mod windows;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run_app(),
        Some("cli") => cli(&args[1..]),
        Some("test") => test::Repeat::parse(&args[1..]).and_then(test::run),
        Some("fuzz") => fuzz(args.get(1).map(String::as_str).unwrap_or("30")),
        Some("bench") => bench::run(),
        Some("icons") => icons::run(),
        _ => {
            eprintln!(
                "usage: cargo xtask run | cli [hubsetup arguments] | test [--repeat N e2e] [--repeat N wine] | bench | fuzz [SECONDS] | icons\n  \
                 run   build and start the IoT Hub Setup wizard\n  \
                 cli   run the hubsetup command with the given arguments\n  \
                 test  install what the tests need, then run lints and every test; --repeat N\n        \
                       runs the end-to-end (e2e) or the Wine suite N times in a row\n  \
                 bench print the benchmark figures (release build)\n  \
                 fuzz  fuzz the connection string parser for SECONDS (default 30)\n  \
                 icons make every app icon from src-tauri/icons/icon.svg"
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
    side::say(&format!("xtask: $ {shown}"));
    let started = std::time::Instant::now();
    let status = side::spawn(&mut cmd, false)
        .and_then(|mut running| running.wait())
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    record_step(&cmd, started);
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

/// Notes how long `cmd`, started at `started`, took: where a run's time goes (the cold CI run
/// must stay under an hour).
fn record_step(cmd: &Command, started: std::time::Instant) {
    let seconds = started.elapsed().as_secs_f64();
    side::say(&format!("xtask: took {seconds:.0} s"));
    STEP_TIMES
        .lock()
        .expect("step times")
        .push((step_name(cmd), seconds));
}

/// Makes `cmd` (a cargo build or test) lint the workspace's own crates with `clippy_driver`
/// wrapping rustc, warnings denied, as it compiles them: one compile instead of clippy's check
/// and then the build.
fn lint_while_compiling(cmd: &mut Command, clippy_driver: &std::path::Path) {
    cmd.env("RUSTC_WORKSPACE_WRAPPER", clippy_driver).env(
        "CLIPPY_ARGS",
        "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
    );
}

/// `cargo SUBCOMMAND` for Linux, linted as it compiles by the toolchain's own clippy.
fn linted_cargo(subcommand: &str) -> Result<Command, String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("could not ask {rustc} for its sysroot: {e}"))?;
    let driver = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim())
        .join("bin")
        .join(format!("clippy-driver{}", std::env::consts::EXE_SUFFIX));
    if !driver.exists() {
        return Err(format!(
            "{} is missing: install clippy (rustup component add clippy)",
            driver.display()
        ));
    }
    let mut cmd = cargo();
    cmd.arg(subcommand);
    lint_while_compiling(&mut cmd, &driver);
    Ok(cmd)
}

/// Each step's name and seconds, for the table at the end of a run.
static STEP_TIMES: std::sync::Mutex<Vec<(String, f64)>> = std::sync::Mutex::new(Vec::new());

/// A step's name for the table: the program and its first words that are not options, past
/// the wrappers that give it a keyring or a display, paths shortened to their file names.
fn step_name(cmd: &Command) -> String {
    const WRAPPERS: &[&str] = &["dbus-run-session", "sh", "xvfb-run"];
    let words: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|word| word.to_string_lossy().into_owned())
        .filter(|word| !word.starts_with('-') && !word.contains(char::is_whitespace))
        .map(|word| match word.rsplit_once('/') {
            Some((_, name)) => name.to_owned(),
            None => word,
        })
        .skip_while(|word| WRAPPERS.contains(&word.as_str()))
        .take(4)
        .collect();
    words.join(" ")
}

/// The table of where the run's time went, slowest first. Side stages' steps ran beside the
/// others', so the steps add up to more than the run took.
fn print_step_times(run_started: std::time::Instant) {
    let mut times = STEP_TIMES.lock().expect("step times").clone();
    let total: f64 = times.iter().map(|(_, s)| s).sum();
    times.sort_by(|a, b| b.1.total_cmp(&a.1));
    eprintln!(
        "xtask: the run took {:.1} min; where the time went (the steps add up to {:.0} min, as some ran side by side):",
        run_started.elapsed().as_secs_f64() / 60.0,
        total / 60.0
    );
    for (name, seconds) in times.iter().filter(|(_, s)| *s >= 1.0) {
        eprintln!("xtask:   {seconds:>6.0} s  {name}");
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// The workspace's version (`[workspace.package] version`), which installers carry.
fn version() -> Result<String, String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).map_err(|e| e.to_string())?;
    manifest
        .split("[workspace.package]")
        .nth(1)
        .and_then(|section| {
            section
                .lines()
                .find_map(|line| line.strip_prefix("version = \""))
        })
        .and_then(|rest| rest.strip_suffix('"'))
        .map(str::to_owned)
        .ok_or_else(|| "no version in [workspace.package] of Cargo.toml".to_owned())
}

fn hubsetup_binary(profile: &str) -> PathBuf {
    target_dir()
        .join(profile)
        .join(format!("hubsetup{}", std::env::consts::EXE_SUFFIX))
}

fn app_binary(profile: &str) -> PathBuf {
    target_dir()
        .join(profile)
        .join(format!("iot-hub-setup{}", std::env::consts::EXE_SUFFIX))
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
    apt::ensure(apt::APP)?;
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

#[cfg(test)]
mod tests {
    use std::process::Command;

    #[test]
    fn a_step_is_named_by_its_program_past_the_wrappers() {
        let mut tests = Command::new("dbus-run-session");
        tests.args([
            "--",
            "sh",
            "-c",
            "echo $@; \"$@\"",
            "sh",
            "/root/.cargo/bin/cargo",
            "test",
            "--workspace",
        ]);
        assert_eq!(super::step_name(&tests), "cargo test");
        let mut pip = Command::new("/t/venv/bin/python");
        pip.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "-r",
            "/w/tests/python/azure-cli-requirements.txt",
        ]);
        assert_eq!(
            super::step_name(&pip),
            "python pip install azure-cli-requirements.txt"
        );
    }
}
