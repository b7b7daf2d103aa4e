"""Message routing into storage, driven by Microsoft's management SDK (`azure-mgmt-iothub`,
not our code) and read back with Microsoft's Blob client and Apache's Avro reader, all from PyPI
and unmodified: a hub's storage endpoints and routes are followed by the sandbox's messages,
which its hub writes into Azurite as IoT Hub writes into a storage account.
"""

import io
import json
import time
import uuid

import pytest
import requests
from conftest import DEVICE, HUB, management_client, update_hub

GROUP = "contoso-iot"
STREAM_FORMAT = DEVICE + "/{iothub}/{partition}/{YYYY}/{MM}/{DD}/{HH}/{mm}"


@pytest.fixture(scope="module")
def clients(cloud):
    if not cloud.get("storage"):
        pytest.fail("the sandbox runs without Azurite: set HUBSETUP_AZURITE (cargo xtask test does)")
    from azure.mgmt.iothub import IotHubClient
    from azure.mgmt.storage import StorageManagementClient

    return management_client(IotHubClient, cloud), management_client(StorageManagementClient, cloud)


@pytest.fixture(scope="module")
def account(clients):
    from azure.mgmt.storage.models import Sku, StorageAccountCreateParameters

    _, storage = clients
    name = "routing" + uuid.uuid4().hex[:12]
    storage.storage_accounts.begin_create(
        GROUP, name, StorageAccountCreateParameters(sku=Sku(name="Standard_LRS"), kind="StorageV2", location="westeurope")
    ).result()
    storage.blob_containers.create(GROUP, name, "telemetry", {})
    key = storage.storage_accounts.list_keys(GROUP, name)["keys"][0].value
    return name, key


def storage_endpoint(cloud, account, name, encoding):
    from azure.mgmt.iothub.models import RoutingStorageContainerProperties

    account_name, key = account
    return RoutingStorageContainerProperties(
        name=name,
        connection_string=f"DefaultEndpointsProtocol=https;AccountName={account_name};AccountKey={key};EndpointSuffix=core.{cloud['suffix']}",
        container_name="telemetry",
        file_name_format=f"{encoding}/" + STREAM_FORMAT,
        batch_frequency_in_seconds=60,
        max_chunk_size_in_bytes=10485760,
        encoding=encoding,
    )


@pytest.fixture(scope="module")
def routed_hub(clients, cloud, account):
    """The seeded hub with a JSON and an Avro endpoint for its device's stream, and the route
    back to the built-in endpoint; its own routing is put back afterwards."""
    from azure.mgmt.iothub.models import RouteProperties

    iothub, _ = clients
    hub = iothub.iot_hub_resource.get(GROUP, HUB)
    original = hub.properties.routing
    routing = hub.properties.routing
    routing.endpoints.storage_containers = [
        storage_endpoint(cloud, account, "stream-json", "JSON"),
        storage_endpoint(cloud, account, "stream-avro", "avro"),
    ]
    routing.routes = [
        RouteProperties(name=f"{encoding}-stream", source="DeviceMessages", condition=f"$connectionDeviceId = '{DEVICE}'",
                        endpoint_names=[f"stream-{encoding}"], is_enabled=True)
        for encoding in ("json", "avro")
    ] + [RouteProperties(name="built-in", source="DeviceMessages", condition="true", endpoint_names=["events"], is_enabled=True)]
    updated = update_hub(iothub, GROUP, hub)
    yield updated
    hub = iothub.iot_hub_resource.get(GROUP, HUB)
    hub.properties.routing = original
    hub.properties.routing.endpoints.storage_containers = []
    hub.properties.routing.routes = []
    update_hub(iothub, GROUP, hub)


def send(cloud, device_connection_string, body, message_id):
    from azure.iot.device.common.auth.sastoken import RenewableSasToken
    from azure.iot.device.common.auth.signing_mechanism import SymmetricKeySigningMechanism

    key = device_connection_string.split("SharedAccessKey=", 1)[1]
    token = str(RenewableSasToken(f"{cloud['hub_host']}/devices/{DEVICE}", SymmetricKeySigningMechanism(key), ttl=300))
    sent = requests.post(
        f"https://{cloud['hub_host']}/devices/{DEVICE}/messages/events?api-version=2021-04-12",
        headers={"Authorization": token, "iothub-contenttype": "application/json", "iothub-contentencoding": "utf-8",
                 "iothub-messageid": message_id, "iothub-app-site": "plant-4"},
        data=json.dumps(body).encode(),
    )
    assert sent.status_code == 204, sent.text


def stored_blobs(cloud, account, prefix, deadline_seconds=60):
    """The blobs under `prefix` once the hub has written them (the batch window is one second
    on the sandbox's routing clock)."""
    from azure.storage.blob import BlobServiceClient

    account_name, key = account
    container = BlobServiceClient(
        f"https://{account_name}.blob.core.{cloud['suffix']}", credential={"account_name": account_name, "account_key": key}
    ).get_container_client("telemetry")
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        names = [b.name for b in container.list_blobs(name_starts_with=prefix)]
        if names:
            return container, names
        time.sleep(0.5)
    pytest.fail(f"nothing was written under {prefix}")


