"""Microsoft's official IoT clients against the sandbox.

The sandbox is our test oracle, so clients that no one here wrote check it: the official
`azure-iot-hub` registry manager creates and reads a device, and a SAS token made by the
official `azure-iot-device` package is accepted by the sandbox's device-to-cloud endpoint while
a tampered one is refused. If an official client and the sandbox disagree, the sandbox is wrong.

Needs HUBSETUP_BIN (the built `hubsetup` binary); `cargo xtask test` sets it.
"""

import base64
import json
import os
import socket
import subprocess
import time
import uuid

import pytest
import requests

CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
PRODUCTION = "11111111-1111-4111-8111-111111111111"
HUB = "contoso-plant-hub"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    state = tmp_path_factory.mktemp("sandbox")
    process = subprocess.Popen(
        [os.environ["HUBSETUP_BIN"], "sandbox", "--json", "--state-dir", str(state), "--provisioning-seconds", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    description = json.loads(process.stdout.readline())
    address, port = description["loopback"].rsplit(":", 1)
    suffix = description["login_endpoint"].split("://login.", 1)[1]
    real_getaddrinfo = socket.getaddrinfo

    # The sandbox's hosts live on loopback; resolve them there, as the Rust clients do.
    def sandbox_getaddrinfo(host, service, *args, **kwargs):
        if isinstance(host, str) and host.endswith("." + suffix):
            return real_getaddrinfo(address, int(port), *args, **kwargs)
        return real_getaddrinfo(host, service, *args, **kwargs)

    socket.getaddrinfo = sandbox_getaddrinfo
    os.environ["REQUESTS_CA_BUNDLE"] = description["ca_path"]
    description["hub_host"] = f"{HUB}.{description['iot_hub_suffix']}"
    yield description
    socket.getaddrinfo = real_getaddrinfo
    process.terminate()
    process.wait(timeout=10)


def arm_token(cloud):
    login = f"{cloud['login_endpoint']}/organizations/oauth2/v2.0"
    scope = f"{cloud['arm_endpoint']}/.default offline_access"
    code = requests.post(f"{login}/devicecode", data={"client_id": CLIENT_ID, "scope": scope}).json()
    for _ in range(20):
        time.sleep(code["interval"])
        answer = requests.post(
            f"{login}/token",
            data={
                "client_id": CLIENT_ID,
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": code["device_code"],
            },
        )
        if answer.status_code == 200:
            return answer.json()["access_token"]
        assert answer.json()["error"] == "authorization_pending", answer.text
    pytest.fail("device code sign-in never finished")


@pytest.fixture(scope="module")
def owner_connection_string(cloud):
    hub = f"/subscriptions/{PRODUCTION}/resourceGroups/contoso-iot/providers/Microsoft.Devices/IotHubs/{HUB}"
    keys = requests.post(
        f"{cloud['arm_endpoint']}{hub}/listkeys?api-version=2023-06-30",
        headers={"Authorization": f"Bearer {arm_token(cloud)}"},
    )
    assert keys.status_code == 200, keys.text
    owner = next(k for k in keys.json()["value"] if k["keyName"] == "iothubowner")
    return f"HostName={cloud['hub_host']};SharedAccessKeyName=iothubowner;SharedAccessKey={owner['primaryKey']}"


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
    assert created.authentication.symmetric_key.primary_key == primary

    fetched = registry.get_device(device_id)
    assert fetched.etag == created.etag
    assert fetched.authentication.symmetric_key.secondary_key == secondary

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
