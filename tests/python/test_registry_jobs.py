"""A hub's device identities imported from and exported to a blob container, as Microsoft's
management SDK (`azure-mgmt-iothub`) asks for it, with container URIs that carry a shared
access signature made by Microsoft's Blob client (`azure-storage-blob`); Azurite, Microsoft's
Storage emulator, holds the blobs and checks the signatures. Both packages are from PyPI,
unmodified.
"""

import datetime
import json
import time
import uuid

import pytest
from conftest import management_client

GROUP = "contoso-iot"
KEY = "pTHrxa2XtoobScl7sb2UrA1Ab9ULTuOUzyT3rdq2Ch0="


@pytest.fixture(scope="module")
def iothub(cloud):
    from azure.mgmt.iothub import IotHubClient

    return management_client(IotHubClient, cloud)


@pytest.fixture(scope="module")
def hub(iothub):
    from azure.mgmt.iothub.models import IotHubDescription, IotHubSkuInfo

    name = f"jobs-{uuid.uuid4().hex[:8]}"
    iothub.iot_hub_resource.begin_create_or_update(
        GROUP, name, IotHubDescription(location="westeurope", sku=IotHubSkuInfo(name="S1", capacity=1))).result()
    yield name
    iothub.iot_hub_resource.begin_delete(GROUP, name).result()


@pytest.fixture(scope="module")
def container(cloud):
    """A container in a new account, its Blob client, and its URI with a SAS that reads,
    writes and lists, as an admin would make one for the job."""
    if not cloud.get("storage"):
        pytest.fail("the sandbox runs without Azurite: set HUBSETUP_AZURITE (cargo xtask test does)")
    from azure.mgmt.storage import StorageManagementClient
    from azure.mgmt.storage.models import Sku, StorageAccountCreateParameters
    from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

    storage = management_client(StorageManagementClient, cloud)
    account = "jobs" + uuid.uuid4().hex[:12]
    storage.storage_accounts.begin_create(
        GROUP, account, StorageAccountCreateParameters(sku=Sku(name="Standard_LRS"), kind="StorageV2", location="westeurope")).result()
    key = storage.storage_accounts.list_keys(GROUP, account)["keys"][0]["value"]
    url = f"https://{account}.blob.core.{cloud['suffix']}"
    blobs = BlobServiceClient(url, credential={"account_name": account, "account_key": key}).get_container_client("registry")
    blobs.create_container()
    sas = generate_container_sas(account, "registry", account_key=key,
                                 permission=ContainerSasPermissions(read=True, write=True, list=True),
                                 expiry=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
    return blobs, f"{url}/registry?{sas}"


def finished(iothub, hub, job):
    """The job once it has completed or failed, as a script follows it."""
    for _ in range(400):
        shown = iothub.iot_hub_resource.get_job(GROUP, hub, job.job_id)
        if shown.status in ("completed", "failed"):
            return shown
        time.sleep(0.05)
    pytest.fail(f"job {job.job_id} still {shown.status}")


def lines(blobs, name):
    return [json.loads(line) for line in blobs.download_blob(name).readall().decode().splitlines() if line]


def test_devices_are_imported_and_the_failed_lines_logged(iothub, hub, container):
    from azure.mgmt.iothub.models import ImportDevicesRequest

    blobs, uri = container
    wanted = [
        {"id": "sensor-1", "importMode": "create", "status": "enabled",
         "authentication": {"type": "sas", "symmetricKey": {"primaryKey": KEY, "secondaryKey": KEY}}},
        {"id": "sensor-2", "importMode": "createOrUpdate", "status": "disabled", "properties": {"desired": {"interval": 60}}},
        {"id": "ghost", "importMode": "update"},
    ]
    blobs.upload_blob("import.txt", "\n".join(json.dumps(d) for d in wanted), overwrite=True)
    job = iothub.iot_hub_resource.import_devices(GROUP, hub, ImportDevicesRequest(
        input_blob_container_uri=uri, output_blob_container_uri=uri, input_blob_name="import.txt"))
    assert (job.type, job.status) == ("import", "enqueued")
    done = finished(iothub, hub, job)
    assert done.status == "completed", done.failure_reason
    assert lines(blobs, "importErrors.log") == [{"id": "ghost", "errorCode": "DeviceNotFound", "errorStatus": "Device ghost not registered"}]
    assert job.job_id in [j.job_id for j in iothub.iot_hub_resource.list_jobs(GROUP, hub)]


def test_the_registry_is_exported_with_keys_or_without(iothub, hub, container):
    from azure.mgmt.iothub.models import ExportDevicesRequest

    blobs, uri = container
    done = finished(iothub, hub, iothub.iot_hub_resource.export_devices(GROUP, hub, ExportDevicesRequest(
        export_blob_container_uri=uri, exclude_keys=False)))
    assert (done.type, done.status) == ("export", "completed")
    exported = {d["id"]: d for d in lines(blobs, "devices.txt")}
    assert sorted(exported) == ["sensor-1", "sensor-2"]
    assert exported["sensor-1"]["authentication"]["symmetricKey"]["primaryKey"] == KEY
    assert exported["sensor-2"]["status"] == "disabled"
    assert exported["sensor-2"]["properties"]["desired"]["interval"] == 60

    finished(iothub, hub, iothub.iot_hub_resource.export_devices(GROUP, hub, ExportDevicesRequest(
        export_blob_container_uri=uri, exclude_keys=True, export_blob_name="keyless.txt")))
    keyless = lines(blobs, "keyless.txt")
    assert [d["authentication"]["symmetricKey"] for d in keyless] == [{"primaryKey": None, "secondaryKey": None}] * 2
    assert KEY not in blobs.download_blob("keyless.txt").readall().decode()


def test_a_signature_that_does_not_hold_fails_the_job_with_what_to_check(iothub, hub, container):
    from azure.mgmt.iothub.models import ExportDevicesRequest

    _, uri = container
    forged = uri.replace("sig=", "sig=AAAA")
    done = finished(iothub, hub, iothub.iot_hub_resource.export_devices(GROUP, hub, ExportDevicesRequest(
        export_blob_container_uri=forged, exclude_keys=True)))
    assert done.status == "failed"
    assert done.failure_reason.startswith("The job could not write blob 'devices.txt' in container 'registry' of storage account ")
    assert "AuthorizationFailure (403). Check that the container exists and that the URI's shared access signature is valid and allows writing." in done.failure_reason


def test_a_uri_outside_the_cloud_is_refused_in_words(iothub, hub):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.iothub.models import ExportDevicesRequest

    with pytest.raises(HttpResponseError) as refused:
        iothub.iot_hub_resource.export_devices(GROUP, hub, ExportDevicesRequest(
            export_blob_container_uri="https://example.com/registry?sig=x", exclude_keys=True))
    assert refused.value.status_code == 400
    assert refused.value.error.message == ("The exportBlobContainerUri is not a blob container URI with a shared access "
                                           "signature: 'example.com' is not a blob endpoint of this cloud.")
