"""The play WebSocket: lockstep, the agent equals an offline rollout, every invalid message answered without
ending the game, the cap on games, the idle and send timeouts, the limits on recorded results, the policy
cache following the bundle on disk, cleanup.

Most tests go through Starlette's TestClient; the ones about a client that stops reading use uvicorn over
real TCP, because only a real socket has a receive window that fills.
"""

import asyncio
import base64
import json
import shutil
import socket
import threading
import time

import numpy as np
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.client import ClientProtocol
from websockets.protocol import State
from websockets.sync.client import connect
from websockets.uri import parse_uri

import envs.catalog
from agents.bundle import Bundle
from agents.common.settings import models_dir
from agents.media.watch import fresh_episode
from agents.play.match import Match
from envs import GAMES, get_spec
from playground import leaderboard, play_server
from playground.play_server import Limits, PlayServer, RateWindow, play_route
from playground.protocol import PATH


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def make_client(**limits) -> tuple[TestClient, PlayServer]:
    server = PlayServer(Limits(**limits))
    return TestClient(Starlette(routes=[play_route(lambda: server)])), server


@pytest.fixture
def served() -> tuple[TestClient, PlayServer]:
    return make_client()


@pytest.fixture
def client(served) -> TestClient:
    return served[0]


def eventually(condition, seconds: float = 5.0) -> bool:
    """The server finishes a socket's clean-up just after the client has gone: give it a moment."""
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline:
        time.sleep(0.02)
    return bool(condition())


def released(server: PlayServer) -> bool:
    return eventually(lambda: server.slots.active == 0)


def start(ws, game="cartpole", mode="versus", seed=3, player="ada", go=True):
    """Open a game and (``go``) press Start as the browser does after its countdown; the ``ready`` reply."""
    ws.send_text(json.dumps({"type": "start", "game": game, "mode": mode, "seed": seed, "player": player}))
    ready = ws.receive_json()
    if go and ready["type"] == "ready":
        press_start(ws)
    return ready


def press_start(ws) -> None:
    ws.send_text('{"type": "go"}')
    assert ws.receive_json() == {"type": "running"}


def step(ws, seq, keys=()):
    ws.send_text(json.dumps({"type": "step", "seq": seq, "keys": list(keys)}))
    return ws.receive_json()


def finish_solo(ws, first_seq: int = 1) -> dict:
    """Play a CartPole Solo episode to its end (holding left ends it in about ten steps); the ``end`` message."""
    seq = first_seq
    while not step(ws, seq, ["ArrowLeft"])["state"]["done"]:
        seq += 1
    return ws.receive_json()


@pytest.mark.slow
def test_versus_steps_both_sides_in_lockstep_and_records_the_result(client, data_dir):
    with client.websocket_connect(PATH) as ws:
        ready = start(ws)
        assert ready["type"] == "ready" and ready["fps"] == 50 and set(ready["frames"]) == {"human", "agent"}
        assert ready["keys"] == ["ArrowLeft", "ArrowRight"]
        seq, msg = 0, None
        while True:
            seq += 1
            msg = step(ws, seq, ["ArrowRight"])
            assert msg["type"] == "frame" and msg["seq"] == seq
            h, a = msg["state"]["human"], msg["state"]["agent"]
            assert a["steps"] == seq  # the agent steps once per message
            assert h["steps"] == seq or h["done"]  # so does the person until their episode ends
            if msg["state"]["done"]:
                break
        end = ws.receive_json()
    assert end["type"] == "end" and end["winner"] == "agent" and "note" not in end
    assert end["result"]["agent_return"] == 500.0 and end["result"]["human_return"] < 500
    row = leaderboard.get(end["result_id"])
    assert row["player"] == "ada" and row["agent_steps"] == 500 and row["human_return"] == end["result"]["human_return"]


@pytest.mark.slow
@pytest.mark.parametrize("game,seed", [("lunarlander", 5), ("acrobot", 2)])
def test_the_agents_side_equals_an_offline_rollout_from_the_same_seed(client, game, seed):
    spec = get_spec(game)
    offline = fresh_episode(spec, seed, Bundle.shipped(game).policy())
    rewards = []
    with client.websocket_connect(PATH) as ws:
        start(ws, game, "watch", seed)
        seq = 0
        while True:
            seq += 1
            msg = step(ws, seq)
            rewards.append(msg["state"]["agent"]["reward"])
            if msg["state"]["done"]:
                break
        end = ws.receive_json()
    assert end["type"] == "end" and end["result_id"] is None  # Live watch records nothing
    assert len(rewards) == len(offline["rewards"])
    assert rewards == pytest.approx(offline["rewards"], abs=1e-3)  # the protocol rounds to 4 decimals


