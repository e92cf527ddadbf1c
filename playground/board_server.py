"""The head-to-head board: a person against the Connect Four agent, turn by turn, over ``/api/board``.

The browser (``playground/board_component.js``, on the Head to head page ``views/duel.py``) sends the
person's move; the server checks it (size, type, turn, column), drops the stone on its own board, lets the
agent answer (``ConnectFourAgent.decide``: masked, so never an illegal column) and sends both moves back
with what the agent thought (its move probabilities over the seven columns and V(s)). When the game ends
the server records it in the ratings store (``playground.store.ratings``) from the moves it applied itself,
never from a result the browser claims, and both OpenSkill ratings move. docs/head-to-head.md describes the
messages, the limits and the records.

Messages from the browser (JSON text, at most :data:`MAX_MESSAGE` characters):

- ``{"type": "start", "game": "connect-four", "seat": 0 | 1, "player": "name"}``: a new game (seat 0 moves
  first); the reply is ``ready`` (with the agent's first move when the person moves second);
- ``{"type": "move", "column": 0..6, "ply": n}``: drop in ``column``; ``ply`` is the number of stones on the
  board as the browser sees it, so a second click sent before the answer (or a replayed message) is refused
  as out of turn instead of being played. The reply is ``moved`` (the person's stone, the agent's answer) and,
  when the game is over, ``end``.

Every refused message gets ``{"type": "error", "code": …, "message": …}`` and changes nothing: the game goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from agents.common.settings import models_dir
from agents.selfplay.agent import ConnectFourAgent, Decision
from agents.selfplay.board import COLS, ROWS, Board
from envs import PlaygroundError
from playground.leaderboard import clean_player
from playground.play_server import RateWindow, Slots, Stalled, close_socket, rating_store, send_json

log = logging.getLogger(__name__)

PATH = "/api/board"
GAME = "connect-four"
GAMES = (GAME,)
"""the turn-based games this route hosts"""
MAX_MESSAGE = 512
"""characters in one message from the browser; a move is about 40"""
TYPES = ("start", "move")
MATCH_FORMAT = "connect-four-match/1"
MAX_AGENT_BYTES = 64 * 2**20
"""an agent's weights file larger than this is refused before it is read (the shipped one is under 1 MB)"""
"""the layout of a recorded match's ``detail`` (its replay)"""


class BoardError(Exception):
    """A message the server refuses: it becomes an ``error`` reply and changes nothing."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


# --- what the browser may send, checked once here ------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """A new game; ``seat`` 0 moves first."""

    game: str
    seat: int
    player: str


@dataclass(frozen=True)
class Move:
    """The person drops a stone in ``column`` (0..6) when ``ply`` stones are on the board."""

    column: int
    ply: int


def _small_int(msg: dict[str, Any], key: str, low: int, high: int, code: str, what: str) -> int:
    value = msg.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BoardError(code, f'"{key}" is {what} ({low} to {high}); got {str(value)[:40]!r}')
    return value


def parse(text: str | None) -> Start | Move:
    """A browser's message, validated; ``None`` stands for a binary frame."""
    if text is None:
        raise BoardError("bad_message", "send JSON text messages")
    if len(text) > MAX_MESSAGE:
        raise BoardError("too_large", f"messages are at most {MAX_MESSAGE} characters; this one has {len(text)}")
    try:
        msg = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise BoardError("bad_json", "the message is not valid JSON") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise BoardError("bad_message", 'a message is a JSON object with a "type"')
    kind = msg["type"]
    if kind == "start":
        game = msg.get("game", GAME)
        if game not in GAMES:
            raise BoardError("unknown_game", f"unknown game {str(game)[:40]!r}; board games: {', '.join(GAMES)}")
        seat = _small_int(msg, "seat", 0, 1, "bad_seat", "your seat: 0 to move first, 1 to move second")
        player = msg.get("player")
        if player is not None and not isinstance(player, str):
            raise BoardError("bad_player", '"player" is your name, as text')
        return Start(game, seat, clean_player(player))
    if kind == "move":
        column = _small_int(msg, "column", 0, COLS - 1, "bad_column", "the column, counted from 0 at the left")
        ply = _small_int(msg, "ply", 0, ROWS * COLS, "bad_ply", "the number of stones on the board before your move")
        return Move(column, ply)
    raise BoardError("unknown_type", f"unknown message type {kind[:40]!r}; types: {', '.join(TYPES)}")


