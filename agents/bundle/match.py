"""Two-player bundles: an agent for a two-player game, its evaluation against named opponents and its evidence.

A two-player agent is judged by win/draw/loss per seat against named test opponents, not by a return, so
its bundle has its own manifest format (``ppo-playground/match-bundle@1``, kind ``two-player``) at the top of
the folder, where single-player tools (which look for ``evidence/manifest.json``) never mistake it for
theirs. It shares the single-player bundle's conventions and code: every file listed with its sha256 and
checked by :func:`agents.bundle.bundle.check_listed_files`, paths confined to the folder, every file read
bounded and checked field by field before use, written only by :class:`agents.bundle.writer.BundleWriter`.

What differs per game (the policy's files and how it loads, the opponents, how a replay is re-simulated)
is a :class:`MatchGame`: Connect Four's (:class:`ConnectFourMatch`) here, two-player Pong's
(:class:`agents.bundle.match_pong.PongDuelGame`: SB3's CNN as ``policy.json`` + ``policy.safetensors``, the
right paddle only, replays of a seed and both paddles' frame actions) in ``match_pong``. Connect Four's
layout (``docs/bundle.md``; Pong's differs in its policy files and evidence)::

    manifest.json          MatchManifest: game, seats, policy files, the training run, the opponents'
                           definitions, the evaluation's settings, commands, provenance, every file's sha256
    README.md              the card
    agent.json, agent.safetensors   the policy (JSON + safetensors: never unpickled)
    model.zip              sb3-contrib's MaskablePPO zip, for SB3 users; never opened here
    evaluation.json        per opponent and seat: games, W/D/L, Wilson 95 % intervals, the catalog's bar, met
    evidence/              the training run's config.json, run.json, diagnostics.csv, gates.jsonl
    replays/*.json         agent-vs-opponent games: seed, both sides' moves, the agent's seat, the result
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from agents.bundle.bundle import (
    MATCH_MANIFEST,
    check_listed_files,
    confined,
    files_first,
    listed_replays,
    refuse_failed_files,
    run_check,
)
from agents.bundle.manifest import Check, _Fields, _files
from agents.bundle.validate import MAX_SEED, is_int, is_number, short_text
from agents.common.errors import BundleError
from agents.common.files import sha256_file
from agents.common.settings import models_dir
from agents.common.untrusted import parse_csv_rows, parse_json, read_json, read_text
from envs.catalog import TWO_PLAYER_GAMES, GameSpec, get_two_player_spec

FORMAT = "ppo-playground/match-bundle@1"
KIND = "two-player"
CARD = "README.md"
EVALUATION = "evaluation.json"
REPLAYS = "replays"
EVIDENCE = ("evidence/config.json", "evidence/run.json", "evidence/diagnostics.csv", "evidence/gates.jsonl")
"""the training run's files, copied as they are"""
MAX_GAMES = 100_000
"""games per seat an evaluation may claim"""
OUTCOMES = ("win", "draw", "loss")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
"""an opponent's name: lower-case letters, digits and '-' (``negamax-4``)"""


