"""The shipped Pong agent against scripted left paddles in two-player Pong: points for and against with CIs.

    nice -n 10 python -m agents.play.duel_evidence --games 30 [--bots random tracker-200ms perfect-tracker]

Each game is a whole match (to 21) on seed ``seed_base + i``; the bots are defined in
``agents.play.pong_duel.bots`` and their parameters are recorded with the results. The agent is the shipped
bundle's policy, unchanged, playing the right paddle as in ``agents.play.pong_duel``. Each opponent's results
go to their own file, ``agents/play/evidence/pong_duel_<opponent>.json``, written when its games are done,
so the opponents can be run in parallel processes; every game is deterministic (seeded agent sampling and
bot, one torch thread), so a rerun gives the same numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from agents.bundle import Bundle
from agents.common.provenance import git_state, hardware, now_iso, package_versions
from agents.evaluation.evaluate import summarise
from agents.play.pong_duel import FRAME_SKIP, bots, play_bots

SEED_BASE = 2_000_000
EVIDENCE = Path(__file__).resolve().parent / "evidence"


def wilson(wins: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a win rate (95 % by default)."""
    if n == 0:
        return (math.nan, math.nan)
    p = wins / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _definition(bot: Any) -> dict[str, Any]:
    fields = asdict(bot) if is_dataclass(bot) and not isinstance(bot, type) else {}
    return {
        "class": type(bot).__name__,
        **{k: v for k, v in fields.items() if isinstance(v, int | float | str)},
    }


def run(games: int, seed_base: int, name: str, log=print) -> dict[str, Any]:
    """Play ``games`` matches against the named bot; the evidence as a JSON-ready dict."""
    import torch

    torch.set_num_threads(1)
    bundle = Bundle.shipped("pong")
    if bundle is None:
        raise SystemExit("no shipped Pong agent in models/pong")
    policy = bundle.policy()
    factories = bots()
    out: dict[str, Any] = {
        "what": "the shipped Pong agent (right paddle, first_0) vs scripted left paddles in PettingZoo pong_v3, "
        "two players, classic mode; whole matches to 21",
        "command": " ".join(["python -m agents.play.duel_evidence", *sys.argv[1:]]),
        "agent": {
            "bundle": "models/pong",
            "policy_sha256": bundle.policy_id,
            "deterministic": False,
            "forward": "the matches step together and the agent's forward passes are batched across them",
        },
        "frame_skip": FRAME_SKIP,
        "seeds": [seed_base, seed_base + games - 1],
        "started": now_iso(),
        "code": git_state(),
        "versions": package_versions(),
        "hardware": hardware(),
        "opponents": {},
    }
    rows: list[dict[str, Any]] = []
    t0 = time.time()
    definition = _definition(factories[name]())
    results = play_bots(policy, factories[name], [seed_base + i for i in range(games)])
    for i, r in enumerate(results):
        rows.append(
            {
                "seed": r.seed,
                "agent": r.agent_points,
                "opponent": r.person_points,
                "frames": r.frames,
                "done": r.done,
                "serve_penalties": {
                    "agent": r.serve_penalties["first_0"],
                    "opponent": r.serve_penalties["second_0"],
                },
            }
        )
        log(f"{name} game {i + 1}/{games}: agent {r.agent_points} - {r.person_points} ({r.frames} frames)")
    wins = sum(row["agent"] > row["opponent"] for row in rows)
    out["opponents"][name] = {
        "definition": definition,
        "games": games,
        "agent_wins": wins,
        "agent_win_rate": wins / games,
        "agent_win_ci95": list(wilson(wins, games)),
        "ci_method_wins": "Wilson score interval, 95 %",
        "points_for": summarise([row["agent"] for row in rows]),
        "points_against": summarise([row["opponent"] for row in rows]),
        "seconds": round(time.time() - t0, 1),
        "matches": rows,
    }
    out["finished"] = now_iso()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=30)
    parser.add_argument("--seed-base", type=int, default=SEED_BASE)
    parser.add_argument("--bots", nargs="*", default=list(bots()), choices=list(bots()))
    parser.add_argument("--out-dir", type=Path, default=EVIDENCE)
    parser.add_argument("--table", action="store_true", help="print the Markdown table of the files; play nothing")
    args = parser.parse_args(argv)
    if args.table:
        print(table(args.out_dir))
        return 0
    if not 1 <= args.games <= 1000:
        parser.error(f"--games must be 1 to 1000, got {args.games}")
    for bot in args.bots:
        evidence = run(args.games, args.seed_base, bot, log=lambda s: print(s, flush=True))
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / f"pong_duel_{bot}.json").write_text(json.dumps(evidence, indent=1) + "\n")
        report(evidence)
    return 0


def table(folder: Path = EVIDENCE) -> str:
    """The evidence files as the Markdown table docs/play.md shows."""
    rows = [
        "| left paddle | games | agent wins (Wilson 95 %) | points for, mean [95 % CI] | points against |",
        "|---|---|---|---|---|",
    ]
    for name in bots():
        path = folder / f"pong_duel_{name}.json"
        if not path.exists():
            rows.append(f"| {name} | not run | | | |")
            continue
        o = json.loads(path.read_text())["opponents"][name]
        lo, hi = o["agent_win_ci95"]
        pf, pa = o["points_for"], o["points_against"]
        rows.append(
            f"| {name} | {o['games']} | {o['agent_wins']} ({lo:.0%}–{hi:.0%}) "
            f"| {pf['mean']:.1f} [{pf['ci95'][0]:.1f}, {pf['ci95'][1]:.1f}] "
            f"| {pa['mean']:.1f} [{pa['ci95'][0]:.1f}, {pa['ci95'][1]:.1f}] |"
        )
    return "\n".join(rows)


def report(evidence: dict[str, Any]) -> None:
    for name, o in evidence["opponents"].items():
        pf, pa = o["points_for"], o["points_against"]
        print(
            f"{name}: agent wins {o['agent_wins']}/{o['games']}; points for {pf['mean']:.1f} "
            f"[{pf['ci95'][0]:.1f}, {pf['ci95'][1]:.1f}], "
            f"against {pa['mean']:.1f} [{pa['ci95'][0]:.1f}, {pa['ci95'][1]:.1f}]",
            flush=True,
        )


if __name__ == "__main__":
    raise SystemExit(main())