def _error(exc: BoardError) -> dict[str, Any]:
    return {"type": "error", "code": exc.code, "message": exc.message}


# --- the agent ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedAgent:
    """The agent the board plays, and the name its rating is kept under (changes when its weights do)."""

    agent: ConnectFourAgent
    name: str
    sha256: str
    path: Path


def shipped_agent_path(folder: Path | None = None) -> Path | None:
    """The shipped Connect Four agent: ``agent.json`` under ``models/connect-four`` (the shallowest one), or None."""
    root = (folder or models_dir()) / GAME
    if not root.is_dir():
        return None
    found = sorted(root.rglob("agent.json"), key=lambda p: (len(p.parts), str(p)))
    return found[0] if found else None


class AgentCache:
    """Loads the agent once per set of weights: a file replaced on disk is loaded again (its sha256 changes)."""

    def __init__(self, locate: Callable[[], Path | None] = shipped_agent_path):
        self.locate = locate
        self._entry: tuple[tuple[Path, str, str], LoadedAgent] | None = None
        self._lock = threading.Lock()

    def get(self) -> LoadedAgent | None:
        """The agent, or None when none is shipped; PlaygroundError (one line) when its files are unusable."""
        path = self.locate()
        if path is None:
            return None
        weights = path.with_suffix(".safetensors")
        try:
            if weights.stat().st_size > MAX_AGENT_BYTES:
                raise PlaygroundError(f"{weights} is larger than {MAX_AGENT_BYTES} bytes: not a Connect Four agent")
            # hashed on every game's start (about 1 ms): a file replaced within the same clock tick is seen too
            sha = hashlib.sha256(weights.read_bytes()).hexdigest()
            key = (path, sha, hashlib.sha256(path.read_bytes()[:MAX_AGENT_BYTES]).hexdigest())
        except OSError as exc:
            raise PlaygroundError(f"the Connect Four agent's files cannot be read: {exc}") from None
        with self._lock:
            if self._entry is None or self._entry[0] != key:
                agent = ConnectFourAgent.load(path)
                self._entry = (key, LoadedAgent(agent, f"{GAME}@{sha[:12]}", sha, path))
            return self._entry[1]


# --- the server and one socket's game -------------------------------------------------------------------


@dataclass(frozen=True)
class BoardLimits:
    """What one board server allows. People think between moves, so sockets live longer than on /api/play."""

    max_games: int = 32
    """sockets open at once; one more is told ``busy``"""
    idle_seconds: float = 900.0
    """a socket that sends nothing for this long is closed"""
    send_seconds: float = 10.0
    """a socket whose client takes no message for this long is closed"""
    results_per_socket: int = 100
    """finished games one socket records; later ones play unrated"""
    results_per_minute: int = 10
    """finished games one socket records in any 60 s (a game against the agent takes longer than 6 s)"""


class BoardServer:
    """What every board socket shares: the limits, the slots, the agent, the ratings store, the results budget."""

    def __init__(
        self,
        limits: BoardLimits | None = None,
        agents: AgentCache | None = None,
        store: Callable[[], Any] = rating_store,
    ):
        self.limits = limits or BoardLimits()
        self.slots = Slots(self.limits.max_games)
        self.agents = agents or AgentCache()
        self.store = store
        self.results = RateWindow(self.limits.max_games * self.limits.results_per_minute)


