"""IoT Hub Setup behind the proxies of corporate networks, real ones on loopback: Debian's
squid asking for Basic credentials, and mitmproxy inspecting TLS (re-signing every site with
its own root, as Zscaler and the like do) in front of it.

The sandbox runs on port 443 here, its hosts known to squid only (through squid's hosts
file), and the CLI gets a description of it without a loopback address: every connection,
sign-in and ARM included, has to go through the proxy, as on a network without direct access.
"""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from conftest import HUBSETUP
from desktop import app_session, free_port, wait_for_port
from test_wizard import Wizard, display  # noqa: F401 (a fixture)

MITMDUMP = os.environ.get("HUBSETUP_MITMDUMP")
SQUID = shutil.which("squid") or "/usr/sbin/squid"
if not MITMDUMP or not os.path.exists(SQUID):
    pytest.skip("squid and HUBSETUP_MITMDUMP are needed (cargo xtask test installs both)", allow_module_level=True)

HUB = "contoso-plant-hub"
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
    hosts.write_text(f"127.0.0.1 login.{suffix} management.{suffix} {HUB}.azure-devices.{suffix}\n")
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
http_access deny CONNECT !SSL_ports
http_access allow signed_in
http_access deny all
hosts_file {hosts}
pid_filename {folder}/squid.pid
cache_log {folder}/cache.log
access_log {folder}/access.log
cache deny all
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


def hubsetup(sandbox, proxy, *args, stdin=""):
    env = dict(os.environ, HTTPS_PROXY=proxy)
    env.pop("NO_PROXY", None)
    return subprocess.run([HUBSETUP, *args, "--sandbox", sandbox["file"]], input=stdin, env=env,
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def device_string(sandbox, squid):
    """The seeded device's string, read through squid with the CLI: sign-in and ARM through it."""
    result = hubsetup(
        sandbox, f"http://{USER}:{PASSWORD}@127.0.0.1:{squid}",
        "provision", "--method", "device-code", "--subscription", PRODUCTION, "--existing-hub", HUB,
        "--device", DEVICE, "--reveal", "--json",
    )
    assert result.returncode == 0, result.stderr
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


def test_the_wizard_asks_for_the_proxy_login_once(sandbox, squid, device_string, display, tmp_path):
    """The app behind squid: the live test meets the 407, the wizard asks for the login, a
    wrong one is refused with nothing kept, the right one is kept and the test passes."""
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
        assert kept_logins("list").stdout.split() == [authority]
    finally:
        kept_logins("forget", authority)
