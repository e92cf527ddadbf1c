"""The play WebSocket through Starlette's TestClient: lockstep, the agent equals an offline rollout,
every invalid message answered without ending the game, the cap on games, the idle timeout, cleanup."""

import json
import shutil
import time

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from agents.bundle.bundle import Bundle
from agents.common.settings import models_dir
from agents.media.watch import fresh_episode
from envs import get_spec
from playground import leaderboard, live


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def client():
    return TestClient(Starlette(routes=live.routes))


def eventually(condition, seconds: float = 5.0) -> bool:
    """The server finishes a socket's clean-up just after the client has gone: give it a moment."""
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline:
        time.sleep(0.02)
    return bool(condition())


def released() -> bool:
    return eventually(lambda: live.SLOTS.active == 0)


def start(ws, game="cartpole", mode="versus", seed=3, player="ada"):
    ws.send_text(json.dumps({"type": "start", "game": game, "mode": mode, "seed": seed, "player": player}))
    return ws.receive_json()


def step(ws, seq, keys=()):
    ws.send_text(json.dumps({"type": "step", "seq": seq, "keys": list(keys)}))
    return ws.receive_json()


def test_versus_steps_both_sides_in_lockstep_and_records_the_result(client, data_dir):
    with client.websocket_connect(live.PATH) as ws:
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
    assert end["type"] == "end" and end["winner"] == "agent"
    assert end["result"]["agent_return"] == 500.0 and end["result"]["human_return"] < 500
    row = leaderboard.get(end["result_id"])
    assert row["player"] == "ada" and row["agent_steps"] == 500 and row["human_return"] == end["result"]["human_return"]


@pytest.mark.parametrize("game,seed", [("lunarlander", 5), ("acrobot", 2)])
def test_the_agents_side_equals_an_offline_rollout_from_the_same_seed(client, game, seed):
    spec = get_spec(game)
    offline = fresh_episode(spec, seed, Bundle.open(models_dir() / game).policy())
    rewards = []
    with client.websocket_connect(live.PATH) as ws:
        start(ws, game, "watch", seed)
        seq = 0
        while True:
            seq += 1
            msg = step(ws, seq)
            rewards.append(msg["state"]["agent"]["reward"])
            if msg["state"]["done"]:
                break
    assert len(rewards) == len(offline["rewards"])
    assert rewards == pytest.approx(offline["rewards"], abs=1e-3)  # the protocol rounds to 4 decimals