def is_match_bundle(path: str | Path) -> bool:
    """Whether ``path`` is a two-player bundle folder (has ``manifest.json`` of this format's kind).

    Only the file's presence and its first bytes are looked at: opening it checks the rest.
    """
    p = Path(path) / MATCH_MANIFEST
    try:
        with open(p, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return FORMAT.encode() in head


# --- the manifest ------------------------------------------------------------------------------------------


@dataclass
class MatchManifest:
    """What a two-player bundle is and where it came from; ``files`` lists every other file with its sha256."""

    game: str
    env_id: str
    seats: tuple[str, ...]
    policy: dict[str, Any]
    """``format`` (e.g. ``connect-four-mlp/1``), ``files`` (the policy's files), ``plays`` (how it picks a move)"""
    training: dict[str, Any]
    """the run: ``seed``, ``timesteps``, ``minutes``, ``steps_per_second``, ``command``, ``config`` (its
    config.json), ``git`` (commit and whether the tree was dirty), ``algo``"""
    opponents: list[dict[str, Any]]
    """each test opponent's definition: ``name``, ``kind``, ``params``, ``plays``, ``ties``, ``code``"""
    evaluation: dict[str, Any]
    """``file``, ``games_per_seat``, ``seed`` (the tie-breaks' base seed), ``replays_per_seat``"""
    files: dict[str, str]
    commands: dict[str, str] = field(default_factory=dict)
    reproduce: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    """versions, hardware, when it was bundled and from which code: shown, never interpreted"""
    pettingzoo_env: str = ""
    format: str = FORMAT
    kind: str = KIND

    def opponent_names(self) -> list[str]:
        return [str(o["name"]) for o in self.opponents]

    def trained(self) -> TrainingRecord:
        """The training run as recorded (:meth:`from_json` has checked its seed, steps, minutes and command)."""
        t = self.training
        git = t.get("git") or {}
        dirty = git.get("dirty")
        return TrainingRecord(
            algo=_line(t.get("algo")),
            seed=int(t["seed"]),
            timesteps=int(t["timesteps"]),
            minutes=float(t["minutes"]),
            command=str(t["command"]),
            commit=_line(t.get("code_commit")) or _line(git.get("commit"), 100),
            dirty=dirty if isinstance(dirty, bool) else None,
            source=_line(t.get("source"), 100),
            origin=_line(t.get("from")) or _line(t.get("run")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "kind": self.kind,
            "game": self.game,
            "env_id": self.env_id,
            "pettingzoo_env": self.pettingzoo_env,
            "seats": list(self.seats),
            "policy": self.policy,
            "training": self.training,
            "opponents": self.opponents,
            "evaluation": self.evaluation,
            "commands": self.commands,
            "reproduce": self.reproduce,
            "provenance": self.provenance,
            "files": self.files,
        }

    @classmethod
    def from_json(cls, d: Any, where: str = "the manifest") -> MatchManifest:
        """Parse and check the manifest's JSON: every field the app and ``verify`` use, its type, length and
        range, and safe file names; anything malformed raises one BundleError naming it."""
        if not isinstance(d, dict):
            raise BundleError(f"{where} is not a bundle manifest (not a JSON object)")
        if d.get("format") != FORMAT or d.get("kind") != KIND:
            raise BundleError(
                f"{where} has format {str(d.get('format'))[:40]!r}, kind {str(d.get('kind'))[:20]!r}; "
                f"this version reads {FORMAT}, kind {KIND}"
            )
        need = _Fields(d, where)
        files = _files(need("files", dict), where)
        if MATCH_MANIFEST in files:
            raise BundleError(f"{where} lists {MATCH_MANIFEST}, which a bundle's own manifest cannot list")
        game = need("game", str)
        if game not in TWO_PLAYER_GAMES:
            raise BundleError(f"{where}: game {game[:40]!r} is not a two-player game of the catalog")
        seats = need("seats", list)
        if len(seats) != 2 or not all(short_text(s, 40) for s in seats):
            raise BundleError(f"{where}: 'seats' must be the two seats' names")
        policy, training = need("policy", dict), need("training", dict)
        _check_policy_and_training(policy, training, files, where)
        opponents, evaluation = need("opponents", list), need("evaluation", dict)
        _check_opponents_and_evaluation(opponents, evaluation, files, where)
        commands = need("commands", dict, {})
        if not all(isinstance(k, str) and short_text(v) for k, v in commands.items()) or "bundle" not in commands:
            raise BundleError(f"{where}: 'commands' must map names to command lines, 'bundle' among them")
        reproduce = need("reproduce", list, [])
        if len(reproduce) > 100 or not all(short_text(c) for c in reproduce):
            raise BundleError(f"{where}: 'reproduce' must be a list of command lines")
        return cls(
            game=game,
            env_id=need("env_id", str),
            pettingzoo_env=need("pettingzoo_env", str, ""),
            seats=tuple(seats),
            policy=policy,
            training=training,
            opponents=opponents,
            evaluation=evaluation,
            files=files,
            commands=commands,
            reproduce=reproduce,
            provenance=need("provenance", dict, {}),
        )


def _check_policy_and_training(policy: dict, training: dict, files: dict[str, str], where: str) -> None:
    pfiles = policy.get("files")
    if not short_text(policy.get("format"), 100) or not (
        isinstance(pfiles, list) and 0 < len(pfiles) <= 10 and all(isinstance(f, str) and f in files for f in pfiles)
    ):
        raise BundleError(f"{where}: 'policy' needs its format and its files, each listed in 'files'")
    for key, ok in (("seed", is_int), ("timesteps", is_int), ("minutes", is_number), ("command", short_text)):
        if not ok(training.get(key)):
            raise BundleError(f"{where}: training[{key!r}] is {str(training.get(key))[:40]!r}")
    if not isinstance(training.get("config", {}), dict) or not isinstance(training.get("git", {}), dict):
        raise BundleError(f"{where}: training's 'config' and 'git' must be objects")
    if training.get("code_commit") is not None and not short_text(training["code_commit"], 500):
        raise BundleError(f"{where}: training's 'code_commit' must be a line of text")


def _check_opponents_and_evaluation(opponents: list, evaluation: dict, files: dict[str, str], where: str) -> None:
    if not 0 < len(opponents) <= 20:
        raise BundleError(f"{where}: 'opponents' must list 1 to 20 opponents")
    for o in opponents:
        if not isinstance(o, dict) or not isinstance(o.get("name"), str) or not _NAME.fullmatch(o["name"]):
            raise BundleError(f"{where}: an opponent has no plain name (letters, digits, '-'): {str(o)[:60]}")
        if not short_text(o.get("kind"), 40) or not isinstance(o.get("params"), dict):
            raise BundleError(f"{where}: opponent {o['name']} needs its 'kind' and 'params'")
    names = [o["name"] for o in opponents]
    if len(set(names)) != len(names):
        raise BundleError(f"{where}: an opponent is listed twice: {names}")
    if evaluation.get("file") != EVALUATION or EVALUATION not in files:
        raise BundleError(f"{where}: evaluation['file'] must be {EVALUATION}, listed in 'files'")
    games: Any = evaluation.get("games_per_seat")
    if not is_int(games) or not 1 <= games <= MAX_GAMES:
        raise BundleError(f"{where}: evaluation's games_per_seat {str(games)[:20]} is not 1..{MAX_GAMES}")
    if not is_int(evaluation.get("seed")) or not 0 <= evaluation["seed"] <= MAX_SEED:
        raise BundleError(f"{where}: evaluation's seed is not an integer 0..{MAX_SEED}")


# --- the evaluation -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeatRecord:
    """The agent's games from one seat against one opponent, as evaluation.json records them."""

    opponent: str
    seat: int
    seat_name: str
    games: int
    wins: int
    draws: int
    losses: int
    seed: int
    """the seed of this block's tie-breaking generator"""
    bar: float | None
    """the catalog's minimum win rate for this opponent and seat (``match_bars``), None where it sets none"""
    bar_met: bool | None

    @property
    def win_rate(self) -> float:
        return self.wins / self.games

    def ci(self, outcome: str) -> tuple[float, float]:
        """Wilson 95 % interval of ``wins``, ``draws``, ``losses`` or ``non_losses`` (rounded as recorded)."""
        from agents.selfplay.evaluate import wilson

        k = self.wins + self.draws if outcome == "non_losses" else getattr(self, outcome)
        lo, hi = wilson(k, self.games)
        return round(lo, 4), round(hi, 4)


@dataclass(frozen=True)
class MatchEvaluation:
    """evaluation.json, checked: every (opponent, seat) once, counts that add up, intervals and bars recomputed."""

    games_per_seat: int
    seed: int
    opponents: tuple[str, ...]
    rows: tuple[SeatRecord, ...]
    policy_sha256: str
    command: str
    seconds: float | None

    def row(self, opponent: str, seat: int) -> SeatRecord:
        return next(r for r in self.rows if r.opponent == opponent and r.seat == seat)

    def bars(self) -> tuple[int, int]:
        """(bars met, bars set) over the rows."""
        barred = [r for r in self.rows if r.bar is not None]
        return sum(bool(r.bar_met) for r in barred), len(barred)


@dataclass(frozen=True)
class Points:
    """Points per match for one side against one opponent (two-player Pong): the mean and its 95 % interval."""

    mean: float
    ci95: tuple[float, float]

    def __str__(self) -> str:
        """As the tables and cards show it: ``20.7 [20.2, 21.0]`` (mean [95 % CI])."""
        return f"{self.mean:.1f} [{self.ci95[0]:.1f}, {self.ci95[1]:.1f}]"


def _points(d: Any) -> Points | None:
    if not isinstance(d, dict):
        return None
    ci = d.get("ci95")
    if not (is_number(d.get("mean")) and isinstance(ci, list) and len(ci) == 2 and all(is_number(x) for x in ci)):
        return None
    return Points(float(d["mean"]), (float(ci[0]), float(ci[1])))


@dataclass(frozen=True)
class TrainingRecord:
    """How the agent was trained, as the manifest records it: shown, not re-derived (``verify`` checks the
    seed and steps against the evidence)."""

    algo: str | None
    seed: int
    timesteps: int
    minutes: float
    command: str
    commit: str | None
    """the code's commit as recorded: ``code_commit`` (a run from a copy of the code without .git says which
    commit it was), else git's; None when the run recorded none"""
    dirty: bool | None
    source: str | None
    """two-player Pong: ``single-player bundle`` or ``fine-tuning run``; None for a self-play run"""
    origin: str | None
    """the source's folder or the run's (``training['from']``, else ``training['run']``)"""


@dataclass(frozen=True)
class TrainingCurve:
    """A training run's diagnostics as a bundle carries them: one row per PPO update."""

    file: str
    what: str
    """which run it is and what its episode reward counts, in one line"""
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class Gate:
    """One gate of a self-play run: the learner (its best move) at ``timesteps`` against its opponent pool, seats
    alternating; it joined the pool as a snapshot when its score (wins + draws / 2, per game) reached ``threshold``."""

    timesteps: int
    games: int
    score: float
    threshold: float
    passed: bool
    pool: int
    """the pool's members it played"""


def _line(value: Any, limit: int = 500) -> str | None:
    return str(value) if short_text(value, limit) else None


def check_evaluation(d: Any, manifest: MatchManifest, spec: GameSpec, where: str = EVALUATION) -> MatchEvaluation:
    """evaluation.json as a :class:`MatchEvaluation`, once it is consistent: the manifest's opponents, both
    seats each, ``games_per_seat`` games per row, wins + draws + losses = games, every Wilson interval equal
    to the one recomputed from the counts, and each bar and whether it is met recomputed from the catalog's
    ``match_bars``. The first thing that does not hold raises one BundleError line naming it."""
    if not isinstance(d, dict):
        raise BundleError(f"{where} is not a JSON object")
    games = d.get("games_per_seat")
    if games != manifest.evaluation["games_per_seat"] or d.get("seed") != manifest.evaluation["seed"]:
        raise BundleError(
            f"{where}: games_per_seat {str(games)[:20]} and seed {str(d.get('seed'))[:20]} are not the "
            f"manifest's ({manifest.evaluation['games_per_seat']}, {manifest.evaluation['seed']})"
        )
    if d.get("opponents") != manifest.opponent_names():
        raise BundleError(f"{where}: opponents {str(d.get('opponents'))[:80]} are not the manifest's")
    results = d.get("results")
    game = match_game(spec.slug)
    expected = [(o, s) for o in manifest.opponent_names() for s in game.agent_seats]
    if not isinstance(results, list) or len(results) != len(expected):
        seats = "both seats" if len(game.agent_seats) == 2 else f"seat {spec.seats[game.agent_seats[0]]}"
        raise BundleError(f"{where}: 'results' must hold {len(expected)} rows (each opponent, {seats})")
    bars = {(b.opponent, b.seat): b.min_win_rate for b in spec.match_bars}
    rows = [
        _seat_record(r, opponent, seat, games, bars.get((opponent, spec.seats[seat])), spec, where)
        for (opponent, seat), r in zip(expected, results, strict=True)
    ]
    for (opponent, seat), r, row in zip(expected, results, rows, strict=True):
        game.check_row(r, row, f"{where}: {opponent} as {spec.seats[seat]}")
    sha, command, seconds = d.get("policy_sha256"), d.get("command"), d.get("seconds")
    if not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)) or not short_text(command):
        raise BundleError(f"{where}: policy_sha256 and command must be a sha256 and a command line")
    if seconds is not None and not (is_number(seconds) and seconds >= 0):
        raise BundleError(f"{where}: seconds is not a non-negative number")
    return MatchEvaluation(games, d["seed"], tuple(d["opponents"]), tuple(rows), sha, str(command), seconds)


