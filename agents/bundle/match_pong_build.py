"""``playground bundle pong-duel SOURCE``: the two-player Pong bundle from a Pong policy (docs/bundle.md).

SOURCE is a single-player Pong bundle (``models/pong``: its agent, unchanged, on the right paddle) or a
fine-tuning run's ``final/`` folder (``playground finetune pong-duel``: ``policy.json`` + ``policy.safetensors``,
its run folder one level up). The build copies the policy and the source's evidence, loads the policy back
from the staged files, plays ``games`` whole matches (to 21) against each scripted left paddle on seeds
``seed``, ``seed + 1``, … (as ``python -m agents.play.duel_evidence`` does), keeps the first ``replays`` matches
per bot as replays, and writes evaluation.json, the manifest and the card; staged and installed by
:class:`agents.bundle.writer.BundleWriter`, so a failure leaves the old bundle as it was.

A match costs seconds here (4 to 8 s on this machine), so the build plays them itself by default, one at a time
as ``verify`` re-plays a replay. ``evidence`` adopts ``duel_evidence`` files instead, once each is shown to be of
these weights (the policy digest), these seeds, these bots' definitions and this many games; the replays are
then played, and ``verify`` checks each equals the adopted match of its seed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agents.bundle.bundle import MATCH_MANIFEST, Bundle
from agents.bundle.match import EVALUATION, REPLAYS, MatchManifest, SeatRecord, check_evaluation, match_game
from agents.bundle.match_build import bundling_provenance
from agents.bundle.match_pong import DUEL_EVIDENCE, GAME, SOURCE_EVIDENCE, PongReplay, outcome
from agents.bundle.match_pong_card import pong_duel_card
from agents.bundle.writer import BundleWriter
from agents.common.errors import BundleError
from agents.common.files import read_json, sha256_file
from agents.common.progress import Progress
from agents.common.provenance import now_iso
from agents.common.settings import models_dir
from envs.catalog import get_two_player_spec

EVIDENCE_DIR = Path(__file__).resolve().parents[1] / "play" / "evidence"
"""``python -m agents.play.duel_evidence``'s folder for the shipped agent"""

DEFAULT_GAMES = 30
"""whole matches per bot: the issue's "≥ 30 games each" """
SEED_BASE = 2_000_000
"""the matches' seeds start here, as ``agents.play.duel_evidence``'s do: the same matches"""
AGENT_PLAYS = (
    "every 4th frame, an action sampled from the policy's probabilities with the match's own generator (seeded "
    "by the match's seed: the Atari evaluation protocol, deterministic=False), held for 4 frames"
)


@dataclass(frozen=True)
class PongDuelBundleOptions:
    """What ``playground bundle pong-duel SOURCE`` takes."""

    source: Path
    """a single-player Pong bundle, or a fine-tuning run's final/ folder"""
    out: Path | None = None
    """the bundle folder (default ``models_dir()/pong-duel``)"""
    games: int = DEFAULT_GAMES
    """matches per bot"""
    seed: int = SEED_BASE
    replays: int = 1
    """matches per bot kept as replays (the first ones of the evaluation)"""
    max_frames: int = 100_000
    """cut each match after this many frames (PettingZoo's default; tests cut matches short, the card says so)"""
    evidence: Path | None = None
    """adopt ``agents.play.duel_evidence`` files (``pong_duel_<bot>.json``) from here instead of playing"""
    command: str = ""


@dataclass(frozen=True)
class _Source:
    kind: str
    policy_dir: Path
    copies: dict[str, Path]
    """bundle path -> source file of its evidence"""
    training: dict[str, Any]
    evidence_dir: Path
    """where ``python -m agents.play.duel_evidence`` writes this agent's files (compared with, when there)"""


def _single_player_source(path: Path) -> _Source:
    b = Bundle.open(path)
    if b.spec.slug != "pong":
        raise BundleError(f"{path} is a bundle of {b.spec.slug}; two-player Pong takes a Pong agent")
    m = b.manifest
    seed = m.shipped_seed
    name = f"training-seed{seed}.csv"
    copies = {
        f"{SOURCE_EVIDENCE}/manifest.json": b.path / "evidence/manifest.json",
        f"{SOURCE_EVIDENCE}/README.md": b.path / "README.md",
        f"{SOURCE_EVIDENCE}/config.yml": b.path / "config.yml",
        f"{SOURCE_EVIDENCE}/eval.json": b.path / "evidence/eval.json",
    }
    if (b.path / "evidence" / name).is_file():
        copies[f"{SOURCE_EVIDENCE}/{name}"] = b.path / "evidence" / name
    raw = read_json(b.path / "evidence/manifest.json", "its manifest", BundleError)
    commands = (raw.get("commands", {}).get("train", {}) or {}).get(str(seed)) or ["?"]
    command = commands[0] + (f" (then --resume {len(commands) - 1} times)" if len(commands) > 1 else "")
    return _Source(
        "single-player bundle",
        b.path,
        copies,
        {
            "algo": "PPO (Stable-Baselines3) in single-player ALE/Pong-v5, on the right paddle; never trained in "
            "two-player Pong",
            "seed": seed,
            "timesteps": int(raw["timesteps"][str(seed)]),
            "minutes": round(float(raw.get("wall_seconds", {}).get(str(seed), 0.0)) / 60, 1),
            "command": command,
            "config": yaml.safe_load((b.path / "config.yml").read_text()) or {},
            "git": (raw.get("code", {}).get("training", {}) or {}).get(str(seed), {}),
            "from": str(path),
        },
        EVIDENCE_DIR,
    )


