"""The play page's real-time channel: a WebSocket at ``/api/play`` on the app's own port (``st.App`` routes).

Why not Streamlit reruns: one rerun per step reached 14 steps/s with ~110 ms key-to-frame. Here the
browser's component (``playground/play_component.js``) keeps the held keys and sends one ``step`` per
tick; the server steps the person's env and the agent's env in lockstep and answers with both frames.
Streamlit reruns only when an episode ends (the scoreboard).

Protocol (JSON text messages)::

    → {"type": "start", "game": "lunarlander", "mode": "versus"|"solo"|"watch", "seed": 7, "player": "ada"}
    ← {"type": "ready", "game", "mode", "seed", "fps", "keys": [...], "state": {...}, "frames": {...}}
    → {"type": "step", "seq": 1, "keys": ["ArrowUp"]}          seq counts 1, 2, 3… from each start/reset
    ← {"type": "frame", "seq": 1, "state": {"human": {...}, "agent": {...}, "done": false}, "frames": {...}}
    ← {"type": "end", "result_id": 12, "result": {...}, "winner": "human"|"agent"|"draw"|null}   after the last frame
    → {"type": "reset", "seed": 8}                               restart (same seed) or new seed
    ← {"type": "error", "code": "...", "message": "..."}         the game state is unchanged
    ← {"type": "busy", "message": "..."}                         then the socket closes (code 1013)

Frames are base64 JPEG. Each socket owns its envs and closes them on disconnect, on an idle timeout
(``PLAYGROUND_IDLE_SECONDS``, default 120) or at server shutdown; at most ``PLAYGROUND_MAX_GAMES``
(default 8) sockets play at once. Invalid messages get an ``error`` and never end the game or touch
other players. The agent is loaded with the bundle's safe loader (safetensors + JSON).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
from pathlib import Path
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from agents.common import settings
from envs import GAMES, PlaygroundError, get_spec

PATH = "/api/play"
MAX_MESSAGE = 4096
MAX_KEYS = 8
MAX_SEED = 2**31 - 1
FPS_CAP = 60


def max_games() -> int:
    return settings.max_games()


def idle_seconds() -> float:
    return settings.idle_seconds()


class _Slots:
    """How many sockets are playing; over the cap the next one is told 'busy'."""

    def __init__(self):
        self._lock = threading.Lock()
        self.active = 0

    def acquire(self) -> bool:
        with self._lock:
            if self.active >= max_games():
                return False
            self.active += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.active -= 1


SLOTS = _Slots()
_policies: dict[tuple[str, str], Any] = {}
_policy_lock = threading.Lock()


def _models() -> Path:
    from agents.common.settings import models_dir

    return models_dir()


def agent_policy(slug: str):
    """The bundled agent's policy (safe loader, checksums verified once per process), or None."""
    from agents.bundle.bundle import Bundle

    models = _models()
    key = (str(models), slug)
    with _policy_lock:
        if key not in _policies:
            path = models / slug
            if not (path / "evidence" / "manifest.json").exists():
                _policies[key] = None
            else:
                import torch

                torch.set_num_threads(1)  # many small forward passes from many sockets: one thread each
                _policies[key] = Bundle.open(path).policy()
        return _policies[key]


class ProtocolError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _b64(frames: dict[str, bytes]) -> dict[str, str]:
    return {k: base64.b64encode(v).decode("ascii") for k, v in frames.items()}


def _seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ProtocolError("bad_seed", f"seed must be an integer from 0 to {MAX_SEED}, got {value!r}")
    return value


def parse(text: str) -> dict[str, Any]:
    if len(text) > MAX_MESSAGE:
        raise ProtocolError("too_large", f"messages are at most {MAX_MESSAGE} characters")
    try:
        msg = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ProtocolError("bad_json", "the message is not valid JSON") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("bad_message", 'a message is a JSON object with a "type"')
    return msg


