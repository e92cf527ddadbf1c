"""Settings: read in one module, documented in the README's table, folders independent of the working directory."""

import re

import pytest

from agents.common import settings

ROOT = settings.REPO_ROOT


def test_readme_settings_table_is_generated_from_settings():
    readme = (ROOT / "README.md").read_text()
    assert settings.settings_table() in readme, "regenerate with: python -m agents.common.settings --update README.md"


def test_no_other_module_reads_a_playground_variable():
    pattern = re.compile(r"environ(?:\.get)?\s*[\[(]\s*[\"']PLAYGROUND_|getenv\(\s*[\"']PLAYGROUND_")
    offenders = [
        str(p.relative_to(ROOT))
        for pkg in ("agents", "envs", "playground")
        for p in (ROOT / pkg).rglob("*.py")
        if not p.name.startswith("test_") and p.name != "settings.py" and pattern.search(p.read_text())
    ]
    assert offenders == []


def test_every_variable_named_in_the_code_is_a_setting():
    named = set()
    for pkg in ("agents", "envs", "playground"):
        for p in (ROOT / pkg).rglob("*.py"):
            if not p.name.startswith("test_"):
                named |= set(re.findall(r"\bPLAYGROUND_[A-Z_]+\b", p.read_text()))
    assert named <= {s.name for s in settings.SETTINGS}, named - {s.name for s in settings.SETTINGS}


def test_default_folders_do_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    for s in settings.SETTINGS:
        monkeypatch.delenv(s.name, raising=False)
    before = [settings.models_dir(), settings.runs_dir(), settings.data_dir(), settings.cache_dir()]
    monkeypatch.chdir(tmp_path)
    after = [settings.models_dir(), settings.runs_dir(), settings.data_dir(), settings.cache_dir()]
    assert before == after and all(p.is_absolute() for p in after)
    assert settings.models_dir() == ROOT / "models" and settings.runs_dir() == ROOT / "runs"


def test_a_relative_setting_is_resolved_once_and_bad_numbers_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLAYGROUND_RUNS", "myruns")
    assert settings.runs_dir() == tmp_path / "myruns"
    monkeypatch.setenv("PLAYGROUND_MAX_GAMES", "lots")
    with pytest.raises(settings.SettingError, match="PLAYGROUND_MAX_GAMES='lots' is not a number"):
        settings.max_games()
    monkeypatch.setenv("PLAYGROUND_MAX_GAMES", "0")
    with pytest.raises(settings.SettingError, match="out of range"):
        settings.max_games()