def test_every_invalid_message_gets_an_error_and_the_game_goes_on(client):
    with client.websocket_connect(PATH) as ws:
        ws.send_text(json.dumps({"type": "step", "seq": 1, "keys": []}))
        assert ws.receive_json()["code"] == "not_started"
        ws.send_text(json.dumps({"type": "reset"}))
        assert ws.receive_json()["code"] == "not_started"
        for msg, code in [
            ({"type": "start", "game": "chess"}, "unknown_game"),
            ({"type": "start", "game": "cartpole", "mode": "coop"}, "bad_mode"),
            ({"type": "start", "game": "cartpole", "seed": -1}, "bad_seed"),
        ]:
            ws.send_text(json.dumps(msg))
            reply = ws.receive_json()
            assert reply["type"] == "error" and reply["code"] == code, (msg, reply)
        assert start(ws, seed=11)["type"] == "ready"
        assert step(ws, 1, ["ArrowLeft"])["type"] == "frame"
        invalid = [
            ("{not json", "bad_json"),
            (json.dumps({"type": "jump"}), "unknown_type"),
            (json.dumps({"type": "step", "seq": 2, "keys": ["x"]}), "unknown_action"),
            (json.dumps({"type": "step", "seq": 2, "keys": [1]}), "bad_keys"),
            (json.dumps({"type": "step", "seq": 1, "keys": []}), "bad_seq"),  # a replay of an old step
            (json.dumps({"type": "step", "seq": 5, "keys": []}), "bad_seq"),  # a gap
            (json.dumps({"type": "step", "keys": []}), "bad_seq"),
            (json.dumps({"type": "reset", "seed": 2**40}), "bad_seed"),
            ("x" * 5000, "too_large"),
            (json.dumps({"type": "start", "game": "cartpole", "mode": "coop"}), "bad_mode"),  # the game stays
        ]
        for text, code in invalid:
            ws.send_text(text)
            reply = ws.receive_json()
            assert reply["type"] == "error" and reply["code"] == code, (text[:60], reply)
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_json()["code"] == "bad_message"
        after = step(ws, 2, ["ArrowLeft"])  # nothing above moved the game
        assert after["type"] == "frame" and after["state"]["agent"]["steps"] == 2


def test_reset_restarts_on_a_new_seed_and_the_sequence_starts_again(client):
    with client.websocket_connect(PATH) as ws:
        start(ws, seed=1)
        step(ws, 1)
        step(ws, 2)
        ws.send_text(json.dumps({"type": "reset", "seed": 9}))
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["seed"] == 9 and ready["state"]["agent"]["steps"] == 0
        assert step(ws, 1)["code"] == "not_running"  # a new episode waits for its player too
        press_start(ws)
        assert step(ws, 1)["state"]["agent"]["steps"] == 1
        ws.send_text(json.dumps({"type": "reset"}))  # Restart: the same seed
        assert ws.receive_json()["seed"] == 9


def test_a_finished_episode_takes_no_more_steps(client):
    with client.websocket_connect(PATH) as ws:
        start(ws, mode="solo")
        end = finish_solo(ws)
        assert end["type"] == "end" and end["result_id"] is not None
        steps = end["result"]["human_steps"]
        assert step(ws, steps + 1)["code"] == "episode_over"


