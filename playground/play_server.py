"""The play page's real-time channel: a WebSocket route, ``/api/play``, on the app's own port.

Why not Streamlit reruns: one rerun per step reached 14 steps/s with ~110 ms key-to-frame. Here the
browser (``playground/play_component.js``) sends one ``step`` per tick and the server steps the person's
env and the agent's env in lockstep and answers with both frames. The messages are in
``playground.protocol``; the protocol, the limits and the settings are described in docs/play.md.

What the sockets share (the slots, the policies, the results budget) is one :class:`PlayServer`, made by
the app's lifespan (``playground/app.py``) and reached by the route through :func:`play_route`; each
socket's own game is a :class:`Session`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from agents.bundle import Bundle
from agents.bundle.bundle import WEIGHTS
from agents.bundle.match import MatchBundle, is_match_bundle
from agents.common import settings
from agents.common.errors import BundleError
from agents.common.settings import models_dir
from agents.play.match import Match
from agents.play.pong_duel import MAX_FRAMES, PongDuelMatch
from agents.policy.network import LoadedPolicy
from envs import PlaygroundError
from playground import leaderboard, protocol
from playground.protocol import Go, Pause, ProtocolError, Reset, Start, Step

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one play server allows; the defaults are the settings' (agents/common/settings.py)."""

    max_games: int = 8
    """Sockets playing at once; one more is told ``busy``."""
    idle_seconds: float = 120.0
    """A socket that sends nothing for this long is closed."""
    send_seconds: float = 10.0
    """A socket whose client takes no message for this long (it stopped reading) is closed."""
    results_per_socket: int = 100
    """Results one socket records; its later episodes play unrecorded."""
    results_per_minute: int = 20
    """Results one socket records in any 60 s; the server records at most ``max_games`` times this."""

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            settings.max_games(),
            settings.idle_seconds(),
            settings.send_seconds(),
            settings.results_per_socket(),
            settings.results_per_minute(),
        )


class Slots:
    """How many sockets are playing; over the cap the next one is told 'busy'."""

    def __init__(self, cap: int):
        self.cap = cap
        self.active = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self.active >= self.cap:
                return False
            self.active += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.active -= 1


