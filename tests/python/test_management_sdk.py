"""Microsoft's IoT Hub management SDK (`azure-mgmt-iothub` from PyPI, unmodified, at its default
api-version 2023-06-30) against the sandbox: the provider's operation list, the subscription's
usages, and a hub's whole life through `iot_hub_resource`, as a script or a deployment tool
would drive it.

Its token is a real one from the sandbox's sign-in (device code, conftest.arm_token), handed to
the SDK through azure-core's credential protocol.
"""

import subprocess
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


def hub_with_routes(client, name):
    from azure.mgmt.iothub.models import IotHubDescription, IotHubProperties, IotHubSkuInfo, RoutingProperties, RouteProperties

    warm = RouteProperties(name="warm", source="DeviceMessages", condition="$body.temperature > 30",
                           endpoint_names=["events"], is_enabled=True)
    properties = IotHubProperties(routing=RoutingProperties(routes=[warm]))
    return client.iot_hub_resource.begin_create_or_update(
        GROUP, name, IotHubDescription(location="westeurope", sku=IotHubSkuInfo(name="S1", capacity=1), properties=properties),
    ).result()


def test_routes_are_tested_without_sending(client):
    from azure.mgmt.iothub.models import RouteProperties, RoutingMessage, TestAllRoutesInput, TestRouteInput

    name = f"sdk-routes-{uuid.uuid4().hex[:6]}"
    hub_with_routes(client, name)
    json_message = {"contentType": "application/json", "contentEncoding": "utf-8"}
    warm = RoutingMessage(body='{"temperature": 35}', system_properties=json_message)
    cold = RoutingMessage(body='{"temperature": 20}', system_properties=json_message)

    matched = client.iot_hub_resource.test_all_routes(name, GROUP, TestAllRoutesInput(routing_source="DeviceMessages", message=warm))
    assert [r.properties.name for r in matched.routes] == ["warm"]
    assert client.iot_hub_resource.test_all_routes(name, GROUP, TestAllRoutesInput(message=cold)).routes == []

    route = RouteProperties(name="hot", source="DeviceMessages", condition="$body.temperature > 30", endpoint_names=["events"], is_enabled=True)
    assert client.iot_hub_resource.test_route(name, GROUP, TestRouteInput(message=warm, route=route)).result == "true"
    assert client.iot_hub_resource.test_route(name, GROUP, TestRouteInput(message=cold, route=route)).result == "false"
    route.condition = "$body.temperature >"
    broken = client.iot_hub_resource.test_route(name, GROUP, TestRouteInput(message=warm, route=route))
    assert broken.result == "undefined"
    error = broken.details.compilation_errors[0]
    assert (error.message, error.severity, error.location.start.line) == ("Syntax error.", "error", 1)
    client.iot_hub_resource.begin_delete(GROUP, name).result()


def test_a_hub_fails_over_to_its_paired_region_and_back(client):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.iothub.models import FailoverInput

    name = f"sdk-failover-{uuid.uuid4().hex[:6]}"
    hub_with_routes(client, name)

    def roles():
        return [(l.location, l.role) for l in client.iot_hub_resource.get(GROUP, name).properties.locations]

    assert roles() == [("West Europe", "primary"), ("North Europe", "secondary")]
    with pytest.raises(HttpResponseError) as wrong:
        client.iot_hub.begin_manual_failover(name, GROUP, FailoverInput(failover_region="eastus")).result()
    assert wrong.value.status_code == 400
    assert "can fail over only to its secondary location, North Europe; 'eastus' was given" in wrong.value.message
    client.iot_hub.begin_manual_failover(name, GROUP, FailoverInput(failover_region="northeurope")).result()
    assert roles() == [("North Europe", "primary"), ("West Europe", "secondary")]
    client.iot_hub.begin_manual_failover(name, GROUP, FailoverInput(failover_region="West Europe")).result()
    assert roles() == [("West Europe", "primary"), ("North Europe", "secondary")]
    client.iot_hub_resource.begin_delete(GROUP, name).result()


