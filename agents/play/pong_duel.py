"""Two-player Pong on one court: the shipped Pong agent on the right paddle against a person (or a scripted
paddle) on the left, one emulator frame at a time.

The game is PettingZoo's ``pong_v3`` (``multi_agent_ale_py``), classic two-player mode, with the ROM the
ale-py wheel ships (its package folder holds ``roms/pong.bin``; AutoROM needs the internet and is never
used). ``first_0`` is the right paddle, the side the single-player agent learned; ``second_0`` the left.

The agent sees exactly what it saw in training (``make_env(spec, "eval")``: SB3's AtariWrapper, then the
frame stack), rebuilt here frame by frame because the env is shared with a second player who acts every
frame: it decides every :data:`FRAME_SKIP` frames and holds its action in between (MaxAndSkipEnv), it sees
the pixel-wise max of the last two frames of each block (MaxAndSkipEnv), grayscale and resized to 84×84
with INTER_AREA (WarpFrame), the last ``frame_stack`` such images on the channel axis, zero-filled after a
reset (FrameStackLast), and it samples its action from the policy with a per-match random stream seeded
by the match's seed (the Atari evaluation protocol: ``deterministic=False``). ``test_pong_duel.py``
checks :class:`AgentEye` against SB3's own wrappers on the same frames. The person's action applies on
every frame (60 a second). What AtariWrapper does at a reset (random no-ops, FIRE) only randomises the
start of a single-player episode; here the start is the seed's and the person's.

The score is the game's own (RAM bytes 14 and 13, what the court shows); the match ends when the ROM says
the game is over (a side reaches 21) or after :data:`MAX_FRAMES`. The two-player mode times serves: a
server who waits two seconds gets a −1 reward that is not a point; those are counted as ``serve_penalties``.
"""

from __future__ import annotations

import os
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from envs.errors import GameUnavailableError

AGENT = "first_0"
"""the right paddle: the side the shipped single-player agent learned"""
PERSON = "second_0"
"""the left paddle"""
FRAME_SKIP = 4
"""SB3's AtariWrapper default, as the agent was trained (``frame_skip=4``)"""
SCREEN = 84
FPS = 60
MAX_FRAMES = 100_000
"""PettingZoo's default ``max_cycles``: about 28 minutes at 60 frames/s"""
ACTIONS = ("NOOP", "FIRE", "UP", "DOWN", "UP+FIRE", "DOWN+FIRE")
"""the minimal action set, as the agent learned it; 2 moves either paddle up the screen, 3 down"""
NOOP, FIRE, UP, DOWN = 0, 1, 2, 3
_SCORE_RAM = {AGENT: 14, PERSON: 13}
# the court on the screen: the rows between the walls, and the columns of the left paddle
PLAY_ROWS = (34, 194)
LEFT_PADDLE_COLS = (16, 20)
LEFT_PADDLE_RGB = (213, 130, 74)
BALL_RGB = (236, 236, 236)


def make_court(max_frames: int = MAX_FRAMES):
    """PettingZoo's two-player ``pong_v3`` as its ParallelAtariEnv (the AEC round-trip wrappers cost a third
    of a millisecond a frame and add nothing here: the engine never sends an out-of-range action)."""
    try:
        import ale_py

        with warnings.catch_warnings():  # PettingZoo's notice about its module-per-game API, once per process
            warnings.simplefilter("ignore", DeprecationWarning)
            from pettingzoo.atari import pong_v3
    except ImportError as exc:
        raise GameUnavailableError(f"two-player Pong needs pettingzoo[atari] and ale-py: {exc}") from exc
    try:
        env = pong_v3.parallel_env(
            auto_rom_install_path=os.path.dirname(ale_py.__file__), max_cycles=max_frames, render_mode="rgb_array"
        )
    except OSError as exc:  # PettingZoo raises OSError for a missing ROM
        raise GameUnavailableError(
            f"two-player Pong could not find pong.bin in the ale-py package ({exc}); "
            "reinstall it: pip install --force-reinstall ale-py"
        ) from exc
    return env.unwrapped


def warp(frame: np.ndarray) -> np.ndarray:
    """SB3's WarpFrame: RGB → grayscale → 84×84 (INTER_AREA), one channel last."""
    import cv2

    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (SCREEN, SCREEN), interpolation=cv2.INTER_AREA)[:, :, None]