def endpoint_health(iothub, name, status):
    """The endpoint's health once it is `status` (writes take a window of one second)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        health = {h.endpoint_id: h for h in iothub.iot_hub_resource.get_endpoint_health(GROUP, HUB)}
        if health.get(name) is not None and health[name].health_status == status:
            return health[name]
        time.sleep(0.5)
    pytest.fail(f"endpoint {name} never became {status}: {health.get(name)}")


def test_a_streams_messages_land_in_its_own_folder_as_json_and_avro(cloud, routed_hub, account, device_connection_string):
    import avro.datafile
    import avro.io

    message_id = "routing-" + uuid.uuid4().hex[:8]
    send(cloud, device_connection_string, {"temperature": 21.5}, message_id)

    container, names = stored_blobs(cloud, account, f"JSON/{DEVICE}/{HUB}/")
    assert len(names) == 1 and names[0].count("/") == 8, names
    lines = [json.loads(l) for l in container.download_blob(names[0]).readall().decode().splitlines()]
    record = next(l for l in lines if l["SystemProperties"].get("messageId") == message_id)
    assert record["Body"] == {"temperature": 21.5}
    assert record["Properties"] == {"site": "plant-4"}
    assert record["SystemProperties"]["connectionDeviceId"] == DEVICE
    assert record["SystemProperties"]["contentType"] == "application/json"
    assert record["EnqueuedTimeUtc"].endswith("Z")

    container, names = stored_blobs(cloud, account, f"avro/{DEVICE}/{HUB}/")
    reader = avro.datafile.DataFileReader(io.BytesIO(container.download_blob(names[0]).readall()), avro.io.DatumReader())
    records = list(reader)
    assert reader.meta["avro.codec"] == b"null"
    stored = next(r for r in records if r["SystemProperties"].get("messageId") == message_id)
    assert json.loads(stored["Body"]) == {"temperature": 21.5}
    assert stored["Properties"] == {"site": "plant-4"}


def test_a_hub_shows_its_endpoints_keys_masked_and_keeps_them_across_updates(clients, routed_hub, account):
    iothub, _ = clients
    hub = iothub.iot_hub_resource.get(GROUP, HUB)
    shown = hub.properties.routing.endpoints.storage_containers[0]
    assert "AccountKey=****" in shown.connection_string and account[1] not in shown.connection_string
    assert (shown.authentication_type, shown.resource_group, shown.endpoint_uri) == ("keyBased", GROUP, f"https://{account[0]}.blob.core.sandbox.test/")
    hub.tags = {"kept": "yes"}
    # The masked key goes back as it was shown; the endpoint keeps working with the real one.
    update_hub(iothub, GROUP, hub)
    assert iothub.iot_hub_resource.get(GROUP, HUB).properties.routing.endpoints.storage_containers[0].id == shown.id


def test_endpoint_health_shows_the_writes(clients, routed_hub, cloud, account, device_connection_string):
    iothub, _ = clients
    send(cloud, device_connection_string, {"temperature": 19}, "health-" + uuid.uuid4().hex[:8])
    stored_blobs(cloud, account, f"JSON/{DEVICE}/")
    assert endpoint_health(iothub, "stream-json", "healthy").last_known_error is None


def test_an_invalid_route_condition_is_refused_in_azures_words(clients, routed_hub):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.iothub.models import RouteProperties

    iothub, _ = clients
    hub = iothub.iot_hub_resource.get(GROUP, HUB)
    hub.properties.routing.routes.append(
        RouteProperties(name="broken", source="DeviceMessages", condition="$connectionDeviceId = ", endpoint_names=["events"], is_enabled=True)
    )
    with pytest.raises(HttpResponseError) as refused:
        update_hub(iothub, GROUP, hub)
    assert refused.value.status_code == 400
    assert "Invalid Routing Condition, RouteName:broken, ErrorMessage:Message:Syntax error., Location <start>:1:23" in str(refused.value)
    assert "errorcode: IH400104" in str(refused.value)
    # The hub keeps its routes.
    assert [r.name for r in iothub.iot_hub_resource.get(GROUP, HUB).properties.routing.routes] == ["json-stream", "avro-stream", "built-in"]


@pytest.mark.parametrize("change, words", [
    (lambda r: setattr(r.endpoints.storage_containers[0], "batch_frequency_in_seconds", 30),
     "Endpoint stream-json: batchFrequencyInSeconds 30 is out of range. Value should be between 60 and 720 seconds."),
    (lambda r: setattr(r.endpoints.storage_containers[0], "file_name_format", "{iothub}/{YYYY}/{MM}/{DD}/{HH}"),
     "Endpoint stream-json: The file name format '{iothub}/{YYYY}/{MM}/{DD}/{HH}' lacks {partition}, {mm}."),
    (lambda r: setattr(r.endpoints.storage_containers[0], "name", "events"),
     "Endpoint name 'events' is reserved. The following names are reserved: events, fileNotifications, $default."),
    (lambda r: setattr(r.routes[0], "endpoint_names", ["nowhere"]),
     "Route json-stream: EndpointName:nowhere is not from a valid type."),
    (lambda r: setattr(r.endpoints.storage_containers[0], "container_name", "missing"),
     "Endpoint Name:stream-json, Storage Container Name:missing. The container does not exist"),
])
def test_routing_mistakes_are_refused_and_the_routes_kept(clients, routed_hub, change, words):
    from azure.core.exceptions import HttpResponseError

    iothub, _ = clients
    hub = iothub.iot_hub_resource.get(GROUP, HUB)
    change(hub.properties.routing)
    with pytest.raises(HttpResponseError) as refused:
        update_hub(iothub, GROUP, hub)
    assert refused.value.status_code == 400
    assert words in str(refused.value)
    kept = iothub.iot_hub_resource.get(GROUP, HUB).properties.routing
    assert [e.name for e in kept.endpoints.storage_containers] == ["stream-json", "stream-avro"]


def test_a_free_hub_takes_one_custom_endpoint(clients, cloud, account):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.iothub.models import (IotHubDescription, IotHubProperties, IotHubSkuInfo, RoutingEndpoints,
                                          RoutingProperties)

    iothub, _ = clients
    routing = RoutingProperties(endpoints=RoutingEndpoints(storage_containers=[
        storage_endpoint(cloud, account, "first", "JSON"), storage_endpoint(cloud, account, "second", "JSON")]))
    with pytest.raises(HttpResponseError) as refused:
        iothub.iot_hub_resource.begin_create_or_update(GROUP, "free-routing-" + uuid.uuid4().hex[:6], IotHubDescription(
            location="westeurope", sku=IotHubSkuInfo(name="F1", capacity=1), properties=IotHubProperties(routing=routing))).result()
    assert "The number of custom endpoints (2) exceeds the maximum allowed for sku F1: 1." in str(refused.value)


def test_an_identity_based_endpoint_writes_once_the_hubs_identity_has_a_data_role(clients, routed_hub, cloud, account, device_connection_string):
    from azure.mgmt.iothub.models import ArmIdentity, RouteProperties, RoutingStorageContainerProperties
    from conftest import PRODUCTION, arm_token

    iothub, _ = clients
    hub = iothub.iot_hub_resource.get(GROUP, HUB)
    hub.identity = ArmIdentity(type="SystemAssigned")
    hub.properties.routing.endpoints.storage_containers.append(RoutingStorageContainerProperties(
        name="stream-identity", authentication_type="identityBased", endpoint_uri=f"https://{account[0]}.blob.core.{cloud['suffix']}/",
        container_name="telemetry", file_name_format="identity/" + STREAM_FORMAT, batch_frequency_in_seconds=60, encoding="JSON"))
    hub.properties.routing.routes.append(RouteProperties(
        name="identity-stream", source="DeviceMessages", condition=f"$connectionDeviceId = '{DEVICE}'", endpoint_names=["stream-identity"], is_enabled=True))
    principal = update_hub(iothub, GROUP, hub).identity.principal_id

    send(cloud, device_connection_string, {"temperature": 17}, "identity-" + uuid.uuid4().hex[:8])
    refused = endpoint_health(iothub, "stream-identity", "unhealthy")
    assert refused.last_known_error.startswith("AuthorizationPermissionMismatch")

    scope = f"/subscriptions/{PRODUCTION}/resourceGroups/{GROUP}/providers/Microsoft.Storage/storageAccounts/{account[0]}"
    assigned = requests.put(
        f"{cloud['arm_endpoint']}{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}?api-version=2022-04-01",
        headers={"Authorization": f"Bearer {arm_token(cloud)}"},
        json={"properties": {"roleDefinitionId": f"/subscriptions/{PRODUCTION}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe",
                             "principalId": principal, "principalType": "ServicePrincipal"}},
    )
    assert assigned.status_code == 201, assigned.text
    message_id = "identity-" + uuid.uuid4().hex[:8]
    send(cloud, device_connection_string, {"temperature": 16}, message_id)
    container, names = stored_blobs(cloud, account, f"identity/{DEVICE}/")
    stored = [json.loads(line) for name in names for line in container.download_blob(name).readall().decode().splitlines()]
    assert message_id in [r["SystemProperties"]["messageId"] for r in stored]
    assert endpoint_health(iothub, "stream-identity", "healthy").health_status == "healthy"


def test_a_regenerated_key_makes_the_endpoint_unhealthy(clients, routed_hub, cloud, account, device_connection_string):
    """Last in this module: the endpoints' key stops working."""
    iothub, storage = clients
    storage.storage_accounts.regenerate_key(GROUP, account[0], {"keyName": "key1"})
    send(cloud, device_connection_string, {"temperature": 18}, "after-rotation-" + uuid.uuid4().hex[:8])
    refused = endpoint_health(iothub, "stream-json", "unhealthy")
    assert refused.last_known_error.startswith("AuthenticationFailed: the endpoint's account key is no longer valid")
