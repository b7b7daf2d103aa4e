"""Azure's Retail Prices API as the sandbox serves it (`prices.{suffix}`), read the way
Microsoft's documentation reads it (Python's `requests`, following `NextPageLink` until it is
null; the API has no SDK), and `hubsetup plan` priced from it in the locale a user has.

The documented example item below is kept as test data: Microsoft's "Azure Retail Prices
overview" (learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices,
"a sample response with a non-USD currency"), as Microsoft's docs source had it on 2021-12-13
(tongwu-msft/azure-rest-api-specs, docs-ref-conceptual/cost-management/retail-prices/
azure-retail-prices.md, commit 007053ab). Every sandbox item must have its fields and types.
"""

import datetime
import os
import subprocess
import zoneinfo

import pytest
import requests

from conftest import HUBSETUP

DOCUMENTED_ITEM = {
    "currencyCode": "EUR",
    "tierMinimumUnits": 0,
    "retailPrice": 0.6176,
    "unitPrice": 0.6176,
    "armRegionName": "westeurope",
    "location": "EU West",
    "effectiveStartDate": "2021-04-01T00:00:00Z",
    "meterId": "000a794b-bdb0-58be-a0cd-0c3a0f222923",
    "meterName": "F16s Spot",
    "productId": "DZH318Z0BQPS",
    "skuId": "DZH318Z0BQPS/00TG",
    "productName": "Virtual Machines FS Series Windows",
    "skuName": "F16s Spot",
    "serviceName": "Virtual Machines",
    "serviceId": "DZH313Z7MMC8",
    "serviceFamily": "Compute",
    "unitOfMeasure": "1 Hour",
    "type": "Consumption",
    "isPrimaryMeterRegion": True,
    "armSkuName": "Standard_F16s",
}

ENVELOPE = ["BillingCurrency", "CustomerEntityId", "CustomerEntityType", "Items", "NextPageLink", "Count"]


@pytest.fixture
def prices(cloud):
    return f"https://prices.{cloud['suffix']}/api/retail/prices"


@pytest.fixture
def small_pages(cloud):
    """Pages of two items, so that following NextPageLink is exercised; Azure's 1,000 after."""
    control = f"https://control.{cloud['suffix']}/prices/page-size"
    requests.put(control, json={"size": 2}).raise_for_status()
    yield
    requests.put(control, json={"size": 1000}).raise_for_status()


def read_all(url, params):
    """Microsoft's documented way: the first page, then NextPageLink until it is null."""
    answer = requests.get(url, params=params)
    answer.raise_for_status()
    page = answer.json()
    items, pages = list(page["Items"]), [page]
    while page["NextPageLink"]:
        page = requests.get(page["NextPageLink"]).json()
        items.extend(page["Items"])
        pages.append(page)
    return items, pages


def test_iot_hub_units_are_read_page_by_page_in_the_currency_asked_for(prices, small_pages):
    items, pages = read_all(prices, {
        "api-version": "2023-01-01-preview",
        "currencyCode": "'EUR'",
        "$filter": "serviceName eq 'IoT Hub' and productName eq 'IoT Hub' and armRegionName eq 'westeurope'",
    })
    assert [p["Count"] for p in pages] == [2, 2, 2, 1]
    assert all(list(p) == ENVELOPE and p["BillingCurrency"] == "EUR" for p in pages)
    assert pages[0]["NextPageLink"].startswith(f"{prices.replace('/api', ':443/api')}?")
    assert "%24skip=2" in pages[0]["NextPageLink"] or "$skip=2" in pages[0]["NextPageLink"]
    assert {i["skuName"]: i["retailPrice"] for i in items} == {
        "Free": 0.0, "B1": 9.2, "B2": 46.0, "B3": 460.0, "S1": 23.0, "S2": 230.0, "S3": 2300.0}
    assert all(i["unitOfMeasure"] == "1/Month" and i["meterName"] == f"{i['skuName']} Unit" for i in items)
    for item in items:
        assert {k: type(v) for k, v in item.items()} == {k: type(v) for k, v in DOCUMENTED_ITEM.items()} | {"tierMinimumUnits": float}