def test_a_game_without_an_agent_offers_solo_only(client, tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    with client.websocket_connect(PATH) as ws:
        reply = start(ws, "cartpole", "versus")
        assert reply["code"] == "no_agent" and "Solo" in reply["message"]
        assert start(ws, "cartpole", "solo")["type"] == "ready"


def test_a_tampered_agent_is_refused_with_the_reason(client, tmp_path, monkeypatch):
    models = tmp_path / "models"
    shutil.copytree(models_dir() / "cartpole", models / "cartpole")
    (models / "cartpole" / "policy.safetensors").write_bytes(b"not weights")
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    with client.websocket_connect(PATH) as ws:
        reply = start(ws)
        assert reply["code"] == "no_agent" and "policy.safetensors" in reply["message"]


def test_the_policy_cache_follows_the_weights_on_disk(served, tmp_path, monkeypatch):
    """A bundle replaced on disk (other weights, so another policy_id) is played with its new policy; the same
    weights are loaded once however many games start."""
    client, server = served
    shipped, models = models_dir(), tmp_path / "models"
    shutil.copytree(shipped / "cartpole", models / "cartpole")
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    loads = []
    original = Bundle.policy
    monkeypatch.setattr(Bundle, "policy", lambda self: (loads.append(self.policy_id), original(self))[1])
    for _ in range(2):
        with client.websocket_connect(PATH) as ws:
            assert start(ws)["type"] == "ready"
    assert len(loads) == 1
    first = server.policies.get("cartpole")

    shutil.rmtree(models / "cartpole")
    shutil.copytree(shipped / "acrobot", models / "cartpole")  # other weights in the same folder
    replaced = Bundle.shipped("cartpole")
    assert replaced.spec.slug == "acrobot" and replaced.policy_id != loads[0]
    second = server.policies.get("cartpole")
    assert len(loads) == 2 and second is not first and loads[1] != loads[0]


def test_over_the_cap_a_client_is_told_busy():
    client, server = make_client(max_games=1)
    with client.websocket_connect(PATH) as first:
        start(first)
        with client.websocket_connect(PATH) as second:
            busy = second.receive_json()
            assert busy["type"] == "busy" and "1 game slots" in busy["message"]
            with pytest.raises(WebSocketDisconnect) as closed:
                second.receive_json()
            assert closed.value.code == 1013
        assert step(first, 1)["type"] == "frame"  # the player already in is unaffected
    assert released(server)


def closes_recorded(monkeypatch) -> list[str]:
    closed = []
    original = Match.close
    monkeypatch.setattr(Match, "close", lambda self: (closed.append(self.mode), original(self)))
    return closed


def test_an_idle_game_is_closed_and_its_envs_released(monkeypatch):
    closed = closes_recorded(monkeypatch)
    client, server = make_client(idle_seconds=0.5)
    with client.websocket_connect(PATH) as ws:
        start(ws)
        assert ws.receive_json()["type"] == "closed"
    assert released(server) and eventually(lambda: closed == ["versus"])


def test_disconnecting_closes_the_envs(served, monkeypatch):
    client, server = served
    closed = closes_recorded(monkeypatch)
    with client.websocket_connect(PATH) as ws:
        start(ws, mode="solo")
        step(ws, 1)
    assert released(server) and eventually(lambda: closed == ["solo"])


# --- results recorded: per connection and per minute --------------------------------------------------


def play_episodes(ws, n: int) -> list[dict]:
    """``n`` CartPole Solo episodes on one socket, as fast as it can; their ``end`` messages."""
    start(ws, mode="solo")
    ends = [finish_solo(ws)]
    for _ in range(n - 1):
        ws.send_text(json.dumps({"type": "reset"}))
        assert ws.receive_json()["type"] == "ready"
        press_start(ws)
        ends.append(finish_solo(ws))
    return ends


def test_one_socket_records_at_most_its_results_per_minute():
    client, _ = make_client(results_per_minute=3)
    with client.websocket_connect(PATH) as ws:
        ends = play_episodes(ws, 6)
    ids = [e["result_id"] for e in ends]
    assert all(i is not None for i in ids[:3]) and ids[3:] == [None] * 3
    assert all("3 results a minute" in e["note"] for e in ends[3:])
    assert all(e["result"]["human_steps"] > 0 for e in ends)  # the episodes themselves still played
    assert len(leaderboard.board("cartpole", limit=100)["best"]) == 3


def test_one_socket_records_at_most_its_results_per_socket():
    client, _ = make_client(results_per_socket=2, results_per_minute=100)
    with client.websocket_connect(PATH) as ws:
        ends = play_episodes(ws, 4)
    assert [e["result_id"] is not None for e in ends] == [True, True, False, False]
    assert "at most 2 results" in ends[-1]["note"]


def test_reconnecting_does_not_lift_the_limit_per_minute():
    """The server as a whole records at most max_games × results_per_minute a minute."""
    client, _ = make_client(max_games=2, results_per_minute=1)
    ends = []
    for _ in range(3):
        with client.websocket_connect(PATH) as ws:
            ends += play_episodes(ws, 1)
    assert [e["result_id"] is not None for e in ends] == [True, True, False]
    assert "try again shortly" in ends[-1]["note"]


def test_the_window_forgets_events_older_than_a_minute():
    now = [0.0]
    window = RateWindow(2, 60, clock=lambda: now[0])
    assert window.take() and window.take() and not window.take() and not window.available()
    now[0] = 59.9
    assert not window.take()
    now[0] = 60.0  # the first two are a minute old
    assert window.available() and window.take() and window.take() and not window.take()


# --- a client that stops reading, over real TCP --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tcp_server():
    """Serve a PlayServer with uvicorn on a free port, with the WebSocket implementation Streamlit runs."""
    servers = []

    def serve(**limits) -> tuple[int, PlayServer]:
        play = PlayServer(Limits(**limits))
        port = free_port()
        uv = uvicorn.Server(
            uvicorn.Config(
                Starlette(routes=[play_route(lambda: play)]),
                host="127.0.0.1",
                port=port,
                ws="websockets-sansio",
                lifespan="off",
                log_level="warning",
                timeout_graceful_shutdown=2,
            )
        )
        thread = threading.Thread(target=uv.run, daemon=True)
        thread.start()
        servers.append((uv, thread))
        assert eventually(lambda: uv.started, 20), "uvicorn did not start"
        return port, play

    yield serve
    for uv, thread in servers:
        uv.should_exit = True
        thread.join(10)


class SilentReader:
    """A WebSocket client on a raw TCP socket that sends but never reads after the handshake, with a small
    receive buffer, so the server's sends back up as soon as its own buffers are full."""

    def __init__(self, port: int):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.proto = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}{PATH}"))
        self.proto.send_request(self.proto.connect())
        self._flush()
        while self.proto.state is State.CONNECTING:
            self.proto.receive_data(self.sock.recv(1024))
        assert self.proto.state is State.OPEN, self.proto.handshake_exc

    def _flush(self) -> None:
        self.sock.sendall(b"".join(self.proto.data_to_send()))

    def send(self, msg: dict) -> None:
        self.proto.send_text(json.dumps(msg).encode())
        self._flush()

    def close(self) -> None:
        self.sock.close()


