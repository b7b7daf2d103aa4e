"""Prints the desktop app's figures next to a peer measured in the same run: cold start to the
first screen being interactive, idle memory of the app with its WebKit processes, and the size
of the binary and of the .deb.

The peer is `blank_window` (src-tauri/examples), the smallest Tauri app built with the same
Tauri, WebKitGTK and release profile: the ratios say what the wizard adds to what any Tauri app
costs on this machine.

Run by `cargo xtask bench` with HUBSETUP_APP_BIN and HUBSETUP_PEER_BIN naming release builds.
The start time runs from asking WebDriver for a session (which launches the app) to the first
screen's button being enabled, so it includes WebKitWebDriver's own start: an upper bound. Idle
memory is read from an app started directly, as a person starts it, once its first screen has
had time to settle.
"""

import glob
import os
import statistics
import subprocess
import tempfile
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from desktop import APP, app_session, process_name, process_tree, virtual_display

PEER = os.environ["HUBSETUP_PEER_BIN"]
STARTS = 9
IDLE_SECONDS = 6
WEBKIT = "libwebkit2gtk-4.1.so"


def start_seconds(display, application):
    with tempfile.TemporaryDirectory() as config:
        started = time.monotonic()
        with app_session(display, {"HUBSETUP_CONFIG_DIR": config}, application) as (driver, _):
            # WebDriverWait looks every 500 ms unless told otherwise: too coarse to time a start.
            WebDriverWait(driver, 30, poll_frequency=0.01).until(lambda d: d.find_element(By.CSS_SELECTOR, "#start-verify").is_enabled())
            return time.monotonic() - started


def maps_webkit(pid):
    try:
        with open(f"/proc/{pid}/maps") as maps:
            return WEBKIT in maps.read()
    except OSError:
        return False


def idle_memory_kib(display, application):
    """PSS and RSS summed over the app and its WebKit processes, and their names."""
    # PSS splits a shared page among the processes that map it: another WebKit app running
    # would make ours look smaller than it is.
    for _ in range(100):  # the last WebDriver session's processes may still be exiting
        others = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc"))) if maps_webkit(pid)]
        if not others:
            break
        time.sleep(0.1)
    else:
        names = ", ".join(f"{process_name(pid)} ({pid})" for pid in others)
        raise SystemExit(f"bench: other WebKit processes run: {names}; stop them for a fair measurement")
    with tempfile.TemporaryDirectory() as config:
        env = dict(os.environ, DISPLAY=display, HUBSETUP_CONFIG_DIR=config)
        app = subprocess.Popen([application], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(IDLE_SECONDS)
            pids = process_tree(app.pid)
            totals = {"Pss": 0, "Rss": 0}
            for pid in pids:
                with open(f"/proc/{pid}/smaps_rollup") as rollup:
                    for line in rollup:
                        key = line.split(":")[0]
                        if key in totals:
                            totals[key] += int(line.split()[1])
            return totals, sorted(process_name(p) for p in pids)
        finally:
            app.terminate()
            app.wait(timeout=10)
            time.sleep(1)  # let WebKit's processes exit before the next measurement


def main():
    starts = {APP: [], PEER: []}
    memory = {}
    with virtual_display() as display:
        for _ in range(STARTS):
            for application in (APP, PEER):  # alternated, so both see the same machine
                starts[application].append(start_seconds(display, application))
        for application in (APP, PEER):
            memory[application] = idle_memory_kib(display, application)

    app_start, peer_start = (statistics.median(starts[a]) for a in (APP, PEER))
    print(f"cold start to an interactive first screen, median of {STARTS} (WebDriver's start included): "
          f"wizard {app_start * 1000:.0f} ms (best {min(starts[APP]) * 1000:.0f}), "
          f"blank Tauri window {peer_start * 1000:.0f} ms; ratio {app_start / peer_start:.2f}")
    (app_mem, processes), (peer_mem, _) = memory[APP], memory[PEER]
    print(f"idle memory of {len(processes)} processes ({', '.join(processes)}), proportional (PSS): "
          f"wizard {app_mem['Pss'] / 1024:.0f} MB, blank Tauri window {peer_mem['Pss'] / 1024:.0f} MB; "
          f"ratio {app_mem['Pss'] / peer_mem['Pss']:.2f}")
    print(f"  resident (RSS, shared pages counted in each process): wizard {app_mem['Rss'] / 1024:.0f} MB, "
          f"blank Tauri window {peer_mem['Rss'] / 1024:.0f} MB")
    print(f"release binary {APP}: {os.path.getsize(APP) / 1e6:.1f} MB (blank Tauri window {os.path.getsize(PEER) / 1e6:.1f} MB)")
    for deb in glob.glob(os.path.join(os.path.dirname(APP), "bundle", "deb", "*.deb")):
        print(f"installer {os.path.basename(deb)}: {os.path.getsize(deb) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