class AgentEye:
    """The agent's observation, built from raw frames as AtariWrapper + FrameStackLast build it."""

    def __init__(self, stack: int):
        self.stack = stack
        self._frames: deque[np.ndarray] = deque(maxlen=stack)
        self.obs = np.zeros((SCREEN, SCREEN, stack), np.uint8)

    def reset(self, frame: np.ndarray) -> np.ndarray:
        zero = np.zeros((SCREEN, SCREEN, 1), np.uint8)
        self._frames.clear()
        self._frames.extend([zero] * (self.stack - 1))
        return self._push(warp(frame))

    def block(self, second_last: np.ndarray, last: np.ndarray) -> np.ndarray:
        """The observation after a block of FRAME_SKIP frames: the max of its last two frames (MaxAndSkipEnv)."""
        return self._push(warp(np.maximum(second_last, last)))

    def _push(self, image: np.ndarray) -> np.ndarray:
        self._frames.append(image)
        self.obs = np.concatenate(self._frames, axis=-1)
        return self.obs


class Policy(Protocol):
    def forward_info(self, obs: np.ndarray) -> dict[str, np.ndarray]: ...

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray: ...


class AgentPlayer:
    """The policy acting as in its evaluation: sampled with the match's own random stream, or deterministic."""

    def __init__(self, policy: Policy, seed: int, deterministic: bool = False):
        self.policy, self.deterministic = policy, deterministic
        self.rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray) -> int:
        batch = np.asarray(obs)[None]
        if self.deterministic:
            return int(self.policy.predict(batch, deterministic=True)[0])
        p = np.asarray(self.policy.forward_info(batch)["probs"][0], dtype=np.float64)
        return int(self.rng.choice(len(p), p=p / p.sum()))  # as agents.play.match.Match samples


@dataclass
class DuelResult:
    """A finished (or abandoned) match; ``person_actions`` and ``agent_actions`` re-simulate it from ``seed``."""

    seed: int
    agent_points: int
    person_points: int
    frames: int
    done: bool
    serve_penalties: dict[str, int]
    person_actions: str
    """one action per frame, run-length encoded (:func:`rle`)"""
    agent_actions: str
    """one action per FRAME_SKIP frames, run-length encoded"""

    @property
    def winner(self) -> str | None:
        if self.agent_points == self.person_points:
            return "draw" if self.done else None
        return "agent" if self.agent_points > self.person_points else "person"

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "score": {"agent": self.agent_points, "person": self.person_points},
            "frames": self.frames,
            "done": self.done,
            "serve_penalties": self.serve_penalties,
            "person_actions": self.person_actions,
            "agent_actions": self.agent_actions,
            "frame_skip": FRAME_SKIP,
        }


def rle(actions: list[int]) -> str:
    """``[0, 0, 0, 2, 2]`` → ``"0*3 2*2"``: a 21-point match is tens of thousands of frames."""
    out: list[str] = []
    i = 0
    while i < len(actions):
        j = i
        while j < len(actions) and actions[j] == actions[i]:
            j += 1
        out.append(f"{actions[i]}*{j - i}")
        i = j
    return " ".join(out)


def unrle(text: str, limit: int = MAX_FRAMES) -> list[int]:
    """The inverse of :func:`rle`, refusing anything but actions 0-5 and more than ``limit`` of them."""
    out: list[int] = []
    for part in text.split():
        action, _, count = part.partition("*")
        if not (action.isdigit() and count.isdigit()) or not 0 <= int(action) < len(ACTIONS):
            raise ValueError(f"not an action run: {part[:20]!r} (expected e.g. '2*15', actions 0-5)")
        if len(out) + int(count) > limit:
            raise ValueError(f"more than {limit} actions")
        out.extend([int(action)] * int(count))
    return out