@pytest.mark.slow
def test_a_client_that_stops_reading_loses_its_slot(tcp_server, monkeypatch):
    """Before the send timeout, a client that sent steps and never read held its slot (and its envs) for as
    long as it stayed connected: the idle timeout guards only receive, and the server's send waited for
    ever on the full window. Here the idle timeout is a minute, so only the send timeout can free it."""
    closed = closes_recorded(monkeypatch)
    port, play = tcp_server(max_games=1, idle_seconds=60, send_seconds=0.5)
    reader = SilentReader(port)
    try:
        assert eventually(lambda: play.slots.active == 1)  # the server takes the slot just after the handshake
        reader.send({"type": "start", "game": "cartpole", "mode": "versus", "seed": 0})
        reader.send({"type": "go"})
        # ~18 kB of frames per step for 500 steps: far more than the window and the server's buffers hold
        for seq in range(1, 501):
            reader.send({"type": "step", "seq": seq, "keys": []})
        assert eventually(lambda: play.slots.active == 0, 30), "the silent client still holds its slot"
        assert closed == ["versus"]
        with connect(f"ws://127.0.0.1:{port}{PATH}") as ws:  # the next player gets in, the silent one still connected
            ws.send(json.dumps({"type": "start", "game": "cartpole", "mode": "solo", "seed": 0}))
            assert json.loads(ws.recv(timeout=10))["type"] == "ready"
    finally:
        reader.close()


@pytest.mark.slow
def test_a_reading_client_keeps_its_slot_while_it_plays(tcp_server):
    """The send timeout does not touch a client that reads, however many steps it takes."""
    port, play = tcp_server(max_games=1, idle_seconds=60, send_seconds=0.5)
    with connect(f"ws://127.0.0.1:{port}{PATH}", max_size=2**24) as ws:
        ws.send(json.dumps({"type": "start", "game": "cartpole", "mode": "versus", "seed": 0}))
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        ws.send('{"type": "go"}')
        assert json.loads(ws.recv(timeout=10))["type"] == "running"
        for seq in range(1, 301):
            ws.send(json.dumps({"type": "step", "seq": seq, "keys": []}))
            assert json.loads(ws.recv(timeout=10))["seq"] == seq
        assert play.slots.active == 1


# --- every game ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("game", sorted(GAMES))
def test_every_game_is_playable_with_its_keys(client, game):
    spec = get_spec(game)
    with client.websocket_connect(PATH) as ws:
        ready = start(ws, game, "solo", seed=1)
        assert ready["type"] == "ready" and ready["keys"] == sorted(spec.keymap.keys())
        assert ready["fps"] == min(spec.render_fps, 60)
        for seq, key in enumerate(ready["keys"], start=1):
            msg = step(ws, seq, [key])
            assert msg["type"] == "frame" and msg["frames"]["human"], (game, key)
            if msg["state"]["done"]:
                break


BUNDLED = sorted(p.name for p in models_dir().iterdir() if Bundle.is_bundle(p))


@pytest.mark.shipped
@pytest.mark.parametrize("game", BUNDLED)
def test_versus_runs_for_every_bundled_agent(client, game):
    """Includes the stochastic (Atari) agents: they sample from a per-match stream."""
    with client.websocket_connect(PATH) as ws:
        assert start(ws, game, "versus", seed=2)["type"] == "ready"
        for seq in range(1, 4):
            state = step(ws, seq)["state"]
            assert state["agent"]["steps"] == seq


