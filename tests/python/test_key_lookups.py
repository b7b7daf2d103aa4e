"""The sandbox's public-key lookups checked by the OpenPGP world's own clients, unmodified:
GnuPG's `gpg --recv-keys` and `gpg --locate-keys` over HKP with TLS (keys.openpgp.org's
protocol), and Sequoia's `sq` over HKP and over both Web Key Directory methods.

These clients reach a key server or a Web Key Directory on its real port (443) through the
system's resolver, so this module's sandbox runs in network and mount namespaces of its own
(made with `unshare`, as root): loopback there, the sandbox's names in a hosts file
bind-mounted over /etc/hosts only inside, and nothing on the machine changed. The sandbox's CA
is trusted through each client's own option or environment: dirmngr's `hkp-cacert`, OpenSSL's
SSL_CERT_FILE for sq. GnuPG's WKD trusts only the system's CAs, which would have to change, so
the Web Key Directory is checked with sq.
"""

import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from conftest import HUBSETUP, gpg_key

# Publishes a key through the sandbox's control endpoint from inside the namespaces.
PUBLISH = """
import json, ssl, sys, urllib.request
url, ca, body = sys.argv[1], sys.argv[2], sys.stdin.read().encode()
request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=ca)) as answer:
    assert answer.status == 204, answer.status
"""


