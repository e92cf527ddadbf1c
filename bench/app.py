"""App speed in a real browser (Debian's chromium via playwright):

1. cold start: from launching `streamlit run playground/app.py` to the gallery rendered (every card and
   thumbnail) in chromium — target ≤ 5 s;
2. picking a recorded replay on the watch page until its video shows its first frame (readyState ≥ 2)
   and the scrubber's frame is on screen — target ≤ 1 s — once the start-up warm-up has pre-rendered the
   bundled replays, and for a replay it has not (PLAYGROUND_WARM=0).

    python bench/app.py [--game lunarlander] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def start_app(cache: str, warm: bool) -> tuple[subprocess.Popen, str, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PLAYGROUND_CACHE": cache, "PLAYGROUND_WARM": "1" if warm else "0"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "playground/app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
            return proc, url, t0
        except OSError:
            time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)


def pick_times(page, url: str, game: str) -> list[float]:
    page.goto(f"{url}/?game={game}&page=watch")
    page.wait_for_selector("video", timeout=300_000)
    page.wait_for_selector(IDLE, state="attached", timeout=300_000)
    box = page.get_by_role("combobox", name="Replay")
    box.click()
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    times = []
    for text in options[1:] + options[:1]:
        old = page.evaluate("() => document.querySelector('video').src")
        box.click()
        t0 = time.perf_counter()
        page.get_by_role("option", name=text).click()
        page.wait_for_function(
            "old => { const v = document.querySelector('video'); return v && v.src !== old && v.readyState >= 2; }",
            arg=old,
            timeout=300_000,
        )
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        times.append(time.perf_counter() - t0)
        page.wait_for_selector(IDLE, state="attached", timeout=300_000)
    return times


def measure_picks(browser, game: str, warm: bool) -> list[float]:
    """Replay-pick times on a fresh app; with ``warm``, after its start-up pre-rendering has finished."""
    with tempfile.TemporaryDirectory() as cache:
        proc, url, _ = start_app(cache, warm=warm)
        deadline = time.time() + 600
        while (
            warm
            and time.time() < deadline
            and subprocess.run(["pgrep", "-f", "agents.media.watch"], capture_output=True).returncode == 0
        ):
            time.sleep(1)
        page = browser.new_page()
        try:
            return pick_times(page, url, game)
        finally:
            page.close()
            stop(proc)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--game", default="lunarlander")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        cold = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as cache:
                proc, url, t0 = start_app(cache, warm=False)
                page = browser.new_page()
                page.goto(url)
                page.wait_for_selector(".st-key-card-breakout", timeout=60_000)
                page.wait_for_selector(IDLE, state="attached")
                page.wait_for_function(
                    "() => [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                    ".filter(i => i.complete && i.naturalWidth > 0).length >= 8"
                )
                cold.append(time.perf_counter() - t0)
                page.close()
                stop(proc)
        print(
            f"cold start to gallery rendered: median {statistics.median(cold):.2f} s  "
            f"runs {[round(c, 2) for c in cold]}  (target ≤ 5 s)"
        )

        warm = measure_picks(browser, args.game, warm=True)
        print(
            f"pick a recorded replay → first frame, warmed: median {statistics.median(warm):.2f} s  "
            f"max {max(warm):.2f} s  "
            f"runs {[round(t, 2) for t in warm]}  (target ≤ 1 s)"
        )
        unwarmed = measure_picks(browser, args.game, warm=False)
        print(
            f"pick a recorded replay → first frame, not pre-rendered: median {statistics.median(unwarmed):.2f} s  "
            f"max {max(unwarmed):.2f} s  runs {[round(t, 2) for t in unwarmed]}"
        )
        browser.close()


if __name__ == "__main__":
    main()