class RateWindow:
    """At most ``limit`` events in any ``seconds``: the times of the last ``limit`` events, so it stays small."""

    def __init__(self, limit: int, seconds: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit, self.seconds, self._clock = limit, seconds, clock
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._times and now - self._times[0] >= self.seconds:
            self._times.popleft()

    def available(self) -> bool:
        with self._lock:
            self._expire(self._clock())
            return len(self._times) < self.limit

    def take(self) -> bool:
        """Count one event if the window has room; False (and nothing counted) if not."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if len(self._times) >= self.limit:
                return False
            self._times.append(now)
            return True


class PolicyCache:
    """The agents' policies (shipped or registered), loaded once per bundle folder and set of weights.

    Every start opens the bundle (checksums verified, a few ms), so a bundle replaced or tampered with on
    disk is seen at once; the policy is reloaded only when its weights' sha256, ``policy_id``, changes.
    Entries are keyed by the bundle's folder, so a registered agent never stands in for the shipped one.
    """

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[str, LoadedPolicy]] = {}
        self._lock = threading.Lock()

    def get(self, slug: str) -> LoadedPolicy | None:
        """The game's shipped policy, or None when it has no agent; raises PlaygroundError for a broken one."""
        bundle = Bundle.shipped(slug)
        if bundle is None:
            return None
        return self._load(bundle)

    def duel(self, game: str) -> tuple[DuelAgent, LoadedPolicy] | None:
        """The agent a duel of ``game`` plays (:func:`duel_agent`) and its policy, or None when there is none;
        raises PlaygroundError for a broken bundle."""
        found = duel_agent(game)
        if found is None:
            return None
        if isinstance(found.bundle, Bundle):
            return found, self._load(found.bundle)
        match_bundle = found.bundle
        return found, self._cached(match_bundle.path, match_bundle.policy_id, match_bundle.agent)

    def registered(self, path: Path, slug: str) -> LoadedPolicy:
        """A registered agent's policy (``agents.hub.registry``): its folder opened like a shipped bundle, and
        refused (BundleError) unless it is an agent of ``slug``."""
        bundle = Bundle.open(path.resolve())
        if bundle.spec.slug != slug:
            raise BundleError(f"{path} holds a {bundle.spec.slug} agent, not a {slug} one")
        return self._load(bundle)

    def _load(self, bundle: Bundle) -> LoadedPolicy:
        return self._cached(bundle.path, bundle.policy_id, bundle.policy)

    def _cached(self, path: Path, policy_id: str, load: Callable[[], LoadedPolicy]) -> LoadedPolicy:
        with self._lock:  # one load per bundle even when several sockets start it at once
            cached = self._entries.get(path)
            if cached is None or cached[0] != policy_id:
                import torch

                torch.set_num_threads(1)  # many small forward passes from many sockets: one thread each
                cached = self._entries[path] = (policy_id, load())
            return cached[1]


class PlayServer:
    """What every play socket shares: the limits, the slots, the policies and the results budget."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.slots = Slots(limits.max_games)
        self.policies = PolicyCache()
        # over all sockets, so reconnecting does not lift a socket's per-minute limit
        self.results = RateWindow(limits.max_games * limits.results_per_minute)


DUEL_FALLBACK = {"pong-duel": "pong"}
"""the single-player game whose shipped agent plays a duel when ``models/<duel game>`` is not a two-player bundle"""


@dataclass(frozen=True)
class DuelAgent:
    """The shipped agent a duel game plays: the game's two-player bundle (``models/pong-duel``), or, when that
    folder is not one, the single-player bundle of :data:`DUEL_FALLBACK`."""

    game: str
    bundle: MatchBundle | Bundle
    sha256: str
    """its weights' (policy.safetensors) sha256, as its manifest lists them and ``open`` checked"""

    @property
    def name(self) -> str:
        """The name its rating and record against people are kept under: new weights start their own."""
        return f"{self.game}@{self.sha256[:12]}"

    @property
    def source(self) -> str:
        """Which bundle plays, as the page and the log say it: ``models/pong-duel`` or ``models/pong``."""
        return f"models/{self.bundle.path.name}"


def duel_agent(game: str) -> DuelAgent | None:
    """The agent a duel of ``game`` plays, its bundle opened and its files checked (a few ms; nothing loaded):
    the two-player bundle ``models_dir()/<game>``, else the fallback's single-player one, else None.
    Raises PlaygroundError (one line) when the bundle is broken: a broken two-player bundle never falls back."""
    if is_match_bundle(models_dir() / game):
        match_bundle = MatchBundle.shipped(game)
        assert match_bundle is not None
        return DuelAgent(game, match_bundle, match_bundle.policy_sha256)
    bundle = Bundle.shipped(DUEL_FALLBACK[game])
    if bundle is None:
        return None
    if WEIGHTS not in bundle.manifest.files:
        raise BundleError(f"{bundle.path}'s manifest lists no {WEIGHTS}")
    return DuelAgent(game, bundle, bundle.manifest.files[WEIGHTS])


DUEL_MAX_FRAMES = MAX_FRAMES
"""a duel longer than this (about 28 minutes at 60 frames/s) ends where it stands"""
MIN_RATED_FPS = 50.0
"""a duel played slower than this (frames per second of running time) is not rated: slowing the game down
helps the person, not the agent, which decides on frames, not seconds"""


class Session:
    """One socket's game: its match, the expected sequence number, the player, what it has recorded.

    A game waits for its player: after ``start`` or ``reset`` (and after a ``pause``) steps are refused until
    the browser sends ``go``, which it does when the player has pressed a key or Start and the 3-2-1
    countdown is over. The server is the authority: nothing steps before that.
    """

    def __init__(self, server: PlayServer):
        self.server = server
        self.match: Match | PongDuelMatch | None = None
        self.expected_seq = 1
        self.player = "anonymous"
        self.ended = False
        self.running = False
        self.running_since = 0.0
        self.running_seconds = 0.0
        self.recorded = 0
        self.agent: str | None = None
        """the registered agent this game plays (its results are not recorded); None: the shipped one"""
        self.duel_agent: DuelAgent | None = None
        """the shipped agent this duel plays (its rating's name and weights), when it is a duel of the shipped one"""
        self.recent = RateWindow(server.limits.results_per_minute)

    def handle(self, text: str | None) -> list[dict[str, Any]]:
        """The replies to one message (``None``: a binary one); an invalid message changes nothing."""
        try:
            msg = protocol.parse(text)
            if isinstance(msg, Start):
                return [self.start(msg)]
            if isinstance(msg, Step):
                return self.step(msg)
            if isinstance(msg, Go):
                return [self.go()]
            if isinstance(msg, Pause):
                return [self.pause()]
            return [self.reset(msg)]
        except ProtocolError as exc:
            return [protocol.error(exc)]
        except Exception as exc:  # a bug must not take the server or other players down
            log.exception("play message failed")
            return [protocol.error(ProtocolError("internal", f"{type(exc).__name__}: {exc}"))]

    def start(self, msg: Start) -> dict[str, Any]:
        spec = protocol.game_spec(msg.game)
        agent_slug = DUEL_FALLBACK.get(spec.slug, spec.slug)
        policy = None
        shipped: DuelAgent | None = None
        agent = msg.agent if msg.mode != "solo" else None
        if agent is not None:
            policy = self._registered(agent, agent_slug)
        elif msg.mode == protocol.DUEL:
            shipped, policy = self._duel(spec.slug, spec.name)
        elif msg.mode != "solo":
            try:
                policy = self.server.policies.get(agent_slug)
            except PlaygroundError as exc:
                raise ProtocolError("no_agent", f"the {spec.name} agent cannot be used: {exc}") from None
            if policy is None:
                raise ProtocolError("no_agent", f"{spec.name} has no trained agent yet, so only Solo can be played")
        try:
            match: Match | PongDuelMatch
            if msg.mode == protocol.DUEL:
                assert policy is not None
                match = PongDuelMatch(spec, msg.seed, policy, max_frames=DUEL_MAX_FRAMES)
            else:
                match = Match(spec, msg.mode, msg.seed, policy)
        except PlaygroundError as exc:
            raise ProtocolError("game_unavailable", str(exc)) from None
        self.close()
        self.match, self.expected_seq, self.ended, self.player = match, 1, False, msg.player
        self.agent, self.duel_agent = agent, shipped
        self._wait()
        return protocol.ready(spec, msg.mode, msg.seed, match.state(), match.frames())

    def _duel(self, game: str, name: str) -> tuple[DuelAgent, LoadedPolicy]:
        """The shipped agent of the duel ``game`` and its policy; ProtocolError ``no_agent`` in one line when
        there is none or its bundle cannot be used (any exception from its files is the bundle's)."""
        try:
            found = self.server.policies.duel(game)
        except Exception as exc:
            if not isinstance(exc, PlaygroundError):
                log.warning("the %s agent cannot be used", game, exc_info=True)
            first = next(iter(str(exc).strip().splitlines()), type(exc).__name__)
            raise ProtocolError("no_agent", f"the {name} agent cannot be used: {first}") from None
        if found is None:
            raise ProtocolError("no_agent", f"{name} has no trained agent yet")
        return found

    def _registered(self, agent: str, slug: str) -> LoadedPolicy:
        """The policy of the registered agent ``agent`` of game ``slug``; ProtocolError when it is not one or
        cannot be used (its files come from anywhere, so any exception is the agent's, said in one line)."""
        from agents.hub import registry

        entry = registry.get(agent)
        if entry is None or entry.game != slug:
            raise ProtocolError(
                "unknown_agent", f'{slug} has no registered agent {agent!r}: leave out "agent" for the shipped one'
            )
        try:
            return self.server.policies.registered(Path(entry.path), slug)
        except Exception as exc:
            if not isinstance(exc, PlaygroundError):
                log.warning("the registered agent %s cannot be used", agent, exc_info=True)
            first = next(iter(str(exc).strip().splitlines()), type(exc).__name__)
            raise ProtocolError("no_agent", f"the agent {agent} cannot be used: {first}") from None

    def go(self) -> dict[str, Any]:
        """The countdown is over: steps are accepted until a pause, a reset or the end."""
        match = self._started()
        if match.done:
            raise ProtocolError("episode_over", 'the episode is over: send {"type": "reset", "seed": …}')
        if not self.running:
            self.running, self.running_since = True, time.monotonic()
        return protocol.running()

    def pause(self) -> dict[str, Any]:
        self._started()
        self._stop()
        return protocol.paused()

    def _stop(self) -> None:
        if self.running:
            self.running_seconds += time.monotonic() - self.running_since
            self.running = False

    def _wait(self) -> None:
        """A new episode: it waits for ``go``."""
        self.running, self.running_seconds = False, 0.0

    def step(self, msg: Step) -> list[dict[str, Any]]:
        match = self._started()
        if msg.seq != self.expected_seq:
            raise ProtocolError("bad_seq", f"out-of-order step: expected seq {self.expected_seq}, got {msg.seq}")
        if match.done:
            raise ProtocolError("episode_over", 'the episode is over: send {"type": "reset", "seed": …}')
        if not self.running:
            raise ProtocolError(
                "not_running", 'the game waits for its player: send {"type": "go"} when the countdown is over'
            )
        keys = protocol.check_keys(msg.keys, match.spec)
        self.expected_seq += 1
        state = match.step(list(keys))
        out = [protocol.frame(msg.seq, state, match.frames())]
        if match.done and not self.ended:
            self._stop()
            out.append(self._end(match))
        return out

    def reset(self, msg: Reset) -> dict[str, Any]:
        match = self._started()
        seed = match.seed if msg.seed is None else msg.seed
        match.reset(seed)
        self.expected_seq, self.ended = 1, False
        self._wait()
        return protocol.ready(match.spec, match.mode, seed, match.state(), match.frames())

    def _started(self) -> Match | PongDuelMatch:
        if self.match is None:
            raise ProtocolError("not_started", 'send {"type": "start", ...} first')
        return self.match

    def _end(self, match: Match | PongDuelMatch) -> dict[str, Any]:
        self.ended = True
        if isinstance(match, PongDuelMatch):
            return self._end_duel(match)
        result = match.result()
        winner = leaderboard.winner(result)
        if result["mode"] == "watch":
            return protocol.end(result, None, winner)
        if self.agent is not None:
            return protocol.end(result, None, winner, self._not_shipped())
        refused = self._refuse_record()
        if refused:
            return protocol.end(result, None, winner, refused)
        return protocol.end(result, leaderboard.record(result, self.player), winner)

    def _end_duel(self, match: PongDuelMatch) -> dict[str, Any]:
        """A finished duel, rated from the moves this server applied (the replay is in the record's detail)."""
        result = match.result()
        winner = match.winner()
        fps = result["frames"] / self.running_seconds if self.running_seconds > 0 else 0.0
        result["fps"] = round(fps, 1)
        public = {k: v for k, v in result.items() if k != "detail"}
        if self.agent is not None:
            return protocol.end(public, None, winner, self._not_shipped())
        if fps < MIN_RATED_FPS:
            note = f"Not rated: played at {fps:.0f} frames/s; rated matches run at 60 (≥ {MIN_RATED_FPS:g})."
            return protocol.end(public, None, winner, note)
        if not match.duel.game_over or winner not in ("human", "agent", "draw"):
            return protocol.end(public, None, winner, f"Not rated: the match hit its {result['frames']}-frame limit.")
        refused = self._refuse_record()
        if refused:
            return protocol.end(public, None, winner, refused)
        try:
            assert self.duel_agent is not None
            recorded = record_duel(result, self.player, self.duel_agent, winner)
        except PlaygroundError as exc:  # the database: one line for the player, the details in the log
            log.warning("a finished duel could not be rated: %s", exc)
            recorded = None
        if recorded is None:
            return protocol.end(public, None, winner, "Not rated: the ratings store is not available on this server.")
        return protocol.end(public, recorded["match_id"], winner, rating=recorded["board"])

    def _not_shipped(self) -> str:
        # the leaderboard and the ratings are the shipped agent's: another agent's games would blur them
        return f"Not recorded: you played {self.agent}, not the shipped agent."

    def _refuse_record(self) -> str | None:
        """Why this result may not be recorded, or None (and it is counted)."""
        limits = self.server.limits
        if self.recorded >= limits.results_per_socket:
            return f"Not recorded: one connection records at most {limits.results_per_socket} results; reload the page."
        if not self.recent.available():
            return f"Not recorded: one connection records at most {limits.results_per_minute} results a minute."
        if not self.server.results.take():
            return "Not recorded: the server has recorded as many results as it takes this minute; try again shortly."
        self.recent.take()
        self.recorded += 1
        return None

    def close(self) -> None:
        if self.match is not None:
            self.match.close()
            self.match = None


def rating_store() -> Any:
    """The head-to-head ratings (``playground.store.ratings``), or None on a server without them."""
    try:
        from playground.store.db import get_database
        from playground.store.ratings import RatingStore
    except ImportError:
        return None
    return RatingStore(get_database())


def agent_board(game: str, agent: str) -> dict[str, Any] | None:
    """The agent's rating and record against people in ``game``, as the page shows it; None without a store."""
    store = rating_store()
    if store is None:
        return None
    board = store.board(game, agent)
    rating = board.agent
    wins, draws, losses = board.record
    return {
        "agent": agent,
        "mu": round(rating.mu, 2) if rating else None,
        "sigma": round(rating.sigma, 2) if rating else None,
        "ordinal": round(rating.ordinal, 2) if rating else None,
        "record": {"wins": wins, "draws": draws, "losses": losses},
        "win_ci95": [round(x, 3) for x in board.agent_win_ci],
        "beaten_by": [p.name for p in board.beaten_by[:5]],
    }


def record_duel(result: dict[str, Any], player: str, agent: DuelAgent, winner: str) -> dict[str, Any] | None:
    """Rate a finished human-vs-agent duel under the agent's name (its weights'); the match's id and the agent's
    board after it (None: no store). The detail names the weights, so a replay is re-simulated only with them."""
    store = rating_store()
    if store is None:
        return None
    outcome = {"human": "win", "agent": "loss", "draw": "draw"}[winner]  # the person's point of view
    score = f"{result['score']['human']}-{result['score']['agent']}"
    seat = 1  # the person's seat: second_0, the left paddle (seats[1] of the catalog's pong-duel)
    detail = {
        **result["detail"],
        "fps": result["fps"],
        "seats": {"human": "second_0", "agent": "first_0"},
        "agent": {"name": agent.name, "sha256": agent.sha256, "bundle": agent.source},
    }
    name = agent.name
    record = store.record_match(result["game"], name, player, seat, outcome, result["seed"], detail, score=score)
    return {"match_id": record.id, "board": agent_board(result["game"], name)}


class Stalled(Exception):
    """The client took no message for ``send_seconds``: it stopped reading."""


async def send_json(ws: WebSocket, msg: dict[str, Any], seconds: float) -> None:
    # a client that stops reading fills the TCP window and then the server's buffer; from then on a send
    # waits for ever (the idle timeout guards only receive), so every send has its own deadline
    try:
        await asyncio.wait_for(ws.send_text(protocol.encode(msg)), seconds)
    except TimeoutError:
        raise Stalled from None


async def close_socket(ws: WebSocket, code: int, seconds: float) -> None:
    # the close frame queues behind unread data like any message
    with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError):
        await asyncio.wait_for(ws.close(code=code), seconds)


