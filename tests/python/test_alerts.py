"""Azure Monitor's alerting in the sandbox, driven by Microsoft's management SDK
(`azure-mgmt-monitor`, unmodified): an action group that e-mails, its test notification, and a
metric alert rule on a hub that fires when the hub's messages stop. E-mails land in the
sandbox's outbox (`GET control.{suffix}/mail`); an hour without data passes at once for the hub
(`POST control.{suffix}/hubs/{hub}/time-passes`: its measurements move into the past), never by
waiting.
"""

import uuid

import pytest
import requests
from conftest import HUB, PRODUCTION, management_client
from test_monitor import send

GROUP = "contoso-iot"
HUB_ID = f"/subscriptions/{PRODUCTION}/resourceGroups/{GROUP}/providers/Microsoft.Devices/IotHubs/{HUB}"


@pytest.fixture(scope="module")
def monitor(cloud):
    from azure.mgmt.monitor import MonitorManagementClient

    return management_client(MonitorManagementClient, cloud)


def mail(cloud, source):
    """The e-mails the sandbox's action groups sent for `source` (a rule's or group's id)."""
    answer = requests.get(f"https://control.{cloud['suffix']}/mail")
    assert answer.status_code == 200, answer.text
    return [m for m in answer.json()["value"] if m["source"].lower() == source.lower()]


def advance(cloud, duration):
    moved = requests.post(f"https://control.{cloud['suffix']}/hubs/{HUB}/time-passes", json={"by": duration})
    assert moved.status_code == 200, moved.text
    return moved.json()


@pytest.fixture(scope="module")
def action_group(monitor):
    from azure.mgmt.monitor.models import ActionGroupResource, EmailReceiver

    name = f"plant-ops-{uuid.uuid4().hex[:6]}"
    created = monitor.action_groups.create_or_update(GROUP, name, ActionGroupResource(
        location="Global", group_short_name="plantops", enabled=True,
        email_receivers=[EmailReceiver(name="admin", email_address="admin@contoso.com"),
                         EmailReceiver(name="partner", email_address="support@partner.example", use_common_alert_schema=True)],
    ))
    yield created
    monitor.action_groups.delete(GROUP, name)


def test_an_action_group_is_kept_as_azure_keeps_it(monitor, action_group):
    shown = monitor.action_groups.get(GROUP, action_group.name)
    assert (shown.group_short_name, shown.enabled, shown.location) == ("plantops", True, "Global")
    assert [(r.name, r.email_address, r.status) for r in shown.email_receivers] == [
        ("admin", "admin@contoso.com", "Enabled"), ("partner", "support@partner.example", "Enabled")]
    assert shown.sms_receivers == [] and shown.webhook_receivers == []
    assert action_group.name in [g.name for g in monitor.action_groups.list_by_resource_group(GROUP)]


def test_a_test_notification_reaches_the_outbox(monitor, cloud, action_group):
    from azure.mgmt.monitor.models import EmailReceiver, NotificationRequestBody

    sent = monitor.action_groups.begin_create_notifications_at_action_group_resource_level(
        GROUP, action_group.name,
        NotificationRequestBody(alert_type="metricstaticthreshold", email_receivers=[EmailReceiver(name="admin", email_address="admin@contoso.com")]),
    ).result()
    assert sent.state == "Complete"
    assert [(d.mechanism_type, d.name, d.status) for d in sent.action_details] == [("Email", "admin", "Success")]
    [arrived] = mail(cloud, action_group.id)
    assert (arrived["to"], arrived["kind"]) == ("admin@contoso.com", "test")
    assert arrived["subject"] == f"Test notification from action group '{action_group.name}'"


