"""Every `az` command an admin of IoT Hub Setup would run, run with the real Azure CLI against the
sandbox, as the admin types it: hubs named without `-g` (az then finds the resource group from
the subscription's list of hubs), defaults left alone.

The table is the README's ("Commands the sandbox answers"): a test checks that the two list the
same commands, so the README says what is run. Rows run in order, each on what the rows before
it made; a row's check reads az's JSON output. Outputs that hold keys are checked without being
printed.

az and its login come from azure_cli.py.
"""

import json
import pathlib
import re
import subprocess
import tempfile
import uuid

import pytest
from azure_cli import AZ, SKIP_REASON, az, az_env, signed_in  # noqa: F401 (fixtures)
from conftest import PRODUCTION

if not AZ:
    pytest.skip(SKIP_REASON, allow_module_level=True)

README = pathlib.Path(__file__).parents[2] / "README.md"
RUN = uuid.uuid4().hex[:6]
GROUP = f"az-table-{RUN}"
HUB = f"az-table-hub-{RUN}"
ACCOUNT = f"aztable{RUN}"
ACCOUNT_ID = f"/subscriptions/{PRODUCTION}/resourceGroups/{GROUP}/providers/Microsoft.Storage/storageAccounts/{ACCOUNT}"
HUB_ID = f"/subscriptions/{PRODUCTION}/resourceGroups/{GROUP}/providers/Microsoft.Devices/IotHubs/{HUB}"
SECRET_FIELDS = ("primaryKey", "secondaryKey", "connectionString", "value")
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(folder, *args):
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)


def certificates(seen):
    """A CA made with openssl as Azure's X.509 tutorial makes one; {file name: path}."""
    if "files" not in seen:
        folder = pathlib.Path(tempfile.mkdtemp(prefix="az-table-"))
        openssl(folder, "req", "-x509", *EC_KEY, "-keyout", "plant-ca.key", "-out", "plant-ca.pem", "-days", "30",
                "-subj", "/CN=Plant CA", "-addext", "basicConstraints=critical,CA:TRUE")
        seen["files"] = {name: str(folder / name) for name in ("plant-ca.pem", "plant-ca.key")}
        seen["folder"] = folder
    return seen["files"]


def proof(seen):
    """The proof of possession: a certificate named by the verification code, signed by the CA."""
    folder = seen["folder"]
    openssl(folder, "req", "-new", *EC_KEY, "-keyout", "proof.key", "-out", "proof.csr", "-subj", f"/CN={seen['code']}")
    openssl(folder, "x509", "-req", "-in", "proof.csr", "-CA", "plant-ca.pem", "-CAkey", "plant-ca.key", "-CAcreateserial",
            "-out", "proof.pem", "-days", "1")
    return str(folder / "proof.pem")


def names(listed):
    return [item["name"] for item in listed]


def keys_of(policy):
    return policy["primaryKey"], policy["secondaryKey"]


