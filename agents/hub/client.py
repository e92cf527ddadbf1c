"""Publish bundles to a Hugging Face Hub and pull them back, checked (``docs/hub.md``).

``publish`` makes one commit holding the whole bundle plus a ``replay.mp4`` encoded from one of its
recorded replays; the bundle already carries ``results.json`` and the model card. Repos are named as
the RL Zoo names them, ``ORG/ppo-<EnvId>``. ``pull`` downloads the files the bundle's manifest lists
into huggingface_hub's own cache, verifies every checksum and that the policy loads, and only then
records the agent (``agents.hub.registry``) so the app lists it.

The token is huggingface_hub's (``hf auth login``, or ``HF_TOKEN``); it is handed to the client and
nowhere else, and is scrubbed from any error message.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from agents.bundle import MANIFEST, Bundle, Manifest
from agents.common.files import sha256_file
from agents.common.errors import BundleError, HubError
from envs import GameSpec

REPLAY_VIDEO = "replay.mp4"
_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
_KEEP_REMOTE = {".gitattributes"}
"""files a Hub repo starts with that a publish leaves alone"""


def default_repo_name(spec: GameSpec) -> str:
    """The RL Zoo's naming: ``ppo-<EnvId>`` (``ppo-LunarLanderContinuous-v3`` for the continuous lander)."""
    return f"ppo-{spec.hub_env_id}"


def repo_id_for(repo: str, spec: GameSpec | None = None) -> str:
    """``ORG/NAME`` as given, or ``ORG`` completed with the Zoo name of the game."""
    repo = repo.strip().strip("/")
    if "/" not in repo and spec is not None:
        repo = f"{repo}/{default_repo_name(spec)}"
    if not _REPO_RE.match(repo) or ".." in repo:
        raise HubError(f"{repo!r} is not a Hub repo id: use ORG/NAME, e.g. my-org/ppo-CartPole-v1")
    return repo


def endpoint_url(endpoint: str | None = None) -> str:
    from huggingface_hub import constants

    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _offline() -> bool:
    from huggingface_hub import constants

    return constants.is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}


def _hub_cache() -> Path:
    """huggingface_hub's cache, read from the environment now (its constants are read once, at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    return Path(home).expanduser() / "hub"


def _scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text


# --- publish ---------------------------------------------------------------------------------------

@dataclass
class PublishPlan:
    """What a publish commits: the bundle's files as they are, and the replay video encoded at publish."""

    bundle: Bundle
    repo_id: str
    endpoint: str
    files: list[tuple[str, Path]] = field(default_factory=list)
    replay: str = ""

    def lines(self) -> list[str]:
        out = [f"{rel:48} {p.stat().st_size:>10,} bytes  sha256 {sha256_file(p)[:12]}" for rel, p in self.files]
        rep = self.bundle.replay(self.replay)
        out.append(f"{REPLAY_VIDEO:48} {'(encoded)':>10}        from replay '{self.replay}' (seed {rep['seed']}, "
                   f"{len(rep['actions'])} steps, return {rep['return']:.2f})")
        return out


def plan_publish(bundle_ref: str | Path, repo: str, endpoint: str | None = None) -> PublishPlan:
    """Check the bundle (it must verify, its card must carry the Hub's metadata) and list what would be committed."""
    from huggingface_hub import ModelCard

    bundle = Bundle.open(bundle_ref)
    failed = [c for c in bundle.verify() if not c.ok]
    if failed:
        raise HubError(f"{bundle.path} does not verify ({failed[0].name}: {failed[0].detail}); "
                       f"run `playground verify {bundle.path}` and fix it before publishing")
    card = ModelCard(bundle.card())
    tags = set(card.data.tags or [])
    if card.data.library_name != "stable-baselines3" or not card.data.eval_results or bundle.spec.env_id not in tags:
        raise HubError(f"{bundle.path}/README.md lacks the Hub's metadata (library_name stable-baselines3, the env id "
                       "tag, model-index); rebuild the bundle")
    names = bundle.replay_names()
    plan = PublishPlan(bundle=bundle, repo_id=repo_id_for(repo, bundle.spec), endpoint=endpoint_url(endpoint),
                       replay="median" if "median" in names else names[0])
    plan.files = bundle.files()
    return plan


