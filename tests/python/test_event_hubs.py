"""Microsoft's official `azure-eventhub` client (pure-Python AMQP) against the sandbox's
Event Hub-compatible endpoint, unmodified: the connection string Azure shows for the built-in
endpoint, the sandbox's CA, its own properties and partition calls, and receiving what a device
sent over HTTPS with the annotations Azure's tools read. If it and the sandbox disagree, the
sandbox is wrong.
"""

import json
import os
import pathlib
import subprocess
import threading
import time
import uuid

import pytest
import requests

from conftest import DEVICE, HUB, HUBSETUP, PRODUCTION, arm_token

NODE_CLIENTS = pathlib.Path(__file__).resolve().parents[1] / "node"
HUB_ID = f"/subscriptions/{PRODUCTION}/resourceGroups/contoso-iot/providers/Microsoft.Devices/IotHubs/{HUB}"


@pytest.fixture(scope="module")
def built_in_endpoint(cloud):
    """The hub's Event Hub-compatible endpoint as the portal's "Built-in endpoints" page gives
    it: endpoint, entity path, and the `service` policy's connection string for it."""
    headers = {"Authorization": f"Bearer {arm_token(cloud)}"}
    hub = requests.get(f"{cloud['arm_endpoint']}{HUB_ID}?api-version=2023-06-30", headers=headers).json()
    events = hub["properties"]["eventHubEndpoints"]["events"]
    keys = requests.post(f"{cloud['arm_endpoint']}{HUB_ID}/listkeys?api-version=2023-06-30", headers=headers).json()["value"]
    service = next(k for k in keys if k["keyName"] == "service")
    events["connection_string"] = (
        f"Endpoint={events['endpoint']};SharedAccessKeyName=service;"
        f"SharedAccessKey={service['primaryKey']};EntityPath={events['path']}"
    )
    return events


def consumer(cloud, connection_string, group="$Default", **options):
    from azure.eventhub import EventHubConsumerClient

    return EventHubConsumerClient.from_connection_string(
        connection_string, consumer_group=group, connection_verify=cloud["ca_path"], **options
    )


def send_from_device(cloud, device_connection_string, body, properties):
    from azure.iot.device.common.auth.sastoken import RenewableSasToken
    from azure.iot.device.common.auth.signing_mechanism import SymmetricKeySigningMechanism

    key = device_connection_string.split("SharedAccessKey=", 1)[1]
    token = str(RenewableSasToken(f"{cloud['hub_host']}/devices/{DEVICE}", SymmetricKeySigningMechanism(key), ttl=300))
    headers = {"Authorization": token, "Content-Type": "application/json", "iothub-contenttype": "application/json"}
    headers.update({f"iothub-app-{name}": value for name, value in properties.items()})
    sent = requests.post(
        f"https://{cloud['hub_host']}/devices/{DEVICE}/messages/events?api-version=2021-04-12",
        headers=headers, data=body,
    )
    assert sent.status_code == 204, sent.text


def receive_until(client, wanted, partition_id, **kwargs):
    """Receives on one partition until `wanted(event)` holds or 20 s pass; returns the event."""
    found = []
    done = threading.Event()

    def on_event(context, event):
        if event is not None and wanted(event):
            found.append(event)
            done.set()

    worker = threading.Thread(
        target=client.receive,
        kwargs=dict(on_event=on_event, partition_id=partition_id, max_wait_time=1, **kwargs),
        daemon=True,
    )
    worker.start()
    done.wait(20)
    client.close()
    worker.join(10)
    return found[0] if found else None


def wait_for_readers(cloud, group, partition, epochs, timeout=30):
    """Until the receivers attached to `partition` of `group` have the given epochs (None for a
    reader without one), as the sandbox's control endpoint lists them."""
    url = f"https://control.{cloud['suffix']}/readers/{HUB}/{group.replace('$', '%24')}/{partition}"
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = sorted((r["epoch"] for r in requests.get(url).json()["value"]), key=str)
        if seen == sorted(epochs, key=str):
            return
        time.sleep(0.05)
    raise AssertionError(f"partition {partition} of {group} has readers with epochs {seen}, not {epochs}")


def test_the_endpoint_describes_itself_as_azure_does(cloud, built_in_endpoint):
    with consumer(cloud, built_in_endpoint["connection_string"]) as client:
        properties = client.get_eventhub_properties()
        assert properties["eventhub_name"] == built_in_endpoint["path"]
        assert properties["partition_ids"] == built_in_endpoint["partitionIds"]
        assert client.get_partition_ids() == ["0", "1", "2", "3"]
        partition = client.get_partition_properties("2")
        assert partition["eventhub_name"] == built_in_endpoint["path"]
        assert partition["id"] == "2"
        assert isinstance(partition["is_empty"], bool)