# (the command as the README shows it, its arguments, what its JSON output must show)
COMMANDS = [
    ("az provider show -n Microsoft.Devices", ["provider", "show", "-n", "Microsoft.Devices"],
     lambda out, seen: out["registrationState"] == "Registered"),
    ("az group create -n GROUP -l westeurope", ["group", "create", "-n", GROUP, "-l", "westeurope"],
     lambda out, seen: (out["name"], out["location"], out["properties"]["provisioningState"]) == (GROUP, "westeurope", "Succeeded")),
    ("az group show -n GROUP", ["group", "show", "-n", GROUP],
     lambda out, seen: out["id"] == f"/subscriptions/{PRODUCTION}/resourceGroups/{GROUP}"),
    ("az group exists -n GROUP", ["group", "exists", "-n", GROUP],
     lambda out, seen: out is True),
    ("az group list", ["group", "list"],
     lambda out, seen: GROUP in names(out)),
    ("az group update -n GROUP --tags team=iot", ["group", "update", "-n", GROUP, "--tags", "team=iot"],
     lambda out, seen: out["tags"] == {"team": "iot"}),
    ("az iot hub create -n HUB -g GROUP --sku S1", ["iot", "hub", "create", "-n", HUB, "-g", GROUP, "--sku", "S1"],
     lambda out, seen: (out["properties"]["provisioningState"], out["sku"]["name"], out["location"]) == ("Succeeded", "S1", "westeurope")),
    ("az iot hub show -n HUB", ["iot", "hub", "show", "-n", HUB],
     lambda out, seen: (out["resourcegroup"], out["properties"]["state"]) == (GROUP, "Active")),
    ("az iot hub list -g GROUP", ["iot", "hub", "list", "-g", GROUP],
     lambda out, seen: names(out) == [HUB]),
    ("az iot hub list", ["iot", "hub", "list"],
     lambda out, seen: HUB in names(out)),
    ("az iot hub update -n HUB --set tags.stage=pilot", ["iot", "hub", "update", "-n", HUB, "--set", "tags.stage=pilot"],
     lambda out, seen: out["tags"] == {"stage": "pilot"}),
    ("az iot hub show-stats -n HUB", ["iot", "hub", "show-stats", "-n", HUB],
     lambda out, seen: out["totalDeviceCount"] == 0),
    ("az iot hub show-quota-metrics -n HUB", ["iot", "hub", "show-quota-metrics", "-n", HUB],
     # az itself writes the registry's limit as "Unlimited".
     lambda out, seen: {m["name"]: m["maxValue"] for m in out} == {"TotalMessages": 400000, "TotalDeviceCount": "Unlimited"}),
    ("az iot hub list-skus -n HUB", ["iot", "hub", "list-skus", "-n", HUB],
     lambda out, seen: [s["sku"]["name"] for s in out] == ["S2", "S3"]),
    ("az iot hub policy list --hub-name HUB", ["iot", "hub", "policy", "list", "--hub-name", HUB],
     lambda out, seen: "iothubowner" in [p["keyName"] for p in out]),
    ("az iot hub policy create --hub-name HUB -n partner-read --permissions RegistryRead",
     ["iot", "hub", "policy", "create", "--hub-name", HUB, "-n", "partner-read", "--permissions", "RegistryRead"],
     # az prints the policies of the hub as read after the update, which holds no keys: the
     # next row reads the new policy.
     lambda out, seen: out is None),
    ("az iot hub policy show --hub-name HUB -n partner-read", ["iot", "hub", "policy", "show", "--hub-name", HUB, "-n", "partner-read"],
     lambda out, seen: out["rights"] == "RegistryRead" and seen.setdefault("keys", keys_of(out)) is not None),
    ("az iot hub policy renew-key --hub-name HUB -n partner-read --renew-key Secondary",
     ["iot", "hub", "policy", "renew-key", "--hub-name", HUB, "-n", "partner-read", "--renew-key", "Secondary"],
     lambda out, seen: out["primaryKey"] == seen["keys"][0] and out["secondaryKey"] != seen["keys"][1]),
    ("az iot hub policy delete --hub-name HUB -n partner-read", ["iot", "hub", "policy", "delete", "--hub-name", HUB, "-n", "partner-read"],
     lambda out, seen: out is None),
    ("az iot hub policy list --hub-name HUB (after the delete)", ["iot", "hub", "policy", "list", "--hub-name", HUB],
     lambda out, seen: "partner-read" not in [p["keyName"] for p in out]),
    ("az iot hub consumer-group create --hub-name HUB -n watchers", ["iot", "hub", "consumer-group", "create", "--hub-name", HUB, "-n", "watchers"],
     lambda out, seen: out["name"] == "watchers"),
    ("az iot hub consumer-group list --hub-name HUB", ["iot", "hub", "consumer-group", "list", "--hub-name", HUB],
     lambda out, seen: names(out) == ["$Default", "watchers"]),
    ("az iot hub consumer-group show --hub-name HUB -n watchers", ["iot", "hub", "consumer-group", "show", "--hub-name", HUB, "-n", "watchers"],
     lambda out, seen: out["type"] == "Microsoft.Devices/IotHubs/EventHubEndpoints/ConsumerGroups"),
    ("az iot hub consumer-group delete --hub-name HUB -n watchers", ["iot", "hub", "consumer-group", "delete", "--hub-name", HUB, "-n", "watchers"],
     lambda out, seen: out is None),
    ("az iot hub identity assign -n HUB --system-assigned", ["iot", "hub", "identity", "assign", "-n", HUB, "--system-assigned"],
     lambda out, seen: out["type"] == "SystemAssigned" and re.fullmatch(r"[0-9a-f-]{36}", out["principalId"]) is not None),
    ("az iot hub identity show -n HUB", ["iot", "hub", "identity", "show", "-n", HUB],
     lambda out, seen: out["type"] == "SystemAssigned" and seen.setdefault("principal", out["principalId"]) is not None),
    ("az iot hub certificate create --hub-name HUB -n plant-ca --path plant-ca.pem",
     lambda seen: ["iot", "hub", "certificate", "create", "--hub-name", HUB, "-n", "plant-ca", "--path", certificates(seen)["plant-ca.pem"]],
     lambda out, seen: (out["properties"]["subject"], out["properties"]["isVerified"]) == ("CN=Plant CA", False)
     and seen.setdefault("certificate", out["etag"]) is not None),
    ("az iot hub certificate generate-verification-code --hub-name HUB -n plant-ca --etag ETAG",
     lambda seen: ["iot", "hub", "certificate", "generate-verification-code", "--hub-name", HUB, "-n", "plant-ca", "--etag", seen["certificate"]],
     lambda out, seen: len(out["properties"]["verificationCode"]) == 48
     and seen.update(code=out["properties"]["verificationCode"], certificate=out["etag"]) is None),
    ("az iot hub certificate verify --hub-name HUB -n plant-ca --path proof.pem --etag ETAG",
     lambda seen: ["iot", "hub", "certificate", "verify", "--hub-name", HUB, "-n", "plant-ca", "--path", proof(seen), "--etag", seen["certificate"]],
     lambda out, seen: out["properties"]["isVerified"] is True and seen.update(certificate=out["etag"]) is None),
    ("az iot hub certificate list --hub-name HUB", ["iot", "hub", "certificate", "list", "--hub-name", HUB],
     lambda out, seen: [(c["name"], c["properties"]["isVerified"]) for c in out["value"]] == [("plant-ca", True)]),
    ("az iot hub certificate delete --hub-name HUB -n plant-ca --etag ETAG",
     lambda seen: ["iot", "hub", "certificate", "delete", "--hub-name", HUB, "-n", "plant-ca", "--etag", seen["certificate"]],
     lambda out, seen: out is None),
    ("az iot hub manual-failover -n HUB", ["iot", "hub", "manual-failover", "-n", HUB],
     lambda out, seen: out is None or out["properties"]["locations"][0]["location"] == "North Europe"),
    ("az iot hub show -n HUB (after the failover)", ["iot", "hub", "show", "-n", HUB],
     lambda out, seen: [(l["location"], l["role"]) for l in out["properties"]["locations"]] == [("North Europe", "primary"), ("West Europe", "secondary")]),
    ("az storage account check-name -n ACCOUNT", ["storage", "account", "check-name", "-n", ACCOUNT],
     lambda out, seen: out["nameAvailable"] is True),
    ("az storage account create -n ACCOUNT -g GROUP --sku Standard_LRS --kind StorageV2 --https-only true --min-tls-version TLS1_2 --allow-blob-public-access false",
     ["storage", "account", "create", "-n", ACCOUNT, "-g", GROUP, "--sku", "Standard_LRS", "--kind", "StorageV2", "--https-only", "true",
      "--min-tls-version", "TLS1_2", "--allow-blob-public-access", "false"],
     lambda out, seen: (out["provisioningState"], out["location"], out["minimumTlsVersion"], out["allowBlobPublicAccess"]) == ("Succeeded", "westeurope", "TLS1_2", False)),
    ("az storage account show -n ACCOUNT", ["storage", "account", "show", "-n", ACCOUNT],
     lambda out, seen: out["id"] == ACCOUNT_ID and out["primaryEndpoints"]["blob"].startswith(f"https://{ACCOUNT}.blob.core.")),
    ("az storage account check-name -n ACCOUNT (once taken)", ["storage", "account", "check-name", "-n", ACCOUNT],
     lambda out, seen: (out["nameAvailable"], out["reason"]) == (False, "AlreadyExists")),
    ("az storage account keys list -n ACCOUNT", ["storage", "account", "keys", "list", "-n", ACCOUNT],
     lambda out, seen: [k["keyName"] for k in out] == ["key1", "key2"]),
    ("az storage container-rm create --storage-account ACCOUNT -n telemetry",
     ["storage", "container-rm", "create", "--storage-account", ACCOUNT, "-n", "telemetry"],
     lambda out, seen: out["name"] == "telemetry"),
    ("az role assignment create --assignee-object-id PRINCIPAL --assignee-principal-type ServicePrincipal --role \"Storage Blob Data Contributor\" --scope ACCOUNT_ID",
     lambda seen: ["role", "assignment", "create", "--assignee-object-id", seen["principal"], "--assignee-principal-type", "ServicePrincipal",
                   "--role", "Storage Blob Data Contributor", "--scope", ACCOUNT_ID],
     lambda out, seen: (out["principalId"], out["roleDefinitionId"].rsplit("/", 1)[1]) == (seen["principal"], "ba92f5b4-2d11-453d-a403-e96b0029c9fe")),
    ("az role assignment list --scope ACCOUNT_ID", ["role", "assignment", "list", "--scope", ACCOUNT_ID],
     lambda out, seen: [(a["principalId"], a["roleDefinitionName"]) for a in out] == [(seen["principal"], "Storage Blob Data Contributor")]),
    ("az monitor metrics list-definitions --resource HUB_ID", ["monitor", "metrics", "list-definitions", "--resource", HUB_ID],
     lambda out, seen: {"d2c.telemetry.ingress.success", "dailyMessageQuotaUsed", "connectedDeviceCount"} <= {d["name"]["value"] for d in out}),
    ("az monitor metrics list --resource HUB_ID --metric d2c.telemetry.ingress.success --aggregation Total",
     ["monitor", "metrics", "list", "--resource", HUB_ID, "--metric", "d2c.telemetry.ingress.success", "--aggregation", "Total"],
     # A new hub that no device sent to: an hour of one-minute points, each of them 0.
     lambda out, seen: (out["interval"], out["namespace"]) == ("PT1M", "Microsoft.Devices/IotHubs")
     and len(out["value"][0]["timeseries"][0]["data"]) in (60, 61)
     and all(p["total"] == 0.0 for p in out["value"][0]["timeseries"][0]["data"])),
    ("az monitor action-group create -n ops-alerts -g GROUP --short-name ops --action email admin admin@contoso.com",
     ["monitor", "action-group", "create", "-n", "ops-alerts", "-g", GROUP, "--short-name", "ops", "--action", "email", "admin", "admin@contoso.com"],
     lambda out, seen: (out["groupShortName"], [(r["name"], r["emailAddress"], r["status"]) for r in out["emailReceivers"]])
     == ("ops", [("admin", "admin@contoso.com", "Enabled")])),
    ("az monitor action-group test-notifications create --action-group ops-alerts -g GROUP --alert-type metricstaticthreshold --add-action email admin admin@contoso.com",
     ["monitor", "action-group", "test-notifications", "create", "--action-group", "ops-alerts", "-g", GROUP,
      "--alert-type", "metricstaticthreshold", "--add-action", "email", "admin", "admin@contoso.com"],
     lambda out, seen: out["state"] == "Complete" and [(d["MechanismType"], d["Status"]) for d in out["actionDetails"]] == [("Email", "Success")]),
    # A metric name with dots goes in quotes, or az reads the part before the last dot as its namespace.
    ("az monitor metrics alert create -n no-data -g GROUP --scopes HUB_ID --condition \"total 'd2c.telemetry.ingress.success' < 1\" --window-size 1h --evaluation-frequency 5m --action ops-alerts",
     ["monitor", "metrics", "alert", "create", "-n", "no-data", "-g", GROUP, "--scopes", HUB_ID, "--condition", "total 'd2c.telemetry.ingress.success' < 1",
      "--window-size", "1h", "--evaluation-frequency", "5m", "--action", "ops-alerts"],
     lambda out, seen: (out["windowSize"], out["evaluationFrequency"], out["criteria"]["allOf"][0]["metricName"],
                        out["criteria"]["allOf"][0]["operator"], out["criteria"]["allOf"][0]["threshold"])
     == ("PT1H", "PT5M", "d2c.telemetry.ingress.success", "LessThan", 1.0)),
    ("az monitor metrics alert list -g GROUP", ["monitor", "metrics", "alert", "list", "-g", GROUP],
     lambda out, seen: [(r["name"], r["enabled"]) for r in out] == [("no-data", True)]),
    ("az monitor metrics alert show -n no-data -g GROUP", ["monitor", "metrics", "alert", "show", "-n", "no-data", "-g", GROUP],
     lambda out, seen: out["scopes"] == [HUB_ID] and out["actions"][0]["actionGroupId"].lower().endswith("/actiongroups/ops-alerts")),
    ("az monitor metrics alert delete -n no-data -g GROUP", ["monitor", "metrics", "alert", "delete", "-n", "no-data", "-g", GROUP],
     lambda out, seen: out is None),
    ("az monitor action-group delete -n ops-alerts -g GROUP", ["monitor", "action-group", "delete", "-n", "ops-alerts", "-g", GROUP],
     lambda out, seen: out is None),
    ("az storage account delete -n ACCOUNT -g GROUP --yes", ["storage", "account", "delete", "-n", ACCOUNT, "-g", GROUP, "--yes"],
     lambda out, seen: out is None),
    ("az iot hub identity remove -n HUB --system-assigned", ["iot", "hub", "identity", "remove", "-n", HUB, "--system-assigned"],
     lambda out, seen: out["type"] == "None"),
    ("az iot hub delete -n HUB", ["iot", "hub", "delete", "-n", HUB],
     lambda out, seen: out is None),
    ("az group delete -n GROUP --yes", ["group", "delete", "-n", GROUP, "--yes"],
     lambda out, seen: out is None),
    ("az group exists -n GROUP (after the delete)", ["group", "exists", "-n", GROUP],
     lambda out, seen: out is False),
]


