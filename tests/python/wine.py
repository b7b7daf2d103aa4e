"""Running the Windows build under Wine, for the Windows tests (test_windows_*.py).

HUBSETUP_WINE_SHIM is the bcryptprimitives.dll that lets Rust programs run under Wine 8
(xtask/wine/bcryptprimitives.c); `cargo xtask test` builds it and sets the variable.
"""

import contextlib
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

WINE = "/usr/lib/wine/wine64"
WINESERVER = "/usr/lib/wine/wineserver"


class Wine:
    """One Wine prefix and the commands run in it."""

    def __init__(self, prefix):
        self.prefix = pathlib.Path(prefix)
        (self.prefix.parent / "home").mkdir(exist_ok=True)
        self.env = dict(
            os.environ,
            WINEPREFIX=str(self.prefix),
            WINEDEBUG="-all",
            # Our ProcessPrng shim before Wine's; no Mono or Gecko to offer; and no
            # winemenubuilder, which would copy the Start-menu shortcut into this computer's
            # own application menu.
            WINEDLLOVERRIDES="bcryptprimitives=n,b;mscoree,mshtml=;winemenubuilder.exe=d",
            # Wine links the prefix's Desktop and Documents into HOME.
            HOME=str(self.prefix.parent / "home"),
        )

    def run(self, *args, check=True, stdin=None):
        result = self._start(args, stdin)
        if result.returncode == 1 and "ShellExecuteEx failed: Internal error" in result.stderr:
            # Wine's own launcher failing while the previous program's wineserver shuts down:
            # the program never ran. Once it has shut down, start it again.
            self.wait()
            result = self._start(args, stdin)
        if check:
            assert result.returncode == 0, f"wine {' '.join(args)} exited with {result.returncode}:\n{result.stdout}{result.stderr}"
        return result

    def _start(self, args, stdin):
        return subprocess.run([WINE, *args], input=stdin, env=self.env, capture_output=True, text=True, errors="replace", timeout=240)

    def wait(self):
        """Until every process in the prefix has ended (and the wineserver with them)."""
        subprocess.run([WINESERVER, "-w"], env=self.env, check=True, timeout=240)

    def kill(self):
        subprocess.run([WINESERVER, "-k"], env=self.env, check=False, timeout=60)
        self.wait()

    def file(self, windows_path):
        """Where a C: path of this prefix is on Linux."""
        drive, rest = windows_path.split(":\\", 1)
        assert drive.upper() == "C", windows_path
        return self.prefix.joinpath("drive_c", *rest.split("\\"))

    def reg_query(self, key, value):
        """The data of a registry value, or None when the value or its key does not exist."""
        result = self.run("reg", "query", key, "/v", value, check=False)
        if result.returncode != 0:
            return None
        for line in result.stdout.splitlines():
            # "    Name    REG_TYPE    data"
            fields = line.split("    ", 3)
            if len(fields) >= 3 and fields[1].lower() == value.lower():
                return fields[3] if len(fields) == 4 else ""
        pytest.fail(f"reg query printed no {value}:\n{result.stdout}")

    def key_exists(self, key):
        return self.run("reg", "query", key, check=False).returncode == 0

    def path(self, linux_path):
        """A Linux path as a Windows program in this prefix sees it: on drive Z:."""
        return "Z:" + str(linux_path).replace("/", "\\")


@contextlib.contextmanager
def served_proxy_script(script):
    """Serves an automatic proxy configuration (PAC) script as an intranet server does, and
    names it in the prefix's Internet Options as group policy sets it; yields its URL."""
    import http.server
    import threading

    class Script(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ns-proxy-autoconfig")
            self.send_header("Content-Length", str(len(script)))
            self.end_headers()
            self.wfile.write(script)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Script)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server, f"http://127.0.0.1:{server.server_port}/proxy.pac"
    finally:
        server.shutdown()
        server.server_close()


INTERNET_SETTINGS = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings"


def new_prefix(folder):
    """A fresh prefix in `folder`, with the shim Rust programs need."""
    shim = os.environ.get("HUBSETUP_WINE_SHIM")
    assert shim, "HUBSETUP_WINE_SHIM must name the bcryptprimitives.dll shim: Rust programs need it under Wine 8"
    wine = Wine(pathlib.Path(folder) / "prefix")
    wine.run("wineboot", "--init")
    wine.wait()
    shutil.copy(shim, wine.prefix / "drive_c/windows/system32/bcryptprimitives.dll")
    return wine


@pytest.fixture(scope="module")
def base_prefix():
    """A prefix made once per module (wineboot takes a while)."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="hubsetup-wine-"))
    wine = new_prefix(folder)
    try:
        yield wine.prefix
    finally:
        wine.kill()
        shutil.rmtree(folder)


@contextlib.contextmanager
def prefix_copy(base_prefix, kind=Wine):
    """A fresh copy of `base_prefix` for one test, as a `kind` (Wine or a subclass)."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="hubsetup-wine-"))
    wine = kind(folder / "prefix")
    shutil.copytree(base_prefix, wine.prefix, symlinks=True)
    try:
        yield wine
    finally:
        wine.kill()
        shutil.rmtree(folder)
