"""A hostile corpus against `playground pull` (issue 18; docs/security.md): repos on the stand-in Hub
(``tests/hub_server.py``) whose author forged a bundle, pulled by the real CLI in a child process with a
capped address space and an audit of every file it opens (``agents/bundle/test_hostile.py``).

For each: the exit status, one error line naming the cause, no traceback, peak memory under 1 GB, no file
opened outside the bundle, nothing registered, and (from the stand-in's request log) nothing downloaded
that the manifest does not list, nor a file whose size is over the limits.
"""

from __future__ import annotations

import json
import os

import pytest

from agents.bundle import MANIFEST
from agents.bundle.test_hostile import (
    CARTPOLE,
    HELD_VERIFY_CASES,
    VERIFY_CASES,
    alias_bomb,
    assert_refused,
    deep_json,
    forge,
    run_cases,
    sha256,
)
from tests.hub_server import FakeHub

pytestmark = pytest.mark.slow

UNLISTED = "big.bin"
"""a file in every hostile repo that no manifest lists: downloading it means a pattern matched too much"""


def _repo_files(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    server = FakeHub(tmp_path_factory.mktemp("hub"))
    server.start()
    yield server
    server.stop()


PULL_CASES = {
    # unbounded cost from a small file: the same forged bundles `verify` refuses
    "config-alias-bomb": (VERIFY_CASES["config-alias-bomb"][0], ["fails its checks", "aliases"]),
    "policy-20000-wide": (VERIFY_CASES["policy-20000-wide"][0], ["not added", "PLAYGROUND_MAX_PARAMETERS"]),
    # accepting what cannot be used
    "nan-weights": (VERIFY_CASES["nan-weights"][0], ["not added", "NaN"]),
    "another-games-policy": (VERIFY_CASES["another-games-policy"][0], ["not added", "made for another game"]),
    "no-health-json": (VERIFY_CASES["no-health-json"][0], ["not added", "evidence/health.json"]),
    "replay-fractional-actions": (VERIFY_CASES["replay-fractional-actions"][0], ["not added", "outside CartPole's"]),
    "replay-seed-negative": (VERIFY_CASES["replay-seed-negative"][0], ["not added", "seed -1"]),
}


@pytest.fixture(scope="module")
def pulled(hub, tmp_path_factory):
    root = tmp_path_factory.mktemp("pull")
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("a system file\n")
    big = os.urandom(2**20)
    cases = []

    def publish(name: str, folder, extra: dict[str, bytes] | None = None, env: dict | None = None):
        repo = f"evil/{name}"
        hub.create(repo)
        hub.commit(repo, {**_repo_files(folder), UNLISTED: big, **(extra or {})}, set(), "upload", hub.head(repo))
        cases.append({"id": name, "argv": ["pull", repo, "--endpoint", hub.url], "env": env or {}})

    for name, (edits, _) in PULL_CASES.items():
        publish(name, forge(root / name, edits))
    # the forgeries are careful: their checksums match, so what fails is the content
    m = json.loads((root / "config-alias-bomb" / MANIFEST).read_text())
    assert m["files"]["config.yml"] == sha256(alias_bomb())
    publish("eval-without-summary", forge(root / "no-summary", HELD_VERIFY_CASES["eval-without-summary"][0]))
    # a manifest entry that is a pattern: only exact names are ever downloaded
    publish("manifest-glob-entry", forge(root / "glob", manifest_edit=lambda m: m["files"].update({"*": "0" * 64})))
    # a manifest that lists a reproduction report, whose own manifest lists a file outside the bundle
    report = "evidence/reproductions/20260101T000000Z-r/manifest.json"
    content = json.dumps({"files": {str(outside / "secret.txt"): "0" * 64}}).encode()
    publish("reproduction-listed", forge(root / "repro", {report: content}))
    # sizes over the limits: one listed file, the sum of them, and the manifest itself
    padded = b" " * (2 * 2**20) + (CARTPOLE / "results.json").read_bytes()
    publish(
        "file-over-the-limit", forge(root / "big-file", {"results.json": padded}), env={"PLAYGROUND_MAX_FILE_MB": "1"}
    )
    publish("bundle-over-the-limit", forge(root / "big-bundle"), env={"PLAYGROUND_MAX_BUNDLE_MB": "0.3"})
    publish(
        "manifest-over-the-limit",
        forge(root / "big-manifest", manifest_edit=lambda m: m.update(padding="x" * 2 * 2**20)),
        env={"PLAYGROUND_MAX_JSON_MB": "1"},
    )
    publish("manifest-deep-json", forge(root / "deep-manifest"), extra={MANIFEST: deep_json(50_000)})
    env = {"HF_HOME": str(root / "hf"), "PLAYGROUND_DATA": str(root / "data"), "HOME": str(root)}
    results = run_cases(cases, root, outside, env=env)
    results["_data"] = root / "data"
    return results


def _gets(hub, repo: str) -> set[str]:
    """The files the client downloaded (GET) from ``repo``; HEAD requests only ask for sizes."""
    prefix = f"/{repo}/resolve/"
    return {r["path"].split("/", 5)[-1] for r in hub.requests if r["method"] == "GET" and r["path"].startswith(prefix)}


@pytest.mark.parametrize("case", sorted(PULL_CASES))
def test_pull_refuses_what_the_app_cannot_show(case, pulled, hub):
    assert_refused(pulled[case], *PULL_CASES[case][1])
    assert UNLISTED not in _gets(hub, f"evil/{case}")
    agents = pulled["_data"] / "agents.json"
    assert not agents.exists() or f"evil/{case}" not in agents.read_text(), "a refused agent is not registered"


def test_a_pattern_in_the_manifest_downloads_nothing_else(pulled, hub):
    assert_refused(pulled["manifest-glob-entry"], "unsafe or malformed file entry '*'", "not downloading it")
    assert _gets(hub, "evil/manifest-glob-entry") == {MANIFEST}


def test_sizes_are_checked_before_downloading(pulled, hub):
    assert_refused(
        pulled["file-over-the-limit"], "results.json is 2.0 MB", "PLAYGROUND_MAX_FILE_MB", "nothing was downloaded"
    )
    assert _gets(hub, "evil/file-over-the-limit") == {MANIFEST}
    assert_refused(pulled["bundle-over-the-limit"], "the files its manifest lists", "PLAYGROUND_MAX_BUNDLE_MB")
    assert _gets(hub, "evil/bundle-over-the-limit") == {MANIFEST}
    assert_refused(pulled["manifest-over-the-limit"], MANIFEST, "PLAYGROUND_MAX_JSON_MB")
    assert _gets(hub, "evil/manifest-over-the-limit") == set()


def test_a_deeply_nested_manifest_is_one_line(pulled):
    assert_refused(pulled["manifest-deep-json"], MANIFEST, "nested")


def test_what_held_before_still_holds(pulled, hub):
    """Refused before this boundary too (the manifest was already checked, verify already read eval.json):
    a manifest that lists a reproduction report, an eval.json without its summary. Still refused, now before
    anything but the manifest is downloaded, with the cause named."""
    said = assert_refused(pulled["reproduction-listed"], "evidence/reproductions/", "cannot list")
    assert "secret" not in said and "was changed" not in said
    assert _gets(hub, "evil/reproduction-listed") == {MANIFEST}
    assert_refused(pulled["eval-without-summary"], "not added", "lacks 'summary'")
