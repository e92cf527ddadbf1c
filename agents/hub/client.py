"""Publish bundles to a Hugging Face Hub and pull them back, checked (``docs/hub.md``).

``publish`` makes one commit holding the whole bundle plus a ``replay.mp4`` encoded from one of its
recorded replays; the bundle already carries ``results.json`` and the model card. Repos are named as
the RL Zoo names them, ``ORG/ppo-<EnvId>``. ``pull`` downloads exactly the files the bundle's manifest
lists, each by its exact name and after checking its size, into huggingface_hub's own cache; verifies every
checksum and everything the app relies on (``Bundle.verify``); and only then records the agent
(``agents.hub.registry``) so the app lists it. The repo's author is untrusted (``docs/security.md``).

The token is huggingface_hub's (``hf auth login``, or ``HF_TOKEN``); it is handed to the client and
nowhere else, and is scrubbed from any error message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.bundle import MANIFEST, Bundle, Manifest
from agents.common.errors import BundleError, HubError
from agents.common.files import sha256_file
from agents.common.progress import Progress
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
        out.append(
            f"{REPLAY_VIDEO:48} {'(encoded)':>10}        from replay '{self.replay}' (seed {rep['seed']}, "
            f"{len(rep['actions'])} steps, return {rep['return']:.2f})"
        )
        return out


def plan_publish(bundle_ref: str | Path, repo: str, endpoint: str | None = None) -> PublishPlan:
    """Check the bundle (it must verify, its card must carry the Hub's metadata) and list what would be committed."""
    from huggingface_hub import ModelCard

    bundle = Bundle.open(bundle_ref)
    failed = [c for c in bundle.verify() if not c.ok]
    if failed:
        raise HubError(
            f"{bundle.path} does not verify ({failed[0].name}: {failed[0].detail}); "
            f"run `playground verify {bundle.path}` and fix it before publishing"
        )
    card = ModelCard(bundle.card())
    tags = set(card.data.tags or [])
    from agents.bundle.interop import registered_env_id

    env_tagged = bool({bundle.spec.env_id, registered_env_id(bundle.spec)} & tags)
    if card.data.library_name != "stable-baselines3" or not card.data.eval_results or not env_tagged:
        raise HubError(
            f"{bundle.path}/README.md lacks the Hub's metadata (library_name stable-baselines3, the env id "
            "tag, model-index); rebuild the bundle"
        )
    names = bundle.replay_names()
    plan = PublishPlan(
        bundle=bundle,
        repo_id=repo_id_for(repo, bundle.spec),
        endpoint=endpoint_url(endpoint),
        replay="median" if "median" in names else names[0],
    )
    plan.files = bundle.files()
    return plan


def _replay_mp4(bundle: Bundle, name: str) -> bytes:
    from agents.media.watch import encode_mp4, trajectory

    rep = bundle.replay(name)
    return encode_mp4(trajectory(bundle.spec, rep).frames, bundle.spec.render_fps)


def publish(
    bundle_ref: str | Path,
    repo: str,
    endpoint: str | None = None,
    private: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Create the repo if needed and commit the bundle in one commit; an identical bundle makes no commit.

    Returns ``{"repo_id", "commit", "url", "changed"}``.
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    token = get_token()
    if not token:
        raise HubError(
            "no Hugging Face token: log in with `hf auth login` or set HF_TOKEN (a token with write "
            "access to the repo's owner); nothing was published"
        )
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
        log(f"committing {len(ops)} files to {where} ...")
        m = plan.bundle.manifest
        summary = plan.bundle.eval_result().summary
        commit = api.create_commit(
            plan.repo_id,
            ops,
            parent_commit=before,
            commit_message=f"PPO {plan.bundle.spec.env_id} agent ({plan.bundle.origin}), "
            f"manifest sha256 {plan.bundle.manifest_sha256()[:12]}",
            commit_description=f"Published with `playground publish`. Evaluation: "
            f"{summary['mean']:.2f} +/- {summary['std']:.2f}; "
            f"reproduce: {'; '.join(m.reproduce or ['not reproduced here'])}",
        )
    except RepositoryNotFoundError as exc:
        raise HubError(
            f"publishing {where} failed at '{step}': the repo is not there or the token cannot write "
            f"to it ({_scrub(str(exc).splitlines()[0], token)}); nothing was committed"
        ) from None
    except (HfHubHTTPError, ValueError, OSError) as exc:
        raise HubError(
            f"publishing {where} failed at '{step}': {_scrub(str(exc).splitlines()[0], token)}; nothing was committed"
        ) from None
    except Exception as exc:  # httpx2 connection errors and the like: name the step, never a traceback
        if type(exc).__module__.startswith(("httpx", "huggingface_hub")):
            raise HubError(
                f"publishing {where} failed at '{step}': {type(exc).__name__}: "
                f"{_scrub(str(exc), token)}; nothing was committed"
            ) from None
        raise
    changed = commit.oid != before
    return {"repo_id": plan.repo_id, "commit": commit.oid, "url": commit.commit_url, "changed": changed}


# --- pull ------------------------------------------------------------------------------------------


def _manifest_files(manifest: Any, repo_id: str) -> list[str]:
    """The files a pulled manifest lists, once it parses as a manifest (plain relative names, no patterns)."""
    try:
        return sorted(Manifest.from_json(manifest, where=f"{repo_id}: {MANIFEST}").files)
    except BundleError as exc:
        raise HubError(f"{exc}; not downloading it") from None


def _repo_exists(repo_id: str, revision: str | None, endpoint: str) -> bool:
    from huggingface_hub import HfApi

    try:
        HfApi(endpoint=endpoint).model_info(repo_id, revision=revision or "main")
        return True
    except Exception:  # any failure: we cannot tell, so the repo counts as missing
        return False


def _scrub_token(text: str) -> str:
    from huggingface_hub import get_token

    return _scrub(" ".join(text.split()), get_token())


def _answer(exc: Any) -> str:
    """What the server answered, in one line: the status, huggingface_hub's error class and the server's own
    message (its ``X-Error-Message`` or JSON ``error``), e.g. ``the server answered 404 (RepositoryNotFoundError:
    Repository not found)``."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    message = getattr(exc, "server_message", None) or str(exc).strip().splitlines()[0]
    return _scrub_token(f"the server answered {status or 'an error'} ({type(exc).__name__}: {message})")


def _unreachable(exc: BaseException) -> str:
    """Why no answer came: connection refused, a timeout, or the client's own words for it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or "connection refused" in str(seen).lower():
            return "connection refused (is the endpoint right and its server up?)"
        if isinstance(seen, TimeoutError) or "timeout" in type(seen).__name__.lower():
            return f"no answer in time ({type(seen).__name__})"
        seen = seen.__cause__ or seen.__context__
    cause = exc.__cause__ or exc.__context__ or exc
    return _scrub_token(f"{type(cause).__name__}: {cause}")


@contextmanager
def _quiet_retries():
    """huggingface_hub logs each retry of an unreachable server as a warning on stderr; the one-line HubError
    says what happened, so those lines are held back while a pull downloads. A filter of its own, added and
    removed, rather than a level changed, so that pulls in several threads (the app) cannot leave it set."""
    import logging

    http_log = logging.getLogger("huggingface_hub.utils._http")
    below_error = _BelowError()
    http_log.addFilter(below_error)
    try:
        yield
    finally:
        http_log.removeFilter(below_error)


class _BelowError:
    def filter(self, record: Any) -> bool:
        return record.levelno >= 40  # logging.ERROR


class _Download:
    """Files of one Hub repo, each fetched by its exact name with ``hf_hub_download`` into huggingface_hub's
    cache (never a pattern), errors turned into one line naming the repo."""

    def __init__(self, repo_id: str, revision: str | None, endpoint: str | None):
        self.repo_id, self.offline, self.url = repo_id, _offline(), endpoint_url(endpoint)
        self.at = f"{repo_id}@{revision}" if revision else repo_id
        self.common = dict(
            repo_type="model", cache_dir=str(_hub_cache()), endpoint=self.url, local_files_only=self.offline
        )

    def fetch(self, rel: str, rev: str | None, force: bool = False, dry_run: bool = False) -> Any:
        """One file (``dry_run``: its size and commit, nothing downloaded)."""
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (
            EntryNotFoundError,
            HfHubHTTPError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        try:
            with _quiet_retries():
                return hf_hub_download(
                    self.repo_id, rel, revision=rev, force_download=force, dry_run=dry_run, **self.common
                )
        except LocalEntryNotFoundError as exc:
            if self.offline:
                raise HubError(
                    f"{self.at} is not in the local Hugging Face cache and HF_HUB_OFFLINE=1 forbids "
                    f"downloading it (no request was sent to {self.url}): pull it once online, or unset HF_HUB_OFFLINE"
                ) from None
            raise HubError(
                f"cannot reach {self.url} to download {self.at}: {_unreachable(exc)}; it is not in the local cache"
            ) from None
        except RepositoryNotFoundError as exc:
            # some mirrors answer a missing file as a missing repo
            if rel == MANIFEST and _repo_exists(self.repo_id, rev, self.url):
                raise self.not_a_bundle() from None
            raise HubError(
                f"no repo {self.repo_id} on {self.url} (or it is private and you are not logged in): {_answer(exc)}"
            ) from None
        except RevisionNotFoundError as exc:
            raise HubError(f"{self.repo_id} on {self.url} has no revision {rev!r}: {_answer(exc)}") from None
        except EntryNotFoundError as exc:
            if rel == MANIFEST:
                raise self.not_a_bundle() from None
            raise HubError(
                f"{self.at}: the manifest lists {rel}, which the repo does not have: {_answer(exc)}"
            ) from None
        except HfHubHTTPError as exc:
            raise HubError(f"downloading {self.at} from {self.url} failed: {_answer(exc)}") from None
        except Exception as exc:  # connection errors from the HTTP client
            if type(exc).__module__.startswith(("httpx", "huggingface_hub")):
                raise HubError(
                    f"downloading {self.at} from {self.url} failed: {type(exc).__name__}: {_scrub_token(str(exc))}"
                ) from None
            raise

    def not_a_bundle(self) -> HubError:
        return HubError(
            f"{self.at} is not a PPO Playground bundle (it has no {MANIFEST}); an SB3 checkpoint can be "
            "imported with `playground import`"
        )

    def size(self, rel: str, rev: str | None, limit: int, setting: str) -> int:
        """The size the Hub gives for a file, refused over ``limit`` before anything is downloaded."""
        from agents.common.untrusted import too_big

        size = self.fetch(rel, rev, dry_run=True).file_size
        if size is None:
            raise HubError(f"{self.at}: the Hub does not say how large {rel} is; not downloading it")
        if size > limit:
            raise HubError(too_big(f"{self.at}: {rel}", size, limit, setting) + "; nothing was downloaded")
        return int(size)


def pull(
    repo: str, revision: str | None = None, endpoint: str | None = None, log: Callable[[str], None] = lambda _: None
):
    """Download a published bundle into huggingface_hub's cache, verify it, and register it.

    The manifest comes first (its size checked before it is downloaded; it pins the commit), then exactly
    the files it lists, each by its exact name with ``hf_hub_download`` (never a pattern), after every size
    has been checked against ``PLAYGROUND_MAX_FILE_MB`` and their sum against ``PLAYGROUND_MAX_BUNDLE_MB``.
    The agent is registered only once every check of ``playground verify`` passed.

    Returns ``(bundle, registry entry)``. With HF_HUB_OFFLINE=1 only the cache is used.
    """
    from agents.common.settings import max_bundle_bytes, max_file_bytes, max_json_bytes
    from agents.common.untrusted import read_json, too_big
    from agents.hub import registry

    repo_id = repo_id_for(repo)
    hub = _Download(repo_id, revision, endpoint)
    at = hub.at

    # the manifest first: it pins the commit and lists the files (and their sha256) to fetch. It is fetched
    # by the revision asked for, so that huggingface_hub records the ref and an offline pull finds it again.
    hub.size(MANIFEST, revision, max_json_bytes(), "PLAYGROUND_MAX_JSON_MB")
    manifest_path = Path(hub.fetch(MANIFEST, revision))
    snapshot = manifest_path.parent.parent
    commit = snapshot.name
    try:
        manifest = read_json(Path(os.path.realpath(manifest_path)), f"{at}: {MANIFEST}", HubError)
    except HubError as exc:
        raise HubError(f"{exc}; not downloading the rest") from None
    files = _manifest_files(manifest, repo_id)

    # every size before any download: one file over its cap, or all of them over the total, and nothing is fetched
    total, total_limit = 0, max_bundle_bytes()
    for rel in files:
        total += hub.size(rel, commit, max_file_bytes(), "PLAYGROUND_MAX_FILE_MB")
        if total > total_limit:
            raise HubError(
                too_big(f"{at}: the files its manifest lists", total, total_limit, "PLAYGROUND_MAX_BUNDLE_MB")
                + "; nothing was downloaded"
            )
    log(f"{at}: commit {commit}, {len(files) + 1} files, {total:,} bytes")
    with Progress(f"pull {repo_id}", len(files), "files", every=5.0) as bar:
        for rel in files:
            hub.fetch(rel, commit)
            bar.advance(1, rel)
    bundle = _open_checksummed(snapshot, hub, [*files, MANIFEST], commit, log)
    failed = [c for c in bundle.verify() if not c.ok]  # the content: what the app relies on
    if failed:
        raise HubError(
            f"{at} (commit {commit[:12]}) fails its checks, so it was not added: {failed[0].name}: "
            f"{failed[0].detail}" + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
        )
    entry = registry.add(
        f"hub:{repo_id}",
        bundle.spec.slug,
        snapshot,
        f"hub {repo_id}@{commit[:7]}",
        repo=repo_id,
        revision=revision,
        commit=commit,
        endpoint=hub.url,
    )
    return bundle, entry


def _open_checksummed(
    snapshot: Path, hub: _Download, files: list[str], commit: str, log: Callable[[str], None]
) -> Bundle:
    """The downloaded bundle once every checksum matches; a damaged or tampered cache is downloaded afresh
    once (online)."""
    try:
        return Bundle.open(snapshot)
    except BundleError as exc:
        if hub.offline:
            raise HubError(
                f"the cached copy of {hub.at} fails its checks ({exc}); it was not added. Pull it again "
                "online to download it afresh"
            ) from None
    log("the cached copy fails its checks; downloading it afresh")
    for rel in files:
        hub.fetch(rel, commit, force=True)
    try:
        return Bundle.open(snapshot)
    except BundleError as exc2:
        raise HubError(f"{hub.at} (commit {commit[:12]}) fails its checks, so it was not added: {exc2}") from None


# --- import by repo id ----------------------------------------------------------------------------------

CHECKPOINT_FILES = ("config.yml", "args.yml", "env_kwargs.yml", "vec_normalize.pkl")
"""what an RL Zoo or Deep RL course repo holds beside its zip that ``playground import`` reads (the pickle only
with ``--trust-pickle``; it is downloaded so that the import can say why it refuses the run)"""
MAX_REPO_LISTING = 1000


def is_repo_id(text: str) -> bool:
    """``ORG/NAME`` as the Hub spells repo ids (and not a path that exists here)."""
    return bool(_REPO_RE.match(text)) and ".." not in text and not Path(text).exists()


def fetch_checkpoint(
    repo: str, dest: Path, revision: str | None = None, endpoint: str | None = None
) -> tuple[Path, dict[str, Any]]:
    """Download an SB3 checkpoint repo (RL Zoo or Deep RL course layout) into ``dest/<NAME>`` for the safe import.

    The repo's file list comes from the Hub; only the ``.zip`` named like the repo (``ppo-<EnvId>.zip``, else the
    only zip) and the files of ``CHECKPOINT_FILES`` are downloaded, each by its exact name with
    ``hf_hub_download`` after its size was checked (``PLAYGROUND_MAX_FILE_MB``, the sum under
    ``PLAYGROUND_MAX_BUNDLE_MB``), pinned to one commit. They are copied (never linked) into ``dest/<NAME>``, the
    folder ``playground import`` then reads as any other. Returns the folder and ``{"repo", "commit", "endpoint"}``.
    """
    import shutil

    from huggingface_hub import HfApi

    from agents.common.settings import max_bundle_bytes, max_file_bytes
    from agents.common.untrusted import too_big

    repo_id = repo_id_for(repo)
    hub = _Download(repo_id, revision, endpoint)
    try:
        with _quiet_retries():
            info = HfApi(endpoint=hub.url).model_info(repo_id, revision=revision or "main")
    except Exception as exc:
        from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

        if isinstance(exc, RepositoryNotFoundError):
            raise HubError(
                f"no such file or folder here, and no repo {repo_id} on {hub.url} (or it is private and you are "
                f"not logged in): {_answer(exc)}"
            ) from None
        if isinstance(exc, RevisionNotFoundError):
            raise HubError(f"{repo_id} on {hub.url} has no revision {revision!r}: {_answer(exc)}") from None
        raise HubError(f"cannot list the files of {hub.at} on {hub.url}: {_unreachable(exc)}") from None
    names = [s.rfilename for s in (info.siblings or [])][:MAX_REPO_LISTING]
    commit = info.sha
    name = repo_id.split("/", 1)[1]
    zips = [n for n in names if n.endswith(".zip") and "/" not in n and n != "train_eval_metrics.zip"]
    chosen = f"{name}.zip" if f"{name}.zip" in zips else (zips[0] if len(zips) == 1 else None)
    if chosen is None:
        raise HubError(
            f"{hub.at} holds no SB3 checkpoint to import: expected {name}.zip or a single zip "
            f"(zips: {', '.join(zips[:10]) or 'none'})"
        )
    wanted = [chosen, *(f for f in CHECKPOINT_FILES if f in names)]
    total = 0
    for rel in wanted:
        total += hub.size(rel, commit, max_file_bytes(), "PLAYGROUND_MAX_FILE_MB")
        if total > max_bundle_bytes():
            raise HubError(
                too_big(f"{hub.at}: the files to import", total, max_bundle_bytes(), "PLAYGROUND_MAX_BUNDLE_MB")
            )
    folder = Path(dest) / name
    folder.mkdir(parents=True, exist_ok=False)
    for rel in wanted:
        shutil.copyfile(hub.fetch(rel, commit), folder / rel)  # a copy: the importer refuses links
    return folder, {"repo": repo_id, "commit": commit, "endpoint": hub.url}