def winning_line(board: Board) -> list[list[int]]:
    """The cells ``[row, column]`` (row 0 at the top) of the winner's four in a row; empty without a winner."""
    if board.winner < 0:
        return []
    assert board.grid is not None
    g, stone = board.grid, board.winner + 1
    for r in range(ROWS):
        for c in range(COLS):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(r + i * dr, c + i * dc) for i in range(4)]
                if all(0 <= y < ROWS and 0 <= x < COLS and g[y, x] == stone for y, x in cells):
                    return [[y, x] for y, x in cells]
    return []


def _thinks(d: Decision, ms: float) -> dict[str, Any]:
    return {
        "column": d.column,
        "probabilities": [round(p, 4) for p in d.probabilities],
        "value": round(d.value, 4),
        "ms": round(ms, 2),
    }


@dataclass
class Game:
    """One game in progress, exactly as the server played it."""

    agent: LoadedAgent
    seat: int
    """the person's: 0 moves first"""
    player: str
    seed: int
    board: Board = field(default_factory=Board)
    moves: list[int] = field(default_factory=list)
    thinks: list[dict[str, Any]] = field(default_factory=list)
    """what the agent thought at each of its moves"""
    started_at: float = field(default_factory=time.time)

    def play(self, column: int) -> None:
        self.board.play(column)
        self.moves.append(column)

    def agent_move(self) -> dict[str, Any]:
        """The agent's answer (masked, deterministic: its most probable legal column), played on the board."""
        t0 = time.perf_counter()
        decision = self.agent.agent.decide(self.board)
        thinks = _thinks(decision, (time.perf_counter() - t0) * 1000)
        self.play(decision.column)  # legal by construction; Board.play would raise otherwise
        self.thinks.append(thinks)
        return thinks

    @property
    def outcome(self) -> str | None:
        """The person's: ``win``, ``draw`` or ``loss``; None while the game goes on."""
        if not self.board.over:
            return None
        if self.board.winner < 0:
            return "draw"
        return "win" if self.board.winner == self.seat else "loss"

    def state(self) -> dict[str, Any]:
        assert self.board.grid is not None
        return {
            "moves": list(self.moves),
            "grid": self.board.grid.tolist(),
            "to_move": self.board.to_move,
            "legal": [bool(x) for x in self.board.legal_mask()],
            "over": self.board.over,
        }

    def detail(self) -> dict[str, Any]:
        """The replay kept with the match: the seed and both sides' moves, and what the agent thought."""
        return {
            "format": MATCH_FORMAT,
            "moves": list(self.moves),
            "person_seat": self.seat,
            "seats": {"person": f"player_{self.seat}", "agent": f"player_{1 - self.seat}"},
            "agent": {"name": self.agent.name, "sha256": self.agent.sha256, "deterministic": True},
            "agent_thinks": list(self.thinks),
            "started_at": self.started_at,
        }