def test_every_invalid_message_gets_an_error_and_the_game_goes_on(client):
    with client.websocket_connect(live.PATH) as ws:
        ws.send_text(json.dumps({"type": "step", "seq": 1, "keys": []}))
        assert ws.receive_json()["code"] == "not_started"
        bad_starts = [
            ({"type": "start", "game": "chess"}, "unknown_game"),
            ({"type": "start", "game": "cartpole", "mode": "coop"}, "bad_mode"),
            ({"type": "start", "game": "cartpole", "seed": -1}, "bad_seed"),
            ({"type": "start", "game": "cartpole", "seed": "7"}, "bad_seed"),
            ({"type": "start", "game": "cartpole", "seed": True}, "bad_seed"),
        ]
        for msg, code in bad_starts:
            ws.send_text(json.dumps(msg))
            reply = ws.receive_json()
            assert reply["type"] == "error" and reply["code"] == code, (msg, reply)
        assert start(ws, seed=11)["type"] == "ready"
        assert step(ws, 1, ["ArrowLeft"])["type"] == "frame"
        invalid = [
            ("{not json", "bad_json"),
            ("[1, 2]", "bad_message"),
            (json.dumps({"seq": 2}), "bad_message"),
            (json.dumps({"type": "jump"}), "unknown_type"),
            (json.dumps({"type": "step", "seq": 2, "keys": ["x"]}), "unknown_action"),
            (json.dumps({"type": "step", "seq": 2, "keys": "ArrowLeft"}), "bad_keys"),
            (json.dumps({"type": "step", "seq": 2, "keys": [1]}), "bad_keys"),
            (json.dumps({"type": "step", "seq": 2, "keys": ["ArrowLeft"] * 9}), "bad_keys"),
            (json.dumps({"type": "step", "seq": 1, "keys": []}), "bad_seq"),  # a replay of an old step
            (json.dumps({"type": "step", "seq": 5, "keys": []}), "bad_seq"),  # a gap
            (json.dumps({"type": "step", "seq": "2", "keys": []}), "bad_seq"),
            (json.dumps({"type": "step", "keys": []}), "bad_seq"),
            (json.dumps({"type": "reset", "seed": 2**40}), "bad_seed"),
            ("x" * 5000, "too_large"),
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
    with client.websocket_connect(live.PATH) as ws:
        start(ws, seed=1)
        step(ws, 1)
        step(ws, 2)
        ws.send_text(json.dumps({"type": "reset", "seed": 9}))
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["seed"] == 9 and ready["state"]["agent"]["steps"] == 0
        assert step(ws, 1)["state"]["agent"]["steps"] == 1


def test_a_finished_episode_takes_no_more_steps(client):
    with client.websocket_connect(live.PATH) as ws:
        start(ws, mode="solo")
        seq = 0
        while True:
            seq += 1
            if step(ws, seq, ["ArrowLeft"])["state"]["done"]:
                break
        assert ws.receive_json()["type"] == "end"
        assert step(ws, seq + 1)["code"] == "episode_over"


def test_a_game_without_an_agent_offers_solo_only(client, tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    with client.websocket_connect(live.PATH) as ws:
        reply = start(ws, "cartpole", "versus")
        assert reply["code"] == "no_agent" and "Solo" in reply["message"]
        assert start(ws, "cartpole", "solo")["type"] == "ready"


def test_a_tampered_agent_is_refused_with_the_reason(client, tmp_path, monkeypatch):
    models = tmp_path / "models"
    shutil.copytree(models_dir() / "cartpole", models / "cartpole")
    (models / "cartpole" / "policy.safetensors").write_bytes(b"not weights")
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    with client.websocket_connect(live.PATH) as ws:
        reply = start(ws)
        assert reply["code"] == "no_agent" and "policy.safetensors" in reply["message"]


def test_over_the_cap_a_client_is_told_busy(client, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MAX_GAMES", "1")
    with client.websocket_connect(live.PATH) as first:
        start(first)
        with client.websocket_connect(live.PATH) as second:
            busy = second.receive_json()
            assert busy["type"] == "busy" and "1 game slots" in busy["message"]
            with pytest.raises(WebSocketDisconnect) as closed:
                second.receive_json()
            assert closed.value.code == 1013
        assert step(first, 1)["type"] == "frame"  # the player already in is unaffected
    assert released()


def test_an_idle_game_is_closed_and_its_envs_released(client, monkeypatch):
    closed = []
    from agents.play.match import Match

    original = Match.close
    monkeypatch.setattr(Match, "close", lambda self: (closed.append(self.spec.slug), original(self)))
    monkeypatch.setenv("PLAYGROUND_IDLE_SECONDS", "0.5")
    with client.websocket_connect(live.PATH) as ws:
        start(ws)
        assert ws.receive_json()["type"] == "closed"
    assert released() and eventually(lambda: closed == ["cartpole"])


def test_disconnecting_closes_the_envs(client, monkeypatch):
    closed = []
    from agents.play.match import Match

    original = Match.close
    monkeypatch.setattr(Match, "close", lambda self: (closed.append(self.mode), original(self)))
    with client.websocket_connect(live.PATH) as ws:
        start(ws, mode="solo")
        step(ws, 1)
    assert released() and eventually(lambda: closed == ["solo"])


@pytest.mark.parametrize("game", sorted(live.GAMES))
def test_every_game_is_playable_with_its_keys(client, game):
    spec = get_spec(game)
    with client.websocket_connect(live.PATH) as ws:
        ready = start(ws, game, "solo", seed=1)
        assert ready["type"] == "ready" and ready["keys"] == sorted(spec.keymap.keys())
        assert ready["fps"] == min(spec.render_fps, 60)
        for seq, key in enumerate(ready["keys"], start=1):
            msg = step(ws, seq, [key])
            assert msg["type"] == "frame" and msg["frames"]["human"], (game, key)
            if msg["state"]["done"]:
                break


BUNDLED = sorted(p.name for p in models_dir().iterdir() if (p / "evidence" / "manifest.json").exists())


@pytest.mark.parametrize("game", BUNDLED)
def test_versus_runs_for_every_bundled_agent(client, game):
    """Includes the stochastic (Atari) agents once shipped: they sample from a per-match stream."""
    with client.websocket_connect(live.PATH) as ws:
        assert start(ws, game, "versus", seed=2)["type"] == "ready"
        for seq in range(1, 4):
            state = step(ws, seq)["state"]
            assert state["agent"]["steps"] == seq
