"""The sandbox's ARM answers checked against Azure's own REST specifications.

Every answer the sandbox gave in a test run is in its journal (HUBSETUP_SANDBOX_ARM_JOURNAL, one
JSON line per exchange, keys replaced). Each is matched to the operation of Azure's OpenAPI
(Swagger 2.0) document for its api-version, kept in tests/specs (see PROVENANCE.md there), and
checked two ways:

- it validates against the schema of its status code (or the operation's `default`, for
  errors) with `jsonschema`, the specification's `$ref`s resolved across its files;
- every property the specification documents for an object is present, unless `omitted.json`
  says why Azure leaves it out too (`Definition.property`, or `*.property` for every
  definition): a documented property the sandbox drops fails the run.

A null counts as absent, as Azure's own SDKs read it. The run also fails when an operation in
COVERED never got a successful answer (the tests stopped exercising it), or when an answer has
no specification kept for it and is not listed in UNCHECKED.

    python arm_shapes.py JOURNAL_FOLDER
"""

import json
import pathlib
import re
import sys
from dataclasses import dataclass, field
from urllib.parse import urljoin

import jsonschema
import referencing
import referencing.jsonschema

SPECS = pathlib.Path(__file__).resolve().parents[1] / "specs"
# ARM's error shape, as the resource providers' specifications share it.
ARM_ERROR = SPECS / "specification/common-types/resource-management/v5/types.json"

# The answers no kept specification covers yet: the path's pattern and why.
UNCHECKED = {
    r"^/metadata/endpoints$": "ARM's cloud metadata has no REST specification",
    r"/providers/Microsoft\.Authorization/policyDefinitions/": "Azure's specifications have no policy definitions at api-version 2022-06-01 (only policy assignments); the stored ones are 2021-06-01 and 2023-04-01",
    r"^/subscriptions/[^/]+/operationresults/": "ARM's own operation results are not specified",
    r"/providers/Microsoft\.Storage/locations/[^/]+/asyncoperations/": "documented only as a Location header",
    r"^/subscriptions/[^/]+/providers/Microsoft\.Authorization/permissions$": "Azure answers a subscription's permissions, but its specifications list them only for resource groups and resources",
    r"/providers/Microsoft\.Devices/locations/[^/]+/operationResults/": "documented only as an Azure-AsyncOperation header",
}