class Session:
    """One socket's games: the game in progress and what the socket has recorded."""

    def __init__(self, server: BoardServer):
        self.server = server
        self.game: Game | None = None
        self.recorded = 0
        self.recent = RateWindow(server.limits.results_per_minute)

    def handle(self, text: str | None) -> list[dict[str, Any]]:
        """The replies to one message; a refused message changes nothing."""
        try:
            msg = parse(text)
            return [self.start(msg)] if isinstance(msg, Start) else self.move(msg)
        except BoardError as exc:
            return [_error(exc)]
        except Exception as exc:  # a bug must not take the server or the other players down
            log.exception("board message failed")
            return [_error(BoardError("internal", f"{type(exc).__name__}: {exc}"))]

    def start(self, msg: Start) -> dict[str, Any]:
        try:
            agent = self.server.agents.get()
        except PlaygroundError as exc:
            raise BoardError("no_agent", f"the Connect Four agent cannot be used: {exc}") from None
        if agent is None:
            raise BoardError("no_agent", "no Connect Four agent is shipped on this server yet")
        game = Game(agent, msg.seat, msg.player, secrets.randbelow(2**31))
        first = game.agent_move() if msg.seat == 1 else None
        self.game = game
        return {
            "type": "ready",
            "game": msg.game,
            "seat": msg.seat,
            "player": msg.player,
            "agent": agent.name,
            "seed": game.seed,
            "agent_move": first,
            **game.state(),
        }

    def move(self, msg: Move) -> list[dict[str, Any]]:
        game = self.game
        if game is None:
            raise BoardError("not_started", 'send {"type": "start", "seat": 0 or 1} first')
        board = game.board
        if board.over:
            raise BoardError("game_over", 'the game is over: send {"type": "start", …} for a new one')
        if msg.ply != board.moves or board.to_move != game.seat:
            raise BoardError(
                "out_of_turn",
                f"out of turn: your move comes when {board.moves} stones are on the board (you sent ply {msg.ply}); "
                "wait for the agent's answer",
            )
        if not board.can_play(msg.column):
            raise BoardError(
                "column_full", f"column {msg.column + 1} is full: choose another column (the game goes on)"
            )
        game.play(msg.column)
        reply: dict[str, Any] = {"type": "moved", "person_move": msg.column, "agent_move": None}
        if not board.over:
            reply["agent_move"] = game.agent_move()
        reply.update(game.state())
        out = [reply]
        if board.over:
            out.append(self._end(game))
        return out

    def _end(self, game: Game) -> dict[str, Any]:
        outcome = game.outcome
        assert outcome is not None
        msg: dict[str, Any] = {
            "type": "end",
            "outcome": outcome,
            "line": winning_line(game.board),
            "moves": list(game.moves),
            "match_id": None,
        }
        refused = self._refuse_record()
        if refused:
            msg["note"] = refused
            return msg
        try:
            msg.update(record(self.server.store(), game))
        except PlaygroundError as exc:
            msg["note"] = f"Not rated: the ratings store cannot be used ({exc})."
        except Exception as exc:  # the moves are applied: the game must still end on the page, unrated
            log.exception("recording a board game failed")
            msg["note"] = f"Not rated: recording the game failed ({type(exc).__name__})."
        return msg

    def _refuse_record(self) -> str | None:
        """Why this game may not be recorded, or None (and it is counted)."""
        limits = self.server.limits
        if self.recorded >= limits.results_per_socket:
            return f"Not rated: one connection records at most {limits.results_per_socket} games; reload the page."
        if not self.recent.available():
            return f"Not rated: one connection records at most {limits.results_per_minute} games a minute."
        if not self.server.results.take():
            return "Not rated: the server has recorded as many games as it takes this minute; try again shortly."
        self.recent.take()
        self.recorded += 1
        return None


def _rating(r: Any) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"mu": round(r.mu, 3), "sigma": round(r.sigma, 3), "ordinal": round(r.ordinal, 3), "games": r.games}


def record(store: Any, game: Game) -> dict[str, Any]:
    """Record a finished game (from the server's own moves) and return the match id and the ratings before and
    after, as the ``end`` message carries them."""
    name, person = game.agent.name, game.player

    def ratings() -> dict[str, Any]:
        return {
            "agent": _rating(store.rating(GAME, name, "agent")),
            "person": _rating(store.rating(GAME, person, "person")),
        }

    before = ratings()
    outcome = game.outcome
    assert outcome is not None
    score = {"win": "1-0", "draw": "½-½", "loss": "0-1"}[outcome]
    m = store.record_match(GAME, name, person, game.seat, outcome, game.seed, game.detail(), score=score)
    after = ratings()
    board = store.board(GAME, name, limit=5)
    wins, draws, losses = board.record
    return {
        "match_id": m.id,
        "ratings": {"before": before, "after": after},
        "record": {"wins": wins, "draws": draws, "losses": losses},
        "win_ci95": [round(x, 3) for x in board.agent_win_ci],
    }


# --- the socket -----------------------------------------------------------------------------------------