def _seat_record(
    r: Any, opponent: str, seat: int, games: int, bar: float | None, spec: GameSpec, where: str
) -> SeatRecord:
    """One row of evaluation.json, checked against the counts, the recomputed intervals and the catalog's bar."""
    at = f"{where}: {opponent} as {spec.seats[seat]}"
    if not isinstance(r, dict) or r.get("opponent") != opponent or r.get("seat") != seat:
        raise BundleError(f"{where}: the rows must be each opponent in the manifest's order, by seat")
    if r.get("seat_name") != spec.seats[seat]:
        raise BundleError(f"{at}: seat_name {str(r.get('seat_name'))[:20]!r} is not {spec.seats[seat]}")
    counts: list[Any] = [r.get(k) for k in ("games", "wins", "draws", "losses", "seed")]
    if not all(is_int(c) and c >= 0 for c in counts):
        raise BundleError(f"{at}: games, wins, draws, losses and seed must be non-negative integers")
    n, w, dr, lo, seed = counts
    if n != games:
        raise BundleError(f"{at}: {n} games, but the evaluation says {games} per seat")
    if w + dr + lo != n:
        raise BundleError(f"{at}: {w} wins + {dr} draws + {lo} losses is {w + dr + lo}, not {n} games")
    met = None if bar is None else w / n >= bar
    row = SeatRecord(opponent, seat, spec.seats[seat], n, w, dr, lo, seed, bar, met)
    for outcome in ("wins", "draws", "losses", "non_losses"):
        recorded = r.get(f"{outcome}_ci95")
        if not isinstance(recorded, list) or [float(x) for x in recorded if is_number(x)] != list(row.ci(outcome)):
            raise BundleError(
                f"{at}: {outcome}_ci95 {str(recorded)[:40]} is not the Wilson interval of the counts, "
                f"{list(row.ci(outcome))}"
            )
    if r.get("bar") != bar or r.get("bar_met") != met:
        should = "no bar" if bar is None else f"bar {bar}, {'met' if met else 'not met'} by {w}/{n} wins"
        raise BundleError(
            f"{at}: recorded bar {str(r.get('bar'))[:10]}, met {str(r.get('bar_met'))[:10]}; the catalog says {should}"
        )
    return row