class Namespaces:
    """A holder process's network and mount namespaces, and a way to run programs in them."""

    def __init__(self):
        self.holder = subprocess.Popen(
            ["unshare", "--net", "--mount", "--propagation", "private",
             "sh", "-c", "ip link set lo up && echo ready && exec cat"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.holder.stdout.readline().strip() == "ready", "the namespaces could not be made (root is needed)"

    def command(self, *args):
        return ["nsenter", "--target", str(self.holder.pid), "--net", "--mount", *args]

    def run(self, *args, **kwargs):
        return subprocess.run(self.command(*args), capture_output=True, text=True, **kwargs)

    def close(self):
        self.holder.stdin.close()
        self.holder.wait(timeout=10)


@pytest.fixture(scope="module")
def isolated(tmp_path_factory):
    """A sandbox serving HTTPS on port 443 in namespaces of its own; yields (namespaces, cloud
    description, its CA's path)."""
    spaces = Namespaces()
    folder = tmp_path_factory.mktemp("key-lookups")
    sandbox = subprocess.Popen(spaces.command(HUBSETUP, "sandbox", "--port", "443", "--json"),
                               stdout=subprocess.PIPE, text=True)
    try:
        cloud = json.loads(sandbox.stdout.readline())
        suffix = cloud["login_endpoint"].split("://login.", 1)[1]
        cloud["suffix"] = suffix
        # contoso has no `openpgpkey.` host, as the sandbox's own DNS says: WKD's direct method.
        names = ["control", "keys", "partner", "openpgpkey.partner", "contoso"]
        hosts = folder / "hosts"
        hosts.write_text("127.0.0.1 localhost\n127.0.0.1 " + " ".join(f"{n}.{suffix}" for n in names) + "\n")
        bound = spaces.run("mount", "--bind", str(hosts), "/etc/hosts")
        assert bound.returncode == 0, bound.stderr
        ca = folder / "ca.pem"
        ca.write_text(cloud["extra_root_ca_pem"])
        yield spaces, cloud, ca
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        spaces.close()


@pytest.fixture(scope="module")
def published(isolated, tmp_path_factory):
    """Two support contacts' keys, made by the real gpg and published by their owners: one at
    partner (WKD's advanced method), one at contoso (the direct method). Yields {address:
    fingerprint}."""
    spaces, cloud, ca = isolated
    addresses = [f"sam@partner.{cloud['suffix']}", f"ops@contoso.{cloud['suffix']}"]
    keys = {}
    with gpg_key(tmp_path_factory.mktemp("sam"), addresses[0]) as sam, \
            gpg_key(tmp_path_factory.mktemp("ops"), addresses[1]) as ops:
        for address, (_, gpg, fingerprint) in zip(addresses, [sam, ops]):
            exported = subprocess.run(gpg + ["--export", fingerprint], capture_output=True, check=True).stdout
            armored = subprocess.run(gpg + ["--armor", "--export", fingerprint], capture_output=True, text=True, check=True).stdout
            body = json.dumps({"emails": [address], "fingerprint": fingerprint,
                               "binary": base64.b64encode(exported).decode(), "armored": armored})
            posted = spaces.run(sys.executable, "-c", PUBLISH, f"https://control.{cloud['suffix']}/keys", str(ca), input=body)
            assert posted.returncode == 0, posted.stderr
            keys[address] = fingerprint
    return keys


@pytest.fixture
def gnupg(isolated, tmp_path):
    """A user's empty GnuPG home whose dirmngr trusts the sandbox's CA for HKPS (`hkp-cacert`)
    and resolves names through the system (`standard-resolver`: its own resolver asks DNS
    servers, which these namespaces do not have); yields the gpg command."""
    _, _, ca = isolated
    home = pathlib.Path(f"/tmp/hubsetup-gpg-client-{os.getpid()}-{tmp_path.name[-6:]}")
    home.mkdir(mode=0o700)
    (home / "dirmngr.conf").write_text(f"hkp-cacert {ca}\nstandard-resolver\n")
    try:
        yield ["gpg", "--homedir", str(home), "--batch"]
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)
        shutil.rmtree(home, ignore_errors=True)


def key_server(cloud):
    # With a port, dirmngr asks for the host itself instead of its `_pgpkey-https` SRV record.
    return f"hkps://keys.{cloud['suffix']}:443"


def fingerprints(gpg_colons):
    return [line.split(":")[9] for line in gpg_colons.splitlines() if line.startswith("fpr:")][:1]


def shown_fingerprints(armored):
    """The primary fingerprints of the keys in `armored`, as gpg reads them."""
    shown = subprocess.run(["gpg", "--batch", "--with-colons", "--show-keys"], input=armored, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    return [line.split(":")[9] for line in shown.stdout.splitlines() if line.startswith("fpr:")][:1]


def test_gpg_receives_a_key_by_its_fingerprint_over_hkps(isolated, published, gnupg):
    spaces, cloud, _ = isolated
    address, fingerprint = next(iter(published.items()))
    received = spaces.run(*gnupg, "--keyserver", key_server(cloud), "--recv-keys", fingerprint)
    assert received.returncode == 0, received.stderr
    assert "imported: 1" in received.stderr
    listed = spaces.run(*gnupg, "--with-colons", "--list-keys", address)
    assert fingerprints(listed.stdout) == [fingerprint]


def test_gpg_locates_a_key_by_address_on_the_key_server(isolated, published, gnupg):
    spaces, cloud, _ = isolated
    address, fingerprint = next(iter(published.items()))
    located = spaces.run(*gnupg, "--with-colons", "--keyserver", key_server(cloud),
                         "--auto-key-locate", "clear,keyserver", "--locate-keys", address)
    assert located.returncode == 0, located.stderr
    assert fingerprints(located.stdout) == [fingerprint]


def test_gpg_says_when_the_key_server_has_no_such_key(isolated, published, gnupg):
    spaces, cloud, _ = isolated
    unknown = "0123456789ABCDEF0123456789ABCDEF01234567"
    received = spaces.run(*gnupg, "--keyserver", key_server(cloud), "--recv-keys", unknown)
    assert received.returncode != 0
    assert "keyserver receive failed: No data" in received.stderr, received.stderr


def test_sq_gets_keys_over_hkps_by_fingerprint_and_address(isolated, published):
    spaces, cloud, ca = isolated
    for address, fingerprint in published.items():
        for query in (fingerprint, address):
            got = spaces.run("env", f"SSL_CERT_FILE={ca}", "sq", "keyserver", "--server", key_server(cloud), "get", query)
            assert got.returncode == 0, got.stderr
            assert shown_fingerprints(got.stdout) == [fingerprint]


def test_sq_finds_keys_in_web_key_directories_by_both_methods(isolated, published):
    spaces, _, ca = isolated
    for address, fingerprint in published.items():
        got = spaces.run("env", f"SSL_CERT_FILE={ca}", "sq", "wkd", "get", address)
        assert got.returncode == 0, got.stderr
        assert shown_fingerprints(got.stdout) == [fingerprint]


def test_sq_finds_nothing_in_a_web_key_directory_for_an_unknown_address(isolated, published):
    spaces, cloud, ca = isolated
    got = spaces.run("env", f"SSL_CERT_FILE={ca}", "sq", "wkd", "get", f"nobody@partner.{cloud['suffix']}")
    # sq 0.27 reads the 404's body as a certificate and reports its end ("unexpected EOF").
    assert (got.returncode, got.stdout) == (1, ""), got.stderr
