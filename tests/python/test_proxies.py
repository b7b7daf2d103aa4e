"""IoT Hub Setup behind the proxies of corporate networks, real ones on loopback: Debian's
squid asking for Basic credentials, and mitmproxy inspecting TLS (re-signing every site with
its own root, as Zscaler and the like do) in front of it.

The sandbox runs on port 443 here, its hosts known to squid only (through squid's hosts
file; `.test` names resolve nowhere else), and the CLI gets a description of it without a
loopback address or name server: every connection has to go through the proxy, as on a
network where only the proxy resolves outside names. squid's access log then proves that each
one did: sign-in, ARM, the registry, the live test over every protocol with its landed stage,
watch, and key lookups.
"""

import base64
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import HUBSETUP, arm_token
from selenium.webdriver.support.ui import Select

from desktop import app_session, free_port, wait_for_port
from test_wizard import Wizard, display  # noqa: F401 (a fixture)

MITMDUMP = os.environ.get("HUBSETUP_MITMDUMP")
SQUID = shutil.which("squid") or "/usr/sbin/squid"
if not MITMDUMP or not os.path.exists(SQUID):
    pytest.skip("squid and HUBSETUP_MITMDUMP are needed (cargo xtask test installs both)", allow_module_level=True)

HUB = "contoso-plant-hub"
FORBIDDEN_HUB = "forbidden-hub"
UNKNOWN_HUB = "hub-nobody-knows"
CONTACT = "sam@partner"
DEVICE = "io.microshare.contact.unpacked.event"
PRODUCTION = "11111111-1111-4111-8111-111111111111"
USER, PASSWORD = "alice", "s3cret-pass"