# --- replays ----------------------------------------------------------------------------------------------------


def replay_head(game: str, seats: tuple[str, ...], seed: int, agent_seat: int, opponent: str) -> dict[str, Any]:
    """The keys every two-player replay file begins with, whatever the game: its game, seed, the agent's seat
    (index and name) and the opponent."""
    return {
        "game": game,
        "seed": seed,
        "agent_seat": agent_seat,
        "agent_seat_name": seats[agent_seat],
        "opponent": opponent,
    }


@dataclass(frozen=True)
class MatchReplay:
    """One agent-vs-opponent game: the seed of the opponent's tie-breaks, both sides' moves in order (seat 0
    first), the agent's seat, the opponent and the result for the agent."""

    name: str
    seed: int
    agent_seat: int
    opponent: str
    moves: tuple[int, ...]
    result: str

    @property
    def length(self) -> str:
        return f"{len(self.moves)} moves"

    @property
    def score(self) -> str | None:
        """The final score, in games that have one (Pong); a Connect Four game has a result only."""
        return None

    def to_json(self, game: str, seats: tuple[str, ...]) -> dict[str, Any]:
        return {
            **replay_head(game, seats, self.seed, self.agent_seat, self.opponent),
            "moves": list(self.moves),
            "result": self.result,
        }


# --- what differs per game ----------------------------------------------------------------------------------------