class PongDuel:
    """One match: :meth:`step` advances one emulator frame with the left paddle's action."""

    def __init__(
        self,
        policy: Policy,
        seed: int,
        *,
        frame_stack: int = 4,
        deterministic: bool = False,
        max_frames: int = MAX_FRAMES,
    ):
        self.policy, self.frame_stack, self.deterministic = policy, frame_stack, deterministic
        self.max_frames = max_frames
        self.env = make_court(max_frames)
        self.reset(seed)

    def reset(self, seed: int) -> None:
        self.seed = int(seed)
        obs, _ = self.env.reset(seed=self.seed)
        self.screen: np.ndarray = obs[AGENT]
        self.eye = AgentEye(self.frame_stack)
        self.eye.reset(self.screen)
        self.agent = AgentPlayer(self.policy, self.seed, self.deterministic)
        self.frame = 0
        self.points = {AGENT: 0, PERSON: 0}
        self.serve_penalties = {AGENT: 0, PERSON: 0}
        self.person_actions: list[int] = []
        self.agent_actions: list[int] = []
        self.agent_action = NOOP
        self._second_last = self.screen
        self.done = self.game_over = False

    @property
    def agent_points(self) -> int:
        return self.points[AGENT]

    @property
    def person_points(self) -> int:
        return self.points[PERSON]

    def step(self, person_action: int) -> None:
        """One frame: the agent decides on every FRAME_SKIP-th frame and holds its action, the person acts now."""
        if self.done:
            raise RuntimeError("the match is over: reset it")
        if not 0 <= person_action < len(ACTIONS):
            raise ValueError(f"action {person_action!r} is not one of 0-{len(ACTIONS) - 1}")
        k = self.frame % FRAME_SKIP
        if k == 0:
            self.agent_action = self.agent.act(self.eye.obs)
            self.agent_actions.append(self.agent_action)
        obs, rewards, terms, truncs, _ = self.env.step({AGENT: self.agent_action, PERSON: int(person_action)})
        self.person_actions.append(int(person_action))
        self.frame += 1
        self.screen = self.env.ale.getScreenRGB() if not obs else obs[AGENT]
        if k == FRAME_SKIP - 2:
            self._second_last = self.screen
        elif k == FRAME_SKIP - 1:
            self.eye.block(self._second_last, self.screen)
        ram = self.env.ale.getRAM()
        points = {side: int(ram[byte]) for side, byte in _SCORE_RAM.items()}
        for side in (AGENT, PERSON):
            conceded = points[self._opponent(side)] != self.points[self._opponent(side)]
            if rewards.get(side, 0) < 0 and not conceded:  # a -1 that is not a point: a serve held too long
                self.serve_penalties[side] += 1
        self.points = points
        self.game_over = not self.env.agents or any(terms.values())  # the ROM's end: a side reached 21
        self.done = self.game_over or any(truncs.values()) or self.frame >= self.max_frames

    def _opponent(self, side: str) -> str:
        return PERSON if side == AGENT else AGENT

    def result(self) -> DuelResult:
        return DuelResult(
            self.seed,
            self.agent_points,
            self.person_points,
            self.frame,
            self.done,
            dict(self.serve_penalties),
            rle(self.person_actions),
            rle(self.agent_actions),
        )

    def close(self) -> None:
        self.env.close()


def replay(policy: Policy, seed: int, person_actions: list[int], **kwargs: Any) -> PongDuel:
    """Re-simulate a match from its seed and the person's actions; the agent's are recomputed, not read."""
    duel = PongDuel(policy, seed, **kwargs)
    for action in person_actions:
        if duel.done:
            break
        duel.step(action)
    return duel


# --- scripted left paddles: the agent's test opponents ----------------------------------------------


def _rows(screen: np.ndarray, rgb: tuple[int, int, int], cols: tuple[int, int]) -> np.ndarray:
    # on the court (between the walls) the four colours differ in their red channel alone (background 144,
    # left paddle 213, right paddle 92, ball 236), so one channel finds them: 5x cheaper than all three
    court = screen[PLAY_ROWS[0] : PLAY_ROWS[1], cols[0] : cols[1], 0]
    return np.flatnonzero((court == rgb[0]).any(axis=1)) + PLAY_ROWS[0]


def ball_y(screen: np.ndarray) -> float | None:
    """The ball's row on the court, None while it is out of play (between points, before a serve)."""
    rows = _rows(screen, BALL_RGB, (0, screen.shape[1]))
    return float(rows.mean()) if rows.size else None


def left_paddle_y(screen: np.ndarray) -> float | None:
    rows = _rows(screen, LEFT_PADDLE_RGB, LEFT_PADDLE_COLS)
    return float(rows.mean()) if rows.size else None


class Bot(Protocol):
    name: str

    def reset(self, seed: int) -> None: ...

    def act(self, screen: np.ndarray) -> int: ...


@dataclass
class RandomPaddle:
    """A uniformly random action every frame."""

    name: str = "random"
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    def reset(self, seed: int) -> None:
        self.rng = np.random.default_rng([seed, 1])

    def act(self, screen: np.ndarray) -> int:
        return int(self.rng.integers(len(ACTIONS)))


@dataclass
class Tracker:
    """Moves the left paddle toward where the ball was ``delay`` frames ago (a reaction time), within a dead
    band; serves (FIRE) as soon as the ball is out of play. ``delay=0`` is the perfect tracker."""

    name: str = "tracker"
    delay: int = 12
    dead_band: float = 4.0
    _seen: deque[float | None] = field(default_factory=deque)

    def reset(self, seed: int) -> None:
        self._seen = deque(maxlen=self.delay + 1)

    def act(self, screen: np.ndarray) -> int:
        self._seen.append(ball_y(screen))
        target = self._seen[0]
        paddle = left_paddle_y(screen)
        if target is None:
            return FIRE
        if paddle is None or abs(target - paddle) <= self.dead_band:
            return NOOP
        return UP if target < paddle else DOWN


