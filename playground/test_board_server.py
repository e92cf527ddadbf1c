"""The head-to-head board route /api/board: a game through the socket, every refused message answered with a code
while the game goes on (malformed, out of turn, a full column), the agent's moves always legal, a match
recorded only from the moves the server applied, the ratings moving, replays re-simulating; and the pages
(Head to head, the Watch page's matches) through Streamlit's AppTest."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from agents.common.settings import models_dir
from agents.selfplay.board import Board
from agents.selfplay.policy import NumpyPolicy
from playground import board_server
from playground.board_server import PATH, AgentCache, BoardError, BoardLimits, BoardServer, Session, board_route
from playground.store.db import Database, sqlite_url
from playground.store.ratings import RatingStore

MODELS = models_dir()  # the shipped bundles, whatever a test sets PLAYGROUND_MODELS to
LEFTMOST = np.array([60.0, 50, 40, 30, 20, 10, 0], dtype=np.float32)
"""logits of an agent that always plays the leftmost column with room (its moves are known in advance)"""


def save_policy(path: Path, bias: np.ndarray | None = None, seed: int = 0) -> Path:
    """A one-layer policy: random weights, or (``bias``) fixed logits whatever the position. V(s) = 0.25."""
    rng = np.random.default_rng(seed)
    w = np.zeros((7, 84), np.float32) if bias is not None else rng.normal(size=(7, 84)).astype(np.float32)
    b = bias if bias is not None else np.zeros(7, np.float32)
    vf = ((np.zeros((1, 84), np.float32), np.full(1, 0.25, np.float32)),)
    path.parent.mkdir(parents=True, exist_ok=True)
    NumpyPolicy(((w, b),), vf, "ReLU").save(path, {"name": "test"})
    return path.with_suffix(".json")


@pytest.fixture
def store(tmp_path) -> RatingStore:
    db = Database(sqlite_url(tmp_path / "db.sqlite"))
    db.migrate()
    return RatingStore(db)


def make_server(agent_json: Path | None, store: RatingStore | None, **limits) -> BoardServer:
    return BoardServer(BoardLimits(**limits), AgentCache(lambda: agent_json), lambda: store)


def client(server: BoardServer) -> TestClient:
    return TestClient(Starlette(routes=[board_route(lambda: server)]))


@pytest.fixture
def leftmost(tmp_path) -> Path:
    return save_policy(tmp_path / "left" / "agent", LEFTMOST)


@pytest.fixture
def randomish(tmp_path) -> Path:
    return save_policy(tmp_path / "rand" / "agent")


def send(ws, **msg):
    ws.send_text(json.dumps(msg))
    return ws.receive_json()


def test_messages_are_validated_once_with_a_code_each():
    bad = {
        None: "bad_message",
        "x" * 600: "too_large",
        "{": "bad_json",
        "[1]": "bad_message",
        '{"type": 3}': "bad_message",
        '{"type": "end", "outcome": "win"}': "unknown_type",  # a browser cannot claim a result
        '{"type": "start", "game": "chess", "seat": 0}': "unknown_game",
        '{"type": "start", "seat": 2}': "bad_seat",
        '{"type": "start", "seat": true}': "bad_seat",
        '{"type": "start", "seat": 0, "player": ["x"]}': "bad_player",
        '{"type": "move", "column": 7, "ply": 0}': "bad_column",
        '{"type": "move", "column": -1, "ply": 0}': "bad_column",
        '{"type": "move", "column": "3", "ply": 0}': "bad_column",
        '{"type": "move", "column": 1.0, "ply": 0}': "bad_column",
        '{"type": "move", "column": 3}': "bad_ply",
        '{"type": "move", "column": 3, "ply": 43}': "bad_ply",
    }
    for text, code in bad.items():
        with pytest.raises(BoardError) as err:
            board_server.parse(text)
        assert err.value.code == code, text
    assert board_server.parse('{"type": "move", "column": 6, "ply": 0}') == board_server.Move(6, 0)
    start = board_server.parse('{"type": "start", "seat": 1, "player": " ada\\u0000 "}')
    assert start == board_server.Start("connect-four", 1, "ada")


def test_a_move_gets_the_agents_legal_answer_with_what_it_thinks(randomish, store):
    with client(make_server(randomish, store)).websocket_connect(PATH) as ws:
        ready = send(ws, type="start", seat=0, player="ada")
        assert ready["type"] == "ready" and ready["moves"] == [] and ready["agent_move"] is None
        assert ready["agent"].startswith("connect-four@")
        moved = send(ws, type="move", column=3, ply=0)
        assert moved["type"] == "moved" and moved["person_move"] == 3
        thinks = moved["agent_move"]
        assert moved["moves"] == [3, thinks["column"]]
        assert len(thinks["probabilities"]) == 7 and abs(sum(thinks["probabilities"]) - 1) < 1e-3
        assert thinks["column"] == int(np.argmax(thinks["probabilities"]))
        assert -10 < thinks["value"] < 10 and thinks["ms"] >= 0
        grid = np.array(moved["grid"])
        assert grid[5, 3] == 1 and (grid != 0).sum() == 2  # the person's stone (player_0) at the bottom


def test_the_person_may_move_second(leftmost, store):
    with client(make_server(leftmost, store)).websocket_connect(PATH) as ws:
        ready = send(ws, type="start", seat=1)
        assert ready["moves"] == [0] and ready["agent_move"]["column"] == 0 and ready["to_move"] == 1
        moved = send(ws, type="move", column=0, ply=1)
        assert moved["moves"] == [0, 0, 0]


def test_a_full_column_is_refused_and_the_game_goes_on(leftmost, store):
    with client(make_server(leftmost, store)).websocket_connect(PATH) as ws:
        send(ws, type="start", seat=0)
        for ply in (0, 2, 4):  # the agent answers in column 1 too: it fills after six stones
            assert send(ws, type="move", column=0, ply=ply)["type"] == "moved"
        refused = send(ws, type="move", column=0, ply=6)
        assert refused == {
            "type": "error",
            "code": "column_full",
            "message": "column 1 is full: choose another column (the game goes on)",
        }
        moved = send(ws, type="move", column=3, ply=6)
        assert moved["moves"] == [0, 0, 0, 0, 0, 0, 3, 1]  # the agent's leftmost column with room is now 2


def test_out_of_turn_and_malformed_messages_get_coded_errors_and_change_nothing(leftmost, store):
    with client(make_server(leftmost, store)).websocket_connect(PATH) as ws:
        assert send(ws, type="move", column=0, ply=0)["code"] == "not_started"
        send(ws, type="start", seat=0)
        # a double click: two moves sent before the answer, both claiming ply 0; the second is out of turn
        ws.send_text(json.dumps({"type": "move", "column": 2, "ply": 0}))
        ws.send_text(json.dumps({"type": "move", "column": 4, "ply": 0}))
        assert ws.receive_json()["moves"] == [2, 0]
        second = ws.receive_json()
        assert second["code"] == "out_of_turn" and "2 stones" in second["message"]
        for text in ("{oops", json.dumps({"type": "move", "column": 9, "ply": 2}), "z" * 1000):
            ws.send_text(text)
            assert ws.receive_json()["type"] == "error"
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_json()["code"] == "bad_message"
        assert send(ws, type="move", column=5, ply=2)["moves"] == [2, 0, 5, 0]  # the game went on


def play_out(ws, seat: int, pick) -> tuple[dict, dict]:
    """Play a whole game, the person's column chosen by ``pick(legal, ply)``; the last ``moved`` and the ``end``."""
    msg = send(ws, type="start", seat=seat, player="ada")
    while True:
        legal = [c for c in range(7) if msg["legal"][c]]
        msg = send(ws, type="move", column=pick(legal, len(msg["moves"])), ply=len(msg["moves"]))
        assert msg["type"] == "moved", msg
        if msg["over"]:
            return msg, ws.receive_json()