class MatchGame:
    """The parts of a two-player bundle that depend on the game: its policy's files, loading it, the test
    opponents and their definitions, checking and re-simulating a replay. One subclass per game."""

    slug: ClassVar[str]
    policy_format: ClassVar[str]
    policy_files: ClassVar[tuple[str, ...]]
    max_moves: ClassVar[int]
    actions: ClassVar[int]
    agent_seats: ClassVar[tuple[int, ...]] = (0, 1)
    """the seats the agent is evaluated from (two-player Pong's agent plays the right paddle only)"""
    evidence_files: ClassVar[tuple[str, ...]] = EVIDENCE
    """the training evidence a bundle of this game must list"""
    regenerate: ClassVar[tuple[str, ...]] = ("train", "bundle", "verify")
    """the manifest's commands that rebuild the bundle, in the order the card's "Regenerate" lists them"""

    def load_agent(self, files: dict[str, Path]) -> Any:
        raise NotImplementedError

    def parameters(self, agent: Any) -> int:
        raise NotImplementedError

    def definition(self, opponent: str) -> dict[str, Any]:
        raise NotImplementedError

    def resimulate(self, replay: Any, agent: Any, spec: GameSpec) -> str:
        """Re-play ``replay``; returns a line saying what held, or raises BundleError saying what did not."""
        raise NotImplementedError

    def read_replay(self, d: dict[str, Any], name: str, manifest: MatchManifest) -> Any:
        """A replay file's JSON (an object of this game) as the game's replay, checked field by field."""
        values: list[Any] = [d.get(k) for k in ("seed", "agent_seat", "opponent", "moves", "result")]
        seed, seat, opponent, moves, result = values
        if not (is_int(seed) and 0 <= seed <= MAX_SEED) or seat not in (0, 1) or isinstance(seat, bool):
            raise BundleError(f"replay {name}: seed must be an integer 0..{MAX_SEED} and agent_seat 0 or 1")
        if opponent not in manifest.opponent_names():
            raise BundleError(f"replay {name}: opponent {str(opponent)[:40]!r} is not one of the manifest's")
        if (
            not isinstance(moves, list)
            or not 0 < len(moves) <= self.max_moves
            or not all(is_int(m) and 0 <= m < self.actions for m in moves)
        ):
            raise BundleError(f"replay {name}: moves must be 1 to {self.max_moves} actions 0..{self.actions - 1}")
        if result not in OUTCOMES:
            raise BundleError(f"replay {name}: result {str(result)[:20]!r} is not one of {', '.join(OUTCOMES)}")
        return MatchReplay(name, seed, seat, opponent, tuple(moves), result)

    def check_row(self, recorded: dict[str, Any], row: SeatRecord, where: str) -> None:
        """What a game's evaluation row holds beyond W/D/L (Pong: every match's score), checked; none here."""

    def extra_checks(self, bundle: MatchBundle) -> list[tuple[str, Any]]:
        """The game's own checks of a bundle as (name, function returning a line or raising BundleError)."""
        return []

    def curves(self, manifest: MatchManifest) -> tuple[str, str] | None:
        """The training curve the bundle carries, as (its file, one line on what its rows are), or None."""
        rel = "evidence/diagnostics.csv"
        if rel not in manifest.files:
            return None
        return rel, (
            "the self-play run; its episode reward is the learner's result in its training games (+1 a win, "
            "−1 a loss, 0 a draw) against opponents drawn from its pool"
        )

    def check_training(self, bundle: MatchBundle) -> str:
        """The training evidence against the manifest: the self-play run's files (Connect Four's)."""
        run, rows, gates = bundle.training_run(), bundle.diagnostics(), bundle.gates()
        config = read_json(bundle._file("evidence/config.json"), "evidence/config.json", BundleError)
        if not isinstance(config, dict) or config != bundle.manifest.training.get("config"):
            raise BundleError("evidence/config.json is not the training config the manifest records")
        training = bundle.manifest.training
        if run.get("timesteps") != training["timesteps"] or run.get("seed") != training["seed"]:
            raise BundleError("evidence/run.json's seed or timesteps are not the manifest's")
        return f"seed {run['seed']}, {run['timesteps']:,} steps, {len(rows)} PPO updates, {len(gates)} gates"


class ConnectFourMatch(MatchGame):
    """Connect Four: the NumPy MLP (``agents/selfplay``), the bots of ``agents/selfplay/bots.py``, replays of
    columns re-simulated in PettingZoo's ``connect_four_v3``."""

    slug = "connect-four"
    policy_format = "connect-four-mlp/1"
    policy_files = ("agent.json", "agent.safetensors")
    max_moves = 42
    actions = 7

    def load_agent(self, files: dict[str, Path]) -> Any:
        from agents.selfplay.agent import ConnectFourAgent
        from agents.selfplay.policy import NumpyPolicy, PolicyFileError

        json_path, weights = files["agent.json"], files["agent.safetensors"]
        if json_path.with_suffix("") != weights.with_suffix(""):  # NumpyPolicy.load reads both from one stem
            raise BundleError("agent.json and agent.safetensors must sit side by side")
        try:
            return ConnectFourAgent(*NumpyPolicy.load(json_path.with_suffix("")))
        except PolicyFileError as exc:
            raise BundleError(str(exc)) from None

    def parameters(self, agent: Any) -> int:
        return sum(w.size + b.size for head in (agent.policy.pi, agent.policy.vf) for w, b in head)

    def definition(self, opponent: str) -> dict[str, Any]:
        from agents.selfplay.bots import definition

        return definition(opponent)

    def resimulate(self, replay: MatchReplay, agent: Any, spec: GameSpec) -> str:
        """On PettingZoo's env (the reference rules): every move legal and made by the seat whose turn it is, the
        game over exactly at the last move, the agent's result PettingZoo's; each agent move the policy's best
        legal move in PettingZoo's own observation; and the whole game played again from the seed (agent
        against the opponent as defined) gives the same moves."""
        from agents.selfplay.bots import make_bot
        from agents.selfplay.evaluate import play_game
        from envs.match import make_match_env

        env = make_match_env(spec, "eval")
        try:
            env.reset(seed=replay.seed)
            for i, col in enumerate(replay.moves):
                seat = i % 2
                obs, _, term, trunc, _ = env.last()
                if term or trunc:
                    raise BundleError(f"the game was over before move {i + 1}")
                if env.agent_selection != spec.seats[seat]:
                    raise BundleError(f"move {i + 1} is {spec.seats[seat]}'s, but PettingZoo has {env.agent_selection}")
                mask = np.asarray(obs["action_mask"], dtype=bool)
                if not mask[col]:
                    raise BundleError(f"move {i + 1} (column {col + 1}) is not legal there")
                if seat == replay.agent_seat:
                    probs = agent.policy.probabilities(obs["observation"], mask)[0]
                    best = int(np.argmax(probs))
                    if best != col:
                        raise BundleError(
                            f"move {i + 1}: the agent plays column {best + 1} there, the replay says column {col + 1}"
                        )
                env.step(col)
            if not all(env.terminations.values()):
                raise BundleError(f"the game is not over after the {len(replay.moves)} recorded moves")
            reward = env.rewards[spec.seats[replay.agent_seat]]
            result = "win" if reward > 0 else "loss" if reward < 0 else "draw"
            if result != replay.result:
                raise BundleError(f"PettingZoo gives the agent a {result}; the replay says {replay.result}")
        finally:
            env.close()
        bot = make_bot(replay.opponent)
        players = (agent, bot) if replay.agent_seat == 0 else (bot, agent)
        _, again = play_game(players, np.random.default_rng(replay.seed))
        if tuple(again) != replay.moves:
            first = next(
                (i for i, (a, b) in enumerate(zip(again, replay.moves, strict=False)) if a != b),
                min(len(again), len(replay.moves)),
            )
            raise BundleError(
                f"played again from seed {replay.seed}, the game differs from move {first + 1} on "
                f"({len(again)} moves against {len(replay.moves)} recorded)"
            )
        return (
            f"{len(replay.moves)} legal moves on PettingZoo's {spec.env_id}, a {result} for the agent as recorded; "
            "its moves are the policy's, and the seed plays the same game again"
        )


