"""The sandbox's storage accounts, checked by Microsoft's own clients from PyPI, unmodified: the
management SDK (`azure-mgmt-storage`) creates and reads them through the sandbox's ARM, and the
Blob client (`azure-storage-blob`) writes and reads their data, which Azurite, Microsoft's
Storage emulator, keeps behind the sandbox's `{account}.blob.core.{suffix}` hosts.
"""

import uuid

import pytest
from conftest import DEV_TEST, management_client

GROUP = "contoso-iot"


@pytest.fixture(scope="module")
def storage(cloud):
    if not cloud.get("storage"):
        pytest.fail("the sandbox runs without Azurite: set HUBSETUP_AZURITE (cargo xtask test does)")
    from azure.mgmt.storage import StorageManagementClient

    return management_client(StorageManagementClient, cloud)


def new_name():
    return "contoso" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def account(storage):
    """A StorageV2 account made as the "Keep the data" step makes one."""
    from azure.mgmt.storage.models import Sku, StorageAccountCreateParameters

    name = new_name()
    created = storage.storage_accounts.begin_create(
        GROUP,
        name,
        StorageAccountCreateParameters(
            sku=Sku(name="Standard_LRS"),
            kind="StorageV2",
            location="westeurope",
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_blob_public_access=False,
        ),
    ).result()
    return created


def test_names_are_checked_in_azures_words(storage, account):
    invalid = storage.storage_accounts.check_name_availability({"name": "Contoso-Data", "type": "Microsoft.Storage/storageAccounts"})
    assert (invalid.name_available, invalid.reason) == (False, "AccountNameInvalid")
    assert invalid.message == "Contoso-Data is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."
    taken = storage.storage_accounts.check_name_availability({"name": account.name, "type": "Microsoft.Storage/storageAccounts"})
    assert (taken.name_available, taken.reason) == (False, "AlreadyExists")
    assert taken.message == f"The storage account named {account.name} is already taken."
    assert storage.storage_accounts.check_name_availability({"name": new_name(), "type": "Microsoft.Storage/storageAccounts"}).name_available


def test_an_account_is_created_with_the_settings_asked_for(storage, account, cloud):
    shown = storage.storage_accounts.get_properties(GROUP, account.name)
    assert shown.provisioning_state == "Succeeded"
    assert (shown.sku.name, shown.kind, shown.location) == ("Standard_LRS", "StorageV2", "westeurope")
    assert (shown.enable_https_traffic_only, shown.minimum_tls_version, shown.allow_blob_public_access) == (True, "TLS1_2", False)
    assert shown.primary_endpoints.blob == f"https://{account.name}.blob.core.{cloud['suffix']}/"
    assert shown.network_rule_set.default_action == "Allow"
    assert account.name in [a.name for a in storage.storage_accounts.list_by_resource_group(GROUP)]


def test_a_name_taken_in_another_subscription_is_refused_in_azures_words(cloud, account):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.storage import StorageManagementClient
    from azure.mgmt.storage.models import Sku, StorageAccountCreateParameters

    elsewhere = management_client(StorageManagementClient, cloud, subscription=DEV_TEST)
    with pytest.raises(HttpResponseError) as refused:
        elsewhere.storage_accounts.begin_create(
            "contoso-dev", account.name,
            StorageAccountCreateParameters(sku=Sku(name="Standard_LRS"), kind="StorageV2", location="westeurope"),
        ).result()
    assert refused.value.status_code == 409
    assert refused.value.error.code == "StorageAccountAlreadyTaken"
    assert refused.value.error.message == f"The storage account named {account.name} is already taken."


def blob_client(cloud, account, key):
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient(
        f"https://{account.name}.blob.core.{cloud['suffix']}",
        credential={"account_name": account.name, "account_key": key},
    )


def test_containers_made_through_arm_hold_what_the_blob_client_writes(storage, account, cloud):
    made = storage.blob_containers.create(GROUP, account.name, "telemetry", {})
    assert made.name == "telemetry"
    # The result is a mapping, whose .keys is the mapping's own method.
    keys = storage.storage_accounts.list_keys(GROUP, account.name)["keys"]
    assert [k.key_name for k in keys] == ["key1", "key2"]
    service = blob_client(cloud, account, keys[1].value)
    assert "telemetry" in [c.name for c in service.list_containers()]
    container = service.get_container_client("telemetry")
    container.upload_blob("plant/0/2026/12/07/15/04", b'{"temperature": 21.5}')
    assert [b.name for b in container.list_blobs()] == ["plant/0/2026/12/07/15/04"]
    assert container.download_blob("plant/0/2026/12/07/15/04").readall() == b'{"temperature": 21.5}'


def test_a_wrong_key_is_refused_by_the_emulator_and_a_regenerated_one_works(storage, account, cloud):
    from azure.core.exceptions import HttpResponseError

    old = storage.storage_accounts.list_keys(GROUP, account.name)["keys"][0].value
    storage.storage_accounts.regenerate_key(GROUP, account.name, {"keyName": "key1"})
    new = storage.storage_accounts.list_keys(GROUP, account.name)["keys"][0].value
    assert new != old
    # Azure and Azurite refuse a bad signature with 403 (their words differ).
    with pytest.raises(HttpResponseError) as refused:
        list(blob_client(cloud, account, old).list_containers())
    assert refused.value.status_code == 403
    assert "telemetry" in [c.name for c in blob_client(cloud, account, new).list_containers()]