# Operations the test run must answer successfully at least once, by operationId.
COVERED = [
    "Operations_List",
    "ResourceProviderCommon_GetSubscriptionQuota",
    "IotHubResource_CheckNameAvailability",
    "IotHubResource_CreateOrUpdate",
    "IotHubResource_Get",
    "IotHubResource_Update",
    "IotHubResource_Delete",
    "IotHubResource_ListBySubscription",
    "IotHubResource_ListByResourceGroup",
    "IotHubResource_GetStats",
    "IotHubResource_GetValidSkus",
    "IotHubResource_GetQuotaMetrics",
    "IotHubResource_ListKeys",
    "IotHubResource_GetKeysForKeyName",
    "IotHubResource_ListEventHubConsumerGroups",
    "IotHubResource_GetEventHubConsumerGroup",
    "IotHubResource_CreateEventHubConsumerGroup",
    "IotHubResource_DeleteEventHubConsumerGroup",
    "IotHubResource_ListJobs",
    "IotHubResource_GetJob",
    "IotHubResource_ExportDevices",
    "IotHubResource_ImportDevices",
    "IotHubResource_GetEndpointHealth",
    "IotHubResource_TestAllRoutes",
    "IotHubResource_TestRoute",
    "IotHub_ManualFailover",
    "PrivateLinkResources_List",
    "PrivateLinkResources_Get",
    "PrivateEndpointConnections_List",
    "PrivateEndpointConnections_Get",
    "PrivateEndpointConnections_Update",
    "PrivateEndpointConnections_Delete",
    "Certificates_ListByIotHub",
    "Certificates_Get",
    "Certificates_CreateOrUpdate",
    "Certificates_Delete",
    "Certificates_GenerateVerificationCode",
    "Certificates_Verify",
    "ResourceGroups_CreateOrUpdate",
    "ResourceGroups_Get",
    "ResourceGroups_CheckExistence",
    "ResourceGroups_List",
    "ResourceGroups_Delete",
    "Providers_Get",
    "Providers_Register",
    "Subscriptions_List",
    "Subscriptions_Get",
    "Subscriptions_ListLocations",
    "Tenants_List",
    "Metrics_List",
    "MetricDefinitions_List",
    "RoleAssignments_Create",
    "RoleAssignments_ListForResource",
    "Permissions_ListForResourceGroup",
    "Permissions_ListForResource",
    "ManagementLocks_ListAtResourceGroupLevel",
    "PolicyAssignments_ListForResourceGroup",
    "PolicyAssignments_ListForResource",
    "StorageAccounts_CheckNameAvailability",
    "StorageAccounts_Create",
    "StorageAccounts_GetProperties",
    "StorageAccounts_Update",
    "StorageAccounts_Delete",
    "StorageAccounts_List",
    "StorageAccounts_ListByResourceGroup",
    "StorageAccounts_ListKeys",
    "StorageAccounts_RegenerateKey",
    "BlobContainers_Create",
    "BlobContainers_Delete",
    "ActionGroups_CreateOrUpdate",
    "ActionGroups_Get",
    "ActionGroups_Delete",
    "ActionGroups_ListByResourceGroup",
    "ActionGroups_CreateNotificationsAtActionGroupResourceLevel",
    "ActionGroups_GetTestNotificationsAtActionGroupResourceLevel",
    "MetricAlerts_CreateOrUpdate",
    "MetricAlerts_Get",
    "MetricAlerts_ListByResourceGroup",
    "MetricAlerts_Delete",
    "MetricAlertsStatus_List",
]


# Path parameters that stand for a whole resource ID, slashes and all.
WHOLE_IDS = ("\\{resourceUri\\}", "\\{scope\\}")


@dataclass
class Operation:
    document: pathlib.Path
    section: str
    method: str
    template: str
    pattern: re.Pattern
    spec: dict
    operation_id: str


@dataclass
class Report:
    checked: int = 0
    problems: list = field(default_factory=list)
    answered: set = field(default_factory=set)
    unchecked: dict = field(default_factory=dict)


def _documents():
    return sorted(p for p in SPECS.rglob("*.json") if "/examples/" not in str(p) and p.name != "omitted.json")


# Azure Monitor's version folders refer to `./common-types/vN/commonMonitoringTypes.json` beside
# them; the store holds those types only at the service's `monitor/common-types/vN` (see
# PROVENANCE.md), which is where such refs are looked up.
MONITOR_TYPES = re.compile(r"/specification/monitor/common-types/(v\d+)/commonMonitoringTypes\.json$")
MONITOR_VERSIONS = SPECS / "specification/monitor/resource-manager/Microsoft.Insights/Insights/stable"


def _registry():
    resources = []
    for path in _documents():
        contents = json.loads(path.read_text())
        resource = referencing.Resource.from_contents(contents, default_specification=referencing.jsonschema.DRAFT4)
        resources.append((path.as_uri(), resource))
        shared = MONITOR_TYPES.search(path.as_uri())
        if shared and MONITOR_VERSIONS.is_dir():
            for version in MONITOR_VERSIONS.iterdir():
                alias = version / "common-types" / shared.group(1) / "commonMonitoringTypes.json"
                resources.append((alias.as_uri(), resource))
    return referencing.Registry().with_resources(resources)


