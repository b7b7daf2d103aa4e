"""The hand-off against OpenPGP.js (npm `openpgp`, the library behind Proton Mail): the version 6
and Curve448 keys gpg 2.2 cannot make. OpenPGP.js makes the keys, opens what `hubsetup export`
writes (compared byte for byte, our signature checked there), and writes signed messages that
`hubsetup open` must open. Its package is installed by `cargo xtask test` (tests/node)."""

import json
import os
import pathlib
import subprocess

import pytest

from conftest import HUBSETUP, gpg_key, publish_key

NODE_CLIENTS = pathlib.Path(__file__).resolve().parents[1] / "node"
DEVICE_STRING = "HostName=your-hub.azure-devices.net;DeviceId=d1;SharedAccessKey=+XLy+MVZ+aTeOnVzN2kLeB16O+kSxmz6g3rS6fAf6rw="
KEY = DEVICE_STRING.rsplit("SharedAccessKey=", 1)[1]

# (OpenPGP.js key type, version 6, what `key-info` calls its algorithm)
KINDS = [
    ("curve25519", True, "Ed25519"),
    ("curve448", False, "Ed448"),
    ("curve448", True, "Ed448"),
    ("rsa", True, "RSA 3072"),
]


def openpgpjs(*args, stdin=None):
    result = subprocess.run(["node", str(NODE_CLIENTS / "openpgp.mjs"), *args], capture_output=True, input=stdin, cwd=NODE_CLIENTS)
    assert result.returncode == 0, result.stderr.decode()
    return result


def generate(kind, v6, name, address, folder):
    fingerprint = openpgpjs("generate", kind, "true" if v6 else "false", name, address, str(folder)).stdout.decode().strip()
    return fingerprint, folder / "public.asc", folder / "secret.asc"


def grouped(fingerprint):
    groups = [fingerprint[i:i + 4] for i in range(0, len(fingerprint), 4)]
    half = len(groups) // 2
    return " ".join(groups[:half]) + "  " + " ".join(groups[half:])


