"""The shape check itself (arm_shapes.py) is checked here: a live answer of the sandbox passes,
and the same answer with a documented property dropped, or a property of the wrong type, fails
with a sentence that names it. The check of the whole run's journal is `cargo xtask test`'s
step after these tests.
"""

import copy

import pytest
import requests
from arm_shapes import Checker
from conftest import HUB, PRODUCTION, arm_token

HUB_PATH = f"/subscriptions/{PRODUCTION}/resourceGroups/contoso-iot/providers/Microsoft.Devices/IotHubs/{HUB}"


@pytest.fixture(scope="module")
def checker():
    return Checker()


@pytest.fixture(scope="module")
def live_hub(cloud):
    answer = requests.get(
        f"{cloud['arm_endpoint']}{HUB_PATH}?api-version=2023-06-30",
        headers={"Authorization": f"Bearer {arm_token(cloud)}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def problems(checker, body, status=200):
    operation = checker.operation("GET", HUB_PATH, "2023-06-30")
    assert operation.operation_id == "IotHubResource_Get"
    return checker.problems(operation, status, body)


def test_the_sandboxs_hub_has_azures_shape(checker, live_hub):
    assert problems(checker, live_hub) == []


def test_a_dropped_documented_property_fails(checker, live_hub):
    dropped = copy.deepcopy(live_hub)
    del dropped["properties"]["hostName"]
    assert problems(checker, dropped) == [
        "/properties: the documented property IotHubProperties.hostName is missing"
    ]


def test_a_property_of_the_wrong_type_fails(checker, live_hub):
    wrong = copy.deepcopy(live_hub)
    wrong["sku"]["capacity"] = "one"
    assert problems(checker, wrong) == ["sku/capacity: 'one' is not of type 'integer'"]


def test_errors_are_checked_in_the_shape_of_whoever_gives_them(checker):
    # IoT Hub's own errors: {code, httpStatusCode, message, details} at the top level.
    busy = {"code": "IotHubNotActive", "httpStatusCode": "Conflict", "message": "still being created", "details": None}
    assert problems(checker, busy, status=409) == []
    assert problems(checker, dict(busy, httpStatusCode=409), status=409) == ["httpStatusCode: 409 is not of type 'string'"]
    # ARM's, which answer before the provider sees the request: {"error": {code, message}}.
    assert problems(checker, {"error": {"code": "ResourceNotFound", "message": "gone"}}, status=404) == []
    assert problems(checker, {"error": {"code": 404, "message": "gone"}}, status=404) == ["error/code: 404 is not of type 'string'"]


ACCOUNT_PATH = f"/subscriptions/{PRODUCTION}/resourceGroups/contoso-iot/providers/Microsoft.Storage/storageAccounts/plantdata"


def test_enums_are_read_as_azures_sdk_generators_read_them(checker):
    keys = checker.operation("POST", f"{ACCOUNT_PATH}/listKeys", "2025-08-01")
    assert keys.operation_id == "StorageAccounts_ListKeys"
    # KeyPermission is a closed enum (modelAsString false): only its own spelling passes.
    key = {"keyName": "key1", "value": "x", "permissions": "Full", "creationTime": "2026-12-07T12:00:00Z"}
    assert checker.problems(keys, 200, {"keys": [key]}) == []
    assert checker.problems(keys, 200, {"keys": [dict(key, permissions="FULL")]}) == [
        "keys/0/permissions: 'FULL' is not one of ['Read', 'Full']"]

    update = checker.operation("PATCH", ACCOUNT_PATH, "2025-08-01")
    assert update.operation_id == "StorageAccounts_Update"

    def bypass_problems(bypass):
        account = {"id": ACCOUNT_PATH, "name": "plantdata", "type": "Microsoft.Storage/storageAccounts", "location": "westeurope",
                   "properties": {"networkAcls": {"bypass": bypass, "defaultAction": "Deny"}}}
        return [p for p in checker.problems(update, 200, account) if "bypass" in p]

    # Bypass is extensible (modelAsString) and takes flags: a combination passes, an unknown flag fails.
    assert bypass_problems("Logging, AzureServices") == []
    assert bypass_problems("azureservices") == []
    assert bypass_problems("Logging, Nonsense") == [
        "properties/networkAcls/bypass: 'Logging, Nonsense' is not one of ['None', 'Logging', 'Metrics', 'AzureServices']"]