def _finetune_source(final: Path) -> _Source:
    run_dir = final.parent
    missing = [p.name for p in (final / "policy.json", final / "policy.safetensors") if not p.is_file()]
    missing += [n for n in ("run.json", "config.yml", "diagnostics.csv") if not (run_dir / n).is_file()]
    if missing:
        raise BundleError(
            f"{final} is neither a single-player Pong bundle nor a finished fine-tuning run's final/ folder: no "
            f"{', '.join(missing)} (`playground finetune pong-duel --out RUN` writes RUN/final at its end)"
        )
    run = read_json(run_dir / "run.json", f"{run_dir}/run.json", BundleError)
    if not isinstance(run, dict) or run.get("game") != GAME or run.get("status") != "done":
        raise BundleError(f"{run_dir}/run.json is not a finished {GAME} fine-tuning run (game, status 'done')")
    commands = run.get("commands") or ["?"]
    return _Source(
        "fine-tuning run",
        final,
        {f"{SOURCE_EVIDENCE}/{n}": run_dir / n for n in ("run.json", "config.yml", "diagnostics.csv")},
        {
            "algo": "PPO (Stable-Baselines3) fine-tuning in two-player Pong against scripted paddles and its own "
            "snapshots (agents/play/finetune.py)",
            "seed": run["seed"],
            "timesteps": run["timesteps"],
            "minutes": round(float(run.get("wall_seconds") or 0.0) / 60, 1),
            "command": str(commands[0]),
            "config": run.get("hyperparams") or {},
            "git": run.get("code") or {},
            "start_policy_sha256": (run.get("finetune") or {}).get("start_policy_sha256"),
            "from": str(run_dir),
        },
        final / "evidence",
    )


def _source(path: Path) -> _Source:
    if Bundle.is_bundle(path):
        return _single_player_source(path)
    return _finetune_source(path)


def policy_id(folder: Path) -> str:
    """The policy's digest as ``Bundle.policy_id`` and ``duel_evidence`` name it (weights' and policy.json's)."""
    import hashlib

    digests = f"{sha256_file(folder / 'policy.safetensors')} {sha256_file(folder / 'policy.json')}"
    return hashlib.sha256(digests.encode()).hexdigest()


def _adopt(folder: Path, bot: str, games: int, seed: int, pid: str) -> tuple[dict[str, Any], Path]:
    """A duel_evidence file's opponent block, once it is shown to be of these weights, seeds, bot and games."""
    from agents.play.duel_evidence import _definition
    from agents.play.pong_duel import bots

    path = folder / f"pong_duel_{bot}.json"
    d = read_json(path, str(path), BundleError)
    block = (d.get("opponents") or {}).get(bot) if isinstance(d, dict) else None
    agent = d.get("agent") or {} if isinstance(d, dict) else {}
    if not isinstance(block, dict) or agent.get("policy_sha256") != pid:
        raise BundleError(
            f"{path} is not of this policy (digest {str(agent.get('policy_sha256'))[:12]}, not {pid[:12]})"
        )
    if d.get("seeds") != [seed, seed + games - 1] or block.get("games") != games:
        raise BundleError(
            f"{path} holds {block.get('games')} matches on seeds {d.get('seeds')}, not {games} from {seed}"
        )
    if block.get("definition") != _definition(bots()[bot]()):
        raise BundleError(f"{path}'s {bot} is defined otherwise than this code's: {block.get('definition')}")
    matches = sorted(block.get("matches") or [], key=lambda m: m.get("seed", -1))
    if [m.get("seed") for m in matches] != list(range(seed, seed + games)):
        raise BundleError(f"{path}'s matches are not seeds {seed}..{seed + games - 1}, one each")
    command = d["command"] if isinstance(d["command"], str) else " ; ".join(d["command"])
    return {"matches": matches, "command": command, "seconds": block.get("seconds")}, path


