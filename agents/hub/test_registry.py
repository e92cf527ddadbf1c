"""The registry of agents beyond models/: add replaces by id, remove forgets one and leaves the rest."""

from agents.hub import registry


def test_add_replace_and_remove(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path))
    registry.add("lab:a", "cartpole", tmp_path / "a", "lab run a")
    registry.add("lab:b", "cartpole", tmp_path / "b", "lab run b")
    registry.add("lab:a", "cartpole", tmp_path / "a2", "lab run a again")
    assert [(e.id, e.path) for e in registry.for_game("cartpole")] == [
        ("lab:b", str(tmp_path / "b")),
        ("lab:a", str(tmp_path / "a2")),
    ]
    assert registry.remove("lab:a") is True
    assert registry.remove("lab:a") is False
    assert [e.id for e in registry.entries()] == ["lab:b"]