def test_a_device_message_arrives_with_the_annotations_azure_gives_it(cloud, built_in_endpoint, device_connection_string):
    run = uuid.uuid4().hex
    send_from_device(cloud, device_connection_string, b'{"temperature": 21.5}', {"test-run": run})
    client = consumer(cloud, built_in_endpoint["connection_string"])
    partitions = client.get_partition_ids()
    # The device's partition is the one whose last event is ours.
    owner = next(
        p for p in partitions
        if not client.get_partition_properties(p)["is_empty"]
        and client.get_partition_properties(p)["last_enqueued_sequence_number"] >= 0
    )
    event = receive_until(
        client, lambda e: e.properties.get(b"test-run") == run.encode(), owner, starting_position="-1"
    )
    assert event is not None, "the message the device sent never arrived on its partition"
    assert event.body_as_json() == {"temperature": 21.5}
    system = event.system_properties
    assert system[b"iothub-connection-device-id"] == DEVICE.encode()
    assert system[b"content-type"] == b"application/json"
    assert isinstance(event.sequence_number, int)
    assert event.offset is not None and event.offset.lstrip("-").isdigit()
    assert event.enqueued_time is not None


def test_a_wrong_key_is_refused_as_azure_refuses_it(cloud, built_in_endpoint):
    from azure.eventhub.exceptions import AuthenticationError

    key = built_in_endpoint["connection_string"].split("SharedAccessKey=", 1)[1].split(";", 1)[0]
    wrong = built_in_endpoint["connection_string"].replace(key, "A" * 43 + "=")
    with consumer(cloud, wrong, retry_total=0) as client, pytest.raises(AuthenticationError) as refused:
        client.get_eventhub_properties()
    assert "InvalidSignature: The token has an invalid signature." in str(refused.value)
    assert key not in str(refused.value)


def test_a_device_policy_cannot_read_events(cloud, built_in_endpoint):
    from azure.eventhub.exceptions import AuthenticationError

    headers = {"Authorization": f"Bearer {arm_token(cloud)}"}
    keys = requests.post(f"{cloud['arm_endpoint']}{HUB_ID}/listkeys?api-version=2023-06-30", headers=headers).json()["value"]
    device_policy = next(k for k in keys if k["keyName"] == "device")
    connection_string = (
        f"Endpoint={built_in_endpoint['endpoint']};SharedAccessKeyName=device;"
        f"SharedAccessKey={device_policy['primaryKey']};EntityPath={built_in_endpoint['path']}"
    )
    with consumer(cloud, connection_string, retry_total=0) as client, pytest.raises(AuthenticationError) as refused:
        client.get_eventhub_properties()
    assert "'Listen' claim(s) are required to perform this operation" in str(refused.value)


def test_amqp_over_websockets_on_443_as_the_sdk_speaks_it(cloud, built_in_endpoint, device_connection_string):
    from azure.eventhub import TransportType

    run = uuid.uuid4().hex
    client = consumer(cloud, built_in_endpoint["connection_string"], transport_type=TransportType.AmqpOverWebsocket)
    assert client.get_partition_ids() == ["0", "1", "2", "3"]
    owner = next(p for p in client.get_partition_ids() if not client.get_partition_properties(p)["is_empty"])
    send_from_device(cloud, device_connection_string, b'{"over": "websockets"}', {"test-run": run})
    event = receive_until(
        client, lambda e: e.properties.get(b"test-run") == run.encode(), owner, starting_position="-1"
    )
    assert event is not None, "the message never arrived over the WebSocket transport"
    assert event.body_as_json() == {"over": "websockets"}


def test_a_higher_owner_level_takes_the_partition_as_azure_does(cloud, built_in_endpoint):
    from azure.eventhub.exceptions import ConnectionLostError

    errors = []
    first = consumer(cloud, built_in_endpoint["connection_string"])
    worker = threading.Thread(
        target=first.receive,
        kwargs=dict(on_event=lambda c, e: None, on_error=lambda c, e: errors.append(e),
                    partition_id="1", owner_level=1, max_wait_time=1),
        daemon=True,
    )
    worker.start()
    wait_for_readers(cloud, "$Default", 1, [1])
    second = consumer(cloud, built_in_endpoint["connection_string"])
    taker = threading.Thread(
        target=second.receive,
        kwargs=dict(on_event=lambda c, e: None, partition_id="1", owner_level=2, max_wait_time=1),
        daemon=True,
    )
    taker.start()
    for _ in range(100):
        if errors:
            break
        time.sleep(0.1)
    first.close()
    second.close()
    worker.join(10)
    taker.join(10)
    assert errors, "the reader with the lower owner level was not disconnected"
    assert isinstance(errors[0], ConnectionLostError), repr(errors[0])
    assert "higher epoch of '2'" in str(errors[0])