def _cross_check(folder: Path, bot: str, games: int, seed: int, pid: str, matches: list[dict]) -> dict | None:
    """How many of the build's matches have the score and length of the same seed's match in a duel_evidence
    file of these weights (which plays with batched forward passes), or None when there is no such file."""
    if not (folder / f"pong_duel_{bot}.json").is_file():
        return None
    try:
        theirs, path = _adopt(folder, bot, games, seed, pid)
    except BundleError:
        return None  # another agent's, or other seeds: nothing to compare
    key = ("seed", "agent", "opponent", "frames")
    same = sum(
        tuple(a.get(k) for k in key) == tuple(b.get(k) for k in key)
        for a, b in zip(matches, theirs["matches"], strict=True)
    )
    try:
        shown = str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(path)
    return {"file": shown, "command": theirs["command"], "same": same, "of": len(matches)}


def _row(bot: str, seat_name: str, spec: Any, seed: int, matches: list[dict[str, Any]], source: dict) -> dict:
    from agents.evaluation.evaluate import summarise

    wins, draws, losses = (
        sum(outcome(m["agent"], m["opponent"]) == o for m in matches) for o in ("win", "draw", "loss")
    )
    bar = {(b.opponent, b.seat): b.min_win_rate for b in spec.match_bars}.get((bot, seat_name))
    met = None if bar is None else wins / len(matches) >= bar
    rec = SeatRecord(bot, 0, seat_name, len(matches), wins, draws, losses, seed, bar, met)
    return {
        "opponent": bot,
        "seat": 0,
        "seat_name": seat_name,
        "games": rec.games,
        "wins": wins,
        "draws": draws,
        "losses": losses,
        "seed": seed,
        **{f"{o}_ci95": list(rec.ci(o)) for o in ("wins", "draws", "losses", "non_losses")},
        "bar": bar,
        "bar_met": met,
        "points_for": summarise([m["agent"] for m in matches]),
        "points_against": summarise([m["opponent"] for m in matches]),
        "source": source,
        "matches": matches,
    }


def _match_row(r: Any) -> dict[str, Any]:
    return {
        "seed": r.seed,
        "agent": r.agent_points,
        "opponent": r.person_points,
        "frames": r.frames,
        "done": r.done,
        "serve_penalties": {"agent": r.serve_penalties["first_0"], "opponent": r.serve_penalties["second_0"]},
    }


def _replay(name: str, bot: str, r: Any, max_frames: int) -> PongReplay:
    from agents.play.pong_duel import unrle

    return PongReplay(
        name,
        r.seed,
        bot,
        tuple(unrle(r.agent_actions)),
        tuple(unrle(r.person_actions)),
        r.agent_points,
        r.person_points,
        r.frames,
        outcome(r.agent_points, r.person_points),
        max_frames=max_frames,
    )


def _play(agent: Any, bot: str, seed: int, frame_stack: int, max_frames: int) -> Any:
    """One match of ``agent`` against the left paddle ``bot`` on ``seed``, cut after ``max_frames`` frames."""
    from agents.play.pong_duel import bots, play_bot

    return play_bot(agent, bots()[bot](), seed, frame_stack=frame_stack, max_frames=max_frames)


