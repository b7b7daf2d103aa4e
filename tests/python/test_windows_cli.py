"""The Windows build of `hubsetup`, end to end under Wine, as support staff on Windows use it.

The sandbox itself runs as the Windows program (`hubsetup.exe sandbox`) on loopback; the CLI
signs in to it, provisions a device, verifies a good and a wrong-key string, keeps a string in
Wine's Credential Manager across separate runs, and exports it to a key made by Linux gpg,
which decrypts it byte for byte.

HUBSETUP_WINDOWS_BIN is the Windows `hubsetup.exe`; `cargo xtask test` builds it and sets it.
"""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest
from wine import INTERNET_SETTINGS, WINE, new_prefix, served_proxy_script

HUBSETUP_EXE = os.environ.get("HUBSETUP_WINDOWS_BIN")
if not HUBSETUP_EXE:
    pytest.skip("HUBSETUP_WINDOWS_BIN is not set (cargo xtask test builds hubsetup.exe and sets it)", allow_module_level=True)

PRODUCTION = "11111111-1111-4111-8111-111111111111"
HUB = "contoso-plant-hub"
DEVICE = "win.sensor.1"
OTHER_KEY = "c29tZSBvdGhlciBrZXkgb2YgMzIgYnl0ZXMhISEhISE="


@pytest.fixture(scope="module")
def wine():
    folder = pathlib.Path(tempfile.mkdtemp(prefix="hubsetup-wine-cli-"))
    wine = new_prefix(folder)
    wine.folder = folder
    try:
        yield wine
    finally:
        wine.kill()
        shutil.rmtree(folder)


def hubsetup(wine, *args, stdin="", config=None, env=None):
    """Runs the Windows hubsetup.exe under Wine; its config folder is `config` if given, and
    `env` is added to its environment."""
    extra = env or {}
    env = {k: v for k, v in wine.env.items() if not k.upper().endswith("_PROXY")}
    env.pop("HUBSETUP_CONNECTION_STRING", None)
    env.update(extra)
    if config is not None:
        env["HUBSETUP_CONFIG_DIR"] = wine.path(config)
    # Output goes to files, not pipes: a Wine service the program starts (the desktop process,
    # when WinHTTP runs a PAC script through COM) inherits them and outlives it, so a pipe would
    # never end while the sandbox keeps Wine running.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        result = subprocess.run([WINE, HUBSETUP_EXE, *args], input=stdin.encode(), env=env, stdout=out, stderr=err, timeout=240)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(result.args, result.returncode,
                                           out.read().decode(errors="replace"), err.read().decode(errors="replace"))


@pytest.fixture(scope="module")
def sandbox(wine):
    """`hubsetup.exe sandbox`, and the file that tells other runs how to reach it."""
    state = wine.folder / "sandbox-state"
    state.mkdir()
    process = subprocess.Popen(
        [WINE, HUBSETUP_EXE, "sandbox", "--json", "--state-dir", wine.path(state), "--provisioning-seconds", "1"],
        env=wine.env, stdout=subprocess.PIPE, text=True,
    )
    try:
        description = json.loads(process.stdout.readline())
        assert description["loopback"].startswith("127.0.0.1:"), description
        assert description["ca_path"].startswith("Z:\\"), "the Windows sandbox names its CA by a Windows path"
        described = wine.folder / "sandbox.json"
        described.write_text(json.dumps(description))
        yield wine.path(described)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def device_string(wine, sandbox):
    """A device of the sandbox's hub, provisioned by the Windows CLI with a device-code sign-in."""
    config = wine.folder / "provision-config"
    config.mkdir()
    result = hubsetup(
        wine, "provision", "--sandbox", sandbox, "--method", "device-code", "--subscription", PRODUCTION,
        "--existing-hub", HUB, "--device", DEVICE, "--reveal", "--json", config=config,
    )
    assert result.returncode == 0, result.stderr
    strings = json.loads(result.stdout)["connection_strings"]
    assert [s["for"] for s in strings] == [f"device {DEVICE}"]
    return Secret(strings[0]["connection_string"])


class Secret(str):
    """A string that pytest's failure reports show masked: they print fixtures' values."""

    def __repr__(self):
        return "'****'"


def key_of(string):
    return string.split("SharedAccessKey=", 1)[1]


def event_hub_string(wine):
    """The hub's Event Hub-compatible connection string with its `service` policy, from the
    Windows sandbox's saved state (as the portal's "Built-in endpoints" page would show it)."""
    state = json.loads((wine.folder / "sandbox-state" / "state.json").read_text())
    hub = state["hubs"][HUB]
    key = next(p["primary_key"] for p in hub["policies"] if p["key_name"] == "service")
    return Secret(f"Endpoint=sb://iothub-ns-{HUB}.servicebus.sandbox.test/;SharedAccessKeyName=service;SharedAccessKey={key};EntityPath={HUB}")


def test_verify_accepts_a_good_string_and_reads_it_back_over_amqp(wine, sandbox, device_string):
    result = hubsetup(wine, "verify", "--sandbox", sandbox, stdin=device_string)
    assert result.returncode == 0, result.stdout + result.stderr
    for stage in ["✓ DNS lookup", "✓ TCP connect", "✓ TLS handshake", "✓ SAS token", "✓ Send test message", "– Message landed"]:
        assert stage in result.stdout, f"{stage} missing in:\n{result.stdout}"
    assert "Accepted: the hub took the test message over HTTPS (" in result.stdout
    leaked = key_of(device_string) in result.stdout + result.stderr
    assert not leaked, "the key is never printed"

    events = event_hub_string(wine)
    read_back = hubsetup(wine, "verify", "--sandbox", sandbox, "--consumer-group", "stream-analytics-prod",
                         stdin=device_string, env={"HUBSETUP_EVENTS_CONNECTION_STRING": events})
    assert read_back.returncode == 0, read_back.stdout + read_back.stderr
    assert "✓ Message landed" in read_back.stdout and "read back from partition " in read_back.stdout, read_back.stdout
    leaked = key_of(events) in read_back.stdout + read_back.stderr
    assert not leaked, "the Event Hub key is never printed"