def test_the_apps_lifespan_makes_the_play_server_from_the_settings(monkeypatch):
    from playground.app import lifespan

    for name, value in [("WARM", "0"), ("MAX_GAMES", "3"), ("SEND_SECONDS", "2.5"), ("RESULTS_PER_MINUTE", "5")]:
        monkeypatch.setenv(f"PLAYGROUND_{name}", value)

    async def limits() -> Limits:
        async with lifespan(None) as state:
            return state["play"].limits

    assert asyncio.run(limits()) == Limits(
        max_games=3, idle_seconds=120, send_seconds=2.5, results_per_socket=100, results_per_minute=5
    )


# --- every game waits for its player -------------------------------------------------------------------


def test_nothing_steps_before_go_and_a_pause_stops_the_game_until_the_next_go(client):
    with client.websocket_connect(PATH) as ws:
        ready = start(ws, mode="solo", go=False)
        assert ready["type"] == "ready" and ready["state"]["human"]["steps"] == 0
        assert step(ws, 1)["code"] == "not_running"  # the page loaded, the player has not pressed anything
        press_start(ws)
        assert step(ws, 1)["state"]["human"]["steps"] == 1
        ws.send_text('{"type": "pause"}')
        assert ws.receive_json() == {"type": "paused"}
        refused = step(ws, 2)
        assert refused["code"] == "not_running" and '"go"' in refused["message"]
        press_start(ws)
        assert step(ws, 2)["state"]["human"]["steps"] == 2  # the refused step took nothing
        ws.send_text('{"type": "go"}')  # a second go while running changes nothing
        assert ws.receive_json() == {"type": "running"}
        assert step(ws, 3)["state"]["human"]["steps"] == 3


def test_go_and_pause_need_a_game_and_go_needs_an_episode_that_is_not_over(client):
    with client.websocket_connect(PATH) as ws:
        for kind in ("go", "pause"):
            ws.send_text(json.dumps({"type": kind}))
            assert ws.receive_json()["code"] == "not_started"
        start(ws, mode="solo")
        end = finish_solo(ws)
        ws.send_text('{"type": "go"}')
        assert ws.receive_json()["code"] == "episode_over"
        assert end["type"] == "end"


# --- two-player Pong on one court ----------------------------------------------------------------------


def duel_step(ws, seq, keys=()):
    return step(ws, seq, keys)


@pytest.mark.slow
def test_a_duel_is_one_court_at_60_frames_with_both_scores_and_refuses_what_is_invalid(client):
    with client.websocket_connect(PATH) as ws:
        ready = start(ws, "pong-duel", "duel", seed=4, go=False)
        assert ready["type"] == "ready" and ready["mode"] == "duel" and ready["fps"] == 60
        assert set(ready["frames"]) == {"court"} and ready["keys"] == sorted(get_spec("pong").keymap.keys())
        assert ready["state"]["score"] == {"human": 0, "agent": 0} and ready["state"]["frame"] == 0
        assert duel_step(ws, 1, ["ArrowUp"])["code"] == "not_running"
        press_start(ws)
        for seq in range(1, 61):
            msg = duel_step(ws, seq, ["ArrowUp"] if seq % 2 else [" "])
            assert msg["type"] == "frame" and msg["state"]["frame"] == seq and msg["frames"]["court"]
        invalid = [
            (json.dumps({"type": "step", "seq": 61, "keys": ["ArrowLeft"]}), "unknown_action"),  # not a Pong key
            (json.dumps({"type": "step", "seq": 61, "keys": ["ArrowUp"] * 9}), "bad_keys"),
            (json.dumps({"type": "step", "seq": 60, "keys": []}), "bad_seq"),  # out of turn: a replayed step
            (json.dumps({"type": "step", "seq": 62, "keys": []}), "bad_seq"),  # out of turn: ahead
            (json.dumps({"type": "start", "game": "pong-duel", "mode": "versus"}), "bad_mode"),
            (json.dumps({"type": "start", "game": "cartpole", "mode": "duel"}), "bad_mode"),
            (json.dumps({"type": "go", "extra": "x" * 5000}), "too_large"),
            ('{"type": "step", "seq": 61, "keys": "ArrowUp"}', "bad_keys"),
        ]
        for text, code in invalid:
            ws.send_text(text)
            reply = ws.receive_json()
            assert reply["type"] == "error" and reply["code"] == code, (text[:60], reply)
        after = duel_step(ws, 61, ["ArrowDown"])  # the game went on where it was
        assert after["type"] == "frame" and after["state"]["frame"] == 61