def bots() -> dict[str, Callable[[], Bot]]:
    """The named scripted opponents of the agent's evidence (their definitions are this code)."""
    return {
        "random": RandomPaddle,
        "tracker-200ms": lambda: Tracker("tracker-200ms", delay=12),
        "perfect-tracker": lambda: Tracker("perfect-tracker", delay=0, dead_band=2.0),
    }


class _Batched:
    """One policy call for many matches: the observations queued by :meth:`forward_info` of each match's
    stand-in are answered together (the bench of 30 matches spends a fifth of the CPU on the network)."""

    def __init__(self, policy: Policy):
        self.policy = policy

    def probs(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.policy.forward_info(batch)["probs"])


class _Answer:
    """A match's policy whose next answer was computed in a batch."""

    def __init__(self) -> None:
        self.next: np.ndarray | None = None
        self.asked: np.ndarray | None = None

    def forward_info(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        assert self.next is not None and self.asked is not None, "no batched answer was queued"
        assert np.array_equal(obs, self.asked), "the batch answered another observation"
        out, self.next = self.next, None
        return {"probs": out[None]}

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        raise NotImplementedError("batched matches sample, as the Atari evaluation does")


def play_bots(policy: Policy, bot: Callable[[], Bot], seeds: list[int], **kwargs: Any) -> list[DuelResult]:
    """Whole matches against fresh bots, one per seed, stepped together so that the agent's forward passes
    are batched; each match samples with its own seeded stream as :func:`play_bot` does (only the last bits
    of the network's float outputs may differ from one-at-a-time calls)."""
    batched = _Batched(policy)
    answers = [_Answer() for _ in seeds]
    duels = [PongDuel(a, seed, **kwargs) for a, seed in zip(answers, seeds, strict=True)]
    bots_ = [bot() for _ in seeds]
    for b, seed in zip(bots_, seeds, strict=True):
        b.reset(seed)
    try:
        while not all(d.done for d in duels):
            live = [i for i, d in enumerate(duels) if not d.done]
            deciding = [i for i in live if duels[i].frame % FRAME_SKIP == 0]
            if deciding:
                obs = np.stack([duels[i].eye.obs for i in deciding])
                for i, p in zip(deciding, batched.probs(obs), strict=True):
                    answers[i].next, answers[i].asked = p, duels[i].eye.obs[None]
            for i in live:
                duels[i].step(bots_[i].act(duels[i].screen))
        return [d.result() for d in duels]
    finally:
        for d in duels:
            d.close()


def play_bot(policy: Policy, bot: Bot, seed: int, **kwargs: Any) -> DuelResult:
    """One match of the agent against a scripted left paddle, to the end."""
    duel = PongDuel(policy, seed, **kwargs)
    bot.reset(seed)
    try:
        while not duel.done:
            duel.step(bot.act(duel.screen))
        return duel.result()
    finally:
        duel.close()


# --- a match against a person, as the play server drives it ---------------------------------------------


class PongDuelMatch:
    """A person's keys in, the court and both scores out, one frame per :meth:`step` (the play server's side)."""

    mode = "duel"

    def __init__(self, spec: Any, seed: int, policy: Policy, max_frames: int = MAX_FRAMES):
        self.spec = spec
        self.duel = PongDuel(policy, seed, frame_stack=spec.frame_stack, max_frames=max_frames)

    @property
    def seed(self) -> int:
        return self.duel.seed

    @property
    def done(self) -> bool:
        return self.duel.done

    def reset(self, seed: int) -> None:
        self.duel.reset(seed)

    def action(self, keys: list[str]) -> int:
        return int(self.spec.keymap.resolve(keys))

    def step(self, keys: list[str]) -> dict[str, Any]:
        self.duel.step(self.action(keys))
        return self.state()

    def state(self) -> dict[str, Any]:
        d = self.duel
        return {
            "done": d.done,
            "seed": d.seed,
            "frame": d.frame,
            "score": {"human": d.person_points, "agent": d.agent_points},
        }

    def frames(self) -> dict[str, bytes]:
        from agents.media.watch import jpeg_frame

        return {"court": jpeg_frame(self.duel.screen)}

    def winner(self) -> str | None:
        w = self.duel.result().winner
        return {"person": "human", "agent": "agent", "draw": "draw"}.get(w) if w else None

    def result(self) -> dict[str, Any]:
        """The finished match: the score, and the replay (seed + both sides' actions) in ``detail``."""
        r = self.duel.result()
        return {
            "game": self.spec.slug,
            "mode": self.mode,
            "seed": r.seed,
            "score": {"human": r.person_points, "agent": r.agent_points},
            "frames": r.frames,
            "detail": r.as_dict(),
        }

    def close(self) -> None:
        self.duel.close()