class Game:
    """One socket's state: its match, the expected sequence number, the player's name."""

    def __init__(self):
        self.match = None
        self.expected_seq = 1
        self.player = "anonymous"
        self.recorded = False

    def start(self, msg: dict[str, Any]) -> dict[str, Any]:
        from agents.play.match import MODES, Match
        from playground.leaderboard import clean_player

        game = msg.get("game")
        if not isinstance(game, str) or game not in GAMES:
            raise ProtocolError("unknown_game", f"unknown game {game!r}; games: {', '.join(GAMES)}")
        mode = msg.get("mode", "versus")
        if mode not in MODES:
            raise ProtocolError("bad_mode", f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
        seed = _seed(msg.get("seed", 0))
        spec = get_spec(game)
        try:
            policy = agent_policy(game) if mode != "solo" else None
        except PlaygroundError as exc:
            raise ProtocolError("no_agent", f"the {spec.name} agent cannot be used: {exc}") from None
        if mode != "solo" and policy is None:
            raise ProtocolError("no_agent", f"{spec.name} has no trained agent yet, so only Solo can be played")
        try:
            match = Match(spec, mode, seed, policy)
        except PlaygroundError as exc:
            raise ProtocolError("game_unavailable", str(exc)) from None
        self.close()
        self.match, self.expected_seq, self.recorded = match, 1, False
        self.player = clean_player(msg.get("player"))
        return {"type": "ready", "game": game, "mode": mode, "seed": seed,
                "fps": min(spec.render_fps, FPS_CAP), "keys": sorted(spec.keymap.keys()), "legend": spec.keymap.legend(),
                "state": match.state(), "frames": _b64(match.frames())}

    def _keys(self, value: Any) -> list[str]:
        if not isinstance(value, list) or len(value) > MAX_KEYS or not all(isinstance(k, str) for k in value):
            raise ProtocolError("bad_keys", f'"keys" is a list of at most {MAX_KEYS} key names')
        known = self.match.spec.keymap.keys()
        unknown = [k for k in value if k not in known]
        if unknown:
            raise ProtocolError("unknown_action",
                                f"{unknown[0]!r} is not a key of {self.match.spec.name}; keys: {', '.join(sorted(known))}")
        return value

    def step(self, msg: dict[str, Any]) -> list[dict[str, Any]]:
        if self.match is None:
            raise ProtocolError("not_started", 'send {"type": "start", ...} first')
        seq = msg.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or seq != self.expected_seq:
            raise ProtocolError("bad_seq", f"out-of-order step: expected seq {self.expected_seq}, got {seq!r}")
        if self.match.done:
            raise ProtocolError("episode_over", 'the episode is over: send {"type": "reset", "seed": …}')
        keys = self._keys(msg.get("keys", []))
        self.expected_seq += 1
        state = self.match.step(keys)
        out = [{"type": "frame", "seq": seq, "state": state, "frames": _b64(self.match.frames())}]
        if self.match.done and not self.recorded:
            out.append(self._end())
        return out

    def _end(self) -> dict[str, Any]:
        from playground import leaderboard

        result = self.match.result()
        self.recorded = True
        result_id = leaderboard.record(result, self.player) if result["mode"] != "watch" else None
        return {"type": "end", "result_id": result_id, "result": result, "winner": leaderboard.winner(result)}

    def reset(self, msg: dict[str, Any]) -> dict[str, Any]:
        if self.match is None:
            raise ProtocolError("not_started", 'send {"type": "start", ...} first')
        seed = _seed(msg.get("seed", self.match.seed))
        self.match.reset(seed)
        self.expected_seq, self.recorded = 1, False
        return {"type": "ready", "game": self.match.spec.slug, "mode": self.match.mode, "seed": seed,
                "state": self.match.state(), "frames": _b64(self.match.frames())}

    def handle(self, text: str) -> list[dict[str, Any]]:
        msg = parse(text)
        kind = msg["type"]
        if kind == "start":
            return [self.start(msg)]
        if kind == "step":
            return self.step(msg)
        if kind == "reset":
            return [self.reset(msg)]
        raise ProtocolError("unknown_type", f"unknown message type {kind!r}; types: start, step, reset")

    def close(self) -> None:
        if self.match is not None:
            self.match.close()
            self.match = None


async def play_socket(ws: WebSocket) -> None:
    await ws.accept()
    if not SLOTS.acquire():
        await ws.send_json({"type": "busy", "message": f"all {max_games()} game slots are in use; try again shortly"})
        await ws.close(code=1013)
        return
    game = Game()
    try:
        while True:
            try:
                text = await asyncio.wait_for(ws.receive_text(), timeout=idle_seconds())
            except asyncio.TimeoutError:
                await ws.send_json({"type": "closed", "message": f"idle for {idle_seconds():g} s: game closed"})
                await ws.close(code=1000)
                return
            except KeyError:  # a binary frame: receive_text() finds no "text"
                await ws.send_json({"type": "error", "code": "bad_message", "message": "send JSON text messages"})
                continue
            try:
                # env stepping and the policy are CPU work: off the event loop that also serves Streamlit
                replies = await asyncio.to_thread(game.handle, text)
            except ProtocolError as exc:
                replies = [{"type": "error", "code": exc.code, "message": exc.message}]
            except Exception as exc:  # a bug must not take the server or other players down
                replies = [{"type": "error", "code": "internal", "message": f"{type(exc).__name__}: {exc}"}]
            for reply in replies:
                await ws.send_text(json.dumps(reply))
    except WebSocketDisconnect:
        pass
    finally:
        # synchronously: the task may be cancelled (server shutdown), and in a cancelled scope every await
        # raises at once, so an awaited close would never run; closing envs takes milliseconds
        try:
            game.close()
        finally:
            SLOTS.release()


routes = [WebSocketRoute(PATH, play_socket)]