@pytest.fixture(scope="module")
def folder():
    # Directly under /tmp: squid drops to its own user, which must reach its files.
    folder = pathlib.Path(tempfile.mkdtemp(prefix="hubsetup-proxies-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def sandbox(folder):
    """A sandbox on 127.0.0.1:443, and a description of it that has no loopback address."""
    state = folder / "sandbox"
    process = subprocess.Popen(
        [HUBSETUP, "sandbox", "--json", "--state-dir", str(state), "--port", "443", "--provisioning-seconds", "1"],
        stdout=subprocess.PIPE, text=True,
    )
    description = json.loads(process.stdout.readline())
    suffix = description["login_endpoint"].split("://login.", 1)[1]
    for key in ("loopback", "dns_server"):
        description.pop(key, None)
    path = folder / "behind-proxy.json"
    path.write_text(json.dumps(description))
    yield {"file": str(path), "suffix": suffix, "ca": description["ca_path"]}
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def squid(folder, sandbox):
    """squid with Basic authentication, resolving the sandbox's hosts to loopback."""
    port = free_port()
    suffix = sandbox["suffix"]
    hosts = folder / "hosts"
    names = [f"login.{suffix}", f"management.{suffix}", f"{HUB}.azure-devices.{suffix}",
             f"iothub-ns-{HUB}.servicebus.{suffix}", f"control.{suffix}", f"keys.{suffix}",
             f"openpgpkey.partner.{suffix}", f"partner.{suffix}", f"{FORBIDDEN_HUB}.azure-devices.{suffix}"]
    hosts.write_text(f"127.0.0.1 {' '.join(names)}\n")
    hashed = subprocess.run(["openssl", "passwd", "-apr1", PASSWORD], capture_output=True, text=True, check=True).stdout.strip()
    passwords = folder / "passwords"
    passwords.write_text(f"{USER}:{hashed}\n")
    for f in (hosts, passwords):
        f.chmod(0o644)
    config = folder / "squid.conf"
    config.write_text(f"""
http_port 127.0.0.1:{port}
auth_param basic program /usr/lib/squid/basic_ncsa_auth {passwords}
auth_param basic realm Contoso proxy
acl signed_in proxy_auth REQUIRED
acl SSL_ports port 443
acl CONNECT method CONNECT
acl forbidden dstdomain {FORBIDDEN_HUB}.azure-devices.{suffix}
http_access deny CONNECT !SSL_ports
http_access deny forbidden
http_access allow signed_in
http_access deny all
hosts_file {hosts}
pid_filename {folder}/squid.pid
cache_log {folder}/cache.log
access_log {folder}/access.log
cache deny all
# Names outside the hosts file go to the machine's name servers (none knows `.test`).
dns_timeout 2 seconds
coredump_dir {folder}
shutdown_lifetime 1 second
""")
    process = subprocess.Popen([SQUID, "-N", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def mitmproxy(folder, sandbox, squid):
    """mitmproxy inspecting TLS, in front of squid; its own root stays untrusted until given."""
    port = free_port()
    confdir = folder / "mitmproxy"
    process = subprocess.Popen(
        [MITMDUMP, "--quiet", "--listen-host", "127.0.0.1", "--listen-port", str(port),
         "--mode", f"upstream:http://127.0.0.1:{squid}", "--upstream-auth", f"{USER}:{PASSWORD}",
         "--set", f"confdir={confdir}", "--set", f"ssl_verify_upstream_trusted_ca={sandbox['ca']}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield {"port": port, "ca": str(confdir / "mitmproxy-ca-cert.pem")}
    finally:
        process.terminate()
        process.wait(timeout=20)


def kept_logins(*args):
    """`hubsetup proxy list` or `forget`, which need no cloud."""
    return subprocess.run([HUBSETUP, "proxy", *args], capture_output=True, text=True, timeout=60)


def hubsetup(sandbox, proxy, *args, stdin="", env=None):
    env = dict(os.environ, HTTPS_PROXY=proxy, **(env or {}))
    env.pop("NO_PROXY", None)
    return subprocess.run([HUBSETUP, *args, "--sandbox", sandbox["file"]], input=stdin, env=env,
                          capture_output=True, text=True, timeout=180)


class SquidLog:
    """squid's access log from a point on: the tunnels (CONNECT host:port) it opened. squid
    logs a tunnel when it closes, so the reader waits for the lines it expects."""

    def __init__(self, folder):
        self.path = folder / "access.log"
        self.start = self.path.stat().st_size if self.path.exists() else 0

    def tunnels(self):
        if not self.path.exists():
            return []
        with self.path.open() as log:
            log.seek(self.start)
            return [(line.split()[6], line.split()[3]) for line in log if " CONNECT " in line]

    def wait_for(self, *hosts):
        """Waits until squid has logged a tunnel to each host's port 443; returns them all."""
        wanted = {f"{host}:443" for host in hosts}
        deadline = time.monotonic() + 20
        while not wanted <= {target for target, _ in self.tunnels()}:
            if time.monotonic() > deadline:
                pytest.fail(f"squid logged no tunnel to {sorted(wanted - {t for t, _ in self.tunnels()})}; it logged {self.tunnels()}")
            time.sleep(0.1)
        return self.tunnels()


def through_squid(squid, sandbox):
    """A requests session that, like the app, reaches the sandbox only through squid."""
    session = requests.Session()
    session.trust_env = False
    session.proxies = {"https": f"http://{USER}:{PASSWORD}@127.0.0.1:{squid}"}
    session.verify = sandbox["ca"]
    return session


@pytest.fixture(scope="module")
def owner_string(sandbox, squid):
    """The hub's iothubowner connection string, which may read events: what a signed-in
    admin's live test reads the message back with."""
    http = through_squid(squid, sandbox)
    cloud = json.loads(pathlib.Path(sandbox["file"]).read_text())
    hub = f"/subscriptions/{PRODUCTION}/resourceGroups/contoso-iot/providers/Microsoft.Devices/IotHubs/{HUB}"
    keys = http.post(f"{cloud['arm_endpoint']}{hub}/listkeys?api-version=2023-06-30",
                     headers={"Authorization": f"Bearer {arm_token(cloud, http)}"})
    assert keys.status_code == 200, keys.text
    owner = next(k for k in keys.json()["value"] if k["keyName"] == "iothubowner")
    return f"HostName={HUB}.azure-devices.{sandbox['suffix']};SharedAccessKeyName=iothubowner;SharedAccessKey={owner['primaryKey']}"


@pytest.fixture(scope="module")
def device_string(folder, sandbox, squid):
    """The seeded device's string, read through squid with the CLI: sign-in, ARM and the
    registry through it, as squid's log shows."""
    log = SquidLog(folder)
    result = hubsetup(
        sandbox, f"http://{USER}:{PASSWORD}@127.0.0.1:{squid}",
        "provision", "--method", "device-code", "--subscription", PRODUCTION, "--existing-hub", HUB,
        "--device", DEVICE, "--reveal", "--json",
    )
    assert result.returncode == 0, result.stderr
    suffix = sandbox["suffix"]
    log.wait_for(f"login.{suffix}", f"management.{suffix}", f"{HUB}.azure-devices.{suffix}")
    strings = json.loads(result.stdout)["connection_strings"]
    return strings[0]["connection_string"]


def test_everything_goes_through_a_proxy_that_wants_basic_credentials(sandbox, squid, device_string):
    result = hubsetup(sandbox, f"http://{USER}:{PASSWORD}@127.0.0.1:{squid}", "verify", stdin=device_string)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"(proxy 127.0.0.1:{squid})" in result.stdout
    assert "Accepted: the hub took the test message" in result.stdout


def test_missing_or_wrong_proxy_credentials_are_told_apart(sandbox, squid, device_string):
    missing = hubsetup(sandbox, f"http://127.0.0.1:{squid}", "verify", stdin=device_string)
    assert missing.returncode != 0
    assert (f"The proxy 127.0.0.1:{squid} asks for a user name and password (Basic; 407 Proxy "
            "Authentication Required).") in missing.stdout, missing.stdout

    assert "run `hubsetup proxy sign-in`" in missing.stdout, missing.stdout

    wrong = hubsetup(sandbox, f"http://{USER}:wrong@127.0.0.1:{squid}", "verify", stdin=device_string)
    assert wrong.returncode != 0
    assert f"The proxy 127.0.0.1:{squid} refused the user name and password given for it" in wrong.stdout, wrong.stdout
    assert "wrong" not in wrong.stdout.replace("is wrong", ""), "the password is not repeated"


def test_a_proxy_login_is_asked_for_once_and_kept_in_the_keyring(sandbox, squid, device_string):
    """`hubsetup proxy sign-in` checks the login with squid, keeps it in the Secret Service,
    and every later command finds it there: HTTPS_PROXY then carries no password."""
    proxy = f"http://127.0.0.1:{squid}"
    authority = f"127.0.0.1:{squid}"

    refused = hubsetup(sandbox, proxy, "proxy", "sign-in", "--user", USER, stdin="not-the-password\n")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert (f"error: The proxy {authority} refused that user name and password; nothing was saved. "
            "Check them (the user name is often written DOMAIN\\user) and try again.") in refused.stderr
    assert "not-the-password" not in refused.stdout + refused.stderr
    assert kept_logins("list").stdout.startswith("No proxy login is kept in the Secret Service keyring."), "nothing was saved"

    signed_in = hubsetup(sandbox, proxy, "proxy", "sign-in", "--user", USER, stdin=PASSWORD + "\n")
    try:
        assert signed_in.returncode == 0, signed_in.stdout + signed_in.stderr
        assert f"Signed in to the proxy {authority} as {USER}; the login is kept in the" in signed_in.stdout
        assert PASSWORD not in signed_in.stdout + signed_in.stderr
        assert kept_logins("list").stdout.split() == [authority]

        shown = hubsetup(sandbox, proxy, "proxy", "show")
        assert "Proxy settings from HTTPS_PROXY." in shown.stdout, shown.stdout
        assert f"  management.{sandbox['suffix']}: proxy {authority} (with a login)" in shown.stdout, shown.stdout

        verified = hubsetup(sandbox, proxy, "verify", stdin=device_string)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "Accepted: the hub took the test message" in verified.stdout
        # Sign-in and ARM (reqwest) go through the same kept login.
        listed = hubsetup(sandbox, proxy, "provision", "--method", "device-code", "--subscription", PRODUCTION,
                          "--existing-hub", HUB, "--device", DEVICE, "--json")
        assert listed.returncode == 0, listed.stderr
    finally:
        forgotten = kept_logins("forget", authority)
    assert forgotten.returncode == 0, forgotten.stderr
    assert f"Removed the login for the proxy {authority} from the" in forgotten.stdout
    again = hubsetup(sandbox, proxy, "verify", stdin=device_string)
    assert "asks for a user name and password" in again.stdout, "the login is gone"


def test_proxy_sign_in_without_a_proxy_says_there_is_none(sandbox):
    result = subprocess.run([HUBSETUP, "proxy", "sign-in", "--user", USER, "--sandbox", sandbox["file"]],
                            input=PASSWORD + "\n", env={k: v for k, v in os.environ.items() if "PROXY" not in k.upper()},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert (f"error: No proxy is set for management.{sandbox['suffix']}: this computer connects directly. "
            "Give the proxy with --proxy HOST:PORT.") in result.stderr, result.stderr


def test_tls_inspection_is_named_by_its_issuer_and_its_root_can_be_trusted(sandbox, mitmproxy, device_string):
    proxy = f"http://127.0.0.1:{mitmproxy['port']}"
    intercepted = hubsetup(sandbox, proxy, "verify", stdin=device_string)
    assert intercepted.returncode != 0
    assert "(it was issued by 'CN=mitmproxy,O=mitmproxy')" in intercepted.stdout, intercepted.stdout
    assert "trust it with --ca-bundle FILE.pem" in intercepted.stdout

    trusted = hubsetup(sandbox, proxy, "verify", "--ca-bundle", mitmproxy["ca"], stdin=device_string)
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert "Accepted: the hub took the test message" in trusted.stdout


def test_the_live_test_reads_its_message_back_through_the_proxy(folder, sandbox, squid, device_string, owner_string):
    """Every protocol a proxy can carry, and the landed stage read back from the Event
    Hub-compatible endpoint, all through squid: MQTT's and AMQP's own ports are not tried
    there, which does not fail the run."""
    log = SquidLog(folder)
    suffix = sandbox["suffix"]
    result = hubsetup(sandbox, f"http://{USER}:{PASSWORD}@127.0.0.1:{squid}", "verify", "--protocol", "all",
                      stdin=device_string, env={"HUBSETUP_EVENTS_CONNECTION_STRING": owner_string})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ Message landed" in result.stdout, result.stdout
    for protocol, port in (("MQTT", 8883), ("AMQP", 5671)):
        row = next(line for line in result.stdout.splitlines() if line.strip().startswith(f"– {protocol} "))
        assert row.endswith(
            f"not tried behind a proxy: {protocol} on port {port} was not tried: this network goes out through the "
            f"proxy 127.0.0.1:{squid}, which carries HTTPS only. Set the client's transport to {protocol}_WS and give "
            "it the proxy, or test from a network without a proxy."), row
    for protocol in ("HTTPS", "MQTT over WebSockets", "AMQP over WebSockets"):
        assert any(line.strip().startswith(f"✓ {protocol} ") for line in result.stdout.splitlines()), result.stdout
    tunnels = log.wait_for(f"{HUB}.azure-devices.{suffix}", f"iothub-ns-{HUB}.servicebus.{suffix}")
    assert all(status == "TCP_TUNNEL/200" for _, status in tunnels), tunnels
    assert owner_string.split("SharedAccessKey=")[1] not in result.stdout + result.stderr


def test_watch_reads_messages_through_the_proxy(folder, sandbox, squid, device_string, owner_string):
    proxy = f"http://{USER}:{PASSWORD}@127.0.0.1:{squid}"
    sent = hubsetup(sandbox, proxy, "verify", "--protocol", "https", stdin=device_string)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    log = SquidLog(folder)
    watched = hubsetup(sandbox, proxy, "watch", "--since", "start", "--count", "1", stdin=owner_string)
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert DEVICE in watched.stdout, watched.stdout
    assert (f"over AMQP over WebSockets on port 443, because this network goes out through the proxy "
            f"127.0.0.1:{squid}") in watched.stderr, watched.stderr
    log.wait_for(f"{HUB}.azure-devices.{sandbox['suffix']}", f"iothub-ns-{HUB}.servicebus.{sandbox['suffix']}")
    assert owner_string.split("SharedAccessKey=")[1] not in watched.stdout + watched.stderr


def test_key_lookups_go_through_the_proxy(folder, sandbox, squid, tmp_path):
    from conftest import gpg_key

    address = f"{CONTACT}.{sandbox['suffix']}"
    with gpg_key(tmp_path, address) as (home, gpg, fingerprint):
        exported = subprocess.run(gpg + ["--export", fingerprint], capture_output=True, check=True).stdout
        armored = subprocess.run(gpg + ["--armor", "--export", fingerprint], capture_output=True, text=True, check=True).stdout
        published = through_squid(squid, sandbox).post(f"https://control.{sandbox['suffix']}/keys", json={
            "emails": [address], "fingerprint": fingerprint, "binary": base64.b64encode(exported).decode(), "armored": armored,
        })
        assert published.status_code == 204, published.text
        log = SquidLog(folder)
        found = hubsetup(sandbox, f"http://{USER}:{PASSWORD}@127.0.0.1:{squid}", "find-key", address)
    assert found.returncode == 0, found.stdout + found.stderr
    assert found.stdout.startswith(f"Found in the Web Key Directory of partner.{sandbox['suffix']}"), found.stdout
    log.wait_for(f"openpgpkey.partner.{sandbox['suffix']}")


def string_for(sandbox, hub, device_string):
    """The device string with another hub's host name."""
    return device_string.replace(f"HostName={HUB}.", f"HostName={hub}.")


def test_each_answer_of_the_proxy_has_its_own_words(sandbox, squid, device_string, owner_string):
    proxy = f"http://{USER}:{PASSWORD}@127.0.0.1:{squid}"
    authority = f"127.0.0.1:{squid}"
    suffix = sandbox["suffix"]

    forbidden = hubsetup(sandbox, proxy, "verify", "--protocol", "https",
                         stdin=string_for(sandbox, FORBIDDEN_HUB, device_string))
    assert forbidden.returncode == 1
    assert (f"Failed: The proxy {authority} does not allow connections to {FORBIDDEN_HUB}.azure-devices.{suffix} "
            "on port 443 (403 Forbidden).\n") in forbidden.stdout, forbidden.stdout
    assert ("What to do:   Ask the network administrator to allow CONNECT to *.azure-devices.net on port 443 "
            "through the proxy.") in forbidden.stdout

    unknown = hubsetup(sandbox, proxy, "verify", "--protocol", "https",
                       stdin=string_for(sandbox, UNKNOWN_HUB, device_string))
    assert unknown.returncode == 1
    assert (f"Failed: The proxy {authority} could not find the address of {UNKNOWN_HUB}.azure-devices.{suffix} "
            "(500 Internal Server Error).\n") in unknown.stdout, unknown.stdout

    # The Event Hubs reader, which resolved names itself before, says the same.
    watch_forbidden = hubsetup(sandbox, proxy, "watch", "--count", "1",
                               stdin=owner_string.replace(f"HostName={HUB}.", f"HostName={FORBIDDEN_HUB}."))
    assert watch_forbidden.returncode == 1
    assert watch_forbidden.stderr.endswith(
        f"error: The proxy {authority} does not allow connections to {FORBIDDEN_HUB}.azure-devices.{suffix} on port "
        f"443 (403 Forbidden). Ask the proxy's administrators to allow connections to *.azure-devices.{suffix} on "
        "port 443.\n"), watch_forbidden.stderr
    watch_unknown = hubsetup(sandbox, proxy, "watch", "--count", "1",
                             stdin=owner_string.replace(f"HostName={HUB}.", f"HostName={UNKNOWN_HUB}."))
    assert watch_unknown.returncode == 1
    assert f"error: The proxy {authority} could not find the address of {UNKNOWN_HUB}.azure-devices.{suffix}" \
        in watch_unknown.stderr, watch_unknown.stderr
    watch_login = hubsetup(sandbox, f"http://{authority}", "watch", "--count", "1", stdin=owner_string)
    assert watch_login.returncode == 1
    assert watch_login.stderr.endswith(
        f"error: The proxy {authority} asks for a login (Basic). Sign in to the proxy (the app asks; in a terminal "
        "run `hubsetup proxy sign-in`), then try again.\n"), watch_login.stderr
    for answer in (watch_forbidden, watch_unknown, watch_login):
        assert "firewall" not in answer.stderr, "a proxy answered: no firewall guess"
        assert owner_string.split("SharedAccessKey=")[1] not in answer.stdout + answer.stderr

    closed = free_port()
    gone = hubsetup(sandbox, f"http://127.0.0.1:{closed}", "verify", "--protocol", "https", stdin=device_string)
    assert gone.returncode == 1
    assert f"Failed: The proxy 127.0.0.1:{closed} could not be reached: " in gone.stdout, gone.stdout
    assert ("What to do:   Check the proxy's address (HTTPS_PROXY or the system's proxy settings) and that the "
            "proxy is running, then test again.") in gone.stdout


def test_watch_names_a_tls_inspecting_proxy(sandbox, mitmproxy, owner_string):
    intercepted = hubsetup(sandbox, f"http://127.0.0.1:{mitmproxy['port']}", "watch", "--count", "1", stdin=owner_string)
    assert intercepted.returncode == 1
    assert f"error: The secure connection to {HUB}.azure-devices.{sandbox['suffix']} failed" in intercepted.stderr, intercepted.stderr
    assert "'CN=mitmproxy,O=mitmproxy'" in intercepted.stderr, intercepted.stderr
    assert "--ca-bundle" in intercepted.stderr


def test_windows_follows_a_pac_script_that_names_squid(folder, sandbox, squid, device_string, owner_string):
    """On Windows (the Windows CLI under Wine) with no HTTPS_PROXY: Internet Options name an
    automatic configuration (PAC) script, which names squid; the proxy login is typed once and
    kept in Credential Manager, and the live test with its landed stage goes through squid."""
    if not os.environ.get("HUBSETUP_WINDOWS_BIN"):
        pytest.skip("HUBSETUP_WINDOWS_BIN is not set (cargo xtask test builds hubsetup.exe and sets it)")
    from test_windows_cli import hubsetup as on_windows
    from wine import INTERNET_SETTINGS, new_prefix, served_proxy_script

    script = f'function FindProxyForURL(url, host) {{ return "PROXY 127.0.0.1:{squid}"; }}'.encode()
    wine_folder = pathlib.Path(tempfile.mkdtemp(prefix="hubsetup-wine-pac-"))
    wine = new_prefix(wine_folder)
    described = wine.path(sandbox["file"])
    try:
        with served_proxy_script(script) as (_, url):
            wine.run("reg", "add", INTERNET_SETTINGS, "/v", "AutoConfigURL", "/t", "REG_SZ", "/d", url, "/f")
            signed_in = on_windows(wine, "proxy", "sign-in", "--user", USER, "--sandbox", described,
                                   stdin=PASSWORD + "\n")
            assert signed_in.returncode == 0, signed_in.stdout + signed_in.stderr
            assert f"Signed in to the proxy 127.0.0.1:{squid} as {USER}" in signed_in.stdout, signed_in.stdout

            log = SquidLog(folder)
            verified = on_windows(wine, "verify", "--protocol", "all", "--sandbox", described, stdin=device_string,
                                  env={"HUBSETUP_EVENTS_CONNECTION_STRING": owner_string})
            assert verified.returncode == 0, verified.stdout + verified.stderr
            assert "✓ Message landed" in verified.stdout, verified.stdout
            assert f"(proxy 127.0.0.1:{squid})" in verified.stdout
            log.wait_for(f"{HUB}.azure-devices.{sandbox['suffix']}", f"iothub-ns-{HUB}.servicebus.{sandbox['suffix']}")
            assert PASSWORD not in verified.stdout + verified.stderr
    finally:
        wine.kill()
        shutil.rmtree(wine_folder, ignore_errors=True)


def test_the_wizard_asks_for_the_proxy_login_once(folder, sandbox, squid, device_string, owner_string, display, tmp_path):
    """The app behind squid: the live test meets the 407, the wizard asks for the login, a
    wrong one is refused with nothing kept, the right one is kept and the test passes; the
    Watch screen then reads the test's messages through squid, which alone knows the names."""
    config = tmp_path / "config"
    config.mkdir()
    authority = f"127.0.0.1:{squid}"
    env = {
        "HUBSETUP_CONFIG_DIR": str(config),
        "HUBSETUP_SANDBOX": sandbox["file"],
        "HTTPS_PROXY": f"http://{authority}",
        "WEBKIT_DISABLE_COMPOSITING_MODE": "0",
        "WEBKIT_DISABLE_DMABUF_RENDERER": "0",
    }
    try:
        with app_session(display, env) as (driver, driver_process):
            driver.set_window_size(1100, 780)
            app = Wizard(driver, config, driver_process)
            app.click("#start-verify")
            app.type("#paste", device_string)
            app.wait_text("#paste-problems", f"Added {DEVICE}.")
            app.click("#next")
            app.click(".run-test")
            app.wait_text(".test-result", f"Failed. The proxy {authority} asks for a user name and password (Basic; "
                                          "407 Proxy Authentication Required).")
            app.type("#proxy-user", USER)
            app.type("#proxy-password", "not-the-password")
            app.click("#proxy-sign-in")
            app.wait_text("#proxy-error", f"The proxy {authority} refused that user name and password; nothing was saved.")
            assert kept_logins("list").stdout.startswith("No proxy login is kept"), "nothing was saved"
            app.screenshot("27-proxy-sign-in")
            app.type("#proxy-password", PASSWORD)
            app.click("#proxy-sign-in")
            app.wait_text(".test-result", "Passed.")
            assert PASSWORD not in app.page()

            log = SquidLog(folder)
            app.click("#open-watch")
            app.wait_text("#step-title", "Watch messages arrive")
            app.type("#eh-string", owner_string)
            Select(app.find("#since")).select_by_value("5")
            app.click("#start-watch")
            app.wait_text("#watch-status", f"over AMQP over WebSockets on port 443, because this network goes out "
                                           f"through the proxy {authority}.")
            app.wait_text("#messages", DEVICE)
            app.screenshot("31-watch-behind-proxy")
            assert owner_string.split("SharedAccessKey=")[1] not in app.page()
            app.click("#stop-watch")
            # squid logs a tunnel once it closes.
            log.wait_for(f"iothub-ns-{HUB}.servicebus.{sandbox['suffix']}")
        assert kept_logins("list").stdout.split() == [authority]
    finally:
        kept_logins("forget", authority)