def test_filters_read_as_the_api_reads_them(prices):
    def skus(filter, version="2023-01-01-preview", **more):
        answer = requests.get(prices, params={"api-version": version, "$filter": filter, **more})
        answer.raise_for_status()
        return sorted(i["skuName"] for i in answer.json()["Items"])

    assert skus("serviceName eq 'IoT Hub' and (skuName eq 'S1' or skuName eq 'B1')") == ["B1", "S1"]
    assert skus("serviceName eq 'IoT Hub' and contains(skuName, 'S')") == ["S1", "S2", "S3"]
    # Values compare exactly from 2023-01-01-preview on, without regard to case before.
    assert skus("serviceName eq 'iot hub' and skuName eq 's1'") == []
    assert skus("serviceName eq 'iot hub' and skuName eq 's1'", version="2021-10-01") == ["S1"]
    # The currency is a parameter of its own: inside the filter it matches nothing.
    assert skus("serviceName eq 'IoT Hub' and currencyCode eq 'EUR'") == []
    assert skus("skuName eq 'Hot LRS'", meterRegion="'primary'") == ["Hot LRS", "Hot LRS"]


def test_what_the_api_cannot_answer_gets_400(prices):
    answer = requests.get(prices, params={"currencyCode": "'XYZ'"})
    assert answer.status_code == 400 and "Currency 'XYZ' is not supported" in answer.json()["Error"]["Message"]
    answer = requests.get(prices, params={"$filter": "not(contains(skuName, 'S'))"})
    assert answer.status_code == 400 and answer.json()["Error"]["Code"] == "InvalidFilter"


def plan(cloud, *args, locale="en_US.UTF-8"):
    env = {**os.environ, "LC_ALL": locale, "LANG": locale, "TZ": "Europe/Berlin"}
    return subprocess.run([HUBSETUP, "plan", "--sandbox", cloud["description_file"], *args], capture_output=True, text=True, env=env)


def test_hubsetup_plan_prices_in_the_users_locale(cloud):
    german = plan(cloud, "--devices", "1500", "--per-hour", "12", "--size", "2048", locale="de_DE.UTF-8")
    assert german.returncode == 0, german.stderr
    today = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Berlin")).date()
    lines = german.stdout.splitlines()
    assert lines[0] == "1.500 devices sending 12 messages an hour of 2.048 bytes: 432.000 messages a day, 15 sends a second at the busiest."
    assert "Recommended: S1 × 2 units, 46,00\u00a0€ a month." in german.stdout
    assert f"Azure's list prices for westeurope in EUR, read {today.day:02}.{today.month:02}.{today.year}." in german.stdout
    american = plan(cloud, "--devices", "1500", "--per-hour", "12", "--size", "2048")
    assert "Recommended: S1 × 2 units, $50.00 a month." in american.stdout
    assert [line for line in american.stdout.splitlines() if line.startswith("S3 ")] == [
        "S3          432,000      1     $2,500.00  $2,500.00"]
    pounds = plan(cloud, "--devices", "1500", "--per-hour", "12", "--size", "2048", "--currency", "gbp")
    assert "Recommended: S1 × 2 units, £39.50 a month." in pounds.stdout


def test_hubsetup_plan_says_what_went_wrong(cloud):
    unknown = plan(cloud, "--devices", "10", "--per-hour", "1", "--size", "100", "--currency", "XYZ")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().endswith(
        "Azure's price list has no prices in 'XYZ'. Choose one of USD, AUD, BRL, CAD, CHF, CNY, DKK, EUR, GBP, INR, JPY, KRW, NOK, NZD, RUB, SEK, TWD.")
    empty = plan(cloud, "--devices", "10", "--per-hour", "1", "--size", "100", "--region", "eastus2")
    assert empty.returncode == 0
    assert empty.stdout.endswith(
        "No prices: Azure's price list has no IoT Hub prices for region 'eastus2' in USD. The tier's limits below still apply; choose another region to compare prices.\n")
    sovereign = subprocess.run([HUBSETUP, "plan", "--cloud", "china", "--devices", "10", "--per-hour", "1", "--size", "100"],
                               capture_output=True, text=True, env={**os.environ, "LC_ALL": "en_US.UTF-8"})
    assert "No prices: Azure's retail price list covers the global Azure cloud only, so no prices are shown for Azure China." in sovereign.stdout
    assert "Recommended: S1 × 1 unit." in sovereign.stdout
    bad = plan(cloud, "--devices", "0", "--per-hour", "1", "--size", "100")
    assert bad.returncode == 2 and "The plan needs at least one device or data stream." in bad.stderr
