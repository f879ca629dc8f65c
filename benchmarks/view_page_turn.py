"""``eegzip view`` on a long recording: keypress → new page time in headless Chromium, the
server's own time per window, and the server's memory.

Paging forward (→) is timed in the page from the key event to the drawn page (after a page
turned forward the page asks for the next one, so that the server has it when a reader who
paused on the page presses → again);
jumps to random times (typed into "go to") are pages nobody asked for before, decoded cold.
The server runs as its own process (``eegzip view --no-browser``) so its RSS is its own.

    python benchmarks/view_page_turn.py --hours 24
    python benchmarks/view_page_turn.py --eegc long.eegc --reference long.edf   # prebuilt
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from long_recording import CHANNELS, write_long_recording
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from eegzip.view.browser import headless_chromium

PAGE_SECONDS = 10
PAUSE_SECONDS = 1.0  # between key presses: a reader looks at each page


def proc_memory_mb(pid: int) -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident memory of a process, in MB (Linux)."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    names = {"rss": "VmRSS", "peak": "VmHWM"}
    return {key: int(fields[name].split()[0]) / 1024 for key, name in names.items()}


def wait_shown(driver, start: float) -> float:
    """Wait until the page shows the window from ``start`` s; the page's keypress → drawn ms."""

    def shown(d) -> bool:
        body = d.find_element("tag name", "body")
        return body.get_attribute("data-state") == "ready" and float(
            body.get_attribute("data-shown-start") or "nan"
        ) == start

    WebDriverWait(driver, 120, poll_frequency=0.01).until(shown)
    return float(driver.find_element("tag name", "body").get_attribute("data-page-ms") or "nan")


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median_ms": round(float(np.median(values)), 1),
        "p90_ms": round(float(np.percentile(values, 90)), 1),
        "max_ms": round(float(np.max(values)), 1),
    }


def measure(eegc: Path, reference: Path, presses: int, jumps: int, shot: Path) -> dict:
    command = [sys.executable, "-m", "eegzip", "view", str(eegc), "--no-browser",
               "--reference", str(reference)]  # fmt: skip
    launched = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    driver = None
    try:
        url = server.stdout.readline().split()[2]
        startup_s = time.perf_counter() - launched
        rng = np.random.default_rng(0)
        with urllib.request.urlopen(url + "api/info") as response:
            duration = json.load(response)["duration"]
        starts = rng.uniform(0, duration - PAGE_SECONDS, jumps + 10).round(1)
        server_ms = []
        for start in starts[:10]:  # the server alone: cold windows over HTTP, 1000 columns
            began = time.perf_counter()
            query = f"api/window?start={start}&duration={PAGE_SECONDS}&width=1000"
            with urllib.request.urlopen(url + query) as response:
                response.read()
            server_ms.append((time.perf_counter() - began) * 1000)
        driver = headless_chromium(1400, 900)
        began = time.perf_counter()
        driver.get(url)
        wait_shown(driver, 0.0)
        first_page_s = time.perf_counter() - began
        body = driver.find_element("tag name", "body")
        forward = []
        for k in range(1, presses + 1):
            time.sleep(PAUSE_SECONDS)
            body.send_keys(Keys.ARROW_RIGHT)
            forward.append(wait_shown(driver, float(k * PAGE_SECONDS)))
        jump_box = driver.find_element("id", "jump")
        jumped = []
        for start in starts[10:]:
            time.sleep(PAUSE_SECONDS)
            jump_box.clear()
            jump_box.send_keys(f"{start}" + Keys.ENTER)
            jumped.append(wait_shown(driver, float(start)))
        jump_box.clear()
        jump_box.send_keys("12:00:00" + Keys.ENTER)
        wait_shown(driver, 12 * 3600.0)
        driver.save_screenshot(str(shot))
        memory = proc_memory_mb(server.pid)
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait()
    return {
        "server_startup_s": round(startup_s, 2),
        "first_page_s": round(first_page_s, 2),
        "keypress_to_page_forward": summary(forward),
        "keypress_to_page_jump_cold": summary(jumped),
        "server_window_cold_http": summary(server_ms),
        "server_memory_mb": {k: round(v, 1) for k, v in memory.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--data", type=Path, default=here.parents[1] / "shared" / "data")
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument(
        "--eegc", type=Path, help="A prebuilt .eegc of write_long_recording's EDF (no build)."
    )
    parser.add_argument("--reference", type=Path, help="The prebuilt .eegc's original EDF.")
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--jumps", type=int, default=15)
    args = parser.parse_args()
    shot = here / "results" / "view_24h.png"
    with tempfile.TemporaryDirectory(dir=here) as tmp:
        if args.eegc is None:
            args.reference = write_long_recording(args.data, Path(tmp) / "long.edf", args.hours)
            args.eegc = Path(tmp) / "long.eegc"
            subprocess.run([sys.executable, "-m", "eegzip", "compress", str(args.reference),
                            "-o", str(args.eegc), "--no-metrics"], check=True)  # fmt: skip
        runs = measure(args.eegc, args.reference, args.presses, args.jumps, shot)
        sizes = {"edf": args.reference.stat().st_size, "eegc": args.eegc.stat().st_size}
    result = {
        "command": "python benchmarks/view_page_turn.py " + shlex.join(sys.argv[1:]),
        "recording": f"{len(CHANNELS)} channels at 256 Hz, tiled EEGMAT; eegc: the default "
        "(spectral ladder, 100 bit/s per channel), compress --no-metrics",
        "page": f"{PAGE_SECONDS} s, all channels, with the reference overlay and its metrics; "
        f"{PAUSE_SECONDS} s between key presses; 1400x900 headless Chromium",
        "sizes_bytes": sizes,
        "screenshot": str(shot.relative_to(here.parent)),
        **runs,
    }
    out = here / "results" / "view_page_turn.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