def test_verify_diagnoses_a_wrong_key(wine, sandbox, device_string):
    wrong = device_string.replace(key_of(device_string), OTHER_KEY)
    result = hubsetup(wine, "verify", "--sandbox", sandbox, stdin=wrong)
    assert result.returncode == 1
    assert "  ✗ Send test message" in result.stdout, result.stdout
    assert "Failed: The hub refused the credentials (401 IotHubUnauthorizedAccess).\n" in result.stdout, result.stdout
    assert f"  What to do:   Copy the Primary Connection String again from IoT Hub → Devices → {DEVICE}, then test again.\n" in result.stdout
    assert result.stderr == "error: the hub did not accept the test message (see above).\n"
    assert OTHER_KEY[:20] not in result.stdout


def test_vault_keeps_the_string_in_credential_manager_across_runs(wine, device_string, tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    host = device_string.split(";")[0].split("=", 1)[1]
    name = f"{host}/devices/{DEVICE}"
    saved = hubsetup(wine, "vault", "save", "--label", "Plant 3 on Windows", stdin=device_string, config=config)
    assert saved.returncode == 0, saved.stderr
    try:
        # Each command is a process of its own: the string lives in Credential Manager.
        listed = hubsetup(wine, "vault", "list", "--json", config=config)
        assert listed.returncode == 0, listed.stderr
        entries = json.loads(listed.stdout)
        assert [(e["name"], e["label"]) for e in entries] == [(name, "Plant 3 on Windows")]
        shown = hubsetup(wine, "vault", "show", "Plant 3 on Windows", config=config)
        assert shown.returncode == 0, shown.stderr
        assert key_of(device_string)[-4:] in shown.stdout and key_of(device_string) not in shown.stdout, "masked"
        revealed = hubsetup(wine, "vault", "show", name, "--reveal", config=config)
        same = device_string in revealed.stdout
        assert same, "--reveal gives back the stored string"
        for file in config.rglob("*"):
            if file.is_file():
                in_file = key_of(device_string) in file.read_text(errors="replace")
                assert not in_file, f"a key in {file.name}"
    finally:
        deleted = hubsetup(wine, "vault", "delete", name, config=config)
    assert deleted.returncode == 0, deleted.stderr
    after = hubsetup(wine, "vault", "list", "--json", config=config)
    assert json.loads(after.stdout) == []


def test_export_opens_with_linux_gpg(wine, device_string, support_key, tmp_path):
    home, public, fingerprint = support_key
    key_file = tmp_path / "sam.asc"
    key_file.write_text(public)
    out = tmp_path / "for-sam.asc"
    result = hubsetup(wine, "export", "--to", wine.path(key_file), "--out", wine.path(out), stdin=device_string)
    assert result.returncode == 0, result.stderr
    armored = out.read_text()
    assert armored.startswith("-----BEGIN PGP MESSAGE-----")
    assert key_of(device_string) not in armored
    decrypted = subprocess.run(["gpg", "--homedir", str(home), "--batch", "--quiet", "--decrypt", str(out)], capture_output=True, check=True).stdout
    # The string and a line end, exactly as the Linux build writes it (crates/cli/tests/handoff.rs).
    same = decrypted == f"{device_string}\n".encode()
    assert same, "gpg --decrypt gives back the string byte for byte"


# A corporate automatic proxy configuration (PAC) script, as an intranet server serves it.
CORPORATE_SCRIPT = b"""function FindProxyForURL(url, host) {
    if (isPlainHostName(host) || dnsDomainIs(host, ".internal.corp")) return "DIRECT";
    if (shExpMatch(host, "*.azure-devices.net")) return "PROXY devices-proxy.corp:3128; DIRECT";
    return "PROXY proxy.corp:8080";
}"""


def test_internet_options_automatic_configuration_script_is_followed(wine):
    """Internet Options with an automatic configuration script, as group policy sets them: the
    Windows CLI has WinHTTP run the script for each host, and says when it cannot be had."""
    with served_proxy_script(CORPORATE_SCRIPT) as (server, url):
        wine.run("reg", "add", INTERNET_SETTINGS, "/v", "AutoConfigURL", "/t", "REG_SZ", "/d", url, "/f")
        try:
            shown = hubsetup(wine, "proxy", "show")
            assert shown.returncode == 0, shown.stdout + shown.stderr
            assert f"Proxy settings from Internet Options, with the automatic configuration script {url}." in shown.stdout, shown.stdout
            assert "  login.microsoftonline.com: proxy proxy.corp:8080\n" in shown.stdout, shown.stdout
            assert "  management.azure.com: proxy proxy.corp:8080\n" in shown.stdout
            assert "  your-hub.azure-devices.net: proxy devices-proxy.corp:3128\n" in shown.stdout

            server.shutdown()
            server.server_close()
            unreachable = hubsetup(wine, "proxy", "show")
            assert "  management.azure.com: direct\n" in unreachable.stdout, unreachable.stdout
            assert (f"    (the automatic proxy configuration script {url} could not be downloaded; "
                    "the settings beside it are used)") in unreachable.stdout
        finally:
            wine.run("reg", "delete", INTERNET_SETTINGS, "/v", "AutoConfigURL", "/f")
