"""The shipped Pong agent against scripted left paddles in two-player Pong: points for and against with CIs.

    nice -n 10 python -m agents.play.duel_evidence --games 30 [--bots random tracker-200ms perfect-tracker]
    nice -n 10 python -m agents.play.duel_evidence --games 30 --agent ~/runs/pong-duel-ft/seed1/final

Each game is a whole match (to 21) on seed ``seed_base + i``; the bots are defined in
``agents.play.pong_duel.bots`` and their parameters are recorded with the results. The agent is the shipped
bundle's policy, unchanged, playing the right paddle as in ``agents.play.pong_duel``. Each opponent's results
go to their own file, ``agents/play/evidence/pong_duel_<opponent>.json``, written when its games are done,
so the opponents can be run in parallel processes; every game is deterministic (seeded agent sampling and
bot, one torch thread), so a rerun gives the same numbers.
"""

from __future__ import annotations

import argparse
import hashlib
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


def load_agent(path: Path | None) -> tuple[Any, dict[str, str]]:
    """The agent to evaluate and how the evidence names it: the shipped bundle (``None``), another bundle, or a
    folder holding ``policy.json`` + ``policy.safetensors`` (a fine-tuning run's ``final/``)."""
    from agents.common.files import sha256_file
    from agents.policy.network import load_policy

    if path is None:
        bundle = Bundle.shipped("pong")
        if bundle is None:
            raise SystemExit("no shipped Pong agent in models/pong")
        return bundle.policy(), {"bundle": "models/pong", "policy_sha256": bundle.policy_id}
    if Bundle.is_bundle(path):
        bundle = Bundle.open(path)
        return bundle.policy(), {"bundle": str(path), "policy_sha256": bundle.policy_id}
    weights = path / "policy.safetensors"
    if not (path / "policy.json").is_file() or not weights.is_file():
        raise SystemExit(
            f"--agent {path}: neither a bundle nor a folder with policy.json and policy.safetensors "
            "(a fine-tuning run's final/ folder has both)"
        )
    # the same digest as Bundle.policy_id: of the weights' and policy.json's sha256
    digests = f"{sha256_file(weights)} {sha256_file(path / 'policy.json')}"
    return load_policy(path), {
        "policy_folder": str(path),
        "policy_sha256": hashlib.sha256(digests.encode()).hexdigest(),
    }


