"""Device twins and direct methods against the sandbox, checked by Microsoft's official clients,
unmodified: the device side with `azure-iot-device` (MQTT on 8883, and MQTT over WebSockets on
443) reads its twin, patches its reported properties and answers a direct method; the service
side with `azure-iot-hub`'s `IoTHubRegistryManager` reads the twin and invokes the method. If the
clients and the sandbox disagree, the sandbox is wrong.
"""

import uuid

import pytest

from conftest import DEVICE
from test_device_mqtt import device_client


@pytest.mark.parametrize("websockets", [False, True], ids=["mqtt-8883", "mqtt-websockets-443"])
def test_the_twin_and_a_direct_method_round_trip(cloud, device_connection_string, owner_connection_string, websockets):
    from azure.iot.device import MethodResponse
    from azure.iot.hub import IoTHubRegistryManager
    from azure.iot.hub.models import CloudToDeviceMethod

    client = device_client(cloud, device_connection_string, websockets)
    calls = []

    def answer(request):
        calls.append((request.name, request.payload))
        client.send_method_response(MethodResponse.create_from_method_request(request, 200, {"echo": request.payload}))

    try:
        client.connect()
        twin = client.get_twin()
        assert twin["desired"]["$version"] >= 1 and twin["reported"]["$version"] >= 1, twin
        run = uuid.uuid4().hex
        client.patch_twin_reported_properties({"firmware": {"run": run, "channel": "beta"}})
        client.patch_twin_reported_properties({"firmware": {"channel": None}})
        assert client.get_twin()["reported"]["firmware"] == {"run": run}, "null removes a property"
        client.on_method_request_received = answer

        registry = IoTHubRegistryManager.from_connection_string(owner_connection_string)
        assert registry.get_twin(DEVICE).properties.reported["firmware"] == {"run": run}
        result = registry.invoke_device_method(
            DEVICE, CloudToDeviceMethod(method_name="reboot", payload={"delay": 5}, response_timeout_in_seconds=10),
        )
        assert (result.status, result.payload) == (200, {"echo": {"delay": 5}})
        assert calls == [("reboot", {"delay": 5})]
    finally:
        client.shutdown()


def test_a_method_for_a_device_that_is_not_listening_is_refused(owner_connection_string):
    from azure.iot.hub import IoTHubRegistryManager
    from azure.iot.hub.models import CloudToDeviceMethod
    from msrest.exceptions import HttpOperationError

    registry = IoTHubRegistryManager.from_connection_string(owner_connection_string)
    with pytest.raises(HttpOperationError) as refused:
        registry.invoke_device_method(DEVICE, CloudToDeviceMethod(method_name="reboot", response_timeout_in_seconds=5))
    assert refused.value.response.status_code == 404
    assert refused.value.response.json()["errorCode"] == 404103
    assert refused.value.response.headers["iothub-errorcode"] == "DeviceNotOnline"
