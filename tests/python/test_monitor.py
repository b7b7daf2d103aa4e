"""Azure Monitor's metrics for the sandbox's hubs, read by Microsoft's own clients: the
management SDK (`azure-mgmt-monitor`) and the real `az monitor metrics list`. What they show is
what the hub really did: messages sent by Microsoft's device client are counted, the day's
quota used grows with them, and a device connected over MQTT is counted as connected while the
registry shows it `Connected`.
"""

import datetime
import json
import subprocess
import time
import uuid

import pytest
import requests
from azure_cli import AZ, SKIP_REASON, az, az_env, signed_in  # noqa: F401 (fixtures)
from conftest import DEVICE, HUB, HUBSETUP, PRODUCTION, management_client

HUB_ID = f"/subscriptions/{PRODUCTION}/resourceGroups/contoso-iot/providers/Microsoft.Devices/IotHubs/{HUB}"


@pytest.fixture(scope="module")
def monitor(cloud):
    from azure.mgmt.monitor import MonitorManagementClient

    return management_client(MonitorManagementClient, cloud)


def last_hour():
    end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
    return f"{(end - datetime.timedelta(hours=1)).isoformat()}/{end.isoformat()}"


def total(monitor, metric):
    answer = monitor.metrics.list(HUB_ID, timespan=last_hour(), interval="PT1M", metricnames=metric, aggregation="Total")
    return sum(point.total or 0 for point in answer.value[0].timeseries[0].data)


def peak(monitor, metric):
    answer = monitor.metrics.list(HUB_ID, timespan=last_hour(), interval="PT1M", metricnames=metric, aggregation="Maximum")
    return max(point.maximum or 0 for point in answer.value[0].timeseries[0].data)


def send(cloud, device_connection_string, count):
    from azure.iot.device import IoTHubDeviceClient, Message

    client = IoTHubDeviceClient.create_from_connection_string(
        device_connection_string, server_verification_cert=open(cloud["ca_path"]).read()
    )
    client.connect()
    try:
        for n in range(count):
            message = Message(json.dumps({"n": n}))
            message.message_id = f"metrics-{uuid.uuid4().hex[:8]}"
            client.send_message(message)
    finally:
        client.shutdown()


def test_messages_sent_are_counted_and_the_quota_used_grows(monitor, cloud, device_connection_string):
    sent_before = total(monitor, "d2c.telemetry.ingress.success")
    tried_before = total(monitor, "d2c.telemetry.ingress.allProtocol")
    quota_before = peak(monitor, "dailyMessageQuotaUsed")
    send(cloud, device_connection_string, 5)
    assert total(monitor, "d2c.telemetry.ingress.success") - sent_before == 5
    assert total(monitor, "d2c.telemetry.ingress.allProtocol") - tried_before == 5
    assert peak(monitor, "dailyMessageQuotaUsed") >= quota_before + 5


def test_one_query_answers_several_metrics_in_azures_shape(monitor):
    answer = monitor.metrics.list(
        HUB_ID, timespan=last_hour(), interval="PT5M",
        metricnames="d2c.telemetry.ingress.success,connectedDeviceCount", aggregation="Total,Average",
    )
    assert [m.name.value for m in answer.value] == ["d2c.telemetry.ingress.success", "connectedDeviceCount"]
    assert (answer.namespace, answer.resourceregion, answer.interval) == ("Microsoft.Devices/IotHubs", "westeurope", "PT5M")
    sent, connected = answer.value
    assert all(p.total is not None and p.average in (None, 1.0) for p in sent.timeseries[0].data)
    # A snapshot metric has no total: Azure answers its average only.
    assert all(p.total is None and p.average is not None for p in connected.timeseries[0].data)
    assert len(sent.timeseries[0].data) in (12, 13)


def test_the_definitions_list_iot_hubs_metrics(monitor):
    definitions = {d.name.value: d for d in monitor.metric_definitions.list(HUB_ID)}
    assert {"d2c.telemetry.ingress.allProtocol", "d2c.telemetry.ingress.success", "d2c.telemetry.ingress.sendThrottle",
            "dailyMessageQuotaUsed", "connectedDeviceCount", "d2c.endpoints.egress.storage",
            "d2c.telemetry.egress.dropped"} <= set(definitions)
    quota = definitions["dailyMessageQuotaUsed"]
    assert (quota.unit, quota.primary_aggregation_type) == ("Count", "Average")
    assert "Total" not in quota.supported_aggregation_types


def test_an_unknown_metric_is_refused_in_azure_monitors_words(monitor):
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as refused:
        monitor.metrics.list(HUB_ID, metricnames="d2c.telemetry.ingress.succes")
    assert refused.value.status_code == 400
    assert (
        "Failed to find metric configuration for provider: Microsoft.Devices, resource Type: IotHubs, "
        "metric: d2c.telemetry.ingress.succes, Valid metrics: d2c.telemetry.ingress.allProtocol,"
    ) in str(refused.value)