@pytest.mark.parametrize("kind,v6,algorithm", KINDS, ids=[f"{k}-v{6 if v else 4}" for k, v, _ in KINDS])
def test_openpgpjs_opens_what_we_export_and_checks_our_signature(tmp_path, kind, v6, algorithm):
    sam_fpr, sam_public, sam_secret = generate(kind, v6, "Sam Support", "sam@partner.example", tmp_path / "sam")
    alice_fpr, alice_public, alice_secret = generate(kind, v6, "Alice Admin", "alice@contoso.example", tmp_path / "alice")

    info = subprocess.run([HUBSETUP, "key-info", str(sam_public)], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert grouped(sam_fpr) in info.stdout and algorithm in info.stdout, info.stdout

    out = tmp_path / "for-sam.asc"
    export = subprocess.run(
        [HUBSETUP, "export", "--to", str(sam_public), "--out", str(out), "--sign", str(alice_secret), "--to-self"],
        input=DEVICE_STRING, capture_output=True, text=True)
    assert export.returncode == 0, export.stderr
    assert KEY not in export.stdout + export.stderr

    for secret in (sam_secret, alice_secret):
        opened = openpgpjs("decrypt", str(secret), str(out), str(alice_public))
        assert opened.stdout == f"{DEVICE_STRING}\n".encode()
        checked = json.loads(opened.stderr)
        assert [s["valid"] for s in checked["signatures"]] == [True], checked
    # Version 6 keys that announce SEIPDv2 get it (tag 18, version 2) with v6 PKESKs (tag 1);
    # version 4 keys SEIPDv1 with v3 PKESKs, what GnuPG 2.2 reads.
    expected = ["1:6", "1:6", "18:2"] if v6 else ["1:3", "1:3", "18:1"]
    assert checked["packets"] == expected, checked


@pytest.mark.parametrize("kind,v6,algorithm", KINDS, ids=[f"{k}-v{6 if v else 4}" for k, v, _ in KINDS])
def test_we_open_what_openpgpjs_encrypts_and_signs(tmp_path, kind, v6, algorithm):
    sam_fpr, sam_public, sam_secret = generate(kind, v6, "Sam Support", "sam@partner.example", tmp_path / "sam")
    alice_fpr, alice_public, alice_secret = generate(kind, v6, "Alice Admin", "alice@contoso.example", tmp_path / "alice")
    text = tmp_path / "text.txt"
    text.write_text(f"Hub: your-hub\n\n{DEVICE_STRING}\n")
    message = tmp_path / "from-alice.asc"
    openpgpjs("encrypt", str(sam_public), str(alice_secret), str(text), str(message))
    text.unlink()

    opened = subprocess.run([HUBSETUP, "open", str(message), "--key", str(sam_secret), "--signer", str(alice_public), "--reveal"],
                            capture_output=True, text=True)
    assert opened.returncode == 0, opened.stderr
    assert f"Signed by Alice Admin <alice@contoso.example> ({grouped(alice_fpr)}): the signature is good." in opened.stdout
    assert opened.stdout.rstrip("\n").splitlines()[-1] == DEVICE_STRING


def test_gnupg_opens_for_us_what_openpgpjs_sends_to_a_gnupg_key(tmp_path):
    """Sam's key lives in a real gpg-agent (a temporary GnuPG home); Alice signs with a key
    OpenPGP.js made. `hubsetup open` without --key lets Sam's GnuPG open it and says who signed."""
    with gpg_key(tmp_path, "sam@partner.example") as (sam_home, sam_gpg, sam_fpr):
        sam_public = tmp_path / "sam.asc"
        sam_public.write_bytes(subprocess.run(sam_gpg + ["--armor", "--export", sam_fpr], capture_output=True, check=True).stdout)
        alice_fpr, alice_public, alice_secret = generate("curve25519Legacy", False, "Alice Admin", "alice@contoso.example", tmp_path / "alice")
        subprocess.run(sam_gpg + ["--import", str(alice_public)], check=True)
        text = tmp_path / "text.txt"
        text.write_text(f"{DEVICE_STRING}\n")
        message = tmp_path / "from-alice.asc"
        openpgpjs("encrypt", str(sam_public), str(alice_secret), str(text), str(message))
        text.unlink()

        opened = subprocess.run([HUBSETUP, "open", str(message)], capture_output=True, text=True,
                                env=dict(os.environ, GNUPGHOME=str(sam_home)))
        assert opened.returncode == 0, opened.stderr
        assert f"Signed by Alice Admin <alice@contoso.example> ({grouped(alice_fpr)}): the signature is good." in opened.stdout
        assert KEY not in opened.stdout + opened.stderr
        assert "SharedAccessKey=****" in opened.stdout


def test_openpgpjss_wkd_client_finds_the_keys_the_sandbox_publishes(cloud, tmp_path):
    """The OpenPGP.js project's own WKD client (npm @openpgp/wkd-client, unmodified) is the oracle
    for the sandbox's Web Key Directory: the advanced method on openpgpkey.partner.<suffix>, the
    direct one on contoso.<suffix> (which has no openpgpkey host), and nothing for an unknown
    address."""
    env = dict(os.environ, HUBSETUP_SANDBOX_LOOPBACK=cloud["loopback"], HUBSETUP_SANDBOX_CA=cloud["ca_path"])

    def wkd(address):
        return subprocess.run(["node", str(NODE_CLIENTS / "wkd.mjs"), address], capture_output=True, text=True, env=env, cwd=NODE_CLIENTS)

    for domain in (f"partner.{cloud['suffix']}", f"contoso.{cloud['suffix']}"):
        address = f"sam.wkd@{domain}"
        with gpg_key(tmp_path / domain.split(".")[0], address) as (home, gpg, fingerprint):
            publish_key(cloud, gpg, fingerprint, address)
            found = wkd(address)
            assert found.returncode == 0, found.stderr
            assert found.stdout.strip() == fingerprint

    missing = wkd(f"nobody@partner.{cloud['suffix']}")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "Direct WKD lookup failed: Not Found", missing.stderr