@pytest.mark.slow
@pytest.mark.shipped
def test_the_duel_agents_side_equals_an_offline_run_of_the_same_seed_and_keys(client):
    """The court the server drew after 900 frames of a person's keys is, byte for byte, the one an offline
    replay draws from the same seed and the same actions: the agent (sampling, every 4 frames) included."""
    from agents.media.watch import jpeg_frame
    from agents.play.pong_duel import replay

    spec = envs.catalog.get_two_player_spec("pong-duel")
    keys = [["ArrowUp"], ["ArrowDown"], [" "], [], ["ArrowUp", " "]]
    pattern = [keys[(i // 7) % len(keys)] for i in range(900)]
    with client.websocket_connect(PATH) as ws:
        start(ws, "pong-duel", "duel", seed=21)
        for seq, held in enumerate(pattern, start=1):
            msg = duel_step(ws, seq, held)
    offline = replay(Bundle.shipped("pong").policy(), 21, [int(spec.keymap.resolve(k)) for k in pattern])
    assert msg["state"]["score"] == {"human": offline.person_points, "agent": offline.agent_points}
    assert sum(msg["state"]["score"].values()) > 0
    assert base64.b64decode(msg["frames"]["court"]) == jpeg_frame(offline.screen)


@pytest.mark.slow
def test_a_duel_cut_at_its_frame_limit_ends_with_the_score_unrated(client, monkeypatch):
    monkeypatch.setattr(play_server, "DUEL_MAX_FRAMES", 200)
    with client.websocket_connect(PATH) as ws:
        start(ws, "pong-duel", "duel", seed=2)
        seq = 0
        while True:
            seq += 1
            msg = duel_step(ws, seq, [" "])
            if msg["state"]["done"]:
                break
        end = ws.receive_json()
        assert seq == 200 and end["type"] == "end" and end["result"]["frames"] == 200
        assert end["result"]["score"] == msg["state"]["score"] and "detail" not in end["result"]
        assert end["winner"] in ("human", "agent", "draw") and end["result"]["fps"] > 50
        assert end["result_id"] is None and "200-frame limit" in end["note"]
        assert duel_step(ws, 201)["code"] == "episode_over"


class Still:
    """A policy that never moves its paddle (NOOP), so a tracking bot wins a whole match quickly."""

    def forward_info(self, obs):
        return {"probs": np.eye(6)[[0]]}


def finished_duel(seed: int):
    """A whole match to 21 on the server's duel engine: a tracker on the person's side, a still agent."""
    from agents.play.pong_duel import PongDuelMatch, Tracker

    match = PongDuelMatch(envs.catalog.get_two_player_spec("pong-duel"), seed, Still())
    bot = Tracker("t", delay=0, dead_band=2.0)
    bot.reset(seed)
    while not match.done:
        match.duel.step(bot.act(match.duel.screen))
    return match


@pytest.mark.slow
def test_a_finished_duel_is_rated_from_the_servers_moves_and_its_record_replays(served):
    """The person (a tracker) wins 21-0: the end message carries the match's id and the agent's rating; the
    record holds the seed and both sides' actions, and re-simulating them gives the same match."""
    from agents.play.pong_duel import replay, unrle
    from playground.play_server import Session
    from playground.store.db import get_database
    from playground.store.ratings import RatingStore

    _, server = served
    session = Session(server)
    session.player = "ada <b>"
    match = finished_duel(seed=8)
    session.match, session.running_seconds = match, match.duel.frame / 60
    session.duel_agent = play_server.duel_agent("pong-duel")  # as start() sets it
    end = session._end(match)
    assert end["winner"] == "human" and end["result"]["score"] == {"human": 21, "agent": 0}
    assert end["result_id"] is not None and "note" not in end
    assert end["rating"]["record"] == {"wins": 0, "draws": 0, "losses": 1}  # the agent's record vs people
    record = RatingStore(get_database()).match(end["result_id"])
    assert record.game == "pong-duel" and record.outcome == "win" and record.seed == 8
    assert record.agent == session.duel_agent.name == f"pong-duel@{session.duel_agent.sha256[:12]}"
    assert record.detail["agent"]["sha256"] == session.duel_agent.sha256
    assert record.player == "ada <b>" and record.score == "21-0" and record.seat == 1
    again = replay(Still(), record.seed, unrle(record.detail["person_actions"]))
    assert again.result().agent_actions == record.detail["agent_actions"]
    assert (again.person_points, again.agent_points) == (21, 0) and again.game_over

    slow = Session(server)  # the same match played at half speed is not rated
    slow.match, slow.running_seconds = match, match.duel.frame / 30
    unrated = slow._end(match)
    assert unrated["result_id"] is None and "30 frames/s" in unrated["note"]
    match.close()


def register_copy(tmp_path, game: str, agent_id: str = "lab:test123"):
    """A lab agent as the Lab registers one: a copy of the shipped bundle in its own folder, listed by id."""
    from agents.hub import registry

    folder = tmp_path / "lab" / game
    shutil.copytree(models_dir() / game, folder)
    return registry.add(agent_id, game, folder, source=f"lab run test · {game}")


@pytest.mark.slow  # a whole Pendulum episode: 200 steps on both sides
def test_a_registered_agent_plays_versus_and_its_result_is_not_recorded(served, tmp_path):
    client, server = served
    entry = register_copy(tmp_path, "pendulum")
    with client.websocket_connect(PATH) as ws:
        ws.send_text(json.dumps({"type": "start", "game": "pendulum", "seed": 1, "player": "ada", "agent": entry.id}))
        ready = ws.receive_json()
        assert ready["type"] == "ready" and set(ready["frames"]) == {"human", "agent"}
        press_start(ws)
        seq = 0
        while not step(ws, seq := seq + 1)["state"]["done"]:
            pass
        end = ws.receive_json()
    assert end["type"] == "end" and end["result_id"] is None and end["winner"] in ("human", "agent", "draw")
    assert end["note"] == "Not recorded: you played lab:test123, not the shipped agent."
    assert leaderboard.board("pendulum")["versus_games"] == 0 and not leaderboard.board("pendulum")["best"]
    # the registered folder's policy, cached apart from the shipped one
    assert set(server.policies._entries) == {Bundle.open(tmp_path / "lab" / "pendulum").path}
    # the agent's side is that policy: the same as an offline rollout of the bundle from the same seed
    offline = fresh_episode(get_spec("pendulum"), 1, Bundle.open(entry.path).policy())
    assert end["result"]["agent_return"] == pytest.approx(sum(offline["rewards"]), abs=1e-2)


def test_an_unknown_or_broken_agent_gets_a_coded_error_and_no_game(client, tmp_path):
    register_copy(tmp_path, "acrobot", "lab:acro")
    broken = register_copy(tmp_path, "pendulum", "lab:broken")
    (tmp_path / "lab" / "pendulum" / "policy.safetensors").write_bytes(b"not weights")
    with client.websocket_connect(PATH) as ws:
        for agent, code in [("lab:nope", "unknown_agent"), ("lab:acro", "unknown_agent"), (broken.id, "no_agent")]:
            ws.send_text(json.dumps({"type": "start", "game": "pendulum", "agent": agent}))
            reply = ws.receive_json()
            assert reply["type"] == "error" and reply["code"] == code and "\n" not in reply["message"], reply
            assert agent in reply["message"]
        assert step(ws, 1)["code"] == "not_started"  # nothing was started
        assert start(ws, "pendulum")["type"] == "ready"  # the shipped agent still plays


# --- which agent the duel plays: the two-player bundle models/pong-duel ------------------------------------------


def build_other_weights(root):
    """A models folder under ``root`` with models/pong and a pong-duel bundle of other weights (models/pong's with
    the action head negated, re-sealed), built as ``playground bundle pong-duel SOURCE --max-frames 120`` does."""
    from safetensors.numpy import load_file, save_file

    from agents.bundle.match_pong_build import PongDuelBundleOptions, build_pong_duel_bundle
    from agents.common.files import sha256_file

    source = root / "source" / "pong"
    shutil.copytree(models_dir() / "pong", source)
    weights = load_file(source / "policy.safetensors")
    weights["action_net.weight"] = -weights["action_net.weight"]
    save_file(weights, source / "policy.safetensors", metadata={"format": "pt"})
    manifest = json.loads((source / "evidence/manifest.json").read_text())
    manifest["files"]["policy.safetensors"] = sha256_file(source / "policy.safetensors")
    (source / "evidence/manifest.json").write_text(json.dumps(manifest))
    shutil.copytree(models_dir() / "pong", root / "models" / "pong")
    options = PongDuelBundleOptions(source, out=root / "models" / "pong-duel", games=1, replays=1, max_frames=120)
    build_pong_duel_bundle(options)
    return root / "models"


@pytest.fixture(scope="module")
def other_weights(tmp_path_factory):
    return build_other_weights(tmp_path_factory.mktemp("duel-models"))


@pytest.fixture
def duel_models(other_weights, tmp_path, monkeypatch):
    models = tmp_path / "models"
    shutil.copytree(other_weights, models)
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    return models


def play_duel(server, seed: int, frames: int):
    """A duel started and played through the session's messages (the person holds ArrowUp on every 3rd frame)."""
    from playground.play_server import Session

    session = Session(server)
    ready = session.handle(json.dumps({"type": "start", "game": "pong-duel", "seed": seed, "player": "ada"}))[0]
    assert ready["type"] == "ready", ready
    assert session.handle('{"type": "go"}') == [{"type": "running"}]
    for seq in range(1, frames + 1):
        keys = ["ArrowUp"] if seq % 3 == 0 else []
        (frame,) = session.handle(json.dumps({"type": "step", "seq": seq, "keys": keys}))
        assert frame["type"] == "frame", frame
    return session


@pytest.mark.slow
def test_the_duel_plays_the_two_player_bundle_s_weights_and_rates_them_under_their_own_name(duel_models, served):
    from agents.bundle.match import MatchBundle
    from agents.play.pong_duel import replay, unrle
    from playground.play_server import record_duel
    from playground.store.db import get_database
    from playground.store.ratings import RatingStore

    _, server = served
    bundle = MatchBundle.open(duel_models / "pong-duel")
    single = Bundle.open(duel_models / "pong")
    assert bundle.policy_sha256 != single.manifest.files["policy.safetensors"]
    session = play_duel(server, seed=6, frames=240)
    agent = session.duel_agent
    assert agent is not None and agent.source == "models/pong-duel" and agent.sha256 == bundle.policy_sha256
    assert agent.name == f"pong-duel@{bundle.policy_sha256[:12]}"
    assert set(server.policies._entries) == {bundle.path}  # cached by the bundle's folder, not models/pong's
    detail = session.match.result()["detail"]
    person = unrle(detail["person_actions"])
    assert replay(bundle.agent(), 6, person).result().agent_actions == detail["agent_actions"]
    assert replay(single.policy(), 6, person).result().agent_actions != detail["agent_actions"]
    session.close()

    # a rated match is kept under the weights' name; the old agent's record is not inherited
    match = finished_duel(seed=8)
    result = {**match.result(), "fps": 60.0}
    recorded = record_duel(result, "ada", agent, match.winner())
    match.close()
    store = RatingStore(get_database())
    assert store.match(recorded["match_id"]).agent == agent.name and recorded["board"]["agent"] == agent.name
    old = f"pong-duel@{single.manifest.files['policy.safetensors'][:12]}"
    assert store.board("pong-duel", old).agent is None and store.board("pong-duel", agent.name).agent is not None


def test_without_a_two_player_bundle_the_duel_falls_back_to_models_pong(duel_models, served):
    shutil.rmtree(duel_models / "pong-duel")
    _, server = served
    session = play_duel(server, seed=1, frames=4)
    single = Bundle.open(duel_models / "pong")
    assert session.duel_agent.source == "models/pong"
    assert session.duel_agent.name == f"pong-duel@{single.manifest.files['policy.safetensors'][:12]}"
    session.close()


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda m: (m / "pong-duel" / "policy.safetensors").write_bytes(b"not weights"), "policy.safetensors"),
        (
            lambda m: (m / "pong-duel" / "manifest.json").write_text('{"format": "ppo-playground/match-bundle@1"'),
            "not valid JSON",
        ),
    ],
)
def test_a_broken_two_player_bundle_is_one_coded_error_and_never_falls_back(duel_models, client, damage, expected):
    damage(duel_models)
    with client.websocket_connect(PATH) as ws:
        ws.send_text(json.dumps({"type": "start", "game": "pong-duel", "seed": 1}))
        reply = ws.receive_json()
        assert reply["type"] == "error" and reply["code"] == "no_agent" and "\n" not in reply["message"], reply
        assert " agent cannot be used: " in reply["message"] and expected in reply["message"]
        assert step(ws, 1)["code"] == "not_started"


