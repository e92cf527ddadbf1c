"""The play protocol's rules without a server: what parses, what is refused with which code, what the
replies look like (the fields play_component.js reads)."""

import base64
import json

import pytest

from envs import GAMES, get_spec
from playground import protocol
from playground.protocol import MAX_KEYS, MAX_MESSAGE, MAX_SEED, Go, Pause, ProtocolError, Reset, Start, Step, parse


def code_of(text) -> str:
    with pytest.raises(ProtocolError) as refused:
        parse(text)
    assert refused.value.message and "\n" not in refused.value.message  # one line for the player
    return refused.value.code


def test_a_start_is_parsed_with_its_defaults_and_a_clean_player_name():
    assert parse(json.dumps({"type": "start", "game": "pong"})) == Start("pong", "versus", 0, "anonymous")
    msg = parse(
        json.dumps({"type": "start", "game": "cartpole", "mode": "solo", "seed": MAX_SEED, "player": "  ada\x00\n  "})
    )
    assert msg == Start("cartpole", "solo", MAX_SEED, "ada")


def test_a_start_may_name_a_registered_agent_by_a_bounded_id():
    def start(agent):
        return parse(json.dumps({"type": "start", "game": "cartpole", "agent": agent}))

    assert start("lab:1a2b3c").agent == "lab:1a2b3c"
    assert start("hub:org/cartpole-ppo").agent == "hub:org/cartpole-ppo"
    assert start("import:/home/ada/agents/cartpole").agent == "import:/home/ada/agents/cartpole"
    assert start(None).agent is None and start("bundled").agent is None  # the shipped agent
    assert start("lab:" + "x" * (protocol.MAX_AGENT - 4)).agent is not None
    for bad in [
        "",
        "lab:",
        "cartpole",
        "file:/etc/passwd",
        "lab:a\nb",
        "lab:" + "x" * protocol.MAX_AGENT,
        7,
        ["lab:1"],
    ]:
        assert code_of(json.dumps({"type": "start", "game": "cartpole", "agent": bad})) == "bad_agent", bad


def test_steps_and_resets_are_parsed():
    assert parse('{"type": "step", "seq": 4, "keys": ["ArrowUp", " "]}') == Step(4, ("ArrowUp", " "))
    assert parse('{"type": "step", "seq": 1}') == Step(1, ())
    assert parse('{"type": "reset"}') == Reset(None)
    assert parse('{"type": "reset", "seed": 8}') == Reset(8)


@pytest.mark.parametrize(
    "text,code",
    [
        (None, "bad_message"),  # a binary frame
        ("x" * (MAX_MESSAGE + 1), "too_large"),
        ("{not json", "bad_json"),
        ("[" * 100_000 + "]" * 100_000, "too_large"),
        ("[" * 2000 + "]" * 2000, "bad_json"),  # deep, under the size cap: RecursionError, not a crash
        ("[1, 2]", "bad_message"),
        ('{"seq": 2}', "bad_message"),
        ('{"type": 3}', "bad_message"),
        ('{"type": "jump"}', "unknown_type"),
        ('{"type": "start", "game": "chess"}', "unknown_game"),
        ('{"type": "start", "game": ["cartpole"]}', "unknown_game"),
        ('{"type": "start"}', "unknown_game"),
        ('{"type": "start", "game": "cartpole", "mode": "coop"}', "bad_mode"),
        ('{"type": "start", "game": "cartpole", "mode": ["solo"]}', "bad_mode"),
        ('{"type": "start", "game": "cartpole", "seed": -1}', "bad_seed"),
        ('{"type": "start", "game": "cartpole", "seed": "7"}', "bad_seed"),
        ('{"type": "start", "game": "cartpole", "seed": true}', "bad_seed"),
        ('{"type": "start", "game": "cartpole", "seed": 1.5}', "bad_seed"),
        (json.dumps({"type": "start", "game": "cartpole", "seed": MAX_SEED + 1}), "bad_seed"),
        ('{"type": "reset", "seed": null}', "bad_seed"),
        ('{"type": "reset", "seed": 1e400}', "bad_seed"),
        ('{"type": "step", "keys": []}', "bad_seq"),
        ('{"type": "step", "seq": "2", "keys": []}', "bad_seq"),
        ('{"type": "step", "seq": true, "keys": []}', "bad_seq"),
        ('{"type": "step", "seq": 0, "keys": []}', "bad_seq"),
        ('{"type": "step", "seq": 1, "keys": "ArrowLeft"}', "bad_keys"),
        ('{"type": "step", "seq": 1, "keys": [1]}', "bad_keys"),
        ('{"type": "step", "seq": 1, "keys": null}', "bad_keys"),
        (json.dumps({"type": "step", "seq": 1, "keys": ["a"] * (MAX_KEYS + 1)}), "bad_keys"),
        ('{"type": "start", "game": "pong-duel", "mode": "versus"}', "bad_mode"),  # one court, not two
        ('{"type": "start", "game": "pong", "mode": "duel"}', "bad_mode"),  # single-player Pong has no duel
        ('{"type": "start", "game": "connect-four", "mode": "duel"}', "unknown_game"),  # no engine here yet
        ('{"type": "start", "game": "pong-duel", "mode": {"duel": 1}}', "bad_mode"),
        ('{"type": "Go"}', "unknown_type"),
    ],
)
def test_every_malformed_message_is_refused_with_its_code(text, code):
    assert code_of(text) == code


