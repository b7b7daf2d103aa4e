"""Prints the desktop app's figures: cold start to the first screen being interactive, idle
memory of the app with its WebKit processes, and the size of the binary and of the .deb.

Run by `cargo xtask bench` with HUBSETUP_APP_BIN naming a release build. The start time is
measured from asking WebDriver for a session (which launches the app) to the first screen's
buttons being enabled, so it includes WebKitWebDriver's own start: an upper bound.
"""

import glob
import os
import statistics
import tempfile
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from desktop import APP, app_session, virtual_display

RUNS = 5


def children_of(pid):
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


def tree(pid):
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        pending.extend(children_of(current))
    return pids


def name(pid):
    with open(f"/proc/{pid}/comm") as comm:
        return comm.read().strip()


def memory_kib(pids):
    totals = {"Rss": 0, "Pss": 0}
    for pid in pids:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                key = line.split(":")[0]
                if key in totals:
                    totals[key] += int(line.split()[1])
    return totals


def main():
    starts, memory, processes = [], None, []
    with virtual_display() as display:
        for run in range(RUNS):
            with tempfile.TemporaryDirectory() as config:
                started = time.monotonic()
                with app_session(display, {"HUBSETUP_CONFIG_DIR": config}) as (driver, driver_process):
                    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, "#start-verify").is_enabled())
                    starts.append(time.monotonic() - started)
                    if run == 0:
                        time.sleep(3)  # idle: the first screen shown, nothing happening
                        app = next(p for p in tree(driver_process.pid) if name(p).startswith("iot-hub-setup"))
                        pids = tree(app)
                        processes = sorted(name(p) for p in pids)
                        memory = memory_kib(pids)
    print(f"cold start to an interactive first screen: median {statistics.median(starts) * 1000:.0f} ms, "
          f"best {min(starts) * 1000:.0f} ms, worst {max(starts) * 1000:.0f} ms ({RUNS} starts, WebDriver start included)")
    print(f"idle memory, {len(processes)} processes ({', '.join(processes)}): "
          f"{memory['Pss'] / 1024:.0f} MB proportional (PSS), {memory['Rss'] / 1024:.0f} MB resident (RSS, shared pages counted in each)")
    print(f"release binary {APP}: {os.path.getsize(APP) / 1e6:.1f} MB")
    for deb in glob.glob(os.path.join(os.path.dirname(APP), "bundle", "deb", "*.deb")):
        print(f"installer {os.path.basename(deb)}: {os.path.getsize(deb) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