@pytest.mark.slow
def test_a_recorded_duel_re_simulates_only_with_the_weights_that_played_it(duel_models):
    """A match models/pong played, rated as "pong" before names followed the weights, re-simulates with
    models/pong's agent though models/pong-duel now holds other weights; named as those weights' match, the
    same actions do not come out."""
    from agents.bundle.match import MatchBundle
    from agents.play.pong_duel import PongDuel
    from playground import board_server
    from playground.store.ratings import MatchRecord

    duel = PongDuel(Bundle.open(duel_models / "pong").policy(), 5, frame_stack=4)
    rng = np.random.default_rng(0)
    for _ in range(120):
        duel.step(int(rng.integers(6)))
    detail = {**duel.result().as_dict(), "fps": 60.0}
    duel.close()
    legacy = MatchRecord(1, "pong-duel", "pong", "ada", 1, "loss", "0-0", 5, detail, 0.0)
    check = board_server.resimulate_pong(legacy)
    assert check.ok and "come out the same, frame for frame" in check.summary, check.summary
    bundle = MatchBundle.open(duel_models / "pong-duel")
    named = {**detail, "agent": {"name": "n", "sha256": bundle.policy_sha256, "bundle": "models/pong-duel"}}
    name = f"pong-duel@{bundle.policy_sha256[:12]}"
    check = board_server.resimulate_pong(MatchRecord(2, "pong-duel", name, "ada", 1, "loss", "0-0", 5, named, 0.0))
    assert not check.ok and "The agent's actions differ" in check.summary, check.summary
