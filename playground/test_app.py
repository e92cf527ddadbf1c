"""The first page renders every catalog game, the bundled agents' evidence, and survives a broken bundle."""

import shutil
from pathlib import Path

from streamlit.testing.v1 import AppTest

from agents.bundle import models_dir
from envs import GAMES

APP = str(Path(__file__).with_name("app.py"))


def _text(at) -> str:
    return " ".join(m.value for m in at.markdown) + " ".join(h.value for h in at.subheader)


def test_lists_every_game_and_bundled_scores():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    text = _text(at)
    for spec in GAMES.values():
        assert spec.env_id in text
    from agents.bundle import Bundle

    for path in sorted(models_dir().iterdir()):
        if (path / "evidence" / "manifest.json").exists():
            s = Bundle.open(path).eval_summary()
            assert f"{s['mean']:.2f} ± {s['std']:.2f}" in text


def test_a_tampered_bundle_shows_an_error_and_the_rest_still_works(tmp_path, monkeypatch):
    models = tmp_path / "models"
    shutil.copytree(models_dir(), models)
    bundled = sorted(p.name for p in models.iterdir() if (p / "evidence" / "manifest.json").exists())
    assert len(bundled) >= 2, "needs two bundled agents: one to break, one to keep"
    (models / bundled[0] / "policy.safetensors").write_bytes(b"tampered")
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert len(at.error) == 1 and "failed its checksums" in at.error[0].value
    assert "policy.safetensors was changed" in at.error[0].value
    assert "±" in _text(at)  # the other bundle still shows its score