async def serve(ws: WebSocket, server: BoardServer) -> None:
    """One board socket, from accept to close."""
    limits = server.limits
    await ws.accept()
    if not server.slots.acquire():
        with contextlib.suppress(Stalled, WebSocketDisconnect):
            msg = {"type": "busy", "message": f"all {limits.max_games} board slots are in use; try again shortly"}
            await send_json(ws, msg, limits.send_seconds)
        await close_socket(ws, 1013, limits.send_seconds)
        return
    session = Session(server)
    try:
        while True:
            try:
                message = await asyncio.wait_for(ws.receive(), limits.idle_seconds)
            except TimeoutError:
                closed = {"type": "closed", "message": f"idle for {limits.idle_seconds:g} s: game closed"}
                await send_json(ws, closed, limits.send_seconds)
                await close_socket(ws, 1000, limits.send_seconds)
                return
            if message["type"] == "websocket.disconnect":
                return
            # the agent and the database are blocking work: off the event loop that also serves Streamlit
            replies = await asyncio.to_thread(session.handle, message.get("text"))
            for reply in replies:
                await send_json(ws, reply, limits.send_seconds)
    except Stalled:
        log.info("board socket dropped: its client took no message for %g s", limits.send_seconds)
    except WebSocketDisconnect:
        pass
    finally:
        server.slots.release()


def board_route(server: Callable[[], BoardServer]) -> WebSocketRoute:
    """The ``/api/board`` route; ``server`` returns the BoardServer the app's lifespan made."""

    async def endpoint(ws: WebSocket) -> None:
        await serve(ws, server())

    return WebSocketRoute(PATH, endpoint)


# --- replays: a recorded match re-simulated from its seed and both sides' moves -------------------------


@dataclass(frozen=True)
class ReplayCheck:
    """What re-simulating a recorded match showed; ``summary`` is one line (numbers and hashes only)."""

    ok: bool
    summary: str
    frames: tuple[bytes, ...] = ()
    """JPEG frames of the re-simulated match, when asked for (Pong: every ``frame_every``-th frame)"""


def resimulate(match: Any, agents: AgentCache | None = None) -> ReplayCheck:
    """Replay a recorded Connect Four match from its moves: every move legal, the game over exactly at the last
    one, the recorded outcome the board's; and, when the agent that played is still the shipped one (same
    weights), each of its moves what it plays in that position now. ValueError when the record is malformed."""
    from agents.selfplay.agent import MAX_MOVES

    detail = match.detail
    moves, seat = detail.get("moves"), detail.get("person_seat")
    if not isinstance(moves, list) or not 0 < len(moves) <= MAX_MOVES or seat not in (0, 1):
        raise ValueError("the record has no moves list of 1 to 42 columns and person seat 0 or 1")
    board = Board()
    for i, col in enumerate(moves):
        if board.over:
            raise ValueError(f"the game was already over before move {i + 1}")
        if isinstance(col, bool) or not isinstance(col, int) or not board.can_play(col):
            raise ValueError(f"move {i + 1} ({str(col)[:10]}) is not a legal column there")
        board.play(col)
    if not board.over:
        return ReplayCheck(False, f"The {len(moves)} recorded moves do not finish the game: the record is incomplete.")
    outcome = "draw" if board.winner < 0 else "win" if board.winner == seat else "loss"
    if outcome != match.outcome:
        return ReplayCheck(False, f"The moves give a {outcome} for the person, but the record says {match.outcome}.")
    line = f"Re-simulated: {len(moves)} legal moves, ending in a {outcome} for the person as recorded."
    recorded = detail.get("agent") if isinstance(detail.get("agent"), dict) else {}
    try:
        current = (agents or AgentCache()).get()
    except PlaygroundError:
        current = None
    if current is None or current.sha256 != recorded.get("sha256"):
        return ReplayCheck(
            True, line + " The agent that played is not the one shipped now: its moves are not re-derived."
        )
    replay = Board()
    differ = []
    for i, col in enumerate(moves):
        if i % 2 != seat and current.agent.decide(replay).column != col:
            differ.append(i + 1)
        replay.play(col)
    if differ:
        return ReplayCheck(False, line + f" But the agent now plays differently at moves {differ[:5]}.")
    n = sum(1 for i in range(len(moves)) if i % 2 != seat)
    return ReplayCheck(True, line + f" The agent (same weights) plays each of its {n} moves again.")