def test_a_finished_game_is_recorded_from_the_servers_moves_and_the_ratings_move(leftmost, store):
    with client(make_server(leftmost, store)).websocket_connect(PATH) as ws:
        # the person stacks column 4 while the agent fills column 1: four in a row for the person
        last, end = play_out(ws, 0, lambda legal, ply: 3)
        assert end["type"] == "end" and end["outcome"] == "win"
        assert end["line"] == [[2, 3], [3, 3], [4, 3], [5, 3]]
        assert end["ratings"]["before"] == {"agent": None, "person": None}
        after = end["ratings"]["after"]
        assert after["person"]["mu"] > 25 > after["agent"]["mu"]
        assert end["record"] == {"wins": 0, "draws": 0, "losses": 1}
        # the game is over: no more moves
        assert send(ws, type="move", column=3, ply=len(last["moves"]))["code"] == "game_over"
        # a second game, lost: the ratings continue from the first
        _, end2 = play_out(ws, 1, lambda legal, ply: legal[-1])
        assert end2["outcome"] == "loss"
        assert end2["ratings"]["before"] == after
        assert end2["ratings"]["after"]["agent"]["mu"] > after["agent"]["mu"]
    recorded = store.matches("connect-four")
    assert [m.outcome for m in recorded] == ["loss", "win"]
    first = recorded[1]
    assert first.id == end["match_id"] and first.player == "ada" and first.seat == 0
    assert first.detail["moves"] == last["moves"] == [3, 0, 3, 0, 3, 0, 3]
    assert first.detail["agent"]["sha256"] and len(first.detail["agent_thinks"]) == 3
    assert store.board("connect-four").record == (1, 0, 1)


