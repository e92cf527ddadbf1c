"""Real-time play speed: the play page in chromium, and many WebSocket players at once.

1. For each game, chromium plays Versus for ``--seconds`` (20) while a script holds and releases keys
   every 60–180 ms; it restarts an episode when it ends. Prints steps/s and key-to-frame p50/p95: from
   the key event to the canvas drawing the first frame stepped with that key (the browser's own
   ``performance.now()``). The game's fps caps steps/s (CartPole and LunarLander 50, Pong 15), and a key
   waits up to one tick for the next step, so at 15 fps a key waits up to 67 ms by design.
   Targets: ≥ 60 steps/s where the cap allows, p95 ≤ 40 ms on localhost.
2. Concurrent Versus players on CartPole without a browser: N WebSocket clients, each stepping at the
   game's 50 fps, for ``--seconds``; prints every N's worst client's steps/s. Target: ≥ 8 clients each
   holding ≥ 30 steps/s on this 2-core machine.

    python bench/play.py [--games cartpole lunarlander pong] [--seconds 20] [--max-clients 16]

A game without a bundled agent is measured in Solo (the note says so).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import websockets
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app import ARGS, IDLE, start_app, stop

ROOT = Path(__file__).resolve().parent.parent
KEYS = {
    "cartpole": ["ArrowLeft", "ArrowRight"],
    "lunarlander": ["ArrowUp", "ArrowLeft", "ArrowRight"],
    "pong": ["ArrowUp", "ArrowDown"],
    "breakout": [" ", "ArrowLeft", "ArrowRight"],
}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else float("nan")


def has_agent(game: str) -> bool:
    from agents.bundle import Bundle

    return Bundle.shipped(game) is not None


def browser_run(url: str, game: str, seconds: float) -> dict:
    mode = "versus" if has_agent(game) else "solo"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{url}/?game={game}&page=play")
        page.wait_for_selector(IDLE, state="attached", timeout=120_000)
        if mode == "solo":
            page.get_by_text("Solo", exact=True).click()
            page.wait_for_timeout(500)
            page.wait_for_selector(IDLE, state="attached")
        page.get_by_test_id("ppo-start").click()  # every game waits for its player, then counts down 3-2-1
        page.wait_for_function("() => window.__ppoPlay && window.__ppoPlay.steps > 0", timeout=60_000)
        status = page.get_by_test_id("ppo-status")
        restart = page.get_by_role("button", name="Restart")
        page.evaluate("() => { window.__ppoPlay.latencies.length = 0; }")
        steps0 = page.evaluate("() => window.__ppoPlay.steps")
        episodes_steps, t0 = 0, time.perf_counter()
        rng = random.Random(0)
        held = None
        while time.perf_counter() - t0 < seconds:
            key = rng.choice(KEYS[game])
            if held:
                page.keyboard.up(held)
            page.keyboard.down(key)
            held = key
            page.wait_for_timeout(rng.uniform(60, 180))
            text = status.inner_text()
            if "wins" in text or "draw" in text or "over" in text:
                episodes_steps += page.evaluate("() => window.__ppoPlay.steps") - steps0
                restart.click()
                page.wait_for_function("() => window.__ppoPlay.phase === 'waiting'")
                page.get_by_test_id("ppo-start").click()
                page.wait_for_function("() => window.__ppoPlay.phase === 'running'")
                steps0 = page.evaluate("() => window.__ppoPlay.steps")
        if held:
            page.keyboard.up(held)
        elapsed = time.perf_counter() - t0
        steps = episodes_steps + page.evaluate("() => window.__ppoPlay.steps") - steps0
        lat = page.evaluate("() => window.__ppoPlay.latencies")
        browser.close()
    return {
        "game": game,
        "mode": mode,
        "steps_per_s": steps / elapsed,
        "p50": pct(lat, 0.5),
        "p95": pct(lat, 0.95),
        "keys": len(lat),
    }


async def ws_client(url: str, seconds: float, fps: float) -> float:
    async with websockets.connect(url.replace("http", "ws") + "/api/play", max_size=2**24) as ws:
        await ws.send(json.dumps({"type": "start", "game": "cartpole", "mode": "versus", "seed": 0, "player": "bench"}))
        ready = json.loads(await ws.recv())
        if ready["type"] != "ready":
            raise RuntimeError(ready)
        await ws.send('{"type": "go"}')  # the server steps nothing before it
        await ws.recv()
        seq, steps, t0 = 0, 0, time.perf_counter()
        next_at = t0
        while (now := time.perf_counter()) - t0 < seconds:
            if now < next_at:
                await asyncio.sleep(next_at - now)
            next_at += 1 / fps
            seq += 1
            keys = ["ArrowLeft" if seq % 7 < 3 else "ArrowRight"]
            await ws.send(json.dumps({"type": "step", "seq": seq, "keys": keys}))
            msg = json.loads(await ws.recv())
            steps += 1
            if msg["state"]["done"]:
                await ws.recv()  # the "end" message
                await ws.send(json.dumps({"type": "reset", "seed": seq}))
                await ws.recv()
                await ws.send('{"type": "go"}')
                await ws.recv()
                seq = 0
        return steps / (time.perf_counter() - t0)


async def concurrent(url: str, n: int, seconds: float) -> list[float]:
    return list(await asyncio.gather(*(ws_client(url, seconds, 50) for _ in range(n))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", nargs="+", default=["cartpole", "lunarlander", "pong"])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--max-clients", type=int, default=16)
    args = ap.parse_args()
    os.environ["PLAYGROUND_DATA"] = tempfile.mkdtemp(prefix="bench-play-")
    os.environ["PLAYGROUND_MAX_GAMES"] = str(args.max_clients + 1)
    proc, url, _ = start_app(tempfile.mkdtemp(prefix="bench-cache-"), warm=False)
    try:
        print(f"{'game':<12} {'mode':<7} {'steps/s':>8} {'key→frame p50':>14} {'p95':>7} {'key events':>10}")
        for game in args.games:
            r = browser_run(url, game, args.seconds)
            print(
                f"{r['game']:<12} {r['mode']:<7} {r['steps_per_s']:>8.1f} {r['p50']:>12.1f} ms {r['p95']:>4.1f} ms"
                f" {r['keys']:>10}",
                flush=True,
            )
        print("\nconcurrent Versus players on CartPole (50 fps each), WebSocket clients without a browser:")
        print(f"{'clients':>7} {'worst steps/s':>14} {'median':>8}")
        best_ok = 0
        for n in (1, 2, 4, 6, 8, 10, 12, 14, 16):
            if n > args.max_clients:
                break
            rates = asyncio.run(concurrent(url, n, args.seconds / 2))
            print(f"{n:>7} {min(rates):>14.1f} {statistics.median(rates):>8.1f}", flush=True)
            if min(rates) >= 30:
                best_ok = n
            else:
                break
        print(f"\nmost concurrent Versus sessions each holding ≥ 30 steps/s: {best_ok} (target ≥ 8)")
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