def run(
    games: int,
    seed_base: int,
    name: str,
    log=print,
    part: tuple[int, int] = (0, 1),
    agent: Path | None = None,
) -> dict[str, Any]:
    """Play ``games`` matches against the named bot (``part`` = (i, k): only the games whose index is i mod k,
    so k processes share them) with the shipped agent or ``agent`` (:func:`load_agent`); the evidence as a
    JSON-ready dict."""
    import torch

    torch.set_num_threads(1)
    policy, named = load_agent(agent)
    factories = bots()
    out: dict[str, Any] = {
        "what": f"the Pong agent {named.get('bundle') or named.get('policy_folder')} (right paddle, first_0) vs "
        "scripted left paddles in PettingZoo pong_v3, two players, classic mode; whole matches to 21",
        "command": " ".join(["python -m agents.play.duel_evidence", *sys.argv[1:]]),
        "agent": {
            **named,
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
    mine = [i for i in range(games) if i % part[1] == part[0]]
    results = play_bots(policy, factories[name], [seed_base + i for i in mine])
    for i, r in zip(mine, results, strict=True):
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
    out["opponents"][name] = opponent(definition, rows, time.time() - t0)
    out["finished"] = now_iso()
    return out


def opponent(definition: dict[str, Any], rows: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """One opponent's summary: the agent's wins with a Wilson CI, points for and against with bootstrap CIs."""
    games = len(rows)
    wins = sum(row["agent"] > row["opponent"] for row in rows)
    return {
        "definition": definition,
        "games": games,
        "agent_wins": wins,
        "agent_win_rate": wins / games,
        "agent_win_ci95": list(wilson(wins, games)),
        "ci_method_wins": "Wilson score interval, 95 %",
        "points_for": summarise([row["agent"] for row in rows]),
        "points_against": summarise([row["opponent"] for row in rows]),
        "seconds": round(seconds, 1),
        "matches": sorted(rows, key=lambda row: row["seed"]),
    }


def mean_ci(points: dict[str, Any]) -> str:
    """Points for or against as the tables and cards show them: ``20.7 [20.3, 21.0]`` (mean [95 % CI])."""
    return f"{points['mean']:.1f} [{points['ci95'][0]:.1f}, {points['ci95'][1]:.1f}]"


def merge(folder: Path, name: str, parts: int) -> dict[str, Any]:
    """The ``parts`` part files of one opponent as one evidence file (the part files are then removed)."""
    paths = [folder / f"pong_duel_{name}.part{i}of{parts}.json" for i in range(parts)]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise SystemExit(f"cannot merge {name}: missing {', '.join(missing)}; run every --part first")
    pieces = [json.loads(p.read_text()) for p in paths]
    first = pieces[0]
    rows = [row for piece in pieces for row in piece["opponents"][name]["matches"]]
    seconds = max(piece["opponents"][name]["seconds"] for piece in pieces)
    merged = {
        **first,
        "command": [piece["command"] for piece in pieces],
        "code": [piece["code"] for piece in pieces],
        "finished": max(piece["finished"] for piece in pieces),
        "opponents": {name: opponent(first["opponents"][name]["definition"], rows, seconds)},
    }
    for p in paths:
        p.unlink()
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=30)
    parser.add_argument("--seed-base", type=int, default=SEED_BASE)
    parser.add_argument("--bots", nargs="*", default=list(bots()), choices=list(bots()))
    parser.add_argument(
        "--agent",
        type=Path,
        help="bundle, or folder with policy.json + policy.safetensors (a fine-tuning run's final/); default the "
        "shipped models/pong",
    )
    parser.add_argument("--out-dir", type=Path, help=f"default {EVIDENCE} (the shipped agent), <agent>/evidence")
    parser.add_argument("--table", action="store_true", help="print the Markdown table of the files; play nothing")
    parser.add_argument(
        "--part", type=int, nargs=2, metavar=("I", "K"), help="play only games i, i+k, …: k processes share them"
    )
    parser.add_argument("--merge", type=int, metavar="K", help="merge the K part files of each --bots opponent")
    args = parser.parse_args(argv)
    if args.out_dir is None:
        args.out_dir = EVIDENCE if args.agent is None else args.agent / "evidence"
    if args.table:
        print(table(args.out_dir))
        return 0
    if not 1 <= args.games <= 1000:
        parser.error(f"--games must be 1 to 1000, got {args.games}")
    part = tuple(args.part) if args.part else (0, 1)
    if not 0 <= part[0] < part[1] <= args.games:
        parser.error(f"--part I K needs 0 <= I < K <= --games, got {part}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for bot in args.bots:
        if args.merge:
            evidence = merge(args.out_dir, bot, args.merge)
            name = f"pong_duel_{bot}.json"
        else:
            evidence = run(
                args.games, args.seed_base, bot, log=lambda s: print(s, flush=True), part=part, agent=args.agent
            )
            name = f"pong_duel_{bot}.json" if part[1] == 1 else f"pong_duel_{bot}.part{part[0]}of{part[1]}.json"
        (args.out_dir / name).write_text(json.dumps(evidence, indent=1) + "\n")
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
            f"| {name} | {o['games']} | {o['agent_wins']} ({lo:.0%}–{hi:.0%}) | {mean_ci(pf)} | {mean_ci(pa)} |"
        )
    return "\n".join(rows)


def report(evidence: dict[str, Any]) -> None:
    for name, o in evidence["opponents"].items():
        pf, pa = o["points_for"], o["points_against"]
        print(
            f"{name}: agent wins {o['agent_wins']}/{o['games']}; points for {mean_ci(pf)}, against {mean_ci(pa)}",
            flush=True,
        )


if __name__ == "__main__":
    raise SystemExit(main())
