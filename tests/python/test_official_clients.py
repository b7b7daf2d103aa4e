"""Microsoft's official IoT clients against the sandbox.

The sandbox is our test oracle, so clients that no one here wrote check it: the official
`azure-iot-hub` registry manager creates and reads a device, and a SAS token made by the
official `azure-iot-device` package is accepted by the sandbox's device-to-cloud endpoint while
a tampered one is refused. If an official client and the sandbox disagree, the sandbox is wrong.

The sandbox and its clients come from conftest.py.
"""

import base64
import os
import uuid

import pytest
import requests


def new_key():
    return base64.b64encode(os.urandom(32)).decode()


def test_registry_manager_creates_and_reads_a_device(owner_connection_string):
    from azure.iot.hub import IoTHubRegistryManager
    from msrest.exceptions import HttpOperationError

    registry = IoTHubRegistryManager.from_connection_string(owner_connection_string)
    device_id = f"py-{uuid.uuid4().hex[:8]}"
    primary, secondary = new_key(), new_key()
    created = registry.create_device_with_sas(device_id, primary, secondary, "enabled")
    assert created.device_id == device_id
    assert created.status == "enabled"
    kept = created.authentication.symmetric_key.primary_key == primary  # never printed
    assert kept, "the registry did not keep the primary key given"

    fetched = registry.get_device(device_id)
    assert fetched.etag == created.etag
    kept = fetched.authentication.symmetric_key.secondary_key == secondary
    assert kept, "the registry did not give the secondary key back"

    with pytest.raises(HttpOperationError) as duplicate:
        registry.create_device_with_sas(device_id, new_key(), new_key(), "enabled")
    assert duplicate.value.response.status_code == 409
    assert duplicate.value.response.headers["iothub-errorcode"] == "DeviceAlreadyExists"


def test_device_sdk_token_is_accepted_and_a_tampered_one_refused(cloud, owner_connection_string):
    from azure.iot.device.common.auth.sastoken import RenewableSasToken
    from azure.iot.device.common.auth.signing_mechanism import SymmetricKeySigningMechanism
    from azure.iot.hub import IoTHubRegistryManager

    device_id = f"py-d2c-{uuid.uuid4().hex[:8]}"
    primary = new_key()
    IoTHubRegistryManager.from_connection_string(owner_connection_string).create_device_with_sas(
        device_id, primary, new_key(), "enabled"
    )
    token = str(RenewableSasToken(f"{cloud['hub_host']}/devices/{device_id}", SymmetricKeySigningMechanism(primary), ttl=300))
    url = f"https://{cloud['hub_host']}/devices/{device_id}/messages/events?api-version=2021-04-12"

    def send(authorization):
        return requests.post(url, headers={"Authorization": authorization, "Content-Type": "application/json"}, data=b'{"from":"python"}')

    accepted = send(token)
    assert accepted.status_code == 204, accepted.text

    signature = token.split("sig=", 1)[1].split("&", 1)[0]
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    refused = send(token.replace(signature, flipped))
    assert refused.status_code == 401
    assert refused.headers["iothub-errorcode"] == "IotHubUnauthorizedAccess"
    assert refused.json()["Message"].startswith("ErrorCode:IotHubUnauthorizedAccess;")