async def serve(ws: WebSocket, server: PlayServer) -> None:
    """One play socket, from accept to close; its game is freed however it ends."""
    limits = server.limits
    await ws.accept()
    if not server.slots.acquire():
        with contextlib.suppress(Stalled, WebSocketDisconnect):
            await send_json(ws, protocol.busy(limits.max_games), limits.send_seconds)
        await close_socket(ws, 1013, limits.send_seconds)
        return
    session = Session(server)
    try:
        while True:
            try:
                message = await asyncio.wait_for(ws.receive(), limits.idle_seconds)
            except TimeoutError:
                await send_json(
                    ws, protocol.closed(f"idle for {limits.idle_seconds:g} s: game closed"), limits.send_seconds
                )
                await close_socket(ws, 1000, limits.send_seconds)
                return
            if message["type"] == "websocket.disconnect":
                return
            # env stepping and the policy are CPU work: off the event loop that also serves Streamlit
            replies = await asyncio.to_thread(session.handle, message.get("text"))
            for reply in replies:
                await send_json(ws, reply, limits.send_seconds)
    except Stalled:
        log.info("play socket dropped and its game freed: its client took no message for %g s", limits.send_seconds)
    except WebSocketDisconnect:
        pass
    finally:
        # synchronously: the task may be cancelled (server shutdown), and in a cancelled scope every await
        # raises at once, so an awaited close would never run; closing envs takes milliseconds
        try:
            session.close()
        finally:
            server.slots.release()


def play_route(server: Callable[[], PlayServer]) -> WebSocketRoute:
    """The ``/api/play`` route; ``server`` returns the PlayServer the app's lifespan made."""

    async def endpoint(ws: WebSocket) -> None:
        await serve(ws, server())

    return WebSocketRoute(protocol.PATH, endpoint)