def test_private_endpoint_connections_are_approved_and_removed(client, cloud):
    import requests
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.iothub.models import PrivateEndpointConnection, PrivateEndpointConnectionProperties, PrivateLinkServiceConnectionState
    from conftest import PRODUCTION

    name = f"sdk-private-{uuid.uuid4().hex[:6]}"
    hub_with_routes(client, name)
    resources = client.private_link_resources.list(GROUP, name).value
    assert [(r.name, r.properties.group_id, r.properties.required_zone_names) for r in resources] == [
        ("iotHub", "iotHub", [f"privatelink.{cloud['iot_hub_suffix']}"])]
    assert client.private_link_resources.get(GROUP, name, "iotHub").properties.required_members == ["iotHub"]
    assert client.private_endpoint_connections.list(GROUP, name) == []

    endpoint = f"/subscriptions/{PRODUCTION}/resourceGroups/{GROUP}/providers/Microsoft.Network/privateEndpoints/plant-pe"
    asked = requests.post(f"https://control.{cloud['suffix']}/private-endpoints", json={
        "subscription": PRODUCTION, "resourceGroup": GROUP, "hub": name, "privateEndpointId": endpoint,
    })
    assert asked.status_code == 200, asked.text
    [pending] = client.private_endpoint_connections.list(GROUP, name)
    assert (pending.properties.private_endpoint.id, pending.properties.private_link_service_connection_state.status) == (endpoint, "Pending")

    approval = PrivateEndpointConnection(properties=PrivateEndpointConnectionProperties(
        private_link_service_connection_state=PrivateLinkServiceConnectionState(status="Approved", description="Plant network")))
    approved = client.private_endpoint_connections.begin_update(GROUP, name, pending.name, approval).result()
    assert approved.properties.private_link_service_connection_state.status == "Approved"
    shown = client.private_endpoint_connections.get(GROUP, name, pending.name)
    assert shown.properties.private_link_service_connection_state.description == "Plant network"
    assert client.iot_hub_resource.get(GROUP, name).properties.private_endpoint_connections[0].name == pending.name

    client.private_endpoint_connections.begin_delete(GROUP, name, pending.name).result()
    assert client.private_endpoint_connections.list(GROUP, name) == []
    with pytest.raises(HttpResponseError) as missing:
        client.private_endpoint_connections.get(GROUP, name, pending.name)
    assert missing.value.status_code == 404
    assert f"The private endpoint connection '{pending.name}' was not found on IotHub '{name}'." in missing.value.message
    client.iot_hub_resource.begin_delete(GROUP, name).result()


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def test_a_ca_certificate_is_uploaded_verified_by_proof_of_possession_and_deleted(client, tmp_path):
    """As Azure's X.509 tutorial has it: a CA made with openssl, its verification code signed
    into a certificate with that code as its common name."""
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.iothub.models import CertificateDescription, CertificateProperties, CertificateVerificationDescription

    name = f"sdk-certs-{uuid.uuid4().hex[:6]}"
    hub_with_routes(client, name)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("plant", "stranger"):
        openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "30", "-subj", f"/CN={ca} CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", cwd=tmp_path)
    pem = (tmp_path / "plant.pem").read_text()

    created = client.certificates.create_or_update(GROUP, name, "plant-ca", CertificateDescription(properties=CertificateProperties(certificate=pem)))
    assert (created.properties.subject, created.properties.is_verified) == ("CN=plant CA", False)
    fingerprint = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in", "plant.pem"], cwd=tmp_path,
                                 capture_output=True, text=True, check=True).stdout
    assert created.properties.thumbprint == fingerprint.split("=", 1)[1].strip().replace(":", "")
    assert created.properties.expiry > created.properties.created
    with pytest.raises(HttpResponseError) as unguarded:
        client.certificates.create_or_update(GROUP, name, "plant-ca", CertificateDescription(properties=CertificateProperties(certificate=pem)))
    assert unguarded.value.status_code == 412

    nonce = client.certificates.generate_verification_code(GROUP, name, "plant-ca", created.etag)
    code = nonce.properties.verification_code
    assert len(code) == 48

    def proof(signer, common_name):
        openssl("req", "-new", *ec, "-keyout", "proof.key", "-out", "proof.csr", "-subj", f"/CN={common_name}", cwd=tmp_path)
        openssl("x509", "-req", "-in", "proof.csr", "-CA", f"{signer}.pem", "-CAkey", f"{signer}.key", "-CAcreateserial",
                "-out", "proof.pem", "-days", "1", cwd=tmp_path)
        return CertificateVerificationDescription(certificate=(tmp_path / "proof.pem").read_text())

    with pytest.raises(HttpResponseError) as stranger:
        client.certificates.verify(GROUP, name, "plant-ca", nonce.etag, proof("stranger", code))
    assert stranger.value.status_code == 400
    assert "The verification certificate is not signed by the key of the certificate 'plant-ca'" in stranger.value.message
    with pytest.raises(HttpResponseError) as misnamed:
        client.certificates.verify(GROUP, name, "plant-ca", nonce.etag, proof("plant", "not-the-code"))
    assert f"The verification certificate's common name must be the verification code {code}." in misnamed.value.message

    verified = client.certificates.verify(GROUP, name, "plant-ca", nonce.etag, proof("plant", code))
    assert verified.properties.is_verified
    assert [c.name for c in client.certificates.list_by_iot_hub(GROUP, name).value] == ["plant-ca"]
    assert client.certificates.get(GROUP, name, "plant-ca").properties.is_verified

    client.certificates.delete(GROUP, name, "plant-ca", verified.etag)
    with pytest.raises(HttpResponseError) as gone:
        client.certificates.get(GROUP, name, "plant-ca")
    assert gone.value.status_code == 404
    client.iot_hub_resource.begin_delete(GROUP, name).result()