def _operations():
    """Every operation of every kept document, by api-version."""
    by_version = {}
    for path in _documents():
        document = json.loads(path.read_text())
        if "paths" not in document:
            continue
        version = document["info"]["version"]
        for section, template, item in [
            (section, template, item)
            for section in ("paths", "x-ms-paths")
            for template, item in document.get(section, {}).items()
        ]:
            route = template.split("?", 1)[0]
            # `{resourceUri}` and `{scope}` (x-ms-skip-url-encoding) are whole resource IDs,
            # slashes and all; `{parentResourcePath}` is empty for a top-level resource.
            escaped = re.escape(route).replace("\\{parentResourcePath\\}/", "(?:[^/]+/[^/]+/)*")
            pattern = re.compile(
                "^"
                + re.sub(
                    r"\\\{[^}]+\\\}",
                    lambda m: ".+" if m.group(0) in WHOLE_IDS else "[^/]+",
                    escaped,
                )
                + "$",
                re.IGNORECASE,
            )
            for method, spec in item.items():
                if method in ("get", "put", "post", "patch", "delete", "head"):
                    by_version.setdefault(version, []).append(
                        Operation(path, section, method.upper(), template, pattern, spec, spec.get("operationId", ""))
                    )
    return by_version


def _azure_enum(validator, enums, instance, schema):
    """An enum as Azure's SDK generators read it: one marked `x-ms-enum.modelAsString` is an
    extensible string whose known values match whatever their case, and a flags value lists
    several of them, comma-separated ("Logging, AzureServices")."""
    if instance in enums:
        return
    if schema.get("x-ms-enum", {}).get("modelAsString") and isinstance(instance, str):
        known = {str(e).lower() for e in enums}
        if all(part.strip().lower() in known for part in instance.split(",")):
            return
    yield jsonschema.ValidationError(f"{instance!r} is not one of {enums!r}")


def _azure_type(validator, types, instance, schema):
    """`type: object` with nothing more is any JSON value to AutoRest (policy parameters'
    values are strings, lists or objects)."""
    bare = types == "object" and not any(k in schema for k in ("properties", "additionalProperties", "allOf"))
    if bare:
        return
    yield from jsonschema.Draft4Validator.VALIDATORS["type"](validator, types, instance, schema)


AzureValidator = jsonschema.validators.extend(jsonschema.Draft4Validator, {"enum": _azure_enum, "type": _azure_type})


def _without_nulls(value):
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


