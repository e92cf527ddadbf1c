"""Self-play options refuse what cannot be a run, and the CLI says so in one line."""

import pytest

from agents.selfplay.train import SelfPlayOptions
from playground.cli import main


def test_options_refuse_a_small_gate_and_a_bad_budget(tmp_path):
    with pytest.raises(ValueError, match="gate_games=50: a gate plays at least 100 games"):
        SelfPlayOptions(seed=1, out=tmp_path, gate_games=50)
    with pytest.raises(ValueError, match=r"minutes=0: give a budget in \(0, 600\]"):
        SelfPlayOptions(seed=1, out=tmp_path, minutes=0)


def test_cli_selfplay_errors_are_one_line(tmp_path, capsys):
    assert main(["selfplay", "connect-four", "--seed", "1", "--minutes", "0", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: minutes=0.0: give a budget in (0, 600]"]
    (tmp_path / "run.json").write_text("{}")
    assert main(["selfplay", "connect-four", "--seed", "1", "--out", str(tmp_path)]) == 1
    assert "already holds a finished run: choose another --out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["selfplay", "chess", "--seed", "1", "--out", str(tmp_path)])
    assert exc.value.code == 2


def test_cli_selfplay_refuses_a_share_outside_0_1_in_one_line_before_any_file(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["selfplay", "connect-four", "--seed", "1", "--anchor-share", "1.5", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: anchor_share=1.5, one_ply_share=0.5: give shares in [0, 1]"]
    assert not out.exists()  # refused before the run folder is made