MATCH_GAMES: dict[str, MatchGame] = {ConnectFourMatch.slug: ConnectFourMatch()}
"""the two-player games that have bundles: Connect Four here, two-player Pong from ``match_pong`` (below)"""


def match_game(slug: str) -> MatchGame:
    spec = get_two_player_spec(slug)
    if spec.slug not in MATCH_GAMES:
        raise BundleError(
            f"two-player bundles exist for {', '.join(MATCH_GAMES)} only, not {spec.slug} (its agent's evidence is "
            "in agents/play/evidence; docs/play.md)"
        )
    return MATCH_GAMES[spec.slug]


# --- the bundle ------------------------------------------------------------------------------------------------


class MatchBundle:
    """A two-player bundle on disk: :meth:`open` it (or :meth:`shipped`), then ask it.

    Every file is read confined to the folder through the bounded readers and checked before it is used; a
    malformed or hostile file gives one ``BundleError`` line.
    """

    def __init__(self, path: Path, manifest: MatchManifest):
        self.path = path
        self.manifest = manifest
        self.spec = get_two_player_spec(manifest.game)
        self.game = match_game(manifest.game)
        self._agent: Any = None

    @classmethod
    def open(cls, where: str | Path, check: bool = True) -> MatchBundle:
        """Open a two-player bundle folder, or the shipped one of a two-player game's slug; ``check`` verifies
        every file's size and sha256 first."""
        path = Path(where)
        if not path.exists() and "/" not in str(where):
            path = models_dir() / get_two_player_spec(str(where)).slug
            if not path.exists():
                raise BundleError(f"no bundled agent for {where} (looked in {path})")
        if not path.is_dir():
            raise BundleError(f"{where} is not a bundle folder")
        try:
            manifest_file = confined(path, MATCH_MANIFEST)
        except BundleError as exc:
            raise BundleError(f"{path} is not a two-player bundle: {exc}") from None
        manifest = MatchManifest.from_json(
            read_json(manifest_file, str(path / MATCH_MANIFEST), BundleError), where=str(path / MATCH_MANIFEST)
        )
        bundle = cls(path, manifest)
        if check:
            refuse_failed_files(path, bundle.check_files())
        return bundle

    @classmethod
    def shipped(cls, slug: str, check: bool = True) -> MatchBundle | None:
        """The shipped agent of a two-player game (``models_dir()/<slug>``), or None when it has none."""
        path = models_dir() / get_two_player_spec(slug).slug
        return cls.open(path, check=check) if is_match_bundle(path) else None

    def _file(self, rel: str) -> Path:
        return confined(self.path, rel)

    # --- reading -------------------------------------------------------------------------------------------

    def agent(self) -> Any:
        """The policy as the game's agent (Connect Four: ``ConnectFourAgent``), loaded without unpickling."""
        if self._agent is None:
            self._agent = self.game.load_agent({rel: self._file(rel) for rel in self.game.policy_files})
        return self._agent

    @property
    def policy_sha256(self) -> str:
        """The weights' sha256 as the manifest lists it (``open`` with ``check`` has compared it with the file):
        what ``evaluation.json``'s ``policy_sha256`` names and what a rating is keyed by."""
        return self._listed_policy()[-1]

    @property
    def policy_id(self) -> str:
        """A cache key that changes whenever the policy does: the sha256 of every policy file's listed sha256
        (the weights' first, as ``Bundle.policy_id``, so Pong's equals its source's: policy.json holds the
        normaliser, and the same weights with other statistics act otherwise)."""
        *others, weights = self._listed_policy()
        return hashlib.sha256(" ".join([weights, *others]).encode()).hexdigest()

    def _listed_policy(self) -> list[str]:
        missing = [rel for rel in self.game.policy_files if rel not in self.manifest.files]
        if missing:
            raise BundleError(
                f"{self.path}'s manifest lists no {', '.join(missing)}: it holds no {self.spec.slug} agent"
            )
        return [self.manifest.files[rel] for rel in self.game.policy_files]

    def card(self) -> str:
        return read_text(self._file(CARD), "the card (README.md)", BundleError)

    def evaluation(self) -> MatchEvaluation:
        """evaluation.json, checked for consistency (:func:`check_evaluation`)."""
        data = read_json(self._file(EVALUATION), f"{self.path}/{EVALUATION}", BundleError)
        return check_evaluation(data, self.manifest, self.spec)

    def points(self) -> dict[str, tuple[float, float]]:
        """Per opponent, the agent's mean points for and against per match, where the evaluation records them
        (two-player Pong; :meth:`evaluation` has checked them against every match's score)."""
        return {o: (pf.mean, pa.mean) for o, (pf, pa) in self.point_summaries().items()}

    def point_summaries(self) -> dict[str, tuple[Points, Points]]:
        """Per opponent, the agent's points for and against per match with their 95 % intervals, where the
        evaluation records them (two-player Pong; {} for Connect Four)."""
        self.evaluation()
        data = read_json(self._file(EVALUATION), f"{self.path}/{EVALUATION}", BundleError)
        out = {}
        for r in data["results"]:
            pf, pa = _points(r.get("points_for")), _points(r.get("points_against"))
            if pf is not None and pa is not None:
                out[str(r["opponent"])] = (pf, pa)
        return out

    def curves(self) -> TrainingCurve | None:
        """The training curve the bundle carries (numbers as floats, every row with ``timesteps``), or None when
        it carries none."""
        found = self.game.curves(self.manifest)
        if found is None:
            return None
        rel, what = found
        rows = parse_csv_rows(read_text(self._file(rel), rel, BundleError), rel, BundleError)
        if not rows or "timesteps" not in rows[0]:
            raise BundleError(f"{rel} has no rows with timesteps")
        return TrainingCurve(rel, what, rows)

    def regenerate(self) -> list[str]:
        """The commands that rebuild the bundle, as its card's "Regenerate" lists them."""
        return [self.manifest.commands[k] for k in self.game.regenerate if k in self.manifest.commands]

    def replays(self) -> list[Any]:
        """Every listed replay, read and checked (:meth:`replay`)."""
        return [self.replay(name) for name in self.replay_names()]

    def training_run(self) -> dict[str, Any]:
        """The training run's run.json (steps, minutes, throughput, the command)."""
        data = read_json(self._file("evidence/run.json"), "evidence/run.json", BundleError)
        if not isinstance(data, dict):
            raise BundleError("evidence/run.json is not a JSON object")
        return data

    def diagnostics(self) -> list[dict[str, Any]]:
        """diagnostics.csv: one row per PPO update, numbers as floats."""
        rel = "evidence/diagnostics.csv"
        rows = parse_csv_rows(read_text(self._file(rel), rel, BundleError), rel, BundleError)
        if not rows or "timesteps" not in rows[0]:
            raise BundleError(f"{rel} has no rows with timesteps")
        return rows

    def gates(self) -> list[dict[str, Any]]:
        """gates.jsonl: one JSON object per gated evaluation of the pool."""
        rel = "evidence/gates.jsonl"
        out = []
        for i, line in enumerate(read_text(self._file(rel), rel, BundleError).splitlines()):
            if line.strip():
                g = parse_json(line, f"{rel} line {i + 1}", BundleError)
                if not isinstance(g, dict):
                    raise BundleError(f"{rel} line {i + 1} is not a JSON object")
                out.append(g)
        return out

    def pool_gates(self) -> list[Gate] | None:
        """The self-play run's gates (``evidence/gates.jsonl``), each checked, or None when the bundle carries
        none (two-player Pong)."""
        if "evidence/gates.jsonl" not in self.manifest.files:
            return None
        out = []
        for i, g in enumerate(self.gates()):
            values: list[Any] = [
                g.get(k) for k in ("timesteps", "games", "score", "threshold", "passed", "pool_before")
            ]
            steps, games, score, threshold, passed, pool = values
            if not (
                is_int(steps)
                and is_int(games)
                and games > 0
                and is_number(score)
                and is_number(threshold)
                and isinstance(passed, bool)
                and isinstance(pool, list)
            ):
                raise BundleError(
                    f"evidence/gates.jsonl, gate {i + 1}: needs timesteps, games, score, threshold, passed and "
                    "pool_before"
                )
            out.append(Gate(steps, games, float(score), float(threshold), passed, len(pool)))
        return out

    def replay_names(self) -> list[str]:
        """The replays the manifest lists (``replays/<name>.json``)."""
        return listed_replays(self.manifest.files, REPLAYS)

    def replay(self, name: str) -> Any:
        """A replay, checked against the game (seed, seats, moves in range, an opponent of the manifest)."""
        if not isinstance(name, str) or name not in self.replay_names():
            raise BundleError(f"bad replay name {str(name)[:60]!r}")
        d = read_json(self._file(f"{REPLAYS}/{name}.json"), f"replay {name}", BundleError)
        if not isinstance(d, dict) or d.get("game") != self.spec.slug:
            raise BundleError(f"replay {name} is not a {self.spec.slug} replay")
        return self.game.read_replay(d, name, self.manifest)

    # --- verification ------------------------------------------------------------------------------------------

    def check_files(self) -> list[Check]:
        """Every listed file inside the folder, within the size limits, with its sha256; none unlisted."""
        return check_listed_files(self.path, self.manifest.files, MATCH_MANIFEST)

    def verify(self) -> list[Check]:
        """All checks: the files (stopping there, before anything is loaded, if one fails), the game, the
        evidence listed, the opponents' definitions, the policy, the training evidence, the evaluation's
        consistency and that it is of this policy, and every replay re-simulated."""
        return files_first(self.check_files(), self._check_contents)

    def _check_contents(self) -> list[Check]:
        """Every check after the files', in the order :meth:`verify` lists them."""
        checks = [
            run_check("game is the catalog's", self._check_game),
            run_check("evidence complete", self._check_complete),
            run_check("opponents are this code's", self._check_opponents),
            run_check("policy loads (safetensors + JSON, no pickle)", self._check_policy),
            run_check("training evidence", self._check_training),
            run_check("evaluation.json consistent", self._check_evaluation),
            run_check("evaluation is of this policy", self._check_of_this_policy),
            *(run_check(name, fn) for name, fn in self.game.extra_checks(self)),
        ]
        for name in self.replay_names():
            checks.append(run_check(f"replay {name} re-simulates", functools.partial(self._resimulate, name)))
        return checks

    def _check_game(self) -> str:
        m, spec = self.manifest, self.spec
        recorded = (m.env_id, m.pettingzoo_env, m.seats)
        if recorded != (spec.env_id, spec.pettingzoo_env, spec.seats):
            raise BundleError(
                f"the manifest's env {recorded} is not the catalog's {spec.slug} "
                f"({spec.env_id}, {spec.pettingzoo_env}, {spec.seats})"
            )
        if m.policy.get("format") != self.game.policy_format or tuple(m.policy["files"]) != self.game.policy_files:
            raise BundleError(
                f"the policy is {str(m.policy.get('format'))[:40]}; {spec.slug} plays {self.game.policy_format}"
            )
        return f"{spec.env_id}, seats {' and '.join(spec.seats)}, policy {self.game.policy_format}"

    def _check_complete(self) -> str:
        needed = [CARD, EVALUATION, *self.game.policy_files, *self.game.evidence_files]
        missing = [f for f in needed if f not in self.manifest.files]
        missing += [] if self.replay_names() else ["a replay"]
        if missing:
            raise BundleError(f"a two-player bundle needs {', '.join(missing)}, which it does not list")
        return f"{len(needed)} files and {len(self.replay_names())} replays listed"

    def _check_opponents(self) -> str:
        for recorded in self.manifest.opponents:
            try:
                now = self.game.definition(recorded["name"])
            except ValueError as exc:
                raise BundleError(f"opponent {recorded['name']}: {exc}") from None
            if recorded != now:
                diff = sorted(k for k in {*recorded, *now} if recorded.get(k) != now.get(k))
                raise BundleError(
                    f"opponent {recorded['name']} is recorded otherwise than this code defines it "
                    f"({', '.join(diff)} differ): its games cannot be re-played faithfully"
                )
        return ", ".join(self.manifest.opponent_names())

    def _check_policy(self) -> str:
        return f"{self.game.parameters(self.agent()):,} parameters"

    def _check_training(self) -> str:
        return self.game.check_training(self)

    def _check_evaluation(self) -> str:
        ev = self.evaluation()
        met, barred = ev.bars()
        seats = "both seats" if len(self.game.agent_seats) == 2 else "the agent's seat"
        return (
            f"{len(ev.rows)} blocks of {ev.games_per_seat:,} games (each opponent, {seats}): counts, "
            f"Wilson intervals and bars recomputed; {met} of {barred} bars met"
        )

    def _check_of_this_policy(self) -> str:
        weights = self.game.policy_files[-1]
        data = read_json(self._file(EVALUATION), f"{self.path}/{EVALUATION}", BundleError)  # apart from consistency
        if not isinstance(data, dict) or data.get("policy_sha256") != self.manifest.files[weights]:
            raise BundleError(f"evaluation.json is of other weights than this bundle's {weights}")
        return f"sha256 {self.manifest.files[weights][:12]}…"

    def _resimulate(self, name: str) -> str:
        return self.game.resimulate(self.replay(name), self.agent(), self.spec)

    def files(self) -> list[tuple[str, Path]]:
        """Every file as (path inside the bundle, path to read), the manifest last."""
        return [(rel, self._file(rel)) for rel in sorted(self.manifest.files)] + [
            (MATCH_MANIFEST, self._file(MATCH_MANIFEST))
        ]

    def weights_sha256(self) -> str:
        return sha256_file(self._file(self.game.policy_files[-1]))


# two-player Pong's MatchGame lives in its own module, which imports this one's names: registered last
from agents.bundle.match_pong import PongDuelGame  # noqa: E402

MATCH_GAMES[PongDuelGame.slug] = PongDuelGame()
