//! `cargo xtask icons`: every app icon made from the one source, `src-tauri/icons/icon.svg`,
//! by the Tauri CLI: PNGs for Linux and the window, `.ico` for Windows (app and installer),
//! `.icns` for macOS. Mobile and Store icons it also makes are not kept.

use std::process::Command;

use crate::{root, status};

/// The icons the desktop bundles use (tauri.conf.json's `bundle.icon`, and icon.png for the
/// window and the .deb).
const KEPT: &[&str] = &[
    "32x32.png",
    "64x64.png",
    "128x128.png",
    "128x128@2x.png",
    "icon.png",
    "icon.ico",
    "icon.icns",
];

pub fn run() -> Result<(), String> {
    let icons = root().join("src-tauri/icons");
    let made = tempfile_dir()?;
    let mut tauri = Command::new(if cfg!(windows) { "npx.cmd" } else { "npx" });
    tauri
        .current_dir(root().join("src-tauri"))
        .args([
            "--yes",
            "@tauri-apps/cli@2.12.5",
            "icon",
            "icons/icon.svg",
            "--output",
        ])
        .arg(&made);
    status(tauri)?;
    for name in KEPT {
        std::fs::copy(made.join(name), icons.join(name))
            .map_err(|e| format!("the Tauri CLI made no {name}: {e}"))?;
    }
    std::fs::remove_dir_all(&made).map_err(|e| e.to_string())?;
    eprintln!("xtask: icons written to {}", icons.display());
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let dir = crate::target_dir().join("icons-made");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}
