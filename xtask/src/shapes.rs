//! The shape check: every ARM answer the sandbox gives during the tests is written to a journal
//! (the sandbox does it when `HUBSETUP_SANDBOX_ARM_JOURNAL` names a folder), and
//! `tests/python/arm_shapes.py` checks them all against Azure's REST specifications afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{root, status, target_dir};

fn journal() -> PathBuf {
    target_dir().join("arm-journal")
}

/// A new, empty journal for this run.
pub fn start() -> Result<(), String> {
    let folder = journal();
    if folder.exists() {
        std::fs::remove_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    }
    std::fs::create_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))
}

/// Makes the sandboxes `command` starts record their ARM answers.
pub fn record(command: &mut Command) {
    command.env("HUBSETUP_SANDBOX_ARM_JOURNAL", journal());
}

/// Checks every answer recorded so far.
pub fn check(python: &Path) -> Result<(), String> {
    let mut check = Command::new(python);
    check
        .arg(root().join("tests/python/arm_shapes.py"))
        .arg(journal());
    status(check)
}
