"""``playground bundle connect-four RUN_DIR``: a two-player bundle from a finished self-play run (docs/bundle.md).

The whole recipe in one command: the run's policy and evidence copied, the policy loaded back the way the
app loads it, ``games`` games per seat against every test opponent (``agents.selfplay.report``'s
evaluation, its seeds and its bars), replays of agent-vs-opponent games, the manifest and the card; staged
and installed by :class:`agents.bundle.writer.BundleWriter`, so a failure leaves the old bundle as it was.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.bundle.bundle import MATCH_MANIFEST
from agents.bundle.match import (
    EVALUATION,
    EVIDENCE,
    REPLAYS,
    MatchManifest,
    MatchReplay,
    check_evaluation,
    match_game,
)
from agents.bundle.match_card import match_card
from agents.bundle.writer import BundleWriter
from agents.common.errors import BundleError
from agents.common.files import read_json, sha256_file
from agents.common.progress import Progress
from agents.common.provenance import git_state, hardware, now_iso, package_versions
from agents.common.settings import models_dir
from envs.catalog import get_two_player_spec

DEFAULT_GAMES = 1000
"""games per seat and opponent: what the catalog's match bars are judged on (issue 15)"""
CODE_COMMIT = "code-commit.txt"
"""beside a run trained from a copy of the code without .git (config.json's git.commit is then null): the
commit it was copied from, in words"""
DEFAULT_SEED = 2026
"""the evaluation's base seed, as ``python -m agents.selfplay.report`` uses by default: same numbers"""


@dataclass(frozen=True)
class MatchBundleOptions:
    """What ``playground bundle <two-player game> RUN_DIR`` takes."""

    game: str
    """a two-player game's slug (``connect-four``)"""
    run_dir: Path
    """a finished self-play run folder (``playground selfplay``): final/agent.*, config.json, run.json, ..."""
    out: Path | None = None
    """the bundle folder (default ``models_dir()/<game>``)"""
    games: int = DEFAULT_GAMES
    """games per seat against each opponent"""
    seed: int = DEFAULT_SEED
    """the evaluation's base seed (each (opponent, seat) block's seed is ``report.block_seed`` of it)"""
    replays: int = 2
    """replayed games per opponent and seat"""
    command: str = ""
    """the command line, recorded in the manifest and the card"""


def bundling_provenance(started: str) -> dict[str, Any]:
    """A two-player manifest's ``provenance``: the bundling code's git state, the package versions, the hardware,
    when the build started (``started``) and finished (now), and the Python it ran on."""
    return {
        "code": {"bundling": git_state()},
        "versions": package_versions(),
        "hardware": hardware(),
        "bundled": {"started": started, "finished": now_iso()},
        "python_executable": sys.executable.split("/")[-1],
    }


def replay_seed(seed: int, opponent: str, seat: int, k: int) -> int:
    """The seed of replay ``k`` against ``opponent`` from ``seat``: its own generator, apart from the blocks."""
    from agents.selfplay.report import block_seed

    return block_seed(seed, opponent, seat) * 100 + 50 + k


def _read_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """run.json and config.json of a finished self-play run; a missing file is named with what to do."""
    needed = [
        "final/agent.json",
        "final/agent.safetensors",
        "config.json",
        "run.json",
        "diagnostics.csv",
        "gates.jsonl",
    ]
    missing = [n for n in needed if not (run_dir / n).is_file()]
    if missing:
        raise BundleError(
            f"{run_dir} is not a finished self-play run: no {', '.join(missing)} (`playground selfplay "
            "connect-four --seed S --out DIR` writes them; run.json and final/ at its end)"
        )
    run = read_json(run_dir / "run.json", f"run.json of {run_dir}", BundleError)
    config = read_json(run_dir / "config.json", f"config.json of {run_dir}", BundleError)
    if not isinstance(run, dict) or not isinstance(config, dict):
        raise BundleError(f"{run_dir}: run.json and config.json must be JSON objects")
    for key in ("seed", "timesteps", "minutes", "command"):
        if key not in run:
            raise BundleError(f"{run_dir}/run.json has no {key!r}: is it a self-play run?")
    return run, config


