"""`hubsetup provision --keep-data` against the sandbox, checked with Microsoft's clients: the
CLI makes the storage account, container, the hub's identity and role, and a route per device;
then a device's message is found in its own folder by Microsoft's Blob client, written by the
hub as its managed identity.
"""

import json
import subprocess
import time
import uuid

import pytest
import requests
from conftest import DEVICE, HUB, HUBSETUP, PRODUCTION, management_client, update_hub

GROUP = "contoso-iot"


@pytest.fixture(scope="module")
def kept(cloud, tmp_path_factory):
    """The CLI's run, and the hub's routing put back afterwards."""
    if not cloud.get("storage"):
        pytest.fail("the sandbox runs without Azurite: set HUBSETUP_AZURITE (cargo xtask test does)")
    from azure.mgmt.iothub import IotHubClient

    account = "kept" + uuid.uuid4().hex[:12]
    records = tmp_path_factory.mktemp("records")
    result = subprocess.run(
        [HUBSETUP, "provision", "--sandbox", cloud["description_file"], "--method", "device-code",
         "--subscription", PRODUCTION, "--existing-hub", HUB, "--device", DEVICE,
         "--keep-data", account, "--batch-seconds", "60", "--wait-stored", "--json",
         "--az-commands", str(records / "commands.sh"), "--arm-template", str(records / "template.json"),
         "--terraform", str(records / "main.tf")],
        capture_output=True, text=True, timeout=180,
    )
    yield account, result, records
    iothub = management_client(IotHubClient, cloud)
    hub = iothub.iot_hub_resource.get(GROUP, HUB)
    hub.properties.routing.endpoints.storage_containers = []
    hub.properties.routing.routes = []
    update_hub(iothub, GROUP, hub)


def test_the_cli_reports_what_it_set_up(kept):
    account, result, _ = kept
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["keep_data"]
    assert (report["account"], report["container"], report["authentication"]) == (account, "iot-data", "identity")
    assert report["routes"] == [f"store-{DEVICE}", "hubsetup-built-in"]
    assert "AccountKey" not in result.stdout + result.stderr


def test_the_stored_stage_finds_the_live_tests_message_in_its_streams_folder(kept):
    _, result, _ = kept
    assert result.returncode == 0, result.stderr
    stored = json.loads(result.stdout)["keep_data"]["stored"]
    assert stored["blob"].startswith(f"iot-data/{DEVICE}/{HUB}/"), stored
    # The sandbox's routing clock runs 60 times faster: a 60-second batch is written after one.
    assert 0 < stored["after_secs"] < 60


def test_the_records_hold_the_storage_and_routes(kept):
    account, result, records = kept
    assert result.returncode == 0, result.stderr
    commands = (records / "commands.sh").read_text()
    assert f"az storage account create --name {account} --resource-group {GROUP} --location westeurope" in commands
    assert f"--endpoint-name store-{DEVICE} --container-name iot-data --encoding json --batch-frequency 60" in commands
    template = json.loads((records / "template.json").read_text())
    types = [r["type"] for r in template["resources"]]
    assert {"Microsoft.Storage/storageAccounts", "Microsoft.Storage/storageAccounts/blobServices/containers",
            "Microsoft.Authorization/roleAssignments"} <= set(types)
    assert template["resources"][0]["identity"] == {"type": "SystemAssigned"}
    assert [r["name"] for r in template["resources"][0]["properties"]["routing"]["routes"]] == [f"store-{DEVICE}", "hubsetup-built-in"]


def test_the_terraform_configuration_parses_and_holds_everything_made(kept):
    import hcl2

    account, result, records = kept
    assert result.returncode == 0, result.stderr
    with open(records / "main.tf") as file:
        config = hcl2.load(file)
    # python-hcl2 keeps the quotes of labels and strings.
    unquoted = lambda value: value.strip('"') if isinstance(value, str) else value
    resources = {}
    for block in config["resource"]:
        for kind, named in block.items():
            for label, body in named.items():
                resources[(unquoted(kind), unquoted(label))] = body
    assert unquoted(resources[("azurerm_iothub", "hub")]["name"]) == HUB
    assert unquoted(resources[("azurerm_iothub", "hub")]["identity"][0]["type"]) == "SystemAssigned"
    assert unquoted(resources[("azurerm_storage_account", "data")]["name"]) == account
    assert unquoted(resources[("azurerm_storage_account", "data")]["min_tls_version"]) == "TLS1_2"
    assert unquoted(resources[("azurerm_role_assignment", "hub_writes_data")]["role_definition_name"]) == "Storage Blob Data Contributor"
    endpoint = resources[("azurerm_iothub_endpoint_storage_container", "store_0")]
    assert unquoted(endpoint["file_name_format"]) == DEVICE + "/{iothub}/{partition}/{YYYY}/{MM}/{DD}/{HH}/{mm}"
    assert unquoted(resources[("azurerm_iothub_route", "store_0")]["condition"]) == f"$connectionDeviceId = '{DEVICE}'"
    assert ("azurerm_iothub_route", "built_in") in resources


