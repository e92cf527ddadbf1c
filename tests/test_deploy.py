"""Packaging for deployment (docs/deploy.md): the Space serves the port the Dockerfile serves, the Docker
build context keeps what the Dockerfile copies and leaves the rest out, and Streamlit reads the app's
privacy settings from any working directory."""

import fnmatch
import json
import re
import subprocess
import sys

import yaml

from tests.conftest import ROOT


def _dockerfile():
    return (ROOT / "Dockerfile").read_text()


def _served_port():
    text = _dockerfile()
    (env_port,) = re.findall(r"^ENV .*\bPORT=(\d+)", text, re.MULTILINE)
    (exposed,) = re.findall(r"^EXPOSE (\d+)", text, re.MULTILINE)
    assert "--server.port ${PORT}" in text
    assert env_port == exposed
    return int(env_port)


def test_the_space_serves_the_dockerfiles_port():
    text = (ROOT / "deploy" / "space" / "README.md").read_text()
    assert text.startswith("---\n")
    settings = yaml.safe_load(text.split("---\n")[1])
    assert settings["sdk"] == "docker"
    assert settings["app_port"] == _served_port() == 8501
    assert len(settings["short_description"]) <= 60  # the Hub's limit
    # the project's README stays free of Space settings
    assert not (ROOT / "README.md").read_text().startswith("---")


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, for the patterns .dockerignore uses: a path is left out when it or a folder above it
    matches a pattern; ``**/`` matches any depth, the root included."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        alternatives = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        if any(fnmatch.fnmatchcase(p, a) for p in prefixes for a in alternatives):
            return True
    return False


def test_the_build_context_keeps_what_the_dockerfile_copies_and_leaves_the_rest():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "_ignored does not implement exceptions"
    for junk in (
        ".venv/lib/python3.11/site-packages/torch/__init__.py",
        "runs/cartpole/seed1/run.json",
        ".git/HEAD",
        "agents/__pycache__/x.cpython-311.pyc",
        "playground/views/__pycache__/a.pyc",
        "__pycache__/x.pyc",
        ".pytest_cache/README.md",
        ".mypy_cache/3.11/x.json",
        ".ruff_cache/x",
        "ppo_playground.egg-info/PKG-INFO",
        "artifacts/x.json",
    ):
        assert _ignored(junk, patterns), junk
    sources = []
    for line in _dockerfile().splitlines():
        if line.startswith("COPY "):
            words = [w for w in line.split()[1:] if not w.startswith("--")]
            sources += words[:-1]
    assert {"pyproject.toml", "README.md", "Makefile", "envs", "agents", "playground", "models"} <= set(sources)
    tracked = subprocess.run(
        ["git", "ls-files", "--", *sources], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "playground/.streamlit/config.toml" in tracked
    assert any(f.startswith("models/") for f in tracked)
    kept_out = [f for f in tracked if _ignored(f, patterns)]
    assert not kept_out, f".dockerignore leaves out files the Dockerfile copies: {kept_out[:5]}"


def test_streamlit_reads_the_apps_settings_from_any_folder(tmp_path):
    """As `streamlit run /path/to/playground/app.py` does from elsewhere: Streamlit reads the
    .streamlit/config.toml beside the script; the serverAddress counts as set, which is what keeps the
    start-up banner from looking up the external IP."""
    probe = (
        "import json, sys\n"
        "from streamlit import config\n"
        "config._main_script_path = sys.argv[1]\n"
        "config.get_config_options(force_reparse=True)\n"
        "print(json.dumps({k: [config.get_option(k), config.is_manually_set(k)] for k in\n"
        "    ('browser.gatherUsageStats', 'browser.serverAddress', 'server.headless')}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(ROOT / "playground" / "app.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    options = json.loads(out.stdout.strip().splitlines()[-1])
    assert options == {
        "browser.gatherUsageStats": [False, True],
        "browser.serverAddress": ["localhost", True],
        "server.headless": [True, True],
    }