def build_match_bundle(opts: MatchBundleOptions) -> Path:
    """Build a two-player bundle from ``opts.run_dir``; returns its folder."""
    from agents.selfplay.bots import make_bot
    from agents.selfplay.evaluate import play_game
    from agents.selfplay.report import OPPONENTS, evaluate_agent

    spec = get_two_player_spec(opts.game)
    game = match_game(spec.slug)
    if spec.slug != "connect-four":  # a self-play run's layout; two-player Pong's builder takes a Pong policy
        raise BundleError(
            f"{spec.slug}'s bundle is built from a Pong policy, not a self-play run: `playground bundle {spec.slug} "
            "SOURCE` (agents.bundle.match_pong_build)"
        )
    if not 1 <= opts.games <= 100_000 or not 0 <= opts.replays <= 20:
        raise BundleError(f"--games {opts.games} and replays {opts.replays}: give 1..100000 games and 0..20 replays")
    run_dir = Path(opts.run_dir).expanduser()
    run, config = _read_run(run_dir)
    out_dir = Path(opts.out) if opts.out else models_dir() / spec.slug
    started = now_iso()

    with BundleWriter(out_dir, manifest_rel=MATCH_MANIFEST, folders=("evidence", REPLAYS)) as w:
        for name in game.policy_files:
            w.copy(run_dir / "final" / name, name)
        if (run_dir / "final" / "model.zip").is_file():  # sb3-contrib's zip for SB3 users; never opened here
            w.copy(run_dir / "final" / "model.zip", "model.zip")
        for rel in EVIDENCE:
            w.copy(run_dir / rel.split("/", 1)[1], rel)
        code_commit = None
        if (run_dir / CODE_COMMIT).is_file():  # a run from a frozen copy of the code (no .git) says its commit here
            w.copy(run_dir / CODE_COMMIT, f"evidence/{CODE_COMMIT}")
            code_commit = (run_dir / CODE_COMMIT).read_text(errors="replace").strip()[:500]
        # loaded back from the staged files the way the app loads them, with every check
        agent = game.load_agent({name: w.path / name for name in game.policy_files})

        per_block = opts.games
        total = per_block * 2 * len(OPPONENTS)
        t0 = time.monotonic()
        with Progress(f"{spec.slug}: evaluation vs {', '.join(OPPONENTS)}", total, "games") as bar:
            rows = evaluate_agent(agent, per_block, opts.seed, OPPONENTS, on_game=bar.advance)
        seconds = round(time.monotonic() - t0, 1)
        weights = game.policy_files[-1]
        bundle_cmd = opts.command or f"playground bundle {spec.slug} {run_dir} --games {opts.games}"
        evaluation = {
            "game": spec.slug,
            "games_per_seat": per_block,
            "seed": opts.seed,
            "opponents": list(OPPONENTS),
            "agent": "its most probable legal move in every position (deterministic)",
            "results": rows,
            "policy_sha256": sha256_file(w.path / weights),
            "command": bundle_cmd,
            "evaluated_at": now_iso(),
            "seconds": seconds,
        }
        w.write_json(EVALUATION, evaluation)

        replays = []
        for opponent in OPPONENTS:
            for seat in (0, 1):
                for k in range(opts.replays):
                    seed = replay_seed(opts.seed, opponent, seat, k)
                    bot = make_bot(opponent)
                    winner, moves = play_game((agent, bot) if seat == 0 else (bot, agent), np.random.default_rng(seed))
                    result = "draw" if winner < 0 else "win" if winner == seat else "loss"
                    r = MatchReplay(f"{opponent}-{spec.seats[seat]}-{k}", seed, seat, opponent, tuple(moves), result)
                    w.write_json(f"{REPLAYS}/{r.name}.json", r.to_json(spec.slug, spec.seats), indent=None)
                    replays.append(r)

        out_arg = "" if opts.out is None else f" --out {out_dir}"
        manifest = MatchManifest(
            game=spec.slug,
            env_id=spec.env_id,
            pettingzoo_env=spec.pettingzoo_env,
            seats=spec.seats,
            policy={
                "format": game.policy_format,
                "files": list(game.policy_files),
                "plays": "its most probable legal move (the masked policy's argmax), as evaluated",
                "sb3_zip": "model.zip" if (w.path / "model.zip").is_file() else None,
            },
            training={
                "algo": "MaskablePPO (sb3-contrib), self-play against a gated pool of snapshots and fixed bots",
                "seed": run["seed"],
                "timesteps": run["timesteps"],
                "minutes": run["minutes"],
                "steps_per_second": run.get("steps_per_second"),
                "command": run["command"],
                "config": config,
                "git": config.get("git", {}),
                "code_commit": code_commit,
                "run": str(run_dir),
            },
            opponents=[game.definition(o) for o in OPPONENTS],
            evaluation={
                "file": EVALUATION,
                "games_per_seat": per_block,
                "seed": opts.seed,
                "replays_per_seat": opts.replays,
            },
            files={},
            commands={
                "train": run["command"],
                "bundle": bundle_cmd,
                "verify": f"playground verify {out_dir if opts.out else spec.slug}",
            },
            reproduce=[run["command"], f"playground bundle {spec.slug} RUN_DIR{out_arg} --games {opts.games}"],
            provenance=bundling_provenance(started),
        )
        checked = check_evaluation(evaluation, manifest, spec)  # the card is written from what verify reads
        w.write_text("README.md", match_card(spec, manifest, checked, replays))
        w.finish(manifest)
    return out_dir