def test_a_duel_start_go_and_pause_are_parsed():
    assert parse('{"type": "start", "game": "pong-duel"}') == Start("pong-duel", "duel", 0, "anonymous")
    assert parse('{"type": "start", "game": "pong-duel", "mode": "duel", "seed": 5}').seed == 5
    assert parse('{"type": "go"}') == Go() and parse('{"type": "pause", "why": "hidden"}') == Pause()
    assert protocol.game_spec("pong-duel").seats == ("first_0", "second_0")
    assert protocol.game_spec("pong").players == 1
    assert set(protocol.TYPES) == {"start", "go", "step", "pause", "reset"}


def test_keys_are_checked_against_the_games_key_map():
    spec = get_spec("cartpole")
    assert protocol.check_keys(("ArrowLeft",), spec) == ("ArrowLeft",)
    with pytest.raises(ProtocolError) as refused:
        protocol.check_keys(("ArrowLeft", "ArrowUp"), spec)
    assert refused.value.code == "unknown_action" and "'ArrowUp'" in refused.value.message


@pytest.mark.parametrize("game", sorted(GAMES))
def test_ready_carries_what_the_browser_needs(game):
    spec = get_spec(game)
    msg = protocol.ready(spec, "solo", 7, {"done": False}, {"human": b"\xff\xd8jpeg"})
    assert msg["type"] == "ready" and msg["game"] == game and msg["seed"] == 7
    assert msg["fps"] == min(spec.render_fps, protocol.FPS_CAP) and msg["keys"] == sorted(spec.keymap.keys())
    assert base64.b64decode(msg["frames"]["human"]) == b"\xff\xd8jpeg"
    assert json.loads(protocol.encode(msg)) == {**msg, "legend": [list(row) for row in msg["legend"]]}


def test_the_other_replies():
    assert protocol.frame(3, {"done": True}, {"agent": b"x"}) == {
        "type": "frame",
        "seq": 3,
        "state": {"done": True},
        "frames": {"agent": "eA=="},
    }
    assert "note" not in protocol.end({"mode": "solo"}, 12, None)
    unrecorded = protocol.end({"mode": "solo"}, None, None, "Not recorded: too many.")
    assert unrecorded["result_id"] is None and unrecorded["note"] == "Not recorded: too many."
    assert protocol.error(ProtocolError("bad_seq", "expected 2")) == {
        "type": "error",
        "code": "bad_seq",
        "message": "expected 2",
    }
    assert protocol.busy(8) == {"type": "busy", "message": "all 8 game slots are in use; try again shortly"}
    assert protocol.closed("idle")["type"] == "closed"
    assert protocol.running() == {"type": "running"} and protocol.paused() == {"type": "paused"}
    rated = protocol.end({"mode": "duel"}, 4, "agent", rating={"mu": 27.1})
    assert rated["rating"] == {"mu": 27.1} and "rating" not in protocol.end({"mode": "duel"}, None, "agent")
