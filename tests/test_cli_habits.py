"""The command line speaks the habits of SB3 and RL Zoo users: a game by its gymnasium id as well as its slug,
``-n/--n-timesteps``, ``--version``, and an exit status that tells a usage error (2) from a failure (1).

In-process (``main`` and the parser), so this stays in the fast tier; tests/test_cli.py runs the real
subprocess."""

from importlib import metadata

import pytest

from envs import GAMES
from envs.catalog import game_ids
from playground.cli import build_parser, main

NAMES = [(spec.slug, name) for spec in GAMES.values() for name in (spec.slug, *game_ids(spec))]

# every argument that names a game, as the command line it sits in
GAME_ARGS = {
    "train": (["train", "{}", "--seed", "1"], "game"),
    "bundle": (["bundle", "{}", "runs/x"], "game"),
    "import": (["import", "model.zip", "--game", "{}"], "game"),
    "evaluate": (["evaluate", "{}"], "bundle"),
    "verify": (["verify", "{}"], "bundle"),
    "publish": (["publish", "{}", "--repo", "acme"], "bundle"),
    "reproduce": (["reproduce", "{}"], "bundle"),
    "ablate": (["ablate", "clip-off", "--bundle", "{}"], "bundle"),
}


def _argv(command, name):
    words, dest = GAME_ARGS[command]
    return [w.format(name) for w in words], dest


@pytest.fixture(autouse=True)
def _away_from_the_repo(tmp_path, monkeypatch):
    # a game argument that is also an existing folder is taken as the folder: run where none exists
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("command", GAME_ARGS)
@pytest.mark.parametrize("slug,name", NAMES, ids=[name for _, name in NAMES])
def test_a_game_is_its_slug_or_its_gymnasium_id(command, slug, name):
    argv, dest = _argv(command, name)
    assert getattr(build_parser().parse_args(argv), dest) == slug


def test_the_zoo_ids_name_the_games_they_make():
    parse = build_parser().parse_args
    assert parse(["train", "LunarLanderContinuous-v3", "--seed", "1"]).game == "lunarlander-continuous"
    assert parse(["train", "LunarLander-v3", "--seed", "1"]).game == "lunarlander"
    assert parse(["evaluate", "PongNoFrameskip-v4"]).bundle == "pong"


def test_an_existing_folder_is_a_bundle_folder(tmp_path):
    folder = tmp_path / "ALE" / "Pong-v5"
    folder.mkdir(parents=True)
    assert build_parser().parse_args(["verify", "ALE/Pong-v5"]).bundle == "ALE/Pong-v5"
    assert build_parser().parse_args(["verify", str(folder)]).bundle == str(folder)


@pytest.mark.parametrize("command", GAME_ARGS)
def test_an_unknown_game_is_a_usage_error_listing_both_forms(command, capsys):
    argv, _ = _argv(command, "Pacman-v5")
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: playground ")
    assert "unknown game 'Pacman-v5'" in err
    assert "pong (ALE/Pong-v5, PongNoFrameskip-v4)" in err
    assert "lunarlander-continuous (LunarLanderContinuous-v3)" in err
    assert all(spec.slug in err for spec in GAMES.values())


def test_a_missing_folder_says_so(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["verify", str(tmp_path / "nowhere")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"no bundle folder {tmp_path / 'nowhere'}, nor a game id" in err


@pytest.mark.parametrize("flag", ["--timesteps", "-n", "--n-timesteps"])
@pytest.mark.parametrize(
    "command", [["train", "cartpole", "--seed", "1"], ["reproduce", "cartpole"], ["ablate", "clip-off"]]
)
def test_the_budget_takes_the_zoos_flags(command, flag):
    assert build_parser().parse_args([*command, flag, "5000"]).timesteps == 5000


def test_train_gets_the_slug_and_the_budget(monkeypatch, tmp_path, capsys):
    import agents.training.train as training

    seen = []

    def fake_train(opts):
        seen.append(opts)
        return tmp_path / "run"

    monkeypatch.setattr(training, "train", fake_train)
    assert main(["train", "ALE/Breakout-v5", "--seed", "3", "-n", "2048"]) == 0
    (opts,) = seen
    assert (opts.game, opts.seed, opts.timesteps) == ("breakout", 3, 2048)
    # the run records the command as typed, so its manifest shows what the user ran
    assert opts.command == "playground train ALE/Breakout-v5 --seed 3 -n 2048"
    assert "run complete" in capsys.readouterr().out


def test_version_names_the_versions_a_run_depends_on(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"playground {metadata.version('ppo-playground')} (")
    for dist in ("stable-baselines3", "gymnasium", "torch"):
        assert f"{dist} {metadata.version(dist)}" in out


def test_a_failed_command_exits_1_with_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["evaluate", str(empty)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is not a bundle" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "cartpole"],
        ["frobnicate"],
        ["train", "cartpole", "--seed", "x"],
        ["reproduce", "cartpole", "--seeds", "1,x"],
        ["ablate", "no-such"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert capsys.readouterr().err.startswith("usage: playground")


def test_help_documents_the_exit_status(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "exit status:" in out
    for line in ("  0 ", "  1 ", "  2 ", "  130 "):
        assert line in out
    assert "ALE/Pong-v5" in out and "LunarLanderContinuous-v3" in out