def test_a_devices_message_lands_in_its_own_folder(kept, cloud, device_connection_string):
    from azure.iot.device.common.auth.sastoken import RenewableSasToken
    from azure.iot.device.common.auth.signing_mechanism import SymmetricKeySigningMechanism
    from azure.mgmt.storage import StorageManagementClient
    from azure.storage.blob import BlobServiceClient

    account, result, _ = kept
    assert result.returncode == 0, result.stderr
    key = device_connection_string.split("SharedAccessKey=", 1)[1]
    token = str(RenewableSasToken(f"{cloud['hub_host']}/devices/{DEVICE}", SymmetricKeySigningMechanism(key), ttl=300))
    message_id = "kept-" + uuid.uuid4().hex[:8]
    sent = requests.post(
        f"https://{cloud['hub_host']}/devices/{DEVICE}/messages/events?api-version=2021-04-12",
        headers={"Authorization": token, "iothub-contenttype": "application/json", "iothub-contentencoding": "utf-8",
                 "iothub-messageid": message_id},
        data=b'{"temperature": 20.5}',
    )
    assert sent.status_code == 204, sent.text

    storage = management_client(StorageManagementClient, cloud)
    account_key = storage.storage_accounts.list_keys(GROUP, account)["keys"][0].value
    container = BlobServiceClient(
        f"https://{account}.blob.core.{cloud['suffix']}", credential={"account_name": account, "account_key": account_key}
    ).get_container_client("iot-data")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        names = [b.name for b in container.list_blobs(name_starts_with=f"{DEVICE}/{HUB}/")]
        records = [json.loads(line) for name in names for line in container.download_blob(name).readall().decode().splitlines()]
        found = [r for r in records if r["SystemProperties"].get("messageId") == message_id]
        if found:
            break
        time.sleep(0.5)
    assert found, "the message never reached storage"
    assert found[0]["Body"] == {"temperature": 20.5}


def provision_keeping(cloud, *keep_args):
    return subprocess.run(
        [HUBSETUP, "provision", "--sandbox", cloud["description_file"], "--method", "device-code",
         "--subscription", PRODUCTION, "--existing-hub", HUB, "--device", DEVICE, *keep_args],
        capture_output=True, text=True, timeout=180,
    )


def test_an_invalid_account_name_is_refused_in_azures_words(kept, cloud):
    refused = provision_keeping(cloud, "--keep-data", "Plant-Data")
    assert refused.returncode == 2, refused.stderr
    assert ("Plant-Data is not a valid storage account name. Storage account name must be between 3 and 24 characters "
            "in length and use numbers and lower-case letters only. Choose another name for the storage account.") in refused.stderr


def test_a_firewall_is_opened_to_the_hub_only_with_consent(kept, cloud):
    from azure.mgmt.storage import StorageManagementClient

    account, result, _ = kept
    assert result.returncode == 0, result.stderr
    storage = management_client(StorageManagementClient, cloud)
    storage.storage_accounts.update(GROUP, account, {"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "None"}}})
    refused = provision_keeping(cloud, "--keep-data", account)
    assert refused.returncode == 2, refused.stderr
    assert f"The firewall of storage account '{account}' denies access by default" in refused.stderr
    assert "--fix-storage-firewall" in refused.stderr
    assert storage.storage_accounts.get_properties(GROUP, account).network_rule_set.bypass == "None"

    fixed = provision_keeping(cloud, "--keep-data", account, "--fix-storage-firewall")
    assert fixed.returncode == 0, fixed.stderr
    rules = storage.storage_accounts.get_properties(GROUP, account).network_rule_set
    assert (rules.default_action, rules.bypass) == ("Deny", "AzureServices")