def test_a_bad_timespan_is_refused_in_azure_monitors_words(cloud):
    from conftest import arm_token

    answer = requests.get(
        f"{cloud['arm_endpoint']}{HUB_ID}/providers/Microsoft.Insights/metrics",
        params={"api-version": "2024-02-01", "timespan": "yesterday"},
        headers={"Authorization": f"Bearer {arm_token(cloud)}"},
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "code": "BadRequest",
        "message": "Detected invalid time interval input: yesterday, supported Iso 8601 time interval format: "
        "(Datetime/Datetime, Datetime/Duration, Duration/Datetime, Duration)",
    }


def test_a_device_connected_over_mqtt_is_counted_and_shown_connected(monitor, cloud, device_connection_string, owner_connection_string):
    from azure.iot.device import IoTHubDeviceClient
    from azure.iot.hub import IoTHubRegistryManager

    registry = IoTHubRegistryManager.from_connection_string(owner_connection_string)
    client = IoTHubDeviceClient.create_from_connection_string(
        device_connection_string, server_verification_cert=open(cloud["ca_path"]).read()
    )
    client.connect()
    try:
        device = registry.get_device(DEVICE)
        assert device.connection_state == "Connected"
        assert device.last_activity_time.year == datetime.datetime.now(datetime.timezone.utc).year
        assert peak(monitor, "connectedDeviceCount") >= 1
    finally:
        client.shutdown()
    # The hub sees the connection close once its DISCONNECT arrives: asked until then.
    deadline = time.monotonic() + 20
    while registry.get_device(DEVICE).connection_state != "Disconnected":
        assert time.monotonic() < deadline, "the device still shows connected after it disconnected"


@pytest.mark.skipif(not AZ, reason=SKIP_REASON)
def test_az_monitor_metrics_list_agrees_with_the_sdk(monitor, az_env, signed_in):
    shown = json.loads(az(az_env, "monitor", "metrics", "list", "--resource", HUB_ID,
                          "--metric", "d2c.telemetry.ingress.success", "--aggregation", "Total", "--output", "json").stdout)
    by_az = sum(p.get("total") or 0 for p in shown["value"][0]["timeseries"][0]["data"])
    assert by_az == total(monitor, "d2c.telemetry.ingress.success") and by_az > 0
    refused = az(az_env, "monitor", "metrics", "list", "--resource", HUB_ID, "--metric", "no.such.metric", check=False)
    assert refused.returncode != 0
    assert "Failed to find metric configuration for provider: Microsoft.Devices, resource Type: IotHubs, metric: no.such.metric" in refused.stderr


def test_hubsetup_health_agrees_with_azure_monitor(monitor, cloud):
    """`hubsetup health` counts what Microsoft's SDK reads from the same metrics, and names the
    seeded device with its last activity; no key is printed."""
    shown = subprocess.run(
        [HUBSETUP, "health", "--sandbox", cloud["description_file"], "--method", "device-code",
         "--subscription", PRODUCTION, "--hub", HUB, "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    health = json.loads(shown.stdout)
    end = datetime.datetime.now(datetime.timezone.utc)
    start = end.replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=23)
    answer = monitor.metrics.list(HUB_ID, timespan=f"{start.isoformat()}/{end.isoformat()}", interval="PT1H",
                                  metricnames="d2c.telemetry.ingress.success", aggregation="Total")
    by_sdk = [int(p.total or 0) for p in answer.value[0].timeseries[0].data]
    assert [h["sent"] for h in health["hourly"]] == by_sdk
    assert sum(by_sdk) > 0, "earlier tests sent to this hub"
    device = next(s for s in health["streams"] if s["device_id"] == DEVICE)
    assert device["enabled"] and device["last_activity"]
    assert health["verdicts"] and health["verdicts"][0]["text"]
    assert "SharedAccessKey" not in shown.stdout + shown.stderr and "primaryKey" not in shown.stdout


def test_hubsetup_health_reads_like_a_person_would(cloud):
    shown = subprocess.run(
        [HUBSETUP, "health", "--sandbox", cloud["description_file"], "--method", "device-code",
         "--subscription", PRODUCTION, "--hub", HUB],
        capture_output=True, text=True, timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0][:2] in ("✓ ", "! ", "✗ "), lines[0]
    chart = next(line for line in lines if "Messages per hour, last 24 h:" in line)
    spark = chart.split(": ", 1)[1].split("  ", 1)[0]
    assert len(spark) == 24 and set(spark) <= set("▁▂▃▄▅▆▇█"), chart
    assert any(line.strip().startswith(DEVICE) for line in lines)


def test_hubsetup_health_of_an_unknown_hub_says_so(cloud):
    shown = subprocess.run(
        [HUBSETUP, "health", "--sandbox", cloud["description_file"], "--method", "device-code",
         "--subscription", PRODUCTION, "--hub", "no-such-hub"],
        capture_output=True, text=True, timeout=120,
    )
    assert shown.returncode != 0
    assert "no-such-hub" in shown.stderr
