"""Microsoft's device SDK for Node (`azure-iot-device` with `azure-iot-device-amqp` and
`azure-iot-device-mqtt` from npm, unmodified; see tests/node/device-send.mjs) against the
sandbox's device endpoints: AMQP on 5671, AMQP over WebSockets on 443, MQTT on 8883 and MQTT
over WebSockets. What it sends lands on the hub's Event Hub-compatible endpoint (read back by
the official `azure-eventhub`); a wrong key, a disabled device and an expired token are refused
as IoT Hub refuses them, with the client's own error types. If the client and the sandbox
disagree, the sandbox is wrong.
"""

import json
import os
import subprocess
import time
import uuid

import pytest

from conftest import DEVICE, HUBSETUP
from test_device_mqtt import disabled_device, landed_on_endpoint
from test_event_hubs import NODE_CLIENTS, built_in_endpoint  # noqa: F401 (fixture)

TRANSPORTS = ["Amqp", "AmqpWs", "Mqtt", "MqttWs"]


def node_device_send(cloud, transport, credentials, run=""):
    """Sends one message with Node's device client over `transport`; returns what it printed:
    {"sent": True, "messageId": …} or {"error": <error type>, "message": …}."""
    env = {
        **os.environ,
        "HUBSETUP_SANDBOX_SUFFIX": cloud["suffix"],
        "HUBSETUP_SANDBOX_LOOPBACK": cloud["loopback"],
        "HUBSETUP_SANDBOX_PORTS": json.dumps(cloud["loopback_ports"]),
        "NODE_EXTRA_CA_CERTS": cloud["ca_path"],
    }
    result = subprocess.run(
        ["node", str(NODE_CLIENTS / "device-send.mjs"), transport, run],
        input=credentials, capture_output=True, text=True, env=env, cwd=NODE_CLIENTS, timeout=90,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def secrets_of(credentials):
    """The parts of a connection string or token that must never be shown."""
    return [
        part.split("=", 1)[1] for part in credentials.replace("&", ";").split(";")
        if part.startswith(("SharedAccessKey=", "sig="))
    ]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_nodes_device_client_sends_and_the_message_lands(cloud, device_connection_string, built_in_endpoint, transport):
    run = uuid.uuid4().hex
    sent = node_device_send(cloud, transport, device_connection_string, run)
    assert sent.get("sent") is True, sent
    landed = landed_on_endpoint(cloud, built_in_endpoint, run)
    assert landed is not None, f"the message sent over {transport} never arrived on the endpoint"
    assert landed.body_as_json() == {"temperature": 20.5}
    assert landed.system_properties[b"iothub-connection-device-id"] == DEVICE.encode()
    assert landed.system_properties[b"content-type"] == b"application/json"
    assert landed.system_properties[b"message-id"] == sent["messageId"].encode()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_wrong_key_is_refused_with_nodes_unauthorized_error(cloud, device_connection_string, transport):
    key = device_connection_string.split("SharedAccessKey=", 1)[1]
    wrong = device_connection_string.replace(key, "A" * 43 + "=")
    refused = node_device_send(cloud, transport, wrong)
    assert refused["error"] == "UnauthorizedError", refused
    assert key not in json.dumps(refused)
    if transport.startswith("Amqp"):
        # The $cbs reply's description, as the sandbox words it.
        assert "The specified SAS token has an invalid signature" in refused["message"], refused


@pytest.mark.parametrize("transport,error", [
    ("Amqp", "DeviceNotFoundError"),
    ("AmqpWs", "DeviceNotFoundError"),
    # MQTT refuses a disabled device with CONNACK 5, which Node's MQTT transport calls this.
    ("Mqtt", "UnauthorizedError"),
    ("MqttWs", "UnauthorizedError"),
])
def test_a_disabled_device_is_refused_with_nodes_error(cloud, owner_connection_string, transport, error):
    refused = node_device_send(cloud, transport, disabled_device(cloud, owner_connection_string, "node"))
    assert refused["error"] == error, refused


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_expired_token_is_refused_with_nodes_unauthorized_error(cloud, device_connection_string, transport):
    token = subprocess.run(
        [HUBSETUP, "sas-token", "--expiry", str(int(time.time()) - 60)],
        input=device_connection_string, capture_output=True, text=True, check=True,
    ).stdout.strip()
    refused = node_device_send(cloud, transport, token)
    assert refused["error"] == "UnauthorizedError", refused
    for secret in secrets_of(token):
        assert secret not in json.dumps(refused)
    if transport.startswith("Amqp"):
        assert "The specified SAS token is expired." in refused["message"], refused


@pytest.mark.parametrize("status,error", [
    (413, "MessageTooLargeError"),
    (403, "IotHubQuotaExceededError"),
    (500, "InternalServerError"),
])
def test_a_fault_for_the_devices_messages_reaches_amqp_as_iot_hubs_condition(cloud, device_connection_string, status, error):
    """A fault rule for the hub's `/devices/` paths (the sandbox's control endpoint) rejects the
    next AMQP transfer with the condition IoT Hub uses, which Node turns into its own error."""
    import requests

    control = f"https://control.{cloud['suffix']}/faults"
    rule = {"host": cloud["hub_host"], "path_prefix": "/devices/", "fault": {"kind": "status", "status": status, "count": 1}}
    assert requests.post(control, json=rule).status_code == 204
    try:
        refused = node_device_send(cloud, "Amqp", device_connection_string)
    finally:
        requests.delete(control)
    assert refused["error"] == error, refused