def test_an_unfinished_game_is_not_recorded(leftmost, store):
    with client(make_server(leftmost, store)).websocket_connect(PATH) as ws:
        send(ws, type="start", seat=0)
        send(ws, type="move", column=3, ply=0)
        send(ws, type="start", seat=0)  # a new game abandons the old one
        send(ws, type="move", column=3, ply=0)
    assert store.matches("connect-four") == []


def test_results_per_minute_are_limited_and_the_game_still_ends(leftmost, store):
    with client(make_server(leftmost, store, results_per_minute=1)).websocket_connect(PATH) as ws:
        assert play_out(ws, 0, lambda legal, ply: 3)[1]["match_id"] is not None
        _, end = play_out(ws, 0, lambda legal, ply: 3)
        assert end["match_id"] is None and end["outcome"] == "win" and "Not rated" in end["note"]
    assert len(store.matches("connect-four")) == 1


def test_without_an_agent_or_a_store_the_server_says_so(tmp_path, leftmost):
    with client(make_server(None, None)).websocket_connect(PATH) as ws:
        assert send(ws, type="start", seat=0)["code"] == "no_agent"
    broken = tmp_path / "broken" / "agent.json"
    broken.parent.mkdir()
    broken.write_text('{"format": "something else"}')
    (broken.with_suffix(".safetensors")).write_bytes(b"")
    with client(make_server(broken, None)).websocket_connect(PATH) as ws:
        reply = send(ws, type="start", seat=0)
        assert reply["code"] == "no_agent" and "not a connect-four-mlp/1 policy file" in reply["message"]

    def no_store():
        raise board_server.PlaygroundError("cannot open the database sqlite:///x: disk I/O error")

    server = BoardServer(BoardLimits(), AgentCache(lambda: leftmost), no_store)
    with client(server).websocket_connect(PATH) as ws:
        _, end = play_out(ws, 0, lambda legal, ply: 3)
        assert end["match_id"] is None and "disk I/O error" in end["note"]

    class Failing:
        def rating(self, *args):
            raise RuntimeError("a bug in the store")

    server = BoardServer(BoardLimits(), AgentCache(lambda: leftmost), Failing)
    with client(server).websocket_connect(PATH) as ws:
        _, end = play_out(ws, 0, lambda legal, ply: 3)  # the game still ends on the page
        assert end["outcome"] == "win" and end["note"] == "Not rated: recording the game failed (RuntimeError)."


def test_over_the_cap_a_socket_is_told_busy(leftmost, store):
    server = make_server(leftmost, store, max_games=1)
    c = client(server)
    with c.websocket_connect(PATH) as first:
        assert send(first, type="start", seat=0)["type"] == "ready"
        with c.websocket_connect(PATH) as second:
            assert second.receive_json()["type"] == "busy"
            with pytest.raises(WebSocketDisconnect):
                second.receive_json()