@pytest.fixture(scope="module")
def seen():
    """What earlier rows read that later rows compare with (a policy's keys, never printed)."""
    return {}


@pytest.fixture(scope="module")
def in_production(az_env, signed_in):
    az(az_env, "account", "set", "--subscription", PRODUCTION)
    return az_env


@pytest.mark.parametrize("shown, args, check", COMMANDS, ids=[row[0] for row in COMMANDS])
def test_command(in_production, seen, shown, args, check):
    # A row may take what an earlier one read (the hub identity's principal).
    args = args(seen) if callable(args) else args
    result = az(in_production, *args, "--output", "json", check=False)
    assert result.returncode == 0, f"{shown} failed: {result.stderr}"
    out = json.loads(result.stdout) if result.stdout.strip() else None
    passed = check(out, seen)
    if not passed:
        printable = json.dumps(out, indent=1) if out is not None else "nothing"
        if any(field in printable for field in SECRET_FIELDS):
            printable = "(an answer that holds keys; not printed)"
        pytest.fail(f"{shown} answered, but not as Azure would: {printable}")


def test_the_readme_lists_the_commands_run():
    text = README.read_text()
    section = text.split("### Commands the sandbox answers", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `(az [^`]+)` \|", section, flags=re.MULTILINE)
    run = [shown.split(" (")[0] for shown, _, _ in COMMANDS]
    assert listed == list(dict.fromkeys(run)), "the README's table and COMMANDS list different commands"
