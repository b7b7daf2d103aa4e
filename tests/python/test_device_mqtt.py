"""Microsoft's official Python device client (`azure-iot-device`, MQTT 3.1.1 over TLS on 8883,
and over WebSockets on 443) against the sandbox, unmodified: the device's connection string and the sandbox's CA. What it
sends lands on the hub's Event Hub-compatible endpoint, read back by the official
`azure-eventhub`; a wrong key and a disabled device are refused as IoT Hub refuses them, with the
client's own error types. If the client and the sandbox disagree, the sandbox is wrong.
"""

import subprocess
import uuid

import pytest
import requests

from conftest import DEVICE, HUBSETUP
from test_event_hubs import built_in_endpoint, consumer, receive_until  # noqa: F401 (fixture)


def device_client(cloud, connection_string, websockets=False):
    from azure.iot.device import IoTHubDeviceClient

    with open(cloud["ca_path"]) as ca:
        return IoTHubDeviceClient.create_from_connection_string(
            connection_string, server_verification_cert=ca.read(), connection_retry=False, websockets=websockets,
        )


def message(body, **properties):
    from azure.iot.device import Message

    sent = Message(body, message_id=uuid.uuid4().hex, content_encoding="utf-8", content_type="application/json")
    sent.custom_properties.update(properties)
    return sent


@pytest.mark.parametrize("websockets", [False, True], ids=["mqtt-8883", "mqtt-websockets-443"])
def test_the_device_client_sends_over_mqtt_and_the_message_lands(cloud, device_connection_string, built_in_endpoint, websockets):
    run = uuid.uuid4().hex
    client = device_client(cloud, device_connection_string, websockets)
    try:
        client.connect()
        client.send_message(message('{"temperature": 19.5}', run=run))
    finally:
        client.shutdown()
    reader = consumer(cloud, built_in_endpoint["connection_string"])
    landed = None
    for partition in reader.get_partition_ids():
        landed = receive_until(
            consumer(cloud, built_in_endpoint["connection_string"]),
            lambda e: e.properties.get(b"run") == run.encode(), partition, starting_position="-1",
        ) if not reader.get_partition_properties(partition)["is_empty"] else None
        if landed:
            break
    reader.close()
    assert landed is not None, "the message sent over MQTT never arrived on the endpoint"
    assert landed.body_as_json() == {"temperature": 19.5}
    assert landed.system_properties[b"iothub-connection-device-id"] == DEVICE.encode()
    assert landed.system_properties[b"content-type"] == b"application/json"


def test_a_wrong_key_is_refused_as_iot_hub_refuses_it(cloud, device_connection_string):
    from azure.iot.device.exceptions import CredentialError

    key = device_connection_string.split("SharedAccessKey=", 1)[1]
    wrong = device_connection_string.replace(key, "A" * 43 + "=")
    client = device_client(cloud, wrong)
    try:
        with pytest.raises(CredentialError) as refused:
            client.connect()
    finally:
        client.shutdown()
    assert key not in str(refused.value)


def test_a_disabled_device_is_refused(cloud, owner_connection_string):
    from azure.iot.device.exceptions import CredentialError

    device_id = f"mqtt-{uuid.uuid4().hex[:8]}"
    token = subprocess.run(
        [HUBSETUP, "sas-token", "--resource", cloud["hub_host"]],
        input=owner_connection_string, capture_output=True, text=True, check=True,
    ).stdout.strip()
    created = requests.put(
        f"https://{cloud['hub_host']}/devices/{device_id}?api-version=2021-04-12",
        headers={"Authorization": token},
        json={"deviceId": device_id, "status": "disabled"},
    )
    assert created.status_code == 200, created.text
    key = created.json()["authentication"]["symmetricKey"]["primaryKey"]
    client = device_client(cloud, f"HostName={cloud['hub_host']};DeviceId={device_id};SharedAccessKey={key}")
    try:
        with pytest.raises(CredentialError):
            client.connect()
    finally:
        client.shutdown()
