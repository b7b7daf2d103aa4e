"""What the Python tests share: a `hubsetup sandbox` process and a client that reaches it.

The sandbox's hosts live on loopback, so their names are resolved there (as the Rust clients
do through the cloud description; see sandbox_names.py) and its CA is trusted through
REQUESTS_CA_BUNDLE.
"""

import base64
import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import time

import pytest
import requests

import sandbox_names

HUBSETUP = os.environ.get("HUBSETUP_BIN", "hubsetup")
CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
PRODUCTION = "11111111-1111-4111-8111-111111111111"
DEV_TEST = "22222222-2222-4222-8222-222222222222"
HUB = "contoso-plant-hub"
DEVICE = "io.microshare.contact.unpacked.event"


@pytest.fixture(scope="session")
def cloud(tmp_path_factory):
    state = tmp_path_factory.mktemp("sandbox")
    process = subprocess.Popen(
        [HUBSETUP, "sandbox", "--json", "--state-dir", str(state), "--provisioning-seconds", "1",
         # Routing's storage batches (60 s at the least) are written after a second.
         "--routing-time-scale", "60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    description = json.loads(process.stdout.readline())
    description["suffix"] = description["login_endpoint"].split("://login.", 1)[1]
    sandbox_names.resolve_on_loopback(description["suffix"], description["loopback"], description["loopback_ports"])
    os.environ["REQUESTS_CA_BUNDLE"] = description["ca_path"]
    description["hub_host"] = f"{HUB}.{description['iot_hub_suffix']}"
    description_file = state / "description.json"
    description_file.write_text(json.dumps(description))
    description["description_file"] = str(description_file)
    yield description
    sandbox_names.restore()
    process.terminate()
    process.wait(timeout=10)


def arm_token(cloud, http=requests):
    """A token for ARM by device code; `http` is a requests session for a network of its own."""
    login = f"{cloud['login_endpoint']}/organizations/oauth2/v2.0"
    scope = f"{cloud['arm_endpoint']}/.default offline_access"
    code = http.post(f"{login}/devicecode", data={"client_id": CLIENT_ID, "scope": scope}).json()
    for _ in range(20):
        time.sleep(code["interval"])
        answer = http.post(
            f"{login}/token",
            data={
                "client_id": CLIENT_ID,
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": code["device_code"],
            },
        )
        if answer.status_code == 200:
            return answer.json()["access_token"]
        assert answer.json()["error"] == "authorization_pending", answer.text
    pytest.fail("device code sign-in never finished")


class SandboxCredential:
    """azure-core's TokenCredential protocol over one token from the sandbox's sign-in, for
    Microsoft's management SDKs."""

    def __init__(self, token):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken(self.token, int(time.time()) + 3000)


def management_client(client_class, cloud, subscription=PRODUCTION, **kwargs):
    """One of Microsoft's management SDK clients, signed in to the sandbox, for one of its
    subscriptions (production by default)."""
    return client_class(
        SandboxCredential(arm_token(cloud)),
        subscription,
        base_url=cloud["arm_endpoint"],
        credential_scopes=[f"{cloud['arm_endpoint']}/.default"],
        polling_interval=0,
        **kwargs,
    )


def update_hub(iothub, group, hub):
    """Puts a hub read with azure-mgmt-iothub back with its etag, and with its policies' keys as
    `az iot hub update` sends them: a PUT without them gives a hub's policies new keys, as in
    Azure, and the other tests' owner string would stop working."""
    hub.properties.authorization_policies = list(iothub.iot_hub_resource.list_keys(group, hub.name))
    return iothub.iot_hub_resource.begin_create_or_update(group, hub.name, hub, if_match=hub.etag).result()


@pytest.fixture(scope="session")
def owner_connection_string(cloud):
    hub = f"/subscriptions/{PRODUCTION}/resourceGroups/contoso-iot/providers/Microsoft.Devices/IotHubs/{HUB}"
    keys = requests.post(
        f"{cloud['arm_endpoint']}{hub}/listkeys?api-version=2023-06-30",
        headers={"Authorization": f"Bearer {arm_token(cloud)}"},
    )
    assert keys.status_code == 200, keys.text
    owner = next(k for k in keys.json()["value"] if k["keyName"] == "iothubowner")
    return f"HostName={cloud['hub_host']};SharedAccessKeyName=iothubowner;SharedAccessKey={owner['primaryKey']}"


@pytest.fixture(scope="session")
def device_connection_string(cloud, owner_connection_string):
    """The seeded device's primary connection string, read from the registry."""
    token = subprocess.run(
        [HUBSETUP, "sas-token", "--resource", cloud["hub_host"]],
        input=owner_connection_string, capture_output=True, text=True, check=True,
    ).stdout.strip()
    device = requests.get(
        f"https://{cloud['hub_host']}/devices/{DEVICE}?api-version=2021-04-12", headers={"Authorization": token}
    )
    assert device.status_code == 200, device.text
    key = device.json()["authentication"]["symmetricKey"]["primaryKey"]
    return f"HostName={cloud['hub_host']};DeviceId={DEVICE};SharedAccessKey={key}"


@contextlib.contextmanager
def gpg_key(tmp_path, address):
    """A key pair for `address` made by the real gpg in a home of its own; yields (home, gpg
    command, fingerprint)."""
    home = pathlib.Path(f"/tmp/hubsetup-gpg-{os.getpid()}-{tmp_path.name[-6:]}")
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--quiet"]
    try:
        subprocess.run(gpg + ["--passphrase", "", "--quick-gen-key", f"Sam Support <{address}>", "future-default", "default", "never"], check=True)
        colons = subprocess.run(gpg + ["--with-colons", "--fingerprint", address], capture_output=True, text=True, check=True).stdout
        yield home, gpg, next(line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr:"))
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)
        shutil.rmtree(home, ignore_errors=True)


def protected_secret_key(gpg, fingerprint, passphrase):
    """Protects the key `gpg` holds with `passphrase`, as a careful person keeps it, and returns
    its secret key as `gpg --armor --export-secret-keys` writes it."""
    subprocess.run(gpg + ["--pinentry-mode", "loopback", "--command-fd", "0", "--passwd", fingerprint],
                   input=f"{passphrase}\n{passphrase}\n{passphrase}\n".encode(), check=True)
    return subprocess.run(gpg + ["--pinentry-mode", "loopback", "--passphrase", passphrase, "--armor", "--export-secret-keys", fingerprint],
                          capture_output=True, check=True).stdout


def publish_key(cloud, gpg, fingerprint, address):
    """Publishes the key `gpg` holds for `address` in the sandbox's lookups (WKD, VKS), as its
    owner would."""
    exported = subprocess.run(gpg + ["--export", fingerprint], capture_output=True, check=True).stdout
    armored = subprocess.run(gpg + ["--armor", "--export", fingerprint], capture_output=True, text=True, check=True).stdout
    published = requests.post(f"https://control.{cloud['suffix']}/keys", json={
        "emails": [address], "fingerprint": fingerprint, "binary": base64.b64encode(exported).decode(), "armored": armored,
    })
    assert published.status_code == 204, published.text


@pytest.fixture
def support_key(tmp_path):
    """A support contact's key pair made by the real gpg; returns (home, armored public key, fingerprint)."""
    with gpg_key(tmp_path, "sam@partner.example") as (home, gpg, fingerprint):
        public = subprocess.run(gpg + ["--armor", "--export", fingerprint], capture_output=True, text=True, check=True).stdout
        yield home, public, fingerprint