def _replay_mp4(bundle: Bundle, name: str) -> bytes:
    from agents.media.watch import encode_mp4, trajectory

    rep = bundle.replay(name)
    return encode_mp4(trajectory(bundle.spec, rep).frames, bundle.spec.render_fps)


def publish(bundle_ref: str | Path, repo: str, endpoint: str | None = None, private: bool = False,
            log: Callable[[str], None] = print) -> dict[str, Any]:
    """Create the repo if needed and commit the bundle in one commit; an identical bundle makes no commit.

    Returns ``{"repo_id", "commit", "url", "changed"}``.
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    token = get_token()
    if not token:
        raise HubError("no Hugging Face token: log in with `hf auth login` or set HF_TOKEN (a token with write "
                       "access to the repo's owner); nothing was published")
    plan = plan_publish(bundle_ref, repo, endpoint)
    api = HfApi(endpoint=plan.endpoint, token=token)
    where = f"{plan.repo_id} on {plan.endpoint}"
    step = "encode the replay video"
    try:
        video = _replay_mp4(plan.bundle, plan.replay)
        step = "create the repo"
        api.create_repo(plan.repo_id, repo_type="model", private=private, exist_ok=True)
        step = "read the repo's current files"
        try:
            info = api.model_info(plan.repo_id)
            before, remote = info.sha, {s.rfilename for s in (info.siblings or [])}
        except RevisionNotFoundError:  # a repo without a commit yet
            before, remote = None, set()
        ours = {rel for rel, _ in plan.files} | {REPLAY_VIDEO}
        ops = [CommitOperationAdd(rel, str(path)) for rel, path in plan.files]
        ops.append(CommitOperationAdd(REPLAY_VIDEO, video))
        ops += [CommitOperationDelete(rel) for rel in sorted(remote - ours - _KEEP_REMOTE)]
        step = "commit"
        m = plan.bundle.manifest
        summary = plan.bundle.eval_result().summary
        commit = api.create_commit(
            plan.repo_id, ops, parent_commit=before,
            commit_message=f"PPO {plan.bundle.spec.env_id} agent ({plan.bundle.origin}), "
                           f"manifest sha256 {plan.bundle.manifest_sha256()[:12]}",
            commit_description=f"Published with `playground publish`. Evaluation: "
                               f"{summary['mean']:.2f} +/- {summary['std']:.2f}; "
                               f"reproduce: {'; '.join(m.reproduce or ['not reproduced here'])}")
    except RepositoryNotFoundError as exc:
        raise HubError(f"publishing {where} failed at '{step}': the repo is not there or the token cannot write "
                       f"to it ({_scrub(str(exc).splitlines()[0], token)}); nothing was committed") from None
    except (HfHubHTTPError, ValueError, OSError) as exc:
        raise HubError(f"publishing {where} failed at '{step}': {_scrub(str(exc).splitlines()[0], token)}; "
                       f"nothing was committed") from None
    except Exception as exc:  # httpx2 connection errors and the like: name the step, never a traceback
        if type(exc).__module__.startswith(("httpx", "huggingface_hub")):
            raise HubError(f"publishing {where} failed at '{step}': {type(exc).__name__}: "
                           f"{_scrub(str(exc), token)}; nothing was committed") from None
        raise
    changed = commit.oid != before
    return {"repo_id": plan.repo_id, "commit": commit.oid, "url": commit.commit_url, "changed": changed}


# --- pull ------------------------------------------------------------------------------------------

def _manifest_files(manifest: Any, repo_id: str) -> list[str]:
    """The files a pulled manifest lists, once it parses as a manifest (no unsafe or malformed entry)."""
    try:
        return sorted(Manifest.from_json(manifest, where=f"{repo_id}: {MANIFEST}").files)
    except BundleError as exc:
        raise HubError(f"{exc}; not downloading it") from None


def _open_verified(folder: Path) -> Bundle:
    """The bundle, once every check of ``playground verify`` passed: checksums first (when it is opened),
    then the policy loads without unpickling, the evaluation is consistent and every replay re-simulates."""
    bundle = Bundle.open(folder)
    failed = [c for c in bundle.verify() if not c.ok]
    if failed:
        raise BundleError(f"{failed[0].name}: {failed[0].detail}"
                          + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""))
    return bundle


def pull(repo: str, revision: str | None = None, endpoint: str | None = None,
         log: Callable[[str], None] = lambda _: None):
    """Download a published bundle into huggingface_hub's cache, verify it, and register it.

    Returns ``(bundle, registry entry)``. With HF_HUB_OFFLINE=1 only the cache is used.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    from agents.hub import registry

    repo_id = repo_id_for(repo)
    offline = _offline()
    url = endpoint_url(endpoint)
    at = f"{repo_id}@{revision}" if revision else repo_id
    common = dict(repo_type="model", cache_dir=str(_hub_cache()), endpoint=url, local_files_only=offline)

    def download(rev: str | None, patterns: list[str], force: bool = False) -> Path:
        try:
            return Path(snapshot_download(repo_id, revision=rev, allow_patterns=patterns, force_download=force,
                                          **common))
        except LocalEntryNotFoundError:
            if offline:
                raise HubError(f"{at} is not in the local Hugging Face cache and HF_HUB_OFFLINE=1 forbids "
                               f"downloading it: pull it once online, or unset HF_HUB_OFFLINE") from None
            raise HubError(f"cannot reach {url} to download {at}, and it is not in the local cache") from None
        except RepositoryNotFoundError:
            raise HubError(f"no repo {repo_id} on {url} (or it is private and you are not logged in)") from None
        except RevisionNotFoundError:
            raise HubError(f"{repo_id} on {url} has no revision {rev!r}") from None
        except HfHubHTTPError as exc:
            raise HubError(f"downloading {at} from {url} failed: {str(exc).splitlines()[0]}") from None
        except Exception as exc:  # connection errors from the HTTP client
            if type(exc).__module__.startswith(("httpx", "huggingface_hub")):
                raise HubError(f"downloading {at} from {url} failed: {type(exc).__name__}: {exc}") from None
            raise

    # the manifest first: it pins the commit and lists the files (and their sha256) to fetch
    snapshot = download(revision, [MANIFEST])
    commit = snapshot.name
    try:
        manifest = json.loads((snapshot / MANIFEST).read_text())
    except FileNotFoundError:
        raise HubError(f"{at} is not a PPO Playground bundle (it has no {MANIFEST}); an SB3 checkpoint can be "
                       "imported with `playground import`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HubError(f"{at}: {MANIFEST} is not valid JSON: {exc}") from None
    files = _manifest_files(manifest, repo_id)
    log(f"{at}: commit {commit}, {len(files) + 1} files")
    snapshot = download(commit, files + [MANIFEST])

    try:
        bundle = _open_verified(snapshot)
    except BundleError as exc:
        if offline:
            raise HubError(f"the cached copy of {at} fails its checks ({exc}); it was not added. Pull it again "
                           "online to download it afresh") from None
        log("the cached copy fails its checks; downloading it afresh")
        snapshot = download(commit, files + [MANIFEST], force=True)
        try:
            bundle = _open_verified(snapshot)
        except BundleError as exc2:
            raise HubError(f"{at} (commit {commit[:12]}) fails its checks, so it was not added: {exc2}") from None
    entry = registry.add(f"hub:{repo_id}", bundle.spec.slug, snapshot, f"hub {repo_id}@{commit[:7]}",
                         repo=repo_id, revision=revision, commit=commit, endpoint=url)
    return bundle, entry