def test_hubsetup_watch_explains_an_exclusive_reader_taking_its_partition(cloud, built_in_endpoint):
    """Stream Analytics and Functions read with an owner level (epoch): when one starts on the
    group `hubsetup watch` reads, the watch ends and says what happened and what to do."""
    group = f"shared-{uuid.uuid4().hex[:6]}"
    headers = {"Authorization": f"Bearer {arm_token(cloud)}"}
    made = requests.put(
        f"{cloud['arm_endpoint']}{HUB_ID}/eventHubEndpoints/events/ConsumerGroups/{group}?api-version=2023-06-30",
        headers=headers, json={"properties": {"name": group}},
    )
    assert made.status_code == 200, made.text
    try:
        watch_until_taken_over(cloud, built_in_endpoint, group)
    finally:
        # The hub is shared by the session's tests, some of which list its groups.
        requests.delete(
            f"{cloud['arm_endpoint']}{HUB_ID}/eventHubEndpoints/events/ConsumerGroups/{group}?api-version=2023-06-30",
            headers=headers,
        )


def watch_until_taken_over(cloud, built_in_endpoint, group):
    watch = subprocess.Popen(
        [HUBSETUP, "watch", "--consumer-group", group, "--sandbox", cloud["description_file"]],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    watch.stdin.write(built_in_endpoint["connection_string"])
    watch.stdin.close()
    assert watch.stderr.readline().startswith(f"Watching {built_in_endpoint['path']} (consumer group {group})")
    # Taken over once it reads; a reader with an epoch that came first would refuse it instead.
    wait_for_readers(cloud, group, 2, [None])
    exclusive = consumer(cloud, built_in_endpoint["connection_string"], group)
    taker = threading.Thread(
        target=exclusive.receive,
        kwargs=dict(on_event=lambda c, e: None, partition_id="2", owner_level=5, max_wait_time=1),
        daemon=True,
    )
    taker.start()
    try:
        watch.wait(timeout=20)
        rest = watch.stderr.read()
    finally:
        exclusive.close()
        taker.join(10)
    assert watch.returncode == 1, rest
    assert (
        f'Another reader took over partition 2 of consumer group "{group}": it asked for exclusive access '
        "(a higher epoch), as Stream Analytics, Azure Functions and event processors do. Read with a consumer "
        "group of your own so that neither disturbs the other." in rest
    ), rest
    key = built_in_endpoint["connection_string"].split("SharedAccessKey=", 1)[1].split(";", 1)[0]
    assert key not in rest


def redirect_from(cloud, connection_string):
    """What Microsoft's AMQP client for Node (rhea-promise) gets from the hub's own host."""
    env = {
        **os.environ,
        "HUBSETUP_SANDBOX_AMQP": f"127.0.0.1:{cloud['loopback_ports']['5671']}",
        "HUBSETUP_SANDBOX_CA": cloud["ca_path"],
    }
    result = subprocess.run(
        ["node", str(NODE_CLIENTS / "iothub-redirect.mjs")],
        input=connection_string, capture_output=True, text=True, env=env, cwd=NODE_CLIENTS, timeout=60,
    )
    assert result.stderr == "", result.stderr
    return json.loads(result.stdout)


def test_the_hubs_own_host_redirects_a_service_client_to_the_built_in_endpoint(cloud, built_in_endpoint, owner_connection_string):
    service = owner_connection_string.replace("SharedAccessKeyName=iothubowner", "SharedAccessKeyName=service")
    headers = {"Authorization": f"Bearer {arm_token(cloud)}"}
    keys = requests.post(f"{cloud['arm_endpoint']}{HUB_ID}/listkeys?api-version=2023-06-30", headers=headers).json()["value"]
    service_key = next(k for k in keys if k["keyName"] == "service")["primaryKey"]
    owner_key = owner_connection_string.split("SharedAccessKey=", 1)[1]
    service = service.replace(owner_key, service_key)
    redirect = redirect_from(cloud, service)
    namespace = built_in_endpoint["endpoint"].split("://", 1)[1].rstrip("/")
    assert redirect == {
        "condition": "amqp:link:redirect",
        "hostname": namespace,
        "port": 5671,
        "address": f"amqps://{namespace}:5671/{built_in_endpoint['path']}/$management",
    }
    # The device policy may not read: the sign-in is refused.
    device_key = next(k for k in keys if k["keyName"] == "device")["primaryKey"]
    refused = redirect_from(cloud, service.replace("SharedAccessKeyName=service", "SharedAccessKeyName=device").replace(service_key, device_key))
    assert refused == {"refused": "amqp:unauthorized-access"}, refused
