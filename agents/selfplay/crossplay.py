"""The cross-play matrix: every seed's final agent, snapshots from every seed's pool and the test bots play a
round robin; OpenSkill (Plackett-Luce) rates them all.

    python -m agents.selfplay.crossplay ~/selfplay/runs/seed1 ~/selfplay/runs/seed2 --out ~/selfplay/evidence

Policies play their most probable move, so each pairing starts from balanced openings: ``--openings``
random two-ply openings, each played twice with the seats swapped (a deterministic pair would otherwise
play one game over and over). Writes ``crossplay.json`` (players, the score matrix, every game's result,
the ratings) and ``crossplay.md``. Ratings are updated one game at a time in a seeded shuffled order.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from agents.selfplay.board import Board
from agents.selfplay.bots import Opponent, make_bot
from agents.selfplay.policy import NumpyPolicy, PolicyOpponent

DEFAULT_BOTS = ("random", "one-ply", "negamax-2", "negamax-4")


def players_of(runs: list[Path], snapshots_per_run: int, bots: tuple[str, ...]) -> list[Opponent]:
    """Each run's final agent and up to ``snapshots_per_run`` of its pool snapshots (evenly spaced, the last
    included), then the bots."""
    players: list[Opponent] = []
    for run in runs:
        label = run.name
        policy, _ = NumpyPolicy.load(run / "final" / "agent")
        players.append(PolicyOpponent(policy, f"{label}/final", deterministic=True))
        snaps = sorted((run / "pool").glob("snapshot-*.json"))
        if snaps and snapshots_per_run > 0:
            idx = np.unique(np.linspace(len(snaps) - 1, 0, snapshots_per_run).round().astype(int))[::-1]
            for i in sorted(idx):
                policy, _ = NumpyPolicy.load(snaps[i].with_suffix(""))
                players.append(PolicyOpponent(policy, f"{label}/{snaps[i].stem}", deterministic=True))
    return players + [make_bot(b) for b in bots]


def play_from(opening: tuple[int, int], players: tuple[Opponent, Opponent], rng: np.random.Generator) -> int:
    """One game from a two-ply opening, ``players[0]`` moving first: the winner's seat, or -1 for a draw."""
    board = Board()
    for col in opening:
        board.play(col)
    while not board.over:
        board.play(players[board.to_move].move(board, rng))
    return board.winner


def round_robin(players: list[Opponent], openings: int, seed: int) -> list[dict]:
    """Every pair plays ``openings`` openings twice (seats swapped): one record per game."""
    games = []
    for i, j in itertools.combinations(range(len(players)), 2):
        rng = np.random.default_rng([seed, i, j])
        for _ in range(openings):
            opening = (int(rng.integers(7)), int(rng.integers(7)))
            for first, second in ((i, j), (j, i)):
                winner = play_from(opening, (players[first], players[second]), rng)
                games.append(
                    {"first": players[first].name, "second": players[second].name, "opening": opening, "winner": winner}
                )
    return games


def rate(names: list[str], games: list[dict], seed: int) -> list[dict]:
    """OpenSkill Plackett-Luce ratings from the games, in a seeded shuffled order; best (ordinal) first."""
    from openskill.models import PlackettLuce

    model = PlackettLuce()
    ratings = {n: model.rating(name=n) for n in names}
    order = np.random.default_rng(seed).permutation(len(games))
    for k in order:
        g = games[int(k)]
        ranks = [1.0, 1.0] if g["winner"] == -1 else ([1.0, 2.0] if g["winner"] == 0 else [2.0, 1.0])
        [[a], [b]] = model.rate([[ratings[g["first"]]], [ratings[g["second"]]]], ranks=ranks)
        ratings[g["first"]], ratings[g["second"]] = a, b
    rows = [{"player": n, "mu": r.mu, "sigma": r.sigma, "ordinal": r.ordinal()} for n, r in ratings.items()]
    return sorted(rows, key=lambda r: -r["ordinal"])


def score_matrix(names: list[str], games: list[dict]) -> list[list[float | None]]:
    """Row player's score against the column player: (wins + draws / 2) / games, over both seats."""
    idx = {n: i for i, n in enumerate(names)}
    pts = np.zeros((len(names), len(names)))
    cnt = np.zeros((len(names), len(names)))
    for g in games:
        a, b = idx[g["first"]], idx[g["second"]]
        sa = 0.5 if g["winner"] == -1 else 1.0 if g["winner"] == 0 else 0.0
        pts[a, b] += sa
        pts[b, a] += 1 - sa
        cnt[a, b] += 1
        cnt[b, a] += 1
    return [
        [None if cnt[r, c] == 0 else round(pts[r, c] / cnt[r, c], 3) for c in range(len(names))]
        for r in range(len(names))
    ]


def markdown(names: list[str], matrix: list[list[float | None]], ratings: list[dict], openings: int) -> str:
    lines = [
        f"Round robin, {openings} random two-ply openings per pair, each played with both seat orders. "
        "OpenSkill (Plackett-Luce) ratings, best first; ordinal = mu − 3 sigma.",
        "",
        "| rank | player | mu | sigma | ordinal |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {k + 1} | {r['player']} | {r['mu']:.2f} | {r['sigma']:.2f} | {r['ordinal']:.2f} |"
        for k, r in enumerate(ratings)
    ]
    lines += ["", "Score of the row player against the column player (wins + draws / 2, both seats):", ""]
    short = [f"P{i + 1}" for i in range(len(names))]
    lines.append("| | " + " | ".join(short) + " |")
    lines.append("|---" * (len(names) + 1) + "|")
    for i, n in enumerate(names):
        cells = ["—" if v is None else f"{v:.2f}" for v in matrix[i]]
        lines.append(f"| P{i + 1} {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agents.selfplay.crossplay", description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="run folders written by `playground selfplay`")
    p.add_argument("--out", type=Path, required=True, help="folder for crossplay.json and crossplay.md")
    p.add_argument("--snapshots-per-run", type=int, default=3, help="pool snapshots per run (default 3)")
    p.add_argument("--openings", type=int, default=10, help="random openings per pair (default 10)")
    p.add_argument("--bots", default=",".join(DEFAULT_BOTS), help="comma-separated (default %(default)s)")
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args(argv)
    runs = [r.expanduser() for r in args.runs]
    missing = [str(r) for r in runs if not (r / "final" / "agent.json").is_file()]
    if missing:
        print(f"error: no final/agent.json in {', '.join(missing)}: is the run finished?", file=sys.stderr)
        return 1
    players = players_of(runs, args.snapshots_per_run, tuple(b for b in args.bots.split(",") if b))
    names = [pl.name for pl in players]
    if len(set(names)) != len(names):
        print("error: two players have the same name: give run folders distinct names", file=sys.stderr)
        return 1
    games = round_robin(players, args.openings, args.seed)
    ratings = rate(names, games, args.seed)
    matrix = score_matrix(names, games)
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {"players": names, "openings": args.openings, "seed": args.seed, "ratings": ratings, "matrix": matrix}
    (args.out / "crossplay.json").write_text(json.dumps({**doc, "games": games}) + "\n")
    table = markdown(names, matrix, ratings, args.openings)
    (args.out / "crossplay.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
