//! `cargo xtask bench`: the benchmarks, which print their figures; release builds, as users
//! run them, each figure next to its peer measured in the same run.

use std::path::Path;
use std::process::Command;

use crate::{apt, build_ui, cargo, cross, ensure_tauri_driver, python, root, status, windows};

pub fn run() -> Result<(), String> {
    apt::ensure_for_tests(&["curl", "rpm"])?;
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
    let windows = windows_release()?;
    let mut bench = cargo();
    bench.args([
        "bench",
        "--package",
        "hubsetup-sandbox",
        "--package",
        "hubsetup-cli",
        "--package",
        "hubsetup-events",
        "--package",
        "hubsetup-keep",
        "--locked",
    ]);
    // Azurite holds the storage the Stored stage's benchmark reads.
    crate::test::npm_ci(&root().join("tests/node"))?;
    bench
        .env("HUBSETUP_BIN", crate::hubsetup_binary("release"))
        .env(
            "HUBSETUP_AZURITE",
            root().join("tests/node/node_modules/.bin/azurite-blob"),
        )
        .env("HUBSETUP_WINDOWS_BIN", windows.join("hubsetup.exe"))
        .env("HUBSETUP_WINE_PREFIX", windows::wine_prefix()?);
    status(bench)?;
    // The desktop app as users get it: the Tauri CLI builds the release binary, the .deb and
    // the .rpm.
    let mut bundle = Command::new(if cfg!(windows) { "npx.cmd" } else { "npx" });
    bundle.current_dir(root().join("src-tauri"));
    bundle.args([
        "--yes",
        "@tauri-apps/cli@2.12.5",
        "build",
        "--bundles",
        "deb,rpm",
    ]);
    status(bundle)?;
    let setup = windows::installer(
        &windows,
        &crate::target_dir().join("windows-installer"),
        windows::Packing::Smallest,
    )?;
    print_installer_sizes(&setup)?;
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
    let mut app = Command::new(python::venv()?);
    app.arg(root().join("tests/python/bench_app.py"))
        .current_dir(root().join("tests/python"));
    app.env("HUBSETUP_APP_BIN", crate::app_binary("release"))
        .env(
            "HUBSETUP_PEER_BIN",
            crate::target_dir()
                .join("release/examples")
                .join(format!("blank_window{}", std::env::consts::EXE_SUFFIX)),
        )
        .env_remove("DISPLAY");
    status(app)
}

/// The Windows CLI and app in release builds (as the installer ships them); their folder.
fn windows_release() -> Result<std::path::PathBuf, String> {
    // The app with the UI embedded, as the Tauri CLI builds it; the CLI on its own, since a
    // dependency's feature cannot be named for a package that lacks the dependency.
    for (package, features) in [
        ("hubsetup-cli", None),
        ("hubsetup-app", Some("tauri/custom-protocol")),
    ] {
        let mut build = windows::cargo("build");
        build
            .args(["--release", "--package", package])
            .args(features.map(|f| ["--features", f]).into_iter().flatten());
        status(build)?;
    }
    Ok(cross::dir().join(windows::TARGET).join("release"))
}

/// Each installer's size, the Linux ones as the Tauri CLI made them.
fn print_installer_sizes(setup: &Path) -> Result<(), String> {
    let bundles = crate::target_dir().join("release/bundle");
    let mut sizes = vec![("Windows setup .exe", setup.to_owned())];
    for (kind, ext) in [("Debian .deb", "deb"), ("Fedora .rpm", "rpm")] {
        let folder = bundles.join(ext);
        let found = std::fs::read_dir(&folder)
            .map_err(|e| format!("{}: {e}", folder.display()))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| path.extension().is_some_and(|e| e == ext))
            .ok_or_else(|| format!("no .{ext} in {}", folder.display()))?;
        sizes.push((kind, found));
    }
    for (kind, path) in sizes {
        let bytes = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
        println!("installer: {kind} {:.1} MB", bytes as f64 / 1e6);
    }
    Ok(())
}
