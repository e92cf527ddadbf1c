"""Connect Four against the agent: how long the agent's answer takes, on the server and in chromium.

1. Server, in-process: ``--server-games`` (200) games through the board route's session
   (``playground.board_server.Session.handle``, exactly what the socket calls), the person's column uniformly
   random among the legal ones, seats alternating. Prints p50/p95/max of the agent's decision alone
   (``ConnectFourAgent.decide``: masked policy, V(s)) and of a whole move message (validation, the person's
   stone, the agent's answer, the reply), and of recording a finished game in the ratings store (a SQLite file).
2. End to end in chromium: the app as ``make play`` runs it, the Head to head page, ``--browser-games`` (10)
   games played by clicking random legal columns; the time from the click to the frame after the agent's
   stone is in the page (``performance.now()`` in the page, ``window.__ppoBoard.latencies``).
   Target: p95 ≤ 300 ms on localhost.

    python bench/connect_four_latency.py [--agent PATH/agent.json] [--server-games 200] [--browser-games 10]

Without ``--agent`` it uses the shipped agent (``models/connect-four``). The figures go to stdout as a
table and, with ``--json FILE``, as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from agents.selfplay.board import Board  # noqa: E402
from playground import board_server  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else float("nan")


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(pct(values, 0.5), 3),
        "p95_ms": round(pct(values, 0.95), 3),
        "max_ms": round(max(values), 3) if values else float("nan"),
        "mean_ms": round(statistics.fmean(values), 3) if values else float("nan"),
    }


def server_run(agent_json: Path, games: int, seed: int) -> dict[str, dict[str, float]]:
    from playground.store.db import Database, sqlite_url
    from playground.store.ratings import RatingStore

    tmp = Path(tempfile.mkdtemp(prefix="c4-bench-"))
    try:
        db = Database(sqlite_url(tmp / "bench.sqlite"))
        db.migrate()
        store = RatingStore(db)
        limits = board_server.BoardLimits(results_per_minute=games + 1, results_per_socket=games + 1)
        server = board_server.BoardServer(limits, board_server.AgentCache(lambda: agent_json), lambda: store)
        session = board_server.Session(server)
        rng = random.Random(seed)
        decide, message, record = [], [], []
        for g in range(games):
            state = session.handle(json.dumps({"type": "start", "seat": g % 2, "player": f"bench{g % 7}"}))[0]
            board = Board()
            if state["agent_move"]:
                board.play(state["agent_move"]["column"])
                decide.append(state["agent_move"]["ms"])
            while True:
                col = rng.choice(board.legal_moves())
                text = json.dumps({"type": "move", "column": col, "ply": board.moves})
                t0 = time.perf_counter()
                replies = session.handle(text)
                elapsed = (time.perf_counter() - t0) * 1000
                moved = replies[0]
                assert moved["type"] == "moved", moved
                board.play(col)
                if moved["agent_move"]:
                    board.play(moved["agent_move"]["column"])
                    decide.append(moved["agent_move"]["ms"])
                if len(replies) > 1:  # the game ended: this message also recorded it
                    record.append(elapsed)
                    break
                message.append(elapsed)
        return {
            "agent decision": summary(decide),
            "move message": summary(message),
            "final move + record": summary(record),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def legal_columns(page) -> list[int]:
    """The columns with room, as the server last said (the board lives in the component's shadow root)."""
    return [c for c, ok in enumerate(page.evaluate("() => window.__ppoBoard.legal")) if ok]


def browser_run(agent_json: Path, games: int, seed: int) -> dict[str, dict[str, float]]:
    from app import ARGS, IDLE, start_app, stop
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="c4-bench-app-"))
    models = tmp / "models" / "connect-four"
    models.mkdir(parents=True)
    for suffix in (".json", ".safetensors"):
        shutil.copy(agent_json.with_suffix(suffix), models / f"agent{suffix}")
    saved = {k: os.environ.get(k) for k in ("PLAYGROUND_MODELS", "PLAYGROUND_DATA", "PLAYGROUND_LAB_WORKERS")}
    os.environ.update(
        {"PLAYGROUND_MODELS": str(tmp / "models"), "PLAYGROUND_DATA": str(tmp / "data"), "PLAYGROUND_LAB_WORKERS": "0"}
    )
    proc, url, _ = start_app(str(tmp / "cache"), warm=False)
    rng = random.Random(seed)
    latencies: list[float] = []
    server_ms: list[float] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page()
            page.set_default_timeout(60_000)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{url}/?page=duel")
            page.wait_for_selector(IDLE, state="attached")
            for _ in range(games):
                page.wait_for_function("() => window.__ppoBoard && window.__ppoBoard.phase === 'yours'")
                clicks = 0
                while page.evaluate("() => window.__ppoBoard.phase") != "over":
                    before = page.evaluate("() => window.__ppoBoard.moves")
                    page.get_by_test_id(f"c4-col-{rng.choice(legal_columns(page)) + 1}").click()
                    clicks += 1
                    # the server's answer is in (the phase leaves 'waiting') and its frame measured
                    page.wait_for_function(
                        f"() => window.__ppoBoard.moves > {before} && window.__ppoBoard.phase !== 'waiting'"
                        f" && window.__ppoBoard.latencies.length >= {clicks}"
                    )
                stats = page.evaluate("() => window.__ppoBoard")
                latencies += stats["latencies"]
                server_ms += stats["serverMs"]
                # "New game" keeps the same page state: empty its lists so each game is read once
                page.evaluate(
                    "() => { window.__ppoBoard.latencies.length = 0; window.__ppoBoard.serverMs.length = 0; }"
                )
                page.get_by_test_id("c4-new").click()
                page.wait_for_function("() => window.__ppoBoard.phase === 'yours' && window.__ppoBoard.moves === 0")
            browser.close()
            if errors:
                print(f"console errors: {errors}", file=sys.stderr)
    finally:
        stop(proc)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)
    return {"click to agent's stone (chromium)": summary(latencies), "agent decision (same moves)": summary(server_ms)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agent", type=Path, default=None, help="agent.json (default: the shipped agent)")
    ap.add_argument("--server-games", type=int, default=200)
    ap.add_argument("--browser-games", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    agent = args.agent or board_server.shipped_agent_path()
    if agent is None:
        sys.exit("no Connect Four agent is shipped (models/connect-four): pass --agent PATH/agent.json")
    agent = agent.expanduser().resolve().with_suffix(".json")
    loaded = board_server.AgentCache(lambda: agent).get()
    assert loaded is not None
    widths = [w.shape[0] for w, _ in loaded.agent.policy.pi[:-1]]
    print(
        f"agent {agent} ({loaded.name}, policy hidden layers {widths}); {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, numpy {np.__version__}"
    )
    figures: dict[str, dict[str, float]] = {}
    if args.server_games:
        figures.update(server_run(agent, args.server_games, args.seed))
    if args.browser_games:
        figures.update(browser_run(agent, args.browser_games, args.seed))
    print(f"{'what':40} {'n':>6} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
    for what, s in figures.items():
        print(f"{what:40} {s['n']:>6} {s['p50_ms']:>9.2f} {s['p95_ms']:>9.2f} {s['max_ms']:>9.2f}")
    if args.json:
        args.json.write_text(
            json.dumps({"agent": str(agent), "name": loaded.name, "figures": figures}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
