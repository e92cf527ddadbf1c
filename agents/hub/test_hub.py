"""Publish and pull through real HTTP servers on loopback, never the internet.

Publishing talks to ``tests/hub_server.py`` (a stand-in: no offline server accepts uploads); pulling talks
to olah, a self-hosted Hugging Face mirror, in offline mode, serving the git repositories that stand-in
wrote. Round trip: publish → pull → every checksum verified → plain SB3 opens the published zip → the
app plays the pulled agent.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from agents.bundle import MANIFEST, Bundle
from agents.common.errors import BundleError
from tests.conftest import ROOT
from tests.hub_server import FakeHub

pytestmark = pytest.mark.slow  # a stand-in Hub, an olah mirror and the CLI in subprocesses

SENTINEL = "hf_SENTINELtokenDoNotLeak0123456789"
REPO = "acme/ppo-Acrobot-v1"
SLUG = "acrobot"  # short episodes: the replay video encodes fast


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    server = FakeHub(tmp_path_factory.mktemp("hub"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def olah(hub, tmp_path_factory):
    """olah in offline mode, serving the stand-in's git repositories as its local mirrors."""
    if os.environ.get("CI") == "true":
        import olah  # noqa: F401 - in CI a missing mirror fails the run instead of skipping it
    pytest.importorskip("olah", reason="olah (the dev extra) serves the pull side: pip install -e '.[dev]'")
    tmp = tmp_path_factory.mktemp("olah")
    port = _free_port()
    (tmp / "olah.toml").write_text(f"""[basic]
host = "127.0.0.1"
port = {port}
repos-path = "{tmp / "cache"}"
mirrors-path = ["{hub.root}"]
mirror-netloc = "127.0.0.1:{port}"
mirror-lfs-netloc = "127.0.0.1:{port}"
[accessibility]
offline = true
""")
    proc = subprocess.Popen(
        [sys.executable, "-m", "olah.server", "-c", str(tmp / "olah.toml"), "--log-path", str(tmp / "logs")],
        stdout=open(tmp / "olah.out", "wb"),
        stderr=subprocess.STDOUT,
        cwd=tmp,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/whoami-v2", timeout=2)
            break
        except urllib.error.HTTPError:
            break  # it answers
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("olah did not start: " + (tmp / "olah.out").read_text()[-2000:]) from None
            time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def cli(*args, env=None, token=None):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    full.update(env or {})
    if token:
        full["HF_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "playground", *map(str, args)],
        capture_output=True,
        text=True,
        env=full,
        timeout=300,
        cwd=ROOT,
    )


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _clean_error(proc):
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)  # 1: the command failed
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc.stderr


@pytest.fixture(scope="module")
def published(hub, home):
    out = _ok(cli("publish", SLUG, "--repo", "acme", "--endpoint", hub.url, env=home, token=SENTINEL))
    assert f"published {REPO} at commit" in out
    return out


def test_dry_run_lists_the_commit_and_uploads_nothing(hub, home):
    out = _ok(cli("publish", SLUG, "--repo", "acme/dry", "--endpoint", hub.url, "--dry-run", env=home))
    assert "would commit to acme/dry" in out and "nothing was uploaded" in out
    for f in (
        "policy.safetensors",
        "policy.json",
        "ppo-Acrobot-v1.zip",
        "results.json",
        "README.md",
        MANIFEST,
        "replay.mp4",
    ):
        assert f in out, f
    assert not hub.exists("acme/dry") and not hub.requests


def test_publish_one_commit_with_the_whole_bundle(hub, published, home):
    bundle = Bundle.open(ROOT / "models" / SLUG)
    commits = hub.commits(REPO)
    assert len(commits) == 2, "the repo's first commit (.gitattributes) and ours"
    files = hub.files(REPO)
    assert set(files) == set(bundle.manifest.files) | {MANIFEST, "replay.mp4", ".gitattributes"}
    for rel in bundle.manifest.files:
        assert hub.read(REPO, rel) == (bundle.path / rel).read_bytes(), rel
    assert hub.read(REPO, "replay.mp4")[4:8] == b"ftyp"
    from huggingface_hub import ModelCard

    card = ModelCard(hub.read(REPO, "README.md").decode())
    assert card.data.library_name == "stable-baselines3"
    assert {"reinforcement-learning", "stable-baselines3", "deep-reinforcement-learning", "Acrobot-v1"} <= set(
        card.data.tags
    )
    s = bundle.eval_summary()
    assert card.data.eval_results[0].metric_value == f"{s['mean']:.2f} +/- {s['std']:.2f}"
    assert "playground train acrobot --seed" in card.text and "Health of the shipped seed" in card.text
    # the client talked to the endpoints the stand-in documents, with the token from HF_TOKEN
    posts = [r["path"] for r in hub.requests if r["method"] == "POST"]
    assert posts[0] == "/api/repos/create" and any("/preupload/" in p for p in posts)
    assert sum("/commit/" in p for p in posts) == 1
    auth = [
        {k.lower(): v for k, v in r["headers"].items()}.get("authorization")
        for r in hub.requests
        if r["method"] == "POST"
    ]
    assert auth and all(a == f"Bearer {SENTINEL}" for a in auth)


