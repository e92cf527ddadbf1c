"""Two-player Pong as a :class:`agents.bundle.match.MatchGame`: its bundle's policy, opponents, evaluation rows
and replays (docs/bundle.md, "Two-player Pong").

The agent is an SB3 CNN policy (``policy.json`` + ``policy.safetensors``, rebuilt by
:func:`agents.policy.network.load_policy`, never unpickled) on the right paddle (``first_0``) only, through its
training preprocessing as :mod:`agents.play.pong_duel` plays it; the opponents are that module's scripted left
paddles (:func:`agents.play.pong_duel.bots`). A match is to 21, so each evaluation row records every match's
score and seed, and ``verify`` recomputes the W/D/L, the Wilson intervals and the bootstrap intervals of the
points from them. A replay is a seed and both paddles' actions (the left paddle's every frame, the agent's
every fourth, run-length encoded); re-simulating it plays the match again on PettingZoo's ``pong_v3`` with
the bot deciding every frame and the policy every fourth, each compared with the recorded action, so both
sides' every action and the final score are re-derived, not read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from agents.bundle.match import OUTCOMES, MatchGame, MatchManifest, SeatRecord, replay_head
from agents.bundle.validate import MAX_SEED, is_int, short_text
from agents.common.errors import BundleError
from agents.common.untrusted import read_json
from envs.catalog import GameSpec

if TYPE_CHECKING:
    from agents.bundle.match import MatchBundle

GAME = "pong-duel"
MAX_POINTS = 21
"""a side that reaches 21 ends the match (the ROM's rule)"""
SOURCE_EVIDENCE = "evidence/source"
"""the training evidence of the policy's source (a single-player bundle's or a fine-tuning run's), copied"""
DUEL_EVIDENCE = "evidence/duel"
"""``agents.play.duel_evidence`` files adopted by the build (``--evidence DIR``), as they were"""


def _pong() -> Any:
    from agents.play import pong_duel

    return pong_duel


def bot_definition(name: str) -> dict[str, Any]:
    """A scripted left paddle's definition as data: the name, the class, its parameters, how it plays."""
    pong_duel = _pong()
    factories = pong_duel.bots()
    if name not in factories:
        raise ValueError(f"no left paddle named {name!r}; the bots are {', '.join(factories)}")
    bot = factories[name]()
    if isinstance(bot, pong_duel.Tracker):
        params: dict[str, Any] = {"delay_frames": bot.delay, "dead_band_pixels": bot.dead_band}
        seen = (
            f"was {bot.delay} frames ago ({1000 * bot.delay / pong_duel.FPS:.0f} ms at {pong_duel.FPS} frames/s)"
            if bot.delay
            else "is now"
        )
        plays = (
            f"moves toward the row where the ball {seen}, holds still within {bot.dead_band:g} pixels of it, "
            "and serves as soon as the ball is out of play"
        )
        kind = "scripted tracker" if bot.delay else "scripted tracker, no reaction delay"
    else:
        params, plays, kind = {}, "a uniformly random action of the six every frame", "random"
    return {
        "name": name,
        "kind": kind,
        "class": type(bot).__name__,
        "params": params,
        "plays": plays,
        "ties": "none: a bot's action depends only on the screens it saw (random: on its seeded generator)",
        "code": "agents/play/pong_duel.py (bots)",
    }


@dataclass(frozen=True)
class PongReplay:
    """One match of the agent (right paddle) against a bot: the seed and both paddles' actions, the score."""

    name: str
    seed: int
    opponent: str
    agent_actions: tuple[int, ...]
    """one per FRAME_SKIP frames, as the agent decided"""
    opponent_actions: tuple[int, ...]
    """one per frame"""
    agent_points: int
    opponent_points: int
    frames: int
    result: str
    agent_seat: int = 0
    max_frames: int = 100_000
    """the frame limit the match was played with (PettingZoo's default; a test bundle cuts matches short)"""

    @property
    def moves(self) -> tuple[int, ...]:
        return self.opponent_actions

    @property
    def length(self) -> str:
        return f"{self.frames:,} frames"

    @property
    def score(self) -> str | None:
        """The agent's points, then the bot's."""
        return f"{self.agent_points}-{self.opponent_points}"

    def to_json(self, game: str, seats: tuple[str, ...]) -> dict[str, Any]:
        pong_duel = _pong()
        return {
            **replay_head(game, seats, self.seed, self.agent_seat, self.opponent),
            "score": {"agent": self.agent_points, "opponent": self.opponent_points},
            "frames": self.frames,
            "result": self.result,
            "frame_skip": pong_duel.FRAME_SKIP,
            "max_frames": self.max_frames,
            "agent_actions": pong_duel.rle(list(self.agent_actions)),
            "opponent_actions": pong_duel.rle(list(self.opponent_actions)),
        }


def outcome(agent: int, opponent: int) -> str:
    """The agent's result by the score (a match cut at the frame limit with equal points is a draw)."""
    return "win" if agent > opponent else "loss" if agent < opponent else "draw"


def _score(x: Any) -> bool:
    return is_int(x) and 0 <= x <= MAX_POINTS


class PongDuelGame(MatchGame):
    """Two-player Pong: the agent on ``first_0`` against the scripted left paddles."""

    slug: ClassVar[str] = GAME
    policy_format: ClassVar[str] = "ppo-playground/policy@1"
    policy_files: ClassVar[tuple[str, ...]] = ("policy.json", "policy.safetensors")
    max_moves: ClassVar[int] = 100_000
    actions: ClassVar[int] = 6
    agent_seats: ClassVar[tuple[int, ...]] = (0,)
    evidence_files: ClassVar[tuple[str, ...]] = ()
    """the source's evidence differs by source (manifest ``training.evidence`` lists it)"""
    regenerate: ClassVar[tuple[str, ...]] = ("bundle", "verify")
    """the source's own training is its bundle's or run's to reproduce (``evidence/source``)"""

    def curves(self, manifest: MatchManifest) -> tuple[str, str] | None:
        """The source's training curve: a fine-tuning run's diagnostics.csv, or the single-player bundle's
        ``training-seed<S>.csv`` of its shipped seed (the same columns)."""
        t = manifest.training
        listed = [f for f in t.get("evidence") or [] if isinstance(f, str) and f in manifest.files]
        if t.get("source") == "fine-tuning run" and f"{SOURCE_EVIDENCE}/diagnostics.csv" in listed:
            return f"{SOURCE_EVIDENCE}/diagnostics.csv", (
                "the fine-tuning run, in two-player Pong against scripted paddles and its own snapshots; its "
                "episode reward is points won − points lost − its serve penalties per match"
            )
        rel = f"{SOURCE_EVIDENCE}/training-seed{t['seed']}.csv"
        if t.get("source") == "single-player bundle" and rel in listed:
            return rel, (
                f"the single-player bundle's training run of seed {t['seed']}, in single-player ALE/Pong-v5 "
                "against the game's built-in paddle; its episode reward is points won − points lost per game"
            )
        return None

    def load_agent(self, files: dict[str, Path]) -> Any:
        from agents.bundle.validate import game_spaces
        from agents.policy.network import PolicyFiles, load_policy

        # the single-player Pong agent's spaces: 4 stacked 84x84 frames, the 6 minimal actions
        return load_policy(PolicyFiles(files["policy.json"], files["policy.safetensors"]), game_spaces("pong"))

    def parameters(self, agent: Any) -> int:
        return int(sum(t.numel() for t in agent.policy.parameters()))

    def definition(self, opponent: str) -> dict[str, Any]:
        return bot_definition(opponent)

    def read_replay(self, d: dict[str, Any], name: str, manifest: MatchManifest) -> PongReplay:
        pong_duel = _pong()
        values: list[Any] = [d.get(k) for k in ("seed", "agent_seat", "opponent", "result")]
        seed, seat, opponent, result = values
        if not (is_int(seed) and 0 <= seed <= MAX_SEED) or seat != 0 or isinstance(seat, bool):
            raise BundleError(f"replay {name}: seed must be an integer 0..{MAX_SEED} and agent_seat 0 (first_0)")
        if opponent not in manifest.opponent_names():
            raise BundleError(f"replay {name}: opponent {str(opponent)[:40]!r} is not one of the manifest's")
        score: Any = d.get("score")
        frames: Any = d.get("frames")
        if not (isinstance(score, dict) and _score(score.get("agent")) and _score(score.get("opponent"))):
            raise BundleError(f"replay {name}: score must be the agent's and the opponent's points, 0..{MAX_POINTS}")
        if not (is_int(frames) and 0 < frames <= self.max_moves) or d.get("frame_skip") != pong_duel.FRAME_SKIP:
            raise BundleError(
                f"replay {name}: frames must be 1..{self.max_moves} and frame_skip {pong_duel.FRAME_SKIP}"
            )
        if result not in OUTCOMES:
            raise BundleError(f"replay {name}: result {str(result)[:20]!r} is not one of {', '.join(OUTCOMES)}")
        limit: Any = d.get("max_frames", self.max_moves)  # absent: the game's own limit
        if not (is_int(limit) and frames <= limit <= self.max_moves):
            raise BundleError(f"replay {name}: max_frames must be {frames}..{self.max_moves}")
        try:
            if not (isinstance(d.get("agent_actions"), str) and isinstance(d.get("opponent_actions"), str)):
                raise ValueError("both must be run-length encoded strings ('2*15 0*3')")
            theirs = pong_duel.unrle(d["opponent_actions"], self.max_moves)
            ours = pong_duel.unrle(d["agent_actions"], self.max_moves)
        except ValueError as exc:
            raise BundleError(f"replay {name}: actions: {exc}") from None
        if len(theirs) != frames or len(ours) != math.ceil(frames / pong_duel.FRAME_SKIP):
            raise BundleError(
                f"replay {name}: {len(theirs)} opponent actions and {len(ours)} agent actions for {frames} frames "
                f"(one per frame and one per {pong_duel.FRAME_SKIP})"
            )
        return PongReplay(
            name,
            seed,
            opponent,
            tuple(ours),
            tuple(theirs),
            score["agent"],
            score["opponent"],
            frames,
            result,
            0,
            limit,
        )

    def resimulate(self, replay: Any, agent: Any, spec: GameSpec) -> str:
        """The match played again from its seed on PettingZoo's ``pong_v3``: the bot's action on every frame and
        the agent's on every fourth recomputed and compared with the recorded ones, then the score, the length
        and the result."""
        pong_duel = _pong()
        r: PongReplay = replay
        bot = pong_duel.bots()[r.opponent]()
        bot.reset(r.seed)
        duel = pong_duel.PongDuel(agent, r.seed, frame_stack=spec.frame_stack, max_frames=r.max_frames)
        try:
            for i, recorded in enumerate(r.opponent_actions):
                if duel.done:
                    raise BundleError(f"the match is over after {i} frames; the replay goes on to {r.frames}")
                theirs = bot.act(duel.screen)
                if theirs != recorded:
                    raise BundleError(
                        f"frame {i + 1}: {r.opponent} plays {pong_duel.ACTIONS[theirs]} there, the replay says "
                        f"{pong_duel.ACTIONS[recorded]}"
                    )
                duel.step(recorded)
                if i % pong_duel.FRAME_SKIP == 0:
                    k = i // pong_duel.FRAME_SKIP
                    if duel.agent_actions[k] != r.agent_actions[k]:
                        raise BundleError(
                            f"frame {i + 1}: the agent plays {pong_duel.ACTIONS[duel.agent_actions[k]]} there, the "
                            f"replay says {pong_duel.ACTIONS[r.agent_actions[k]]}"
                        )
            if not duel.done:
                raise BundleError(f"the match is not over after the {r.frames} recorded frames")
            score = (duel.agent_points, duel.person_points)
        finally:
            duel.close()
        if score != (r.agent_points, r.opponent_points):
            raise BundleError(
                f"the match ends {score[0]}-{score[1]}; the replay says {r.agent_points}-{r.opponent_points}"
            )
        if outcome(*score) != r.result:
            raise BundleError(
                f"a {score[0]}-{score[1]} match is a {outcome(*score)} for the agent; the replay says {r.result}"
            )
        return (
            f"{r.frames:,} frames on PettingZoo's {spec.env_id}: every {r.opponent} action and every agent action "
            f"re-derived, {score[0]}-{score[1]}, a {r.result} for the agent as recorded"
        )

    def check_row(self, recorded: dict[str, Any], row: SeatRecord, where: str) -> None:
        """Every match of the row (seed, score): W/D/L recomputed from the scores, the seeds the row's seed
        onward, the points' means and bootstrap intervals recomputed."""
        from agents.evaluation.evaluate import summarise

        matches = recorded.get("matches")
        if not isinstance(matches, list) or len(matches) != row.games:
            raise BundleError(f"{where}: 'matches' must list the {row.games} matches")
        for i, m in enumerate(matches):
            if not (
                isinstance(m, dict)
                and m.get("seed") == row.seed + i
                and _score(m.get("agent"))
                and _score(m.get("opponent"))
                and is_int(m.get("frames"))
                and isinstance(m.get("done"), bool)
            ):
                raise BundleError(
                    f"{where}: match {i + 1} must have seed {row.seed + i}, both scores 0..{MAX_POINTS}, frames "
                    f"and done; it is {str(m)[:80]}"
                )
        counts = [sum(outcome(m["agent"], m["opponent"]) == o for m in matches) for o in OUTCOMES]
        if counts != [row.wins, row.draws, row.losses]:
            raise BundleError(
                f"{where}: {row.wins}/{row.draws}/{row.losses} W/D/L recorded, the matches' scores give "
                f"{'/'.join(map(str, counts))}"
            )
        for key, side in (("points_for", "agent"), ("points_against", "opponent")):
            if recorded.get(key) != summarise([m[side] for m in matches]):
                raise BundleError(f"{where}: {key} is not the summary of the matches' {side} points")
        source = recorded.get("source")
        if not (isinstance(source, dict) and short_text(source.get("command"))):
            raise BundleError(f"{where}: 'source' must say which command played these matches")

    def check_training(self, bundle: MatchBundle) -> str:
        """The source's evidence listed and, for a single-player bundle, its manifest listing this policy's
        files with these sha256s (the agent is that bundle's, unchanged); for a fine-tuning run, its run.json's
        seed and steps."""
        t = bundle.manifest.training
        listed = t.get("evidence")
        if not isinstance(listed, list) or not listed or not all(f in bundle.manifest.files for f in listed):
            raise BundleError("training['evidence'] must list the source's evidence files, each in 'files'")
        if t.get("source") == "single-player bundle":
            rel = f"{SOURCE_EVIDENCE}/manifest.json"
            if rel not in listed:
                raise BundleError(f"a bundle from a single-player bundle keeps its manifest as {rel}")
            theirs = read_json(bundle._file(rel), rel, BundleError)
            files = theirs.get("files") if isinstance(theirs, dict) else None
            if not isinstance(files, dict) or any(files.get(f) != bundle.manifest.files[f] for f in self.policy_files):
                raise BundleError(f"{rel} lists other policy files than this bundle's: the agent is not that bundle's")
            seed = theirs.get("shipped_seed")
            if seed != t["seed"] or (theirs.get("timesteps") or {}).get(str(seed)) != t["timesteps"]:
                raise BundleError(f"{rel}'s shipped seed and its steps are not the manifest's training")
            return (
                f"the single-player bundle {t.get('from', '?')}'s policy, unchanged (its manifest lists these "
                f"sha256s): seed {seed}, {t['timesteps']:,} steps"
            )
        if t.get("source") == "fine-tuning run":
            rel = f"{SOURCE_EVIDENCE}/run.json"
            run = read_json(bundle._file(rel), rel, BundleError) if rel in listed else None
            if not isinstance(run, dict) or run.get("seed") != t["seed"] or run.get("timesteps") != t["timesteps"]:
                raise BundleError(f"{rel} is missing or its seed and steps are not the manifest's training")
            if run.get("status") != "done":
                raise BundleError(f"{rel} says the run is {str(run.get('status'))[:20]}, not done")
            return f"fine-tuning run: seed {run['seed']}, {run['timesteps']:,} steps"
        raise BundleError(f"training['source'] {str(t.get('source'))[:40]!r} is not a source this version reads")

    def extra_checks(self, bundle: MatchBundle) -> list[tuple[str, Any]]:
        return [
            ("adopted evidence is the evaluation's", lambda: _adopted_evidence(bundle)),
            ("replays are evaluation matches", lambda: _replays_in_evaluation(bundle)),
        ]


def _adopted_evidence(bundle: MatchBundle) -> str:
    """A block adopted from a duel_evidence file (``--evidence``): the file is in the bundle, of this policy's
    digest, and holds exactly the block's matches."""
    import hashlib

    ev = read_json(bundle._file("evaluation.json"), "evaluation.json", BundleError)
    files = bundle.manifest.files
    digest = hashlib.sha256(f"{files['policy.safetensors']} {files['policy.json']}".encode()).hexdigest()
    adopted = []
    for r in ev.get("results", []) if isinstance(ev, dict) else []:
        rel = (r.get("source") or {}).get("file") if isinstance(r, dict) else None
        if rel is None:
            continue
        if not (isinstance(rel, str) and rel.startswith(DUEL_EVIDENCE + "/") and rel in files):
            raise BundleError(f"{r.get('opponent')}: its matches are adopted from {str(rel)[:80]}, not a listed file")
        d = read_json(bundle._file(rel), rel, BundleError)
        block = (d.get("opponents") or {}).get(r["opponent"]) if isinstance(d, dict) else None
        if not isinstance(block, dict) or (d.get("agent") or {}).get("policy_sha256") != digest:
            raise BundleError(f"{rel} is not of this policy (its digest is not this bundle's policy files')")
        if sorted(block.get("matches") or [], key=lambda m: m.get("seed", -1)) != r.get("matches"):
            raise BundleError(f"{rel}'s matches are not the evaluation's {r['opponent']} matches")
        adopted.append(r["opponent"])
    if not adopted:
        return "none adopted: the build played every match"
    return f"{', '.join(adopted)}: the duel_evidence files' matches, of this policy"


def _replays_in_evaluation(bundle: MatchBundle) -> str:
    """Each replay is one of the evaluation's matches: same opponent, seed, score and length."""
    ev = read_json(bundle._file("evaluation.json"), "evaluation.json", BundleError)
    rows = {r.get("opponent"): r for r in ev.get("results", []) if isinstance(r, dict)} if isinstance(ev, dict) else {}
    for name in bundle.replay_names():
        r = bundle.replay(name)
        matches = rows.get(r.opponent, {}).get("matches") or []
        m = next((m for m in matches if isinstance(m, dict) and m.get("seed") == r.seed), None)
        if m is None:
            raise BundleError(f"replay {name} (seed {r.seed}) is not one of the evaluation's matches vs {r.opponent}")
        if (m.get("agent"), m.get("opponent"), m.get("frames")) != (r.agent_points, r.opponent_points, r.frames):
            raise BundleError(
                f"replay {name} ends {r.agent_points}-{r.opponent_points} in {r.frames} frames; the evaluation's "
                f"match of seed {r.seed} is {m.get('agent')}-{m.get('opponent')} in {m.get('frames')}"
            )
    return f"{len(bundle.replay_names())} replays, each an evaluation match with the same score and length"