def build_pong_duel_bundle(opts: PongDuelBundleOptions) -> Path:
    """Build the two-player Pong bundle from ``opts.source``; returns its folder."""
    import torch

    from agents.play.pong_duel import bots

    spec = get_two_player_spec(GAME)
    game = match_game(GAME)
    if not 1 <= opts.max_frames <= 100_000:
        raise BundleError(f"--max-frames {opts.max_frames}: give 1..100000 frames")
    if opts.evidence is not None and opts.max_frames != 100_000:
        raise BundleError("--evidence adopts whole matches: it cannot be combined with --max-frames")
    if not 1 <= opts.games <= 1000 or not 0 <= opts.replays <= min(5, opts.games):
        raise BundleError(
            f"--games {opts.games}, replays {opts.replays}: give 1..1000 games and 0..5 replays (≤ games)"
        )
    source_path = Path(opts.source).expanduser()
    if not source_path.is_dir():
        raise BundleError(f"{source_path} is not a folder: give models/pong or a fine-tuning run's final/")
    src = _source(source_path)
    out_dir = Path(opts.out) if opts.out else models_dir() / spec.slug
    started = now_iso()
    torch.set_num_threads(1)  # as duel_evidence plays: the same arithmetic, the same sampled actions
    seat_name = spec.seats[0]
    out_arg = "" if opts.out is None else f" --out {out_dir}"
    evidence_arg = "" if opts.evidence is None else f" --evidence {opts.evidence}"
    if opts.max_frames != 100_000:
        evidence_arg += f" --max-frames {opts.max_frames}"
    bundle_cmd = opts.command or f"playground bundle {GAME} {source_path} --games {opts.games}{evidence_arg}{out_arg}"

    with BundleWriter(out_dir, manifest_rel=MATCH_MANIFEST, folders=(REPLAYS,)) as w:
        for name in game.policy_files:
            w.copy(src.policy_dir / name, name)
        for rel, path in src.copies.items():
            w.copy(path, rel)
        agent = game.load_agent({name: w.path / name for name in game.policy_files})
        pid = policy_id(w.path)
        if src.kind == "single-player bundle" and pid != Bundle.open(source_path, check=False).policy_id:
            raise BundleError("the staged policy's digest is not its bundle's: the copy changed it")

        rows, replays, t0 = [], [], time.monotonic()
        names = list(bots())
        total = len(names) * (opts.replays if opts.evidence else opts.games)
        with Progress(f"{GAME}: matches vs {', '.join(names)}", total, "matches") as bar:
            for bot in names:
                if opts.evidence is not None:
                    adopted, path = _adopt(Path(opts.evidence), bot, opts.games, opts.seed, pid)
                    rel = f"{DUEL_EVIDENCE}/{path.name}"
                    w.copy(path, rel)
                    matches = adopted["matches"]
                    source = {
                        "command": adopted["command"],
                        "file": rel,
                        "how": "adopted: the duel_evidence file of these weights (digest), seeds and bot",
                        "seconds": adopted["seconds"],
                    }
                    played = []
                    for k in range(opts.replays):
                        played.append(_play(agent, bot, opts.seed + k, spec.frame_stack, opts.max_frames))
                        bar.advance()
                else:
                    b0 = time.monotonic()
                    played = []
                    for i in range(opts.games):
                        played.append(_play(agent, bot, opts.seed + i, spec.frame_stack, opts.max_frames))
                        r = played[-1]
                        bar.advance(note=f"{bot} {i + 1}: {r.agent_points}-{r.person_points}")
                    matches = [_match_row(r) for r in played]
                    source = {
                        "command": bundle_cmd,
                        "how": "played by the build, one match at a time, as verify re-plays a replay",
                        "seconds": round(time.monotonic() - b0, 1),
                    }
                    check = _cross_check(src.evidence_dir, bot, opts.games, opts.seed, pid, matches)
                    if check is not None:
                        source["cross_check"] = check
                rows.append(_row(bot, seat_name, spec, opts.seed, matches, source))
                for k, r in enumerate(played[: opts.replays]):
                    replay = _replay(f"{bot}-{seat_name}-{k}", bot, r, opts.max_frames)
                    w.write_json(f"{REPLAYS}/{replay.name}.json", replay.to_json(spec.slug, spec.seats), indent=None)
                    replays.append(replay)
        seconds = round(time.monotonic() - t0, 1)
        evaluation = {
            "game": GAME,
            "games_per_seat": opts.games,
            "seed": opts.seed,
            "opponents": names,
            "agent": AGENT_PLAYS,
            "agent_seat": seat_name,
            "max_frames": opts.max_frames,
            "results": rows,
            "policy_sha256": sha256_file(w.path / game.policy_files[-1]),
            "policy_id": pid,
            "command": bundle_cmd,
            "evaluated_at": now_iso(),
            "seconds": seconds,
        }
        w.write_json(EVALUATION, evaluation)
        evidence = sorted(rel for rel in src.copies)
        manifest = MatchManifest(
            game=GAME,
            env_id=spec.env_id,
            pettingzoo_env=spec.pettingzoo_env,
            seats=spec.seats,
            policy={
                "format": game.policy_format,
                "files": list(game.policy_files),
                "plays": AGENT_PLAYS,
                "seat": seat_name,
                "preprocessing": "its training's: max of the last two frames of each 4, grayscale, 84x84 "
                "(INTER_AREA), the last 4 stacked (agents/play/pong_duel.py AgentEye)",
            },
            training={**src.training, "source": src.kind, "evidence": evidence},
            opponents=[game.definition(b) for b in names],
            evaluation={
                "file": EVALUATION,
                "games_per_seat": opts.games,
                "seed": opts.seed,
                "replays_per_seat": opts.replays,
                "max_frames": opts.max_frames,
            },
            files={},
            commands={
                "train": src.training["command"],
                "bundle": bundle_cmd,
                "verify": f"playground verify {out_dir if opts.out else GAME}",
            },
            reproduce=[src.training["command"], f"playground bundle {GAME} SOURCE{out_arg} --games {opts.games}"],
            provenance=bundling_provenance(started),
        )
        checked = check_evaluation(evaluation, manifest, spec)  # the card is written from what verify reads
        w.write_text("README.md", pong_duel_card(spec, manifest, checked, evaluation, replays))
        w.finish(manifest)
    return out_dir
