//! The reused target folder kept in bounds: enough free disk checked before anything is
//! built, and at the end of a run its size printed and, past [`BOUND_GIB`], its build products
//! removed (the next run is then a cold one, which stays within CI's time).

use std::path::Path;
use std::process::Command;

use crate::target_dir;

/// The most the target folder may hold after a run. A cold run on this project fills about a
/// third of it; the rest is room for changed dependencies between clean-ups.
pub const BOUND_GIB: u64 = 45;
/// What a cold run needs free before it starts.
const NEEDED_GIB: u64 = 20;
/// What removing the build products keeps: the virtualenvs, npm and Wine set-ups, which are
/// slow to make and do not grow.
const KEPT: &[&str] = &[
    "python-tests-venv",
    "mitmproxy-venv",
    "azure-cli-venv",
    "wine-shim",
    "CACHEDIR.TAG",
];

const GIB: u64 = 1 << 30;

/// Fails, saying what to do, when the disk the target folder is on has less free space than
/// a cold run needs (with what the folder already holds counted as reusable).
pub fn check_free_space() -> Result<(), String> {
    let dir = target_dir();
    let Some(free) = free_bytes(&dir) else {
        return Ok(());
    };
    let held = size_of(&dir);
    if free + held < NEEDED_GIB * GIB {
        return Err(format!(
            "only {} free on the disk of {} (which holds {}); a run needs about {NEEDED_GIB} GiB. \
             Free some space (removing {} makes the next run a cold one) and run again.",
            gib(free),
            dir.display(),
            gib(held),
            dir.display()
        ));
    }
    Ok(())
}

/// Prints the target folder's size; past [`BOUND_GIB`], removes its build products first.
pub fn keep_bounded() -> Result<(), String> {
    let dir = target_dir();
    let size = size_of(&dir);
    if size > BOUND_GIB * GIB {
        eprintln!(
            "xtask: the target folder {} holds {}, over its bound of {BOUND_GIB} GiB: removing its build products",
            dir.display(),
            gib(size)
        );
        for entry in std::fs::read_dir(&dir).map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            if KEPT.iter().any(|kept| entry.file_name() == *kept) {
                continue;
            }
            let path = entry.path();
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|e| format!("could not remove {}: {e}", path.display()))?;
        }
    }
    eprintln!(
        "xtask: the target folder {} holds {} (bound {BOUND_GIB} GiB); {} free on its disk",
        dir.display(),
        gib(size_of(&dir)),
        free_bytes(&dir).map_or_else(|| "unknown space".to_owned(), gib)
    );
    Ok(())
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / GIB as f64)
}

/// The bytes the files under `dir` take (apparent sizes; links not followed).
fn size_of(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => size_of(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// Free bytes on the disk that holds `dir` (or its nearest existing parent), from `df`.
fn free_bytes(dir: &Path) -> Option<u64> {
    let existing = dir.ancestors().find(|p| p.exists())?;
    let output = Command::new("df").arg("-Pk").arg(existing).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let kib: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}
