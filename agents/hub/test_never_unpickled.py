"""A downloaded ``vec_normalize.pkl`` is never unpickled (issue 14 item 1; docs/security.md).

Every bundle now carries SB3's ``vec_normalize.pkl`` for SB3 and Zoo users. We write it; someone else's repo may
hold anything under that name. Here the file is a pickle whose unpickling creates a marker file. The forged
bundle (checksums updated, as a careful forger would) is verified, pulled from the stand-in Hub and used; its
Zoo and course layouts are imported. The marker must never appear: verify, pull and the policy read policy.json,
and import refuses the pickle without ``--trust-pickle``.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from agents.bundle import Bundle
from agents.bundle.test_hostile import forge
from agents.common.errors import ImportCheckpointError
from tests.conftest import ROOT
from tests.hub_server import FakeHub

pytestmark = pytest.mark.slow  # verifies (re-simulates replays), a stand-in Hub

REPO = "mallory/ppo-Acrobot-v1"


class _Marker:
    """Unpickling this creates ``path``: proof that something unpickled the file."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.fixture(scope="module")
def forged(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("forged")
    marker = tmp / "UNPICKLED"
    probe = tmp / "PROBE"
    pickle.loads(pickle.dumps(_Marker(probe)))  # the payload works: unpickling it does create its file
    assert probe.exists()
    bundle = forge(
        tmp / "acrobot", {"vec_normalize.pkl": pickle.dumps(_Marker(marker))}, src=ROOT / "models" / "acrobot"
    )
    return bundle, marker


def test_verify_and_the_policy_never_unpickle_it(forged):
    bundle, marker = forged
    b = Bundle.open(bundle)
    assert all(c.ok for c in b.verify())
    b.policy().predict(np.zeros((1, 6), dtype=np.float32))
    assert not marker.exists()


def test_pull_downloads_it_and_never_unpickles_it(forged, tmp_path, monkeypatch):
    from agents.hub.client import pull

    bundle, marker = forged
    hub = FakeHub(tmp_path / "hub")
    hub.start()
    try:
        hub.create(REPO)
        files = {str(p.relative_to(bundle)): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
        hub.commit(REPO, files, set(), "forged", hub.head(REPO))
        for k, v in {"HF_HOME": tmp_path / "hf", "PLAYGROUND_DATA": tmp_path / "data", "HOME": tmp_path}.items():
            monkeypatch.setenv(k, str(v))
        pulled, _ = pull(REPO, endpoint=hub.url)
        assert (pulled.path / "vec_normalize.pkl").is_file()  # listed, so downloaded and checksummed
        pulled.policy().predict(np.zeros((1, 6), dtype=np.float32))
    finally:
        hub.stop()
    assert not marker.exists()


@pytest.mark.parametrize("layout", ["zoo", "course"])
def test_import_refuses_it_without_trust(forged, tmp_path, layout):
    """The repo laid out as rl_zoo3.load_from_hub lays it (``vecnormalize.pkl`` beside config.yml), or as a course
    user downloads it (``vec_normalize.pkl`` beside the zip): refused without --trust-pickle, nothing unpickled."""
    from agents.bundle.importer import import_checkpoint

    bundle, marker = forged
    if layout == "zoo":
        run = tmp_path / "logs" / "ppo" / "Acrobot-v1_1"
        (run / "Acrobot-v1").mkdir(parents=True)
        shutil.copy(bundle / "ppo-Acrobot-v1.zip", run / "Acrobot-v1.zip")
        for name in ("config.yml", "args.yml", "env_kwargs.yml"):
            shutil.copy(bundle / name, run / "Acrobot-v1" / name)
        shutil.copy(bundle / "vec_normalize.pkl", run / "Acrobot-v1" / "vecnormalize.pkl")
    else:
        run = tmp_path / "ppo-Acrobot-v1"
        run.mkdir()
        for name in ("ppo-Acrobot-v1.zip", "config.yml", "vec_normalize.pkl"):
            shutil.copy(bundle / name, run / name)
    with pytest.raises(ImportCheckpointError, match="trust-pickle"):
        import_checkpoint(run, "acrobot", out=tmp_path / "out", episodes=2, register=False, warn=lambda _: None)
    assert not marker.exists()


@pytest.fixture(scope="module")
def hub_with_repos(forged, tmp_path_factory):
    """The forged Acrobot repo (a hostile vec_normalize.pkl) and a course-style CartPole repo on the stand-in."""
    bundle, _ = forged
    server = FakeHub(tmp_path_factory.mktemp("hub"))
    server.start()
    acro = {str(p.relative_to(bundle)): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    cart_src = ROOT / "models" / "cartpole"
    cart = {n: (cart_src / n).read_bytes() for n in ("ppo-CartPole-v1.zip", "config.yml", "README.md")}
    for repo, files in ((REPO, acro), ("someone/ppo-CartPole-v1", cart)):
        server.create(repo)
        server.commit(repo, files, set(), "upload", server.head(repo))
    yield server
    server.stop()


def test_import_by_repo_id_downloads_the_checkpoint_and_imports_it(hub_with_repos, tmp_path, monkeypatch):
    """``playground import ORG/NAME``: the zip and the Zoo files, each by name, pinned to one commit; the rest of
    the repo (card, anything else) is not downloaded."""
    from agents.bundle.importer import import_checkpoint

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    hub = hub_with_repos
    seen = len(hub.requests)
    out = import_checkpoint(
        "someone/ppo-CartPole-v1",
        "cartpole",
        out=tmp_path / "b",
        episodes=2,
        replays=2,
        register=False,
        endpoint=hub.url,
        warn=lambda _: None,
    )
    b = Bundle.open(out)
    assert b.is_external and all(c.ok for c in b.verify())
    commit = hub.head("someone/ppo-CartPole-v1")
    assert b.manifest.source["hub"] == {"repo": "someone/ppo-CartPole-v1", "commit": commit, "endpoint": hub.url}
    assert b.manifest.source["kind"].startswith("hub repo")
    fetched = {r["path"].split("/resolve/", 1)[1] for r in hub.requests[seen:] if "/resolve/" in r["path"]}
    assert fetched == {f"{commit}/ppo-CartPole-v1.zip", f"{commit}/config.yml"}


def test_import_by_repo_id_refuses_the_pickle_without_trust(hub_with_repos, forged, tmp_path, monkeypatch):
    from agents.bundle.importer import import_checkpoint

    _, marker = forged
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ImportCheckpointError, match="trust-pickle"):
        import_checkpoint(REPO, "acrobot", out=tmp_path / "b", episodes=2, register=False, endpoint=hub_with_repos.url)
    assert not marker.exists() and not (tmp_path / "b").exists()
