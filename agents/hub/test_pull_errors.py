"""Every way `playground pull` fails says, in one line, what the server answered (issue 14 item 7).

Against the stand-in Hub (``tests/hub_server.py``) over real HTTP on loopback, with the real CLI in a
subprocess: no such repo, no such revision, a file the manifest lists missing from the repo, a server
that refuses the connection, and offline mode. Each: exit status 1, one ``error:`` line on stderr naming
the server's answer (status, huggingface_hub's error class, the server's message), no traceback, nothing
registered.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from agents.bundle import MANIFEST
from agents.hub.test_hub import cli
from tests.conftest import ROOT
from tests.hub_server import FakeHub

pytestmark = pytest.mark.slow  # a stand-in Hub and the CLI in subprocesses

REPO = "acme/ppo-Acrobot-v1"
GAPPY = "acme/gappy"
"""a bundle whose manifest lists results.json, which the repo lacks"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    server = FakeHub(tmp_path_factory.mktemp("hub"))
    server.start()
    src = ROOT / "models" / "acrobot"
    files = {str(p.relative_to(src)): p.read_bytes() for p in src.rglob("*") if p.is_file()}
    assert "results.json" in files and MANIFEST in files
    for repo, content in ((REPO, files), (GAPPY, {k: v for k, v in files.items() if k != "results.json"})):
        server.create(repo)
        server.commit(repo, content, set(), "upload", server.head(repo))
    yield server
    server.stop()


def _one_line_error(proc) -> str:
    """The CLI failed at run time (exit 1) and said so in one line, without a traceback."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def _nothing_registered(home_env) -> None:
    agents = Path(home_env["PLAYGROUND_DATA"]) / "agents.json"
    assert not agents.exists() or "hub:" not in agents.read_text()


def test_no_such_repo(hub, home):
    err = _one_line_error(cli("pull", "nobody/nothing", "--endpoint", hub.url, env=home))
    assert "no repo nobody/nothing" in err and hub.url in err
    assert "the server answered 404 (RepositoryNotFoundError: Repository not found)" in err
    _nothing_registered(home)


def test_no_such_revision(hub, home):
    err = _one_line_error(cli("pull", REPO, "--revision", "v9", "--endpoint", hub.url, env=home))
    assert "has no revision 'v9'" in err
    assert "the server answered 404 (RevisionNotFoundError: Revision not found)" in err
    _nothing_registered(home)


def test_a_listed_file_missing_from_the_repo(hub, home):
    err = _one_line_error(cli("pull", GAPPY, "--endpoint", hub.url, env=home))
    assert f"{GAPPY}: the manifest lists results.json, which the repo does not have" in err
    assert "the server answered 404 (RemoteEntryNotFoundError: Entry not found)" in err
    _nothing_registered(home)


def test_a_server_that_refuses_the_connection(home):
    with socket.socket() as s:  # a port nobody listens on: bound, never listening, then released
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    # huggingface_hub retries an unreachable server five times (about 23 s); its retry warnings stay quiet
    err = _one_line_error(cli("pull", REPO, "--endpoint", dead, env=home))
    assert f"cannot reach {dead}" in err and "connection refused" in err
    _nothing_registered(home)


def test_offline_mode_with_nothing_cached(hub, home):
    before = len(hub.requests)
    err = _one_line_error(cli("pull", REPO, "--endpoint", hub.url, env={**home, "HF_HUB_OFFLINE": "1"}))
    assert "not in the local Hugging Face cache" in err and "HF_HUB_OFFLINE=1" in err
    assert f"no request was sent to {hub.url}" in err
    assert len(hub.requests) == before  # and none was
    _nothing_registered(home)


def test_the_stand_in_answers_misses_as_the_hub_does(hub):
    """The 404s above come from the server's answer, not a dropped connection: the client's own error classes."""
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    api = HfApi(endpoint=hub.url, token=False)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("nobody/nothing")
    with pytest.raises(RevisionNotFoundError):
        api.model_info(REPO, revision="v9")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(GAPPY, "results.json", endpoint=hub.url, token=False, dry_run=True)
    assert api.model_info(REPO).sha == hub.head(REPO)