class Checker:
    def __init__(self):
        self.registry = _registry()
        self.operations = _operations()
        self.omitted = json.loads((SPECS / "omitted.json").read_text())

    def operation(self, method, path, api_version):
        for operation in self.operations.get(api_version, []):
            if operation.method == method and operation.pattern.match(path):
                return operation
        return None

    def problems(self, operation, status, body):
        """What is wrong with `body` as `operation`'s answer with `status`: a list of sentences."""
        responses = operation.spec.get("responses", {})
        key = str(status) if str(status) in responses else "default"
        if status >= 400 and isinstance(body, dict) and "error" in body:
            # ARM's own refusals (tokens, api-versions, locks, missing resources) come before
            # the provider sees the request, in ARM's shape, whatever the provider documents;
            # some providers (Storage) document no error answers at all.
            return self._validate({"$ref": ARM_ERROR.as_uri() + "#/definitions/ErrorResponse"}, body, ARM_ERROR.as_uri())
        if key not in responses:
            return [f"status {status} is not a documented answer"]
        schema_at = responses[key].get("schema")
        if schema_at is None:
            return [] if body in (None, "", {}) else [f"status {status} has no body in the specification, but one was sent"]
        pointer = "/".join(
            part.replace("~", "~0").replace("/", "~1")
            for part in [operation.section, operation.template, operation.method.lower(), "responses", key, "schema"]
        )
        return self._validate({"$ref": f"{operation.document.as_uri()}#/{pointer}"}, body, operation.document.as_uri())

    def _validate(self, schema, body, base):
        instance = _without_nulls(body)
        validator = AzureValidator(schema, registry=self.registry)
        found = [f"{'/'.join(map(str, e.absolute_path)) or '(the body)'}: {e.message}" for e in validator.iter_errors(instance)]
        return found or self._missing(schema, instance, base)

    def _resolve(self, schema, base):
        """The schema a `$ref` points to, the base its own refs resolve against, and its name."""
        name = None
        while "$ref" in schema:
            uri = urljoin(base, schema["$ref"])
            name = uri.rsplit("/", 1)[-1]
            schema = self.registry.resolver().lookup(uri).contents
            base = uri.split("#", 1)[0]
        return schema, base, name

    def _properties(self, schema, base):
        """An object schema's documented properties (through `allOf`), each with its base."""
        schema, base, name = self._resolve(schema, base)
        found = {}
        for part in schema.get("allOf", []):
            found.update(self._properties(part, base)[0])
        for prop, sub in schema.get("properties", {}).items():
            found[prop] = (sub, base)
        return found, name or "(inline)"

    def _missing(self, schema, instance, base, where="", owner="(body)"):
        resolved, resolved_base, _ = self._resolve(schema, base)
        problems = []
        if isinstance(instance, list) and "items" in resolved:
            for item in instance:
                problems += self._missing(resolved["items"], item, resolved_base, f"{where}/*", owner)
            return problems
        if not isinstance(instance, dict):
            return problems
        properties, name = self._properties(schema, base)
        for prop, (sub, sub_base) in properties.items():
            label = f"{name}.{prop}"
            if prop in instance:
                problems += self._missing(sub, instance[prop], sub_base, f"{where}/{prop}", name)
            elif label not in self.omitted and f"*.{prop}" not in self.omitted:
                problems.append(f"{where or '(the body)'}: the documented property {label} is missing")
        additional = resolved.get("additionalProperties")
        if isinstance(additional, dict):
            for prop, value in instance.items():
                if prop not in properties:
                    problems += self._missing(additional, value, resolved_base, f"{where}/{prop}", name)
        return problems

    def check(self, entries):
        report = Report()
        for entry in entries:
            path, method, version = entry["path"], entry["method"], entry.get("api_version")
            operation = self.operation(method, path, version) if version else None
            if operation is None:
                reason = next((why for pattern, why in UNCHECKED.items() if re.search(pattern, path, re.IGNORECASE)), None)
                if reason is None and entry["status"] < 400:
                    report.problems.append(f"{method} {path} (api-version {version}): no specification kept for it")
                elif reason:
                    report.unchecked[reason] = report.unchecked.get(reason, 0) + 1
                continue
            report.checked += 1
            if entry["status"] < 300:
                report.answered.add(operation.operation_id)
            for problem in self.problems(operation, entry["status"], entry["body"]):
                report.problems.append(f"{operation.operation_id} (api-version {version}, {entry['status']}): {problem}")
        for operation_id in COVERED:
            if operation_id not in report.answered:
                report.problems.append(f"{operation_id}: no successful answer in this run, so its shape went unchecked")
        return report


def read_journal(folder):
    entries = []
    for path in sorted(pathlib.Path(folder).glob("arm-*.jsonl")):
        entries += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return entries


def main(folder):
    entries = read_journal(folder)
    if not entries:
        print(f"arm shapes: the journal in {folder} is empty: no sandbox recorded its answers", file=sys.stderr)
        return 1
    report = Checker().check(entries)
    print(f"arm shapes: {report.checked} answers checked against Azure's specifications, {len(report.answered)} operations answered")
    for reason, count in sorted(report.unchecked.items()):
        print(f"arm shapes: not checked ({count}): {reason}")
    # Each problem once, with how often it was seen.
    counted = {}
    for problem in report.problems:
        counted[problem] = counted.get(problem, 0) + 1
    for problem, count in counted.items():
        print(f"arm shapes: {problem}" + (f" (×{count})" if count > 1 else ""), file=sys.stderr)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
