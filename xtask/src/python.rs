//! The Python side of the tests and benchmarks: a virtualenv with pinned packages
//! (Microsoft's clients, pytest, selenium, the workflow linters), and the real Azure CLI in a
//! virtualenv of its own, so that its many pinned dependencies never meet the tests'.

use std::path::PathBuf;
use std::process::Command;

use crate::{root, status, target_dir};

/// The virtualenv, with `tests/python/requirements.txt` installed.
pub fn venv() -> Result<PathBuf, String> {
    venv_with("python-tests-venv", "tests/python/requirements.txt")
}

/// mitmproxy from PyPI (`tests/python/mitmproxy-requirements.txt`), the TLS-inspecting proxy
/// of the proxy tests: the `mitmdump` program.
pub fn mitmproxy() -> Result<PathBuf, String> {
    let python = venv_with("mitmproxy-venv", "tests/python/mitmproxy-requirements.txt")?;
    Ok(python.with_file_name(if cfg!(windows) {
        "mitmdump.exe"
    } else {
        "mitmdump"
    }))
}

/// The Azure CLI from PyPI (`tests/python/azure-cli-requirements.txt`): the `az` program.
pub fn azure_cli() -> Result<PathBuf, String> {
    let python = venv_with("azure-cli-venv", "tests/python/azure-cli-requirements.txt")?;
    Ok(python.with_file_name(if cfg!(windows) { "az.bat" } else { "az" }))
}

/// The Python of a virtualenv called `name` under the target directory, with `requirements`
/// (a path from the repository's root) installed.
fn venv_with(name: &str, requirements: &str) -> Result<PathBuf, String> {
    let venv = target_dir().join(name);
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
    install.arg(root().join(requirements));
    status(install)?;
    Ok(python)
}
