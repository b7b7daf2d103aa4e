"""Microsoft's IoT Hub management SDK (`azure-mgmt-iothub` from PyPI, unmodified, at its default
api-version 2023-06-30) against the sandbox: the provider's operation list, the subscription's
usages, and a hub's whole life through `iot_hub_resource`, as a script or a deployment tool
would drive it.

Its token is a real one from the sandbox's sign-in (device code, conftest.arm_token), handed to
the SDK through azure-core's credential protocol.
"""

import uuid

import pytest
from conftest import management_client

GROUP = "contoso-iot"


@pytest.fixture(scope="module")
def client(cloud):
    from azure.mgmt.iothub import IotHubClient

    return management_client(IotHubClient, cloud)


def test_the_providers_operations_are_listed(client):
    names = [o.name for o in client.operations.list()]
    assert "Microsoft.Devices/iotHubs/Write" in names
    assert "Microsoft.Devices/usages/Read" in names
    shown = next(o for o in client.operations.list() if o.name == "Microsoft.Devices/register/action")
    assert shown.display.provider == "Microsoft Devices"


def test_the_subscriptions_free_hub_is_counted(client):
    usages = list(client.resource_provider_common.get_subscription_quota().value)
    free = next(u for u in usages if u.name.value == "FreeHubCount")
    assert (free.limit, free.unit) == (1, "count")
    assert free.current_value in (0, 1)


def test_a_hubs_whole_life(client):
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
    from azure.mgmt.iothub.models import IotHubDescription, IotHubSkuInfo, OperationInputs, TagsResource

    name = f"sdk-{uuid.uuid4().hex[:8]}"
    assert client.iot_hub_resource.check_name_availability(OperationInputs(name=name)).name_available

    created = client.iot_hub_resource.begin_create_or_update(
        GROUP, name, IotHubDescription(location="westeurope", sku=IotHubSkuInfo(name="S1", capacity=1)),
    ).result()
    assert (created.properties.provisioning_state, created.sku.capacity) == ("Succeeded", 1)
    assert not client.iot_hub_resource.check_name_availability(OperationInputs(name=name)).name_available

    hub = client.iot_hub_resource.get(GROUP, name)
    assert hub.properties.host_name.startswith(f"{name}.azure-devices.")
    assert name in [h.name for h in client.iot_hub_resource.list_by_subscription()]
    assert name in [h.name for h in client.iot_hub_resource.list_by_resource_group(GROUP)]

    tagged = client.iot_hub_resource.begin_update(GROUP, name, TagsResource(tags={"stage": "pilot"})).result()
    assert tagged.tags == {"stage": "pilot"}
    assert tagged.etag != hub.etag

    assert client.iot_hub_resource.get_stats(GROUP, name).total_device_count == 0
    assert [s.sku.name for s in client.iot_hub_resource.get_valid_skus(GROUP, name)] == ["S2", "S3"]
    quota = {m.name: m.max_value for m in client.iot_hub_resource.get_quota_metrics(GROUP, name)}
    assert quota["TotalMessages"] == 400_000

    policies = list(client.iot_hub_resource.list_keys(GROUP, name))
    assert "iothubowner" in [p.key_name for p in policies]
    owner = client.iot_hub_resource.get_keys_for_key_name(GROUP, name, "iothubowner")
    assert owner.rights == "RegistryWrite, ServiceConnect, DeviceConnect"

    group = client.iot_hub_resource.create_event_hub_consumer_group(
        GROUP, name, "events", "sdk-readers", {"properties": {"name": "sdk-readers"}},
    )
    assert group.name == "sdk-readers"
    assert client.iot_hub_resource.get_event_hub_consumer_group(GROUP, name, "events", "sdk-readers").name == "sdk-readers"
    listed = [g.name for g in client.iot_hub_resource.list_event_hub_consumer_groups(GROUP, name, "events")]
    assert listed == ["$Default", "sdk-readers"]
    client.iot_hub_resource.delete_event_hub_consumer_group(GROUP, name, "events", "sdk-readers")

    assert list(client.iot_hub_resource.list_jobs(GROUP, name)) == []
    with pytest.raises(HttpResponseError) as missing_job:
        client.iot_hub_resource.get_job(GROUP, name, "no-such-job")
    assert missing_job.value.status_code == 404
    assert list(client.iot_hub_resource.get_endpoint_health(GROUP, name)) == []

    client.iot_hub_resource.begin_delete(GROUP, name).result()
    with pytest.raises(ResourceNotFoundError):
        client.iot_hub_resource.get(GROUP, name)
