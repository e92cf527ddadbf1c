"""The lab's speed, end to end: the app (`streamlit run playground/app.py`, its worker pool) in chromium.

1. Start: the Lab page, CartPole with its shipped config (100,000 steps), Start pressed. Prints the seconds
   from the click to the first curve point on screen (the job's progress bar showing steps > 0, drawn by the
   same fragment redraw as the curves). Target: ≤ 5 s on an idle machine.
2. While it trains: Versus steps/s of one WebSocket player on CartPole (bench/play.py's client, 50 fps
   pace) with the Lab page open (redrawing every second), then with it closed, against the same measured
   with no lab job running. Target: unaffected (the cap is 50).
3. The end: seconds from the click to the page showing the 20-episode evaluation, and its mean. Target:
   a mean of 500 in ≤ 60 s.

    python bench/lab.py [--seconds 15]

The machine's load average is printed with the figures: they mean what they say only on an idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app import ARGS, IDLE, start_app, stop
from play import concurrent


def versus_steps_per_s(url: str, seconds: float) -> float:
    """One Versus player's steps/s over ``seconds`` (in a thread of its own: its own event loop)."""
    out: list[float] = []
    t = threading.Thread(target=lambda: out.extend(asyncio.run(concurrent(url, 1, seconds))))
    t.start()
    t.join()
    return out[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10, help="length of each Versus measurement")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PLAYGROUND_DATA"] = str(Path(tmp) / "data")  # a fresh database and lab folder
        proc, url, _ = start_app(str(Path(tmp) / "cache"), warm=False)
        try:
            idle = versus_steps_per_s(url, args.seconds)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.goto(f"{url}/?page=lab")
                page.wait_for_selector(IDLE, state="attached", timeout=120_000)
                load_before = os.getloadavg()
                page.get_by_role("button", name="Start", exact=True).click()
                t0 = time.perf_counter()
                page.wait_for_function(
                    "() => [...document.querySelectorAll('[data-testid=stProgress]')]"
                    ".some(e => /^[1-9][0-9,]* \\//.test(e.innerText))",
                    timeout=120_000,
                    polling=50,
                )
                first_point = time.perf_counter() - t0
                during = versus_steps_per_s(url, args.seconds)
                lab_url = page.url
                page.goto(f"{url}/?page=gallery")  # the Lab page closed: only the training process remains
                page.wait_for_selector(IDLE, state="attached", timeout=120_000)
                closed = versus_steps_per_s(url, args.seconds)
                page.goto(lab_url)
                page.get_by_text("20-episode evaluation").wait_for(timeout=900_000)
                done = time.perf_counter() - t0
                line = page.get_by_text("20-episode evaluation").first.inner_text()
                browser.close()
        finally:
            stop(proc)
    mean = re.search(r"evaluation: ([0-9.]+)", line)
    print(f"load average before Start: {load_before[0]:.2f} (1 min), {os.cpu_count()} cores")
    print(f"first curve point on screen after Start: {first_point:.2f} s (target ≤ 5 s)")
    print(
        f"CartPole, shipped config (100,000 steps): 20-episode evaluation on screen {done:.1f} s after Start, "
        f"mean {mean.group(1) if mean else '?'} (target 500 in ≤ 60 s)"
    )
    print(
        f"Versus steps/s, one player: {idle:.1f} with no lab job; while the lab job trained: {during:.1f} with the "
        f"Lab page open, {closed:.1f} with it closed (cap 50)"
    )


if __name__ == "__main__":
    main()