def test_token_never_appears_in_output_or_files(hub, published, home):
    assert SENTINEL not in published
    for root in (Path(home["HF_HOME"]).parent,):
        for p in root.rglob("*"):
            if p.is_file():
                assert SENTINEL.encode() not in p.read_bytes(), p
    for rel in hub.files(REPO):
        assert SENTINEL.encode() not in hub.read(REPO, rel), rel
    log = subprocess.run(["git", "-C", str(hub.repo_dir(REPO)), "log", "--format=%B"], capture_output=True, text=True)
    assert SENTINEL not in log.stdout
    assert all(SENTINEL.encode() not in r["body"] for r in hub.requests)


def test_publishing_identical_content_makes_no_commit(hub, published, home):
    before = hub.commits(REPO)
    out = _ok(cli("publish", f"models/{SLUG}", "--repo", REPO, "--endpoint", hub.url, env=home, token=SENTINEL))
    assert "already holds this bundle" in out and "no new commit" in out
    assert hub.commits(REPO) == before


def test_a_failed_commit_leaves_no_commit_and_says_what_failed(hub, home):
    hub.fail_commits = 1
    err = _clean_error(cli("publish", SLUG, "--repo", "acme/failing", "--endpoint", hub.url, env=home, token=SENTINEL))
    assert "failed at 'commit'" in err and "500" in err and "nothing was committed" in err
    assert SENTINEL not in err, "a failing publish does not print the token either"
    assert len(hub.commits("acme/failing")) == 1, "only the repo's own first commit"
    assert set(hub.files("acme/failing")) == {".gitattributes"}


def test_publish_without_a_token_is_explained(hub, home):
    err = _clean_error(cli("publish", SLUG, "--repo", "acme/notoken", "--endpoint", hub.url, env=home))
    assert "no Hugging Face token" in err and "HF_TOKEN" in err
    assert not hub.exists("acme/notoken")


