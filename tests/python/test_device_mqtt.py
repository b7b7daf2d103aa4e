"""Microsoft's official Python device client (`azure-iot-device`, MQTT 3.1.1 over TLS on 8883,
and over WebSockets on 443) against the sandbox, unmodified: the device's connection string and the sandbox's CA. What it
sends lands on the hub's Event Hub-compatible endpoint, read back by the official
`azure-eventhub`; a wrong key and a disabled device are refused as IoT Hub refuses them, with the
client's own error types. If the client and the sandbox disagree, the sandbox is wrong.
"""

import subprocess
import time
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


def landed_on_endpoint(cloud, built_in_endpoint, run):
    """The event whose application property `run` is `run`, read back from the hub's Event
    Hub-compatible endpoint with the official `azure-eventhub`; None if it never arrived."""
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
    return landed


def disabled_device(cloud, owner_connection_string, prefix):
    """A new device registered disabled (through the registry, with the owner policy); returns
    its connection string."""
    device_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
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
    return f"HostName={cloud['hub_host']};DeviceId={device_id};SharedAccessKey={key}"


@pytest.mark.parametrize("websockets", [False, True], ids=["mqtt-8883", "mqtt-websockets-443"])
def test_the_device_client_sends_over_mqtt_and_the_message_lands(cloud, device_connection_string, built_in_endpoint, websockets):
    run = uuid.uuid4().hex
    client = device_client(cloud, device_connection_string, websockets)
    try:
        client.connect()
        client.send_message(message('{"temperature": 19.5}', run=run))
    finally:
        client.shutdown()
    landed = landed_on_endpoint(cloud, built_in_endpoint, run)
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

    client = device_client(cloud, disabled_device(cloud, owner_connection_string, "mqtt"))
    try:
        with pytest.raises(CredentialError):
            client.connect()
    finally:
        client.shutdown()


class RawMqtt:
    """The Eclipse paho client (which azure-iot-device is built on) used directly, to send what
    IoT Hub refuses and see how the sandbox answers: the CONNACK code, or a closed connection."""

    def __init__(self, cloud, device_connection_string, client_id=None, user_device=None):
        import ssl
        import threading

        import paho.mqtt.client as mqtt
        from azure.iot.device.common.auth.sastoken import RenewableSasToken
        from azure.iot.device.common.auth.signing_mechanism import SymmetricKeySigningMechanism

        key = device_connection_string.split("SharedAccessKey=", 1)[1]
        device = device_connection_string.split("DeviceId=", 1)[1].split(";", 1)[0]
        token = str(RenewableSasToken(f"{cloud['hub_host']}/devices/{device}", SymmetricKeySigningMechanism(key), ttl=300))
        self.client = mqtt.Client(client_id=client_id or device, protocol=mqtt.MQTTv311)
        self.client.username_pw_set(f"{cloud['hub_host']}/{user_device or device}/?api-version=2021-04-12", token)
        context = ssl.create_default_context(cafile=cloud["ca_path"])
        self.client.tls_set_context(context)
        self.device = device
        self.connack = None
        self.closed = threading.Event()
        self.acked = threading.Event()
        self.client.on_connect = lambda c, u, flags, rc: setattr(self, "connack", rc)
        self.client.on_disconnect = lambda c, u, rc: self.closed.set()
        self.client.on_publish = lambda c, u, mid: self.acked.set()
        self.client.connect(cloud["hub_host"], 8883, keepalive=60)
        self.client.loop_start()
        for _ in range(100):
            if self.connack is not None or self.closed.is_set():
                break
            time.sleep(0.05)

    def publish(self, topic, payload, qos=1):
        self.client.publish(topic, payload, qos=qos)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def test_a_token_that_expired_before_connect_is_refused(cloud, device_connection_string):
    """The client takes a token as given (create_from_sastoken refuses one already expired, so
    this one expires two seconds after it is made); the sandbox refuses it at CONNECT."""
    from azure.iot.device import IoTHubDeviceClient
    from azure.iot.device.exceptions import CredentialError

    expiry = int(time.time()) + 2
    token = subprocess.run(
        [HUBSETUP, "sas-token", "--expiry", str(expiry)],
        input=device_connection_string, capture_output=True, text=True, check=True,
    ).stdout.strip()
    with open(cloud["ca_path"]) as ca:
        client = IoTHubDeviceClient.create_from_sastoken(token, server_verification_cert=ca.read(), connection_retry=False)
    # The event awaited is the token's expiry: the clock passing it.
    while time.time() <= expiry + 0.5:
        time.sleep(expiry + 0.6 - time.time())
    try:
        with pytest.raises(CredentialError) as refused:
            client.connect()
    finally:
        client.shutdown()
    assert token.split("sig=", 1)[1].split("&", 1)[0] not in str(refused.value)


def test_a_client_id_other_than_the_device_is_refused_with_its_connack(cloud, device_connection_string):
    raw = RawMqtt(cloud, device_connection_string, client_id="someone-else")
    try:
        assert raw.connack == 4, "a user name for another device than the client ID"
    finally:
        raw.close()


@pytest.mark.parametrize("what", ["qos-2", "foreign-topic", "too-large"])
def test_what_iot_hub_refuses_after_connect_closes_the_connection(cloud, device_connection_string, what):
    raw = RawMqtt(cloud, device_connection_string)
    try:
        assert raw.connack == 0
        events = f"devices/{raw.device}/messages/events/"
        if what == "qos-2":
            raw.publish(events, b"{}", qos=2)
        elif what == "foreign-topic":
            raw.publish("devices/another-device/messages/events/", b"{}")
        else:
            raw.publish(events, b"x" * (256 * 1024 + 1))
        assert raw.closed.wait(10), f"the sandbox kept the connection after {what}"
        assert not raw.acked.is_set(), "nothing refused is acknowledged"
    finally:
        raw.close()


def test_a_publish_is_acknowledged_at_qos_1(cloud, device_connection_string):
    raw = RawMqtt(cloud, device_connection_string)
    try:
        assert raw.connack == 0
        raw.publish(f"devices/{raw.device}/messages/events/%24.ct=application%2Fjson&run=raw", b'{"raw": true}')
        assert raw.acked.wait(10), "no PUBACK"
        assert not raw.closed.is_set()
    finally:
        raw.close()
