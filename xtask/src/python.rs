//! The Python side of the tests and benchmarks: a virtualenv with pinned packages
//! (Microsoft's clients, pytest, selenium, the workflow linters).

use std::path::PathBuf;
use std::process::Command;

use crate::{root, status, target_dir};

/// The virtualenv, with `tests/python/requirements.txt` installed.
pub fn venv() -> Result<PathBuf, String> {
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

/// A program the virtualenv installed (actionlint, zizmor).
pub fn tool(name: &str) -> Result<Command, String> {
    let python = venv()?;
    let mut cmd = Command::new(python.with_file_name(name));
    cmd.current_dir(root());
    Ok(cmd)
}
