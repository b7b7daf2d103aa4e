"""The real Azure CLI (`azure-cli` from PyPI, unmodified) against the sandbox, and IoT Hub Setup
reusing its login, as an admin who already works with `az` would.

The test registers the sandbox as a custom cloud (az reads ARM's unauthenticated metadata),
turns off MSAL's instance discovery as Azure Stack users do (it would ask
login.microsoftonline.com), signs in with a device code that it enters on the sandbox's sign-in
page, and then `hubsetup` creates a hub with that login and signs in to the guest tenant
through it. If az and the sandbox disagree, the sandbox is wrong.

az and its environment come from azure_cli.py.
"""

import json
import re
import shlex
import subprocess
import uuid

import pytest
from azure_cli import AZ, CLOUD_NAME, SKIP_REASON, az, az_env, device_code_login, signed_in  # noqa: F401 (fixtures)
from conftest import HUB, HUBSETUP, PRODUCTION

if not AZ:
    pytest.skip(SKIP_REASON, allow_module_level=True)

DEV = "22222222-2222-4222-8222-222222222222"
GUEST_TENANT = "9b2e4c1d-0000-4000-8000-fab71ca7e000"


def hubsetup(env, cloud, *args):
    return subprocess.run(
        [HUBSETUP, *args, "--sandbox", cloud["description_file"]],
        env=env, capture_output=True, text=True, timeout=180,
    )


def test_az_registers_the_sandbox_from_arms_metadata(cloud, az_env, signed_in):
    shown = json.loads(az(az_env, "cloud", "show", "--name", CLOUD_NAME).stdout)
    assert shown["isActive"]
    assert shown["endpoints"]["activeDirectory"] == cloud["login_endpoint"]
    assert shown["endpoints"]["activeDirectoryResourceId"] == cloud["arm_endpoint"] + "/"


def test_az_login_finds_every_tenant_and_its_subscriptions(signed_in):
    by_name = {s["name"]: s for s in signed_in}
    assert sorted(by_name) == [
        "Contoso Dev/Test", "Contoso Legacy (disabled)", "Contoso New Projects", "Contoso Production",
        "Contoso Regulated", "Contoso Shared Services", "Fabrikam Partner Solutions",
    ]
    assert by_name["Contoso Production"]["tenantDisplayName"] == "Contoso"
    assert by_name["Contoso Production"]["user"] == {"name": "admin@contoso.example", "type": "user"}
    assert by_name["Fabrikam Partner Solutions"]["tenantId"] == GUEST_TENANT
    assert by_name["Contoso Legacy (disabled)"]["state"] == "Disabled"


def test_hubsetup_creates_a_hub_with_the_az_login(cloud, az_env, signed_in):
    hub = f"az-reuse-{uuid.uuid4().hex[:8]}"
    result = hubsetup(
        az_env, cloud, "provision", "--method", "cli", "--subscription", DEV, "--hub", hub,
        "--resource-group", "contoso-dev", "--region", "northeurope", "--tier", "S1", "--json",
    )
    assert result.returncode == 0, result.stderr
    assert "Signed in with the Azure CLI's sign-in." in result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert summary["hub"]["name"] == hub
    # az itself, with its own token, sees the hub that our reuse of its login created.
    resource = f"/subscriptions/{DEV}/resourceGroups/contoso-dev/providers/Microsoft.Devices/IotHubs/{hub}"
    shown = json.loads(az(az_env, "rest", "--method", "get", "--url", f"{cloud['arm_endpoint']}{resource}?api-version=2023-06-30").stdout)
    assert shown["properties"]["state"] == "Active"
    assert shown["sku"]["name"] == "S1"


def test_hubsetup_reaches_the_guest_tenant_through_az(cloud, az_env, signed_in):
    result = hubsetup(az_env, cloud, "login", "--method", "cli", "--tenant", GUEST_TENANT, "--json")
    assert result.returncode == 0, result.stderr
    names = [s["name"] for s in json.loads(result.stdout)["subscriptions"]]
    assert names == ["Fabrikam Partner Solutions"]


def test_a_signed_out_az_is_told_apart_and_explained(cloud, az_env, signed_in, tmp_path):
    signed_out = dict(az_env, AZURE_CONFIG_DIR=str(tmp_path))
    az(signed_out, "cloud", "register", "--name", CLOUD_NAME, "--endpoint-resource-manager", cloud["arm_endpoint"])
    az(signed_out, "cloud", "set", "--name", CLOUD_NAME)
    result = hubsetup(signed_out, cloud, "login", "--method", "cli")
    assert result.returncode != 0
    assert (
        "The Azure CLI is not signed in (it says: Please run 'az login' to setup account). "
        "Run `az login` and try again, or sign in with the browser or a device code instead."
    ) in result.stderr


def test_a_claims_challenge_names_the_az_login_that_answers_it(cloud, az_env, signed_in):
    """Writes to contoso-sensitive need multi-factor authentication (Conditional Access): az's
    token lacks it, so hubsetup says which az login gets it, and that command works."""
    hub = f"az-sensitive-{uuid.uuid4().hex[:8]}"
    args = ("provision", "--method", "cli", "--subscription", DEV, "--hub", hub,
            "--resource-group", "contoso-sensitive", "--region", "northeurope")
    refused = hubsetup(az_env, cloud, *args)
    assert refused.returncode != 0
    assert "Azure asks for more proof of who you are than the Azure CLI's sign-in holds" in refused.stderr
    command = re.search(r"Run `(az login [^`]+)`", refused.stderr).group(1)
    assert command.startswith(
        f"az login --tenant 72f988bf-0000-4000-8000-5a4d60c0ffee --scope {cloud['arm_endpoint']}/.default --claims-challenge "
    )

    device_code_login(cloud, az_env, *shlex.split(command)[2:])
    created = hubsetup(az_env, cloud, *args)
    assert created.returncode == 0, created.stderr


def test_az_manages_the_built_in_endpoints_consumer_groups(signed_in, az_env):
    """`az iot hub consumer-group` (Microsoft's ARM client for them) against the sandbox."""
    where = ["--hub-name", HUB, "--resource-group", "contoso-iot", "--subscription", PRODUCTION]
    created = json.loads(az(az_env, "iot", "hub", "consumer-group", "create", "--name", "az-watch", *where).stdout)
    assert created["name"] == "az-watch"
    listed = json.loads(az(az_env, "iot", "hub", "consumer-group", "list", *where).stdout)
    assert [g["name"] for g in listed] == ["$Default", "stream-analytics-prod", "az-watch"]
    shown = json.loads(az(az_env, "iot", "hub", "consumer-group", "show", "--name", "az-watch", *where).stdout)
    assert shown["type"] == "Microsoft.Devices/IotHubs/EventHubEndpoints/ConsumerGroups"
    az(az_env, "iot", "hub", "consumer-group", "delete", "--name", "az-watch", *where)
    missing = az(az_env, "iot", "hub", "consumer-group", "show", "--name", "az-watch", *where, check=False)
    assert missing.returncode != 0
    assert "ConsumerGroupNotFound" in missing.stderr or "does not exist" in missing.stderr, missing.stderr
    refused = az(az_env, "iot", "hub", "consumer-group", "create", "--name", "no spaces", *where, check=False)
    assert refused.returncode != 0
    assert "1 to 50 letters, digits, hyphens, periods and underscores" in refused.stderr, refused.stderr