def test_a_rule_fires_when_the_hubs_messages_stop(monitor, cloud, action_group, device_connection_string):
    from azure.mgmt.monitor.models import (MetricAlertAction, MetricAlertResource,
                                           MetricAlertSingleResourceMultipleMetricCriteria, MetricCriteria)

    send(cloud, device_connection_string, 1)
    name = f"no-data-{uuid.uuid4().hex[:6]}"
    rule = monitor.metric_alerts.create_or_update(GROUP, name, MetricAlertResource(
        location="global", description="The partner's data stopped arriving", severity=2, enabled=True,
        scopes=[HUB_ID], evaluation_frequency="PT5M", window_size="PT1H",
        criteria=MetricAlertSingleResourceMultipleMetricCriteria(all_of=[MetricCriteria(
            name="no-messages", metric_name="d2c.telemetry.ingress.success", time_aggregation="Total",
            operator="LessThan", threshold=1)]),
        actions=[MetricAlertAction(action_group_id=action_group.id)],
    ))
    assert (rule.auto_mitigate, rule.target_resource_type) == (True, "Microsoft.Devices/IotHubs")

    # A message in the last hour: the rule holds its peace.
    advance(cloud, "PT5M")
    assert mail(cloud, rule.id) == []
    assert [s.properties.status for s in monitor.metric_alerts_status.list(GROUP, name).value] == ["Healthy"]

    # An hour and more without messages: it fires, and both receivers are told.
    moved = advance(cloud, "PT1H5M")
    assert moved["changed"] == [rule.id]
    fired = mail(cloud, rule.id)
    assert sorted(m["to"] for m in fired) == ["admin@contoso.com", "support@partner.example"]
    assert fired[0]["subject"].startswith(f"Fired:Sev2 Azure Monitor Alert {name} on {HUB} ( metricalert ) at ")
    assert "Condition: Telemetry messages sent (d2c.telemetry.ingress.success), Total over the last 1 hour: 0" in fired[0]["body"]
    assert [s.properties.status for s in monitor.metric_alerts_status.list(GROUP, name).value] == ["Unhealthy"]

    # Fired once: later evaluations without data send nothing more.
    advance(cloud, "PT10M")
    assert len(mail(cloud, rule.id)) == 2
    assert name in [r.name for r in monitor.metric_alerts.list_by_resource_group(GROUP)]
    monitor.metric_alerts.delete(GROUP, name)
    assert name not in [r.name for r in monitor.metric_alerts.list_by_resource_group(GROUP)]


@pytest.mark.parametrize("change, words", [
    ({"window_size": "PT1M", "evaluation_frequency": "PT5M"}, "The window size (PT1M) must be at least the evaluation frequency (PT5M)."),
    ({"metric": "d2c.telemetry.ingress.successs"}, "Couldn't find a metric named 'd2c.telemetry.ingress.successs' for IoT hubs (Microsoft.Devices/IotHubs): check the name, for example d2c.telemetry.ingress.success."),
    ({"aggregation": "Total", "metric": "connectedDeviceCount"}, "The metric 'connectedDeviceCount' cannot be aggregated as 'Total': use one of Average, Minimum, Maximum, Count."),
    ({"severity": 5}, "The rule's severity must be a whole number from 0 (critical) to 4 (verbose)."),
    # What az sends for --condition "total d2c.telemetry.ingress.success < 1", the name unquoted.
    ({"namespace": "d2c.telemetry.ingress", "metric": "success"},
     "Couldn't find a metric named 'success' in namespace 'd2c.telemetry.ingress': IoT hubs' metrics are in Microsoft.Devices/IotHubs. "
     "A metric name with dots goes in quotes in az's condition, as in \"total 'd2c.telemetry.ingress.success' < 1\"."),
    ({"action_group": "/subscriptions/x/resourceGroups/contoso-iot/providers/Microsoft.Insights/actionGroups/nobody"},
     "The action group '/subscriptions/x/resourceGroups/contoso-iot/providers/Microsoft.Insights/actionGroups/nobody' does not exist: create it first, or give its full resource id."),
])
def test_a_rule_azure_would_refuse_is_refused_in_words(monitor, action_group, change, words):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.monitor.models import (MetricAlertAction, MetricAlertResource,
                                           MetricAlertSingleResourceMultipleMetricCriteria, MetricCriteria)

    with pytest.raises(HttpResponseError) as refused:
        monitor.metric_alerts.create_or_update(GROUP, "refused", MetricAlertResource(
            location="global", severity=change.get("severity", 3), enabled=True, scopes=[HUB_ID],
            evaluation_frequency=change.get("evaluation_frequency", "PT5M"), window_size=change.get("window_size", "PT1H"),
            criteria=MetricAlertSingleResourceMultipleMetricCriteria(all_of=[MetricCriteria(
                name="c", metric_name=change.get("metric", "d2c.telemetry.ingress.success"), metric_namespace=change.get("namespace"),
                time_aggregation=change.get("aggregation", "Total"), operator="LessThan", threshold=1)]),
            actions=[MetricAlertAction(action_group_id=change.get("action_group", action_group.id))],
        ))
    assert refused.value.status_code == 400
    assert refused.value.error.message == words
    assert "refused" not in [r.name for r in monitor.metric_alerts.list_by_resource_group(GROUP)]


