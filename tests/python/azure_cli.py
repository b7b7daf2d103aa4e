"""The real Azure CLI for the tests: the `az` that `cargo xtask test` installs in a virtualenv
of its own (HUBSETUP_AZ), an environment in which it reaches the sandbox, and a login.

az resolves the sandbox's hosts through az_site/sitecustomize.py (see sandbox_names.py) and
trusts its CA through REQUESTS_CA_BUNDLE; its configuration lives in a folder of the test's.
"""

import json
import os
import pathlib
import re
import subprocess

import pytest
import requests

AZ = os.environ.get("HUBSETUP_AZ")
SKIP_REASON = "HUBSETUP_AZ is not set (cargo xtask test installs the Azure CLI and sets it)"
HERE = pathlib.Path(__file__).parent
CLOUD_NAME = "HubSetupSandbox"


@pytest.fixture(scope="module")
def az_env(cloud, tmp_path_factory):
    """The environment of az and of programs that run az: its own config folder, the
    sandbox's names and CA, and az first on the PATH."""
    env = dict(os.environ)
    env.update(
        AZURE_CONFIG_DIR=str(tmp_path_factory.mktemp("azure-cli-config")),
        AZURE_CORE_COLLECT_TELEMETRY="false",
        AZURE_CORE_NO_COLOR="true",
        PYTHONPATH=os.pathsep.join([str(HERE / "az_site"), str(HERE)]),
        HUBSETUP_SANDBOX_LOOPBACK=cloud["loopback"],
        HUBSETUP_SANDBOX_SUFFIX=cloud["suffix"],
        REQUESTS_CA_BUNDLE=cloud["ca_path"],
        PATH=os.pathsep.join([str(pathlib.Path(AZ).parent), env["PATH"]]),
    )
    return env


def az(env, *args, check=True):
    result = subprocess.run([AZ, *args], env=env, capture_output=True, text=True, timeout=180)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def signed_in(cloud, az_env):
    """az registered to the sandbox and signed in with a device code; what `az login` printed."""
    az(az_env, "cloud", "register", "--name", CLOUD_NAME, "--endpoint-resource-manager", cloud["arm_endpoint"])
    az(az_env, "cloud", "set", "--name", CLOUD_NAME)
    az(az_env, "config", "set", "core.instance_discovery=false")
    return json.loads(device_code_login(cloud, az_env))


def device_code_login(cloud, env, *args):
    """`az login --use-device-code` with `args`, the code entered on the sandbox's sign-in page
    as a person would; what az printed."""
    login = subprocess.Popen(
        [AZ, "login", *args, "--use-device-code", "--output", "json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    prompt = ""
    for line in login.stderr:
        prompt += line
        found = re.search(r"open the page (\S+) and enter the code (\w+)", line)
        if found:
            break
    assert found, prompt
    page, code = found.groups()
    assert page == f"{cloud['login_endpoint']}/devicelogin"
    entered = requests.post(page, data={"code": code})
    assert "You are signed in" in entered.text
    out, err = login.communicate(timeout=120)
    assert login.returncode == 0, err
    return out