def test_the_agent_never_plays_an_illegal_column_over_many_random_games(randomish, store):
    server = make_server(randomish, None, results_per_minute=0)
    session = Session(server)
    rng = np.random.default_rng(1)
    games = 0
    for g in range(60):
        replies = session.handle(json.dumps({"type": "start", "seat": g % 2}))
        state = replies[0]
        board = Board()
        if state["agent_move"]:
            board.play(state["agent_move"]["column"])
        while not state["over"]:
            legal = board.legal_moves()
            # a bias to one column fills columns up, so positions with full columns come often
            col = 0 if 0 in legal and rng.random() < 0.5 else int(rng.choice(legal))
            replies = session.handle(json.dumps({"type": "move", "column": col, "ply": board.moves}))
            state = replies[0]
            mask = board.legal_mask()
            board.play(col)
            agent = state["agent_move"]
            if agent is not None:
                full = ~board.legal_mask()
                assert all(p == 0 for p, f in zip(agent["probabilities"], full, strict=True) if f), agent
                board.play(agent["column"])  # raises on an illegal column
            assert mask[col]
            assert state["moves"] == [int(x) for x in state["moves"]] and len(state["moves"]) == board.moves
        games += 1
        assert replies[-1]["type"] == "end"
    assert games == 60


def test_a_recorded_match_re_simulates_and_a_tampered_one_does_not(leftmost, randomish, store):
    with client(make_server(leftmost, store)).websocket_connect(PATH) as ws:
        play_out(ws, 0, lambda legal, ply: 3)
    match = store.matches("connect-four")[0]
    same = board_server.resimulate(match, AgentCache(lambda: leftmost))
    assert same.ok and "plays each of its 3 moves again" in same.summary
    other = board_server.resimulate(match, AgentCache(lambda: randomish))
    assert other.ok and "not re-derived" in other.summary
    tampered = type(match)(**{**match.__dict__, "outcome": "loss"})
    assert not board_server.resimulate(tampered, AgentCache(lambda: leftmost)).ok
    short = type(match)(**{**match.__dict__, "detail": {**match.detail, "moves": [3, 0, 3]}})
    assert "do not finish the game" in board_server.resimulate(short, AgentCache(lambda: leftmost)).summary
    for moves in ([3, 0, 3, 0, 3, 0, 3, 0], [9], ["3"]):
        bad = type(match)(**{**match.__dict__, "detail": {**match.detail, "moves": moves}})
        with pytest.raises(ValueError):
            board_server.resimulate(bad, AgentCache(lambda: leftmost))
    # the agent's moves are re-derived: a recorded agent move it would not play is caught
    forged = [3, 1, 3, 0, 3, 0, 3]
    faked = type(match)(**{**match.__dict__, "detail": {**match.detail, "moves": forged}})
    assert not board_server.resimulate(faked, AgentCache(lambda: leftmost)).ok


def test_the_agent_cache_follows_the_weights_on_disk(tmp_path):
    path = save_policy(tmp_path / "a" / "agent", LEFTMOST)
    cache = AgentCache(lambda: path)
    first = cache.get()
    assert first is cache.get()
    save_policy(tmp_path / "a" / "agent", LEFTMOST[::-1].copy())
    second = cache.get()
    assert second is not None and first is not None and second.name != first.name
    assert board_server.shipped_agent_path(tmp_path / "nothing") is None
    (tmp_path / "models" / "connect-four" / "x").mkdir(parents=True)
    save_policy(tmp_path / "models" / "connect-four" / "x" / "agent", LEFTMOST)
    found = board_server.shipped_agent_path(tmp_path / "models")
    assert found == tmp_path / "models" / "connect-four" / "x" / "agent.json"


# --- the pages ----------------------------------------------------------------------------------------------