def test_round_trip_pull_verifies_and_registers(hub, olah, published, home):
    from stable_baselines3 import PPO

    out = _ok(cli("pull", REPO, "--endpoint", olah, env=home))
    commit = hub.commits(REPO)[0]
    assert f"hub {REPO}@{commit[:7]}" in out and "every checksum verified" in out
    entries = json.loads((Path(home["PLAYGROUND_DATA"]) / "agents.json").read_text())["agents"]
    (entry,) = [e for e in entries if e["id"] == f"hub:{REPO}"]
    snapshot = Path(entry["path"])
    assert entry["commit"] == commit and entry["game"] == SLUG and entry["source"] == f"hub {REPO}@{commit[:7]}"
    assert snapshot == Path(home["HF_HOME"]) / "hub" / "models--acme--ppo-Acrobot-v1" / "snapshots" / commit
    assert not (snapshot / "replay.mp4").exists(), "only the bundle's files are downloaded"
    bundle = Bundle.open(snapshot)
    assert all(c.ok for c in bundle.verify())

    # plain SB3 opens the published zip (downloaded here the way an SB3 user would)
    from huggingface_hub import hf_hub_download

    zip_path = hf_hub_download(REPO, "ppo-Acrobot-v1.zip", endpoint=olah, cache_dir=str(snapshot.parent.parent.parent))
    model = PPO.load(zip_path, device="cpu")  # our own file, just published
    import numpy as np

    obs = np.zeros((3, 6), dtype=np.float32)
    norm = bundle.policy().normalizer
    expected, _ = model.predict(norm(obs), deterministic=True)
    np.testing.assert_array_equal(bundle.policy().predict(obs), expected)

    # offline, the cache serves it; a missing agent gets a clear message at once
    offline = {**home, "HF_HUB_OFFLINE": "1"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in offline.items():
            mp.setenv(k, v)
        from agents.hub.client import pull

        _, entry = pull(REPO, endpoint="http://127.0.0.1:9")  # nothing listens there: the cache serves
        assert entry.source == f"hub {REPO}@{commit[:7]}" and Path(entry.path) == snapshot
    t = time.time()
    err = _clean_error(cli("pull", "acme/ppo-CartPole-v1", "--endpoint", olah, env=offline))
    assert "not in the local Hugging Face cache" in err and "HF_HUB_OFFLINE=1" in err
    assert time.time() - t < 15


def test_app_pulls_and_plays_the_agent(hub, olah, published, home, monkeypatch, tmp_path):
    """The game page's box pulls by repo id (through olah); the gallery lists the agent with its source;
    the watch page plays it."""
    from streamlit.testing.v1 import AppTest

    for k, v in {**home, "PLAYGROUND_DATA": str(tmp_path / "data"), "HF_ENDPOINT": olah}.items():
        monkeypatch.setenv(k, v)
    main = str(ROOT / "playground" / "main.py")
    at = AppTest.from_file(main, default_timeout=180)
    at.query_params.update({"page": "watch", "game": SLUG})
    at.run()
    assert not at.exception and at.selectbox(key="watch-game").value == SLUG
    at.text_input(key=f"pull-repo-{SLUG}").set_value(REPO)
    at = at.button(key=f"pull-{SLUG}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key=f"watch-agent-{SLUG}").value == f"hub:{REPO}"
    at = at.radio(key="watch-source").set_value("Fresh episode").run()
    assert not at.exception
    commit = hub.commits(REPO)[0]
    caption = next(c.value for c in at.caption if c.value.startswith("The agent from"))
    assert f"hub {REPO}@{commit[:7]}" in caption and "plays seed 0" in caption
    assert {"Action", "Value estimate V(s)"} <= {m.label for m in at.metric}

    at = AppTest.from_file(main, default_timeout=180).run()
    assert not at.exception
    texts = "\n".join(str(e.value) for kind in ("markdown", "caption") for e in getattr(at, kind))
    assert f"hub {REPO}@{commit[:7]}" in texts and "bundled · " in texts

    # a wrong repo id in the box is an error message, not a traceback
    at = AppTest.from_file(main, default_timeout=180)
    at.query_params.update({"page": "watch", "game": SLUG})
    at.run()
    at.text_input(key=f"pull-repo-{SLUG}").set_value("nobody/nothing")
    at = at.button(key=f"pull-{SLUG}").click().run()
    assert not at.exception and "nobody/nothing" in at.error[0].value


def test_tampered_after_download_fails_its_checksum(hub, olah, published, home):
    _ok(cli("pull", REPO, "--endpoint", olah, env=home))
    commit = hub.commits(REPO)[0]
    snapshot = Path(home["HF_HOME"]) / "hub" / "models--acme--ppo-Acrobot-v1" / "snapshots" / commit
    blob = (snapshot / "policy.safetensors").resolve()
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    err = _clean_error(cli("pull", REPO, "--endpoint", olah, env={**home, "HF_HUB_OFFLINE": "1"}))
    assert "fails its checks" in err and "policy.safetensors was changed" in err
    with pytest.raises(BundleError, match="policy.safetensors was changed"):
        Bundle.open(snapshot)
    # online, a bad cached copy is downloaded afresh and verified again
    with pytest.MonkeyPatch.context() as mp:
        for k, v in home.items():
            mp.setenv(k, v)
        from agents.hub.client import pull

        said = []
        bundle, _ = pull(REPO, endpoint=olah, log=said.append)
    assert any("afresh" in line for line in said) and bundle.path == snapshot and Bundle.open(snapshot)


def test_a_bundle_changed_on_the_hub_is_not_added(hub, olah, home):
    repo = "mallory/ppo-Acrobot-v1"
    hub.create(repo)
    src = ROOT / "models" / SLUG
    files = {str(p.relative_to(src)): p.read_bytes() for p in src.rglob("*") if p.is_file()}
    files["results.json"] = json.dumps({"mean_reward": 0.0}).encode()  # the manifest still has the old sha256
    hub.commit(repo, files, set(), "forged", hub.head(repo))
    err = _clean_error(cli("pull", repo, "--endpoint", olah, env=home))
    assert "fails its checks, so it was not added" in err and "results.json was changed" in err
    entries = json.loads((Path(home["PLAYGROUND_DATA"]) / "agents.json").read_text())["agents"]
    assert not any(e["id"] == f"hub:{repo}" for e in entries)


def test_pulling_a_repo_that_is_not_a_bundle(hub, olah, home):
    repo = "course/ppo-LunarLander-v2"
    hub.create(repo)
    hub.commit(
        repo,
        {"ppo-LunarLander-v2.zip": b"PK\x05\x06" + b"\x00" * 18, "README.md": b"# hi\n"},
        set(),
        "upload",
        hub.head(repo),
    )
    err = _clean_error(cli("pull", repo, "--endpoint", olah, env=home))
    assert "not a PPO Playground bundle" in err and "playground import" in err
    err = _clean_error(cli("pull", "nobody/nothing", "--endpoint", olah, env=home))
    assert "nobody/nothing" in err
