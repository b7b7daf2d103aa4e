"""Starting the desktop app for WebDriver: a virtual display, tauri-driver, a session; and
finding the app's processes under it.

Shared by the end-to-end tests and the app benchmark.
"""

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager

from selenium import webdriver
from selenium.webdriver.remote.file_detector import UselessFileDetector
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.options import ArgOptions

APP = os.environ.get("HUBSETUP_APP_BIN", "iot-hub-setup")
TAURI_DRIVER = os.environ.get("TAURI_DRIVER", shutil.which("tauri-driver") or "tauri-driver")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


@contextmanager
def virtual_display():
    """Xvfb on a free display number, unless DISPLAY is already set."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    number = next(n for n in range(90, 130) if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"))
    xvfb = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x900x24", "-nolisten", "tcp"])
    for _ in range(200):
        if os.path.exists(f"/tmp/.X11-unix/X{number}"):
            break
        time.sleep(0.05)
    try:
        yield f":{number}"
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)


def child_processes(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if parent == pid:
                found.append(int(entry))
    return found


def process_tree(pid):
    """`pid` and all its descendants."""
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        pending.extend(child_processes(current))
    return pids


def process_name(pid):
    with open(f"/proc/{pid}/comm") as comm:
        return comm.read().strip()


def app_process(driver_process, application=APP):
    """The app's own process, which tauri-driver's WebKitWebDriver started."""
    name = os.path.basename(application)[:15]  # the kernel keeps 15 characters of a name
    return next(p for p in process_tree(driver_process.pid) if process_name(p) == name)


@contextmanager
def app_session(display, env, application=APP):
    """`application` started by tauri-driver with `env`, and a WebDriver session on it; yields
    (driver, tauri-driver process)."""
    env = dict(os.environ, DISPLAY=display, **env)
    port, native_port = free_port(), free_port()
    driver_process = subprocess.Popen(
        [TAURI_DRIVER, "--port", str(port), "--native-port", str(native_port), "--native-driver", shutil.which("WebKitWebDriver")],
        env=env,
    )
    wait_for_port(port, driver_process)
    options = ArgOptions()
    options.set_capability("browserName", "wry")
    options.set_capability("tauri:options", {"application": application})
    driver = None
    # tauri-driver listens before WebKitWebDriver is ready; a first session can be refused.
    for attempt in range(3):
        try:
            driver = webdriver.Remote(command_executor=f"http://127.0.0.1:{port}", options=options)
            # Typed paths are text for the app, not uploads (WebKit's driver has no upload).
            driver.file_detector = UselessFileDetector()
            break
        except WebDriverException:
            raise
        except Exception:
            if attempt == 2:
                raise
            time.sleep(1)
    try:
        yield driver, driver_process
    finally:
        try:
            driver.quit()
        except WebDriverException:
            pass  # the app is gone already: a test killed it on purpose
        driver_process.terminate()
        driver_process.wait(timeout=10)