def test_an_action_group_azure_would_refuse_is_refused_in_words(monitor):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.monitor.models import ActionGroupResource, EmailReceiver

    with pytest.raises(HttpResponseError) as refused:
        monitor.action_groups.create_or_update(GROUP, "too-long", ActionGroupResource(
            location="Global", group_short_name="plant-operations", enabled=True,
            email_receivers=[EmailReceiver(name="admin", email_address="admin@contoso.com")]))
    assert refused.value.error.message == ("The action group's short name 'plant-operations' is invalid: give 1 to 12 characters; "
                                           "it names the group in e-mails and text messages.")
    with pytest.raises(HttpResponseError) as bad_address:
        monitor.action_groups.create_or_update(GROUP, "bad-address", ActionGroupResource(
            location="Global", group_short_name="ops", enabled=True,
            email_receivers=[EmailReceiver(name="admin", email_address="admin at contoso")]))
    assert bad_address.value.error.message == ("The e-mail receiver 'admin' has an invalid address 'admin at contoso': "
                                               "give one address such as admin@contoso.com.")


def test_the_cli_sets_up_tests_shows_and_removes_the_alert(cloud, device_connection_string, tmp_path):
    import json
    import subprocess

    from conftest import HUBSETUP

    def hubsetup(*args):
        return subprocess.run(
            [HUBSETUP, "alert", *args, "--hub", HUB, "--subscription", PRODUCTION,
             "--sandbox", cloud["description_file"], "--method", "device-code"],
            capture_output=True, text=True, timeout=120,
        )

    refused = hubsetup("set-up", "--email", "admin at contoso")
    assert refused.returncode == 2
    assert "'admin at contoso' is not an e-mail address: give one address such as admin@contoso.com." in refused.stderr
    send(cloud, device_connection_string, 1)
    records = tmp_path / "commands.sh", tmp_path / "alert.json"
    set_up = hubsetup("set-up", "--email", "cli@contoso.com", "--quiet-minutes", "30",
                      "--az-commands", str(records[0]), "--arm-template", str(records[1]))
    assert set_up.returncode == 0, set_up.stderr
    assert f"{HUB}-no-data: No messages from any device for 30 minutes (watching)" in set_up.stdout
    assert f"az monitor metrics alert create --name {HUB}-no-data" in records[0].read_text()
    template = json.loads(records[1].read_text())
    assert [r["type"] for r in template["resources"]] == ["Microsoft.Insights/actionGroups", "Microsoft.Insights/metricAlerts"]
    tested = hubsetup("test")
    assert tested.returncode == 0, tested.stderr
    assert tested.stdout.strip() == "A test e-mail was sent to cli@contoso.com."
    group = f"/subscriptions/{PRODUCTION}/resourceGroups/{GROUP}/providers/Microsoft.Insights/actionGroups/{HUB}-data-alerts"
    assert [m["to"] for m in mail(cloud, group)] == ["cli@contoso.com"]
    assert "(watching)" in hubsetup("show").stdout
    removed = hubsetup("remove")
    assert removed.stdout.strip() == f"The alert on hub '{HUB}' was removed."
    assert hubsetup("show").stdout.strip() == f"No alert is set up on hub '{HUB}'."