@pytest.fixture
def app_env(tmp_path, monkeypatch, leftmost):
    models = tmp_path / "models" / "connect-four"
    save_policy(models / "agent", LEFTMOST)
    monkeypatch.setenv("PLAYGROUND_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("PLAYGROUND_CACHE", str(tmp_path / "cache"))
    from playground.store.db import get_database

    return RatingStore(get_database())


def app(page: str, **params):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("main.py", default_timeout=120)
    at.query_params["page"] = page
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def texts(at) -> str:
    kinds = ("markdown", "caption", "subheader", "title", "warning", "error", "info", "success", "metric")
    return "\n".join(str(getattr(e, "value", "")) for k in kinds for e in getattr(at, k))


@pytest.mark.slow
def test_the_head_to_head_page_shows_the_agents_record_with_names_escaped(app_env):
    at = app("duel")
    assert not at.exception
    assert "Nobody has finished a game" in texts(at)
    server = BoardServer(BoardLimits(), AgentCache(), lambda: app_env)
    crafted = "**x** [a](http://evil.example) <img>"  # 36 characters: kept whole
    with client(server).websocket_connect(PATH) as ws:
        ws.send_text(json.dumps({"type": "start", "seat": 0, "player": crafted}))
        ws.receive_json()
        for ply in (0, 2, 4, 6):
            reply = send(ws, type="move", column=3, ply=ply)
        assert reply["over"] and ws.receive_json()["outcome"] == "win"
    at = app("duel")
    assert not at.exception
    t = texts(at)
    assert "0 / 0 / 1" in t and "Nobody has beaten" not in t
    assert crafted not in t  # a name is a table cell (plain text), never Markdown on this page
    frames = [df.value for df in at.dataframe]
    assert any(crafted in set(f["player"]) for f in frames)
    assert at.radio(key="duel-seat").options == ["You (red) move first", "The agent (yellow) moves first"]


@pytest.mark.slow
def test_the_watch_page_replays_a_match_and_keeps_its_episodes(app_env):
    server = BoardServer(BoardLimits(), AgentCache(), lambda: app_env)
    with client(server).websocket_connect(PATH) as ws:
        _, end = play_out(ws, 1, lambda legal, ply: legal[-1])
    at = app("watch", match=str(end["match_id"]))
    assert not at.exception
    assert at.radio(key="watch-kind").value == "matches"
    t = texts(at)
    assert "Re-simulated:" in t and "plays each of its" in t
    assert at.slider(key="watch-match-ply").value == len(end["moves"])
    at = at.slider(key="watch-match-ply").set_value(1).run()
    assert "Agent: column 1" in texts(at)
    at = app("watch", match="999999")
    assert "No recorded match" in texts(at)
    at = at.radio(key="watch-kind").set_value("episodes").run()
    assert not at.exception and at.selectbox(key="watch-game").value


@pytest.mark.slow
def test_a_recorded_pong_duel_re_simulates_from_its_seed_and_the_persons_actions_on_the_watch_page(app_env):
    from agents.bundle import Bundle
    from agents.play.pong_duel import PongDuel
    from playground.store.ratings import MatchRecord

    if not (MODELS / "pong").is_dir():
        pytest.skip("no shipped Pong agent")
    shutil.copytree(MODELS / "pong", models_dir() / "pong")  # beside the test's Connect Four agent
    bundle = Bundle.shipped("pong")
    assert bundle is not None
    duel = PongDuel(bundle.policy(), 5, frame_stack=4)
    rng = np.random.default_rng(0)
    for _ in range(120):
        duel.step(int(rng.integers(6)))
    result = duel.result()
    duel.close()
    detail = {**result.as_dict(), "fps": 60.0}  # as the play server records a duel
    forged = MatchRecord(1, "pong-duel", "pong", "ada", 1, "loss", "0-0", 5, {**detail, "agent_actions": "0*30"}, 0.0)
    assert not board_server.resimulate_pong(forged).ok
    # a match the server recorded with other weights (its detail names them) is not re-derived with these
    other = {**detail, "agent": {"name": "pong-duel@0123456789ab", "sha256": "0" * 64, "bundle": "models/pong-duel"}}
    check = board_server.resimulate_pong(MatchRecord(2, "pong-duel", "x", "ada", 1, "loss", "0-0", 5, other, 0.0))
    assert not check.ok and "is not the one shipped now" in check.summary and not check.frames
    # the Watch page: the recorded match re-simulated, checked and shown as a video
    match = app_env.record_match("pong-duel", "pong", "ada", 1, "loss", 5, detail, score="0-0")
    at = app("watch", match=str(match.id))
    assert not at.exception and at.selectbox(key="watch-match-game").value == "pong-duel"
    at = at.button(key=f"watch-pong-resim-{match.id}").click().run()
    assert not at.exception
    assert "Re-simulated 120 frames: 0–0 (person–agent); recorded 0–0." in texts(at)
    assert "come out the same, frame for frame" in texts(at)
    assert len(at.get("video")) == 1
