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
from agents.common import settings
from agents.play.match import Match
from agents.policy.network import LoadedPolicy
from envs import PlaygroundError, get_spec
from playground import leaderboard, protocol
from playground.protocol import ProtocolError, Reset, Start, Step

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
    """The shipped agents' policies, loaded once per set of weights.

    Every start opens the shipped bundle (checksums verified, a few ms), so a bundle replaced or tampered
    with on disk is seen at once; the policy is reloaded only when its weights' sha256, ``policy_id``, changes.
    """

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[str, LoadedPolicy]] = {}
        self._lock = threading.Lock()

    def get(self, slug: str) -> LoadedPolicy | None:
        """The game's shipped policy, or None when it has no agent; raises PlaygroundError for a broken one."""
        bundle = Bundle.shipped(slug)
        if bundle is None:
            return None
        with self._lock:  # one load per bundle even when several sockets start it at once
            cached = self._entries.get(bundle.path)
            if cached is None or cached[0] != bundle.policy_id:
                import torch

                torch.set_num_threads(1)  # many small forward passes from many sockets: one thread each
                cached = self._entries[bundle.path] = (bundle.policy_id, bundle.policy())
            return cached[1]


class PlayServer:
    """What every play socket shares: the limits, the slots, the policies and the results budget."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.slots = Slots(limits.max_games)
        self.policies = PolicyCache()
        # over all sockets, so reconnecting does not lift a socket's per-minute limit
        self.results = RateWindow(limits.max_games * limits.results_per_minute)


class Session:
    """One socket's game: its match, the expected sequence number, the player, what it has recorded."""

    def __init__(self, server: PlayServer):
        self.server = server
        self.match: Match | None = None
        self.expected_seq = 1
        self.player = "anonymous"
        self.ended = False
        self.recorded = 0
        self.recent = RateWindow(server.limits.results_per_minute)

    def handle(self, text: str | None) -> list[dict[str, Any]]:
        """The replies to one message (``None``: a binary one); an invalid message changes nothing."""
        try:
            msg = protocol.parse(text)
            if isinstance(msg, Start):
                return [self.start(msg)]
            if isinstance(msg, Step):
                return self.step(msg)
            return [self.reset(msg)]
        except ProtocolError as exc:
            return [protocol.error(exc)]
        except Exception as exc:  # a bug must not take the server or other players down
            log.exception("play message failed")
            return [protocol.error(ProtocolError("internal", f"{type(exc).__name__}: {exc}"))]

    def start(self, msg: Start) -> dict[str, Any]:
        spec = get_spec(msg.game)
        policy = None
        if msg.mode != "solo":
            try:
                policy = self.server.policies.get(spec.slug)
            except PlaygroundError as exc:
                raise ProtocolError("no_agent", f"the {spec.name} agent cannot be used: {exc}") from None
            if policy is None:
                raise ProtocolError("no_agent", f"{spec.name} has no trained agent yet, so only Solo can be played")
        try:
            match = Match(spec, msg.mode, msg.seed, policy)
        except PlaygroundError as exc:
            raise ProtocolError("game_unavailable", str(exc)) from None
        self.close()
        self.match, self.expected_seq, self.ended, self.player = match, 1, False, msg.player
        return protocol.ready(spec, msg.mode, msg.seed, match.state(), match.frames())

    def step(self, msg: Step) -> list[dict[str, Any]]:
        match = self._started()
        if msg.seq != self.expected_seq:
            raise ProtocolError("bad_seq", f"out-of-order step: expected seq {self.expected_seq}, got {msg.seq}")
        if match.done:
            raise ProtocolError("episode_over", 'the episode is over: send {"type": "reset", "seed": …}')
        keys = protocol.check_keys(msg.keys, match.spec)
        self.expected_seq += 1
        state = match.step(list(keys))
        out = [protocol.frame(msg.seq, state, match.frames())]
        if match.done and not self.ended:
            out.append(self._end(match))
        return out

    def reset(self, msg: Reset) -> dict[str, Any]:
        match = self._started()
        seed = match.seed if msg.seed is None else msg.seed
        match.reset(seed)
        self.expected_seq, self.ended = 1, False
        return protocol.ready(match.spec, match.mode, seed, match.state(), match.frames())

    def _started(self) -> Match:
        if self.match is None:
            raise ProtocolError("not_started", 'send {"type": "start", ...} first')
        return self.match

    def _end(self, match: Match) -> dict[str, Any]:
        self.ended = True
        result = match.result()
        winner = leaderboard.winner(result)
        if result["mode"] == "watch":
            return protocol.end(result, None, winner)
        refused = self._refuse_record()
        if refused:
            return protocol.end(result, None, winner, refused)
        return protocol.end(result, leaderboard.record(result, self.player), winner)

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


class _Stalled(Exception):
    """The client took no message for ``send_seconds``: it stopped reading."""


async def _send(ws: WebSocket, msg: dict[str, Any], seconds: float) -> None:
    # a client that stops reading fills the TCP window and then the server's buffer; from then on a send
    # waits for ever (the idle timeout guards only receive), so every send has its own deadline
    try:
        await asyncio.wait_for(ws.send_text(protocol.encode(msg)), seconds)
    except TimeoutError:
        raise _Stalled from None


async def _close(ws: WebSocket, code: int, seconds: float) -> None:
    # the close frame queues behind unread data like any message
    with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError):
        await asyncio.wait_for(ws.close(code=code), seconds)


async def serve(ws: WebSocket, server: PlayServer) -> None:
    """One play socket, from accept to close; its game is freed however it ends."""
    limits = server.limits
    await ws.accept()
    if not server.slots.acquire():
        with contextlib.suppress(_Stalled, WebSocketDisconnect):
            await _send(ws, protocol.busy(limits.max_games), limits.send_seconds)
        await _close(ws, 1013, limits.send_seconds)
        return
    session = Session(server)
    try:
        while True:
            try:
                message = await asyncio.wait_for(ws.receive(), limits.idle_seconds)
            except TimeoutError:
                await _send(
                    ws, protocol.closed(f"idle for {limits.idle_seconds:g} s: game closed"), limits.send_seconds
                )
                await _close(ws, 1000, limits.send_seconds)
                return
            if message["type"] == "websocket.disconnect":
                return
            # env stepping and the policy are CPU work: off the event loop that also serves Streamlit
            replies = await asyncio.to_thread(session.handle, message.get("text"))
            for reply in replies:
                await _send(ws, reply, limits.send_seconds)
    except _Stalled:
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