LEGACY_PONG_DUEL_AGENT = "pong"
"""the name two-player Pong's matches were rated under before the name followed the weights (models/pong's agent)"""


def resimulate_pong(match: Any, frame_every: int = 0) -> ReplayCheck:
    """Replay a recorded two-player Pong match from its seed and the person's action on every frame with the
    agent the duel plays now (``play_server.duel_agent``; ``agents.play.pong_duel.PongDuel``, the loop of its
    ``replay``): the agent's actions and the score must come out the same. A match recorded with other weights
    (its detail's ``agent.sha256``) is not re-derived; one rated as ``pong`` before names followed the weights is
    re-simulated with models/pong's agent, which played them all. ``frame_every`` > 0 also keeps every so many frames as
    JPEG, for a video. Exceptions from a malformed record or a broken bundle propagate (the page shows them in
    one line)."""
    from playground.play_server import PolicyCache

    detail = match.detail
    cache = PolicyCache()
    if match.agent == LEGACY_PONG_DUEL_AGENT and "agent" not in detail:
        policy = cache.get("pong")  # rated before agents were named by their weights: models/pong played them all
        if policy is None:
            return ReplayCheck(False, "No Pong agent is shipped here, so the match cannot be re-simulated.")
        return _resimulate_pong(match, policy, frame_every)
    found = cache.duel("pong-duel")
    if found is None:
        return ReplayCheck(False, "No Pong agent is shipped here, so the match cannot be re-simulated.")
    current, policy = found
    recorded = detail.get("agent") if isinstance(detail.get("agent"), dict) else {}
    if recorded.get("sha256") != current.sha256:
        return ReplayCheck(
            False,
            f"The agent that played ({str(recorded.get('name'))[:40]}) is not the one shipped now "
            f"({current.name}, {current.source}): its actions cannot be re-derived, so the match is not re-simulated.",
        )
    return _resimulate_pong(match, policy, frame_every)


def _resimulate_pong(match: Any, policy: Any, frame_every: int) -> ReplayCheck:
    from agents.media.watch import jpeg_frame
    from agents.play.pong_duel import MAX_FRAMES, PongDuel, unrle
    from envs.catalog import TWO_PLAYER_GAMES

    detail = match.detail
    person = unrle(str(detail.get("person_actions", "")), MAX_FRAMES)
    spec = TWO_PLAYER_GAMES["pong-duel"]
    duel = PongDuel(policy, int(match.seed), frame_stack=spec.frame_stack)
    frames: list[bytes] = []
    try:
        for i, action in enumerate(person):  # agents.play.pong_duel.replay, keeping frames on the way
            if duel.done:
                break
            duel.step(action)
            if frame_every > 0 and i % frame_every == 0:
                frames.append(jpeg_frame(duel.screen))
        result = duel.result()
    finally:
        duel.close()
    score = detail.get("score") if isinstance(detail.get("score"), dict) else {}
    same_actions = result.agent_actions == detail.get("agent_actions")
    same_score = (result.person_points, result.agent_points) == (score.get("person"), score.get("agent"))
    line = (
        f"Re-simulated {result.frames} frames: {result.person_points}–{result.agent_points} (person–agent); "
        f"recorded {score.get('person')}–{score.get('agent')}."
    )
    if same_actions and same_score:
        return ReplayCheck(True, line + " The agent's actions come out the same, frame for frame.", tuple(frames))
    return ReplayCheck(False, line + f" The agent's actions {'match' if same_actions else 'differ'}.", tuple(frames))


__all__ = ["PATH", "BoardServer", "ReplayCheck", "board_route", "resimulate", "resimulate_pong"]
