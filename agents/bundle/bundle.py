"""The agent bundle: weights, config, model card and the evidence, in one folder (``docs/bundle.md``).

Everything the app, the hub and reproduction need goes through :class:`Bundle`; no module outside
``agents.bundle`` joins a bundle's paths or reads its manifest's JSON.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.bundle import validate
from agents.bundle.manifest import MANIFEST, MAX_FILES, REPRODUCTIONS, Check, Manifest
from agents.common.errors import BundleError
from agents.common.files import sha256_file
from agents.common.progress import Progress
from agents.common.settings import max_bundle_bytes, max_config_bytes, max_file_bytes, models_dir
from agents.common.untrusted import parse_csv_rows, parse_yaml, read_json, read_text, too_big
from agents.evaluation.evaluate import EvalResult, Protocol, evaluate_policy, wrappers_of
from agents.evaluation.replay import check_replay, resimulate
from agents.policy.network import LoadedPolicy, PolicyFiles, load_policy
from envs import GameSpec, get_spec

CARD = "README.md"
MATCH_MANIFEST = "manifest.json"
"""where a two-player bundle keeps its manifest (``agents/bundle/match.py``); a single-player one has
``evidence/manifest.json``, so the tools that list single-player bundles never take one for the other"""
WEIGHTS = "policy.safetensors"
REPLAYS = "evidence/replays"


def hub_blobs(path: Path) -> Path | None:
    """The blobs folder of a bundle in huggingface_hub's cache (``models--ORG--NAME/snapshots/<commit>``), whose
    files are links huggingface_hub made to ``models--ORG--NAME/blobs/<hash>``: the only links a bundle may have."""
    if path.parent.name == "snapshots" and path.parent.parent.name.startswith("models--"):
        return Path(os.path.realpath(path.parent.parent)) / "blobs"
    return None


def confined(root: Path, rel: str, blobs: Path | None = None) -> Path:
    """Where to read the file ``rel`` of the folder ``root``, refusing anything that leads outside it.

    ``rel`` must be a relative path of plain names; every folder on the way must be a real folder (not a
    link); the file must be a regular file, or, in huggingface_hub's cache (``blobs``), a link into that
    repo's ``blobs/`` folder, whose target is then returned. Nothing outside ``root`` is opened, and the
    message does not say whether a link's target exists.
    """
    validate.check_rel(rel, str(root))
    parts = rel.split("/")
    p = root
    for i, part in enumerate(parts):
        p = p / part
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            raise BundleError(f"{rel} is missing") from None
        except OSError as exc:
            raise BundleError(f"{rel} cannot be read: {exc.strerror}") from None
        last = i == len(parts) - 1
        if stat.S_ISLNK(st.st_mode):
            real = Path(os.path.realpath(p))
            if not last or blobs is None or real.parent != blobs:
                raise BundleError(
                    f"{rel} is a symbolic link{'' if last else f' on the way ({part})'}; links are "
                    "refused, so that nothing outside the bundle is read"
                )
            try:
                st = os.lstat(real)
            except FileNotFoundError:
                raise BundleError(f"{rel} is missing (its cached blob is gone)") from None
            p = real
        if not last and not stat.S_ISDIR(st.st_mode):
            raise BundleError(f"{rel} is missing ({part} is not a folder)")
    if not stat.S_ISREG(st.st_mode):
        raise BundleError(f"{rel} is not a regular file")
    return p


def present_files(root: Path, skip: str | None = None) -> tuple[set[str], list[str]]:
    """Every file (or link) under ``root`` as a relative path, without following links; the second list holds
    what a bundle cannot have: devices, sockets, and more entries than a bundle ever has."""
    files: set[str] = set()
    odd: list[str] = []
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = list(os.scandir(root / rel_dir))
        except OSError as exc:
            odd.append(f"{rel_dir or '.'} ({exc.strerror})")
            continue
        for e in entries:
            rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
            if rel == skip and e.is_dir(follow_symlinks=False):
                continue
            if e.is_dir(follow_symlinks=False):
                stack.append(rel)
            elif e.is_file(follow_symlinks=False) or e.is_symlink():
                files.add(rel)
            else:
                odd.append(rel)
            if len(files) + len(odd) > 4 * MAX_FILES:
                return files, [*odd, f"more than {4 * MAX_FILES} files"]
    return files, odd


def check_listed_files(
    root: Path, files: dict[str, str], manifest_rel: str, blobs: Path | None = None, skip: str | None = None
) -> list[Check]:
    """A folder's files against its manifest's ``files`` (path -> sha256): each is inside ``root`` (see
    :func:`confined`), within the size limits (checked before hashing) and has its sha256; and nothing but
    ``manifest_rel`` (and the folder ``skip``) is unlisted. One :class:`Check` per file, then the unlisted."""
    checks = []
    per_file, total_limit, total = max_file_bytes(), max_bundle_bytes(), 0
    for rel, digest in sorted(files.items()):
        try:
            p = confined(root, rel, blobs)
            size = os.stat(p).st_size
            total += size
            if size > per_file:
                raise BundleError(too_big(rel, size, per_file, "PLAYGROUND_MAX_FILE_MB"))
            if total > total_limit:
                raise BundleError(
                    too_big(f"the bundle's files up to {rel}", total, total_limit, "PLAYGROUND_MAX_BUNDLE_MB")
                )
        except BundleError as exc:
            checks.append(Check(f"sha256 {rel}", False, str(exc)))
            continue
        actual = sha256_file(p)
        checks.append(
            Check(
                f"sha256 {rel}",
                actual == digest,
                "matches"
                if actual == digest
                else f"{rel} was changed: sha256 {actual[:12]}… but the manifest says {digest[:12]}…",
            )
        )
    present, odd = present_files(root, skip=skip)
    unlisted = sorted(present - set(files) - {manifest_rel}) + odd
    checks.append(
        Check(
            "no unlisted files",
            not unlisted,
            "none"
            if not unlisted
            else f"files not in the manifest: {', '.join(unlisted[:10])}"
            + (f" (and {len(unlisted) - 10} more)" if len(unlisted) > 10 else ""),
        )
    )
    return checks


def run_check(name: str, fn: Callable[[], str | None]) -> Check:
    """Run one check; its error is its failure line. Anything unforeseen a hostile file provokes is a failed
    check named by its type too, never a traceback that ends the whole verification."""
    from envs.errors import PlaygroundError

    try:
        detail = fn()
        return Check(name, True, detail or "ok")
    except PlaygroundError as exc:
        return Check(name, False, str(exc))
    except Exception as exc:
        return Check(name, False, f"{type(exc).__name__}: {str(exc)[:300]}")


def refuse_failed_files(path: Path, checks: list[Check]) -> None:
    """Refuse to open the bundle at ``path`` when a check of its files (``check_files``) failed: the first
    failure's line, and how many more."""
    bad = [c for c in checks if not c.ok]
    if bad:
        raise BundleError(
            f"bundle {path} failed its checksums: {bad[0].detail}"
            + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
        )


def listed_replays(files: dict[str, str], folder: str) -> list[str]:
    """The replays a manifest's ``files`` list directly in ``folder`` (``<folder>/<name>.json``): their names,
    sorted."""
    prefix = folder + "/"
    return sorted(
        rel[len(prefix) : -len(".json")]
        for rel in files
        if rel.startswith(prefix) and rel.endswith(".json") and "/" not in rel[len(prefix) :]
    )


def files_first(file_checks: list[Check], rest: Callable[[], list[Check]]) -> list[Check]:
    """``verify``'s order: the file checks, then ``rest``; a failed file check stops it there, before anything
    of the bundle is loaded (a tampered file is never opened)."""
    if not all(c.ok for c in file_checks):
        return [
            *file_checks,
            Check("nothing loaded", False, "verify stops at failed checksums: no file of this bundle was loaded"),
        ]
    return file_checks + rest()


class Bundle:
    """An agent bundle on disk: open it with :meth:`open` (or :meth:`shipped`), then ask it.

    Every file is read through :meth:`_file` (confined to the folder) and the bounded readers of
    ``agents.common.untrusted``, and checked against its schema (``agents.bundle.validate``) before it is
    used: a malformed or hostile file gives one ``BundleError`` line, never a traceback or a huge object.
    """

    def __init__(self, path: Path, manifest: Manifest):
        self.path = path
        self.manifest = manifest
        self.spec: GameSpec = get_spec(manifest.game)
        self._blobs = hub_blobs(path)
        self._policy: LoadedPolicy | None = None
        self._replays: dict[str, dict[str, Any]] = {}

    # --- opening -----------------------------------------------------------------------------------

    @staticmethod
    def is_bundle(path: str | Path) -> bool:
        """Whether ``path`` is a bundle folder (has a manifest); says nothing about its checksums."""
        return (Path(path) / MANIFEST).is_file()

    @classmethod
    def open(cls, where: str | Path, check: bool = True) -> Bundle:
        """Open a bundle folder, or the shipped agent of a game slug.

        The manifest is read bounded and checked field by field. ``check`` verifies every file's size and
        checksum and that the recorded env is the catalog's (see :meth:`protocol`).
        """
        path = Path(where)
        if not path.exists() and "/" not in str(where):
            spec = get_spec(str(where))  # unknown slugs raise UnknownGameError listing the games
            path = models_dir() / spec.slug
            if not path.exists():
                raise BundleError(f"no bundled agent for {spec.slug} (looked in {path})")
        if not path.is_dir():
            raise BundleError(f"{where} is not a bundle folder")
        try:
            manifest_file = confined(path, MANIFEST, hub_blobs(path))
        except BundleError as exc:
            from agents.bundle.match import is_match_bundle

            if is_match_bundle(path):
                raise BundleError(
                    f"{path} is a two-player bundle (its manifest is {MATCH_MANIFEST}): this takes single-player "
                    f"bundles; open it with agents.bundle.match.MatchBundle, or run `playground verify {path}`"
                ) from None
            raise BundleError(f"{path} is not a bundle: {exc}") from None
        manifest = Manifest.from_json(
            read_json(manifest_file, f"{path / MANIFEST}", BundleError), where=str(path / MANIFEST)
        )
        bundle = cls(path, manifest)
        if check:
            refuse_failed_files(path, bundle.check_files())
            bundle.protocol()  # refuses a bundle whose env the catalog no longer makes
        return bundle

    @classmethod
    def shipped(cls, slug: str, check: bool = True) -> Bundle | None:
        """The shipped agent of a game (in ``models_dir()``), or None when the game has none."""
        spec = get_spec(slug)
        path = models_dir() / spec.slug
        return cls.open(path, check=check) if cls.is_bundle(path) else None

    def _file(self, rel: str) -> Path:
        """Where to read the bundle's file ``rel``: confined to the folder (see :func:`confined`)."""
        return confined(self.path, rel, self._blobs)

    # --- what it is ----------------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        """``trained here`` (evidence of every training seed) or ``external — not reproduced here`` (imported)."""
        return self.manifest.origin_label

    @property
    def is_external(self) -> bool:
        return self.manifest.is_external

    @property
    def policy_id(self) -> str:
        """A cache key that changes whenever the policy does: the sha256 of the weights' and policy.json's
        sha256 (policy.json holds the normaliser, so the same weights with other statistics act otherwise)."""
        if WEIGHTS not in self.manifest.files or "policy.json" not in self.manifest.files:
            raise BundleError(f"{self.path}'s manifest lists no {WEIGHTS} or policy.json")
        digests = f"{self.manifest.files[WEIGHTS]} {self.manifest.files['policy.json']}"
        return hashlib.sha256(digests.encode()).hexdigest()

    def manifest_sha256(self) -> str:
        return sha256_file(self._file(MANIFEST))

    def training_seeds(self) -> list[int]:
        return list(self.manifest.seeds)

    def shipped_seed(self) -> int:
        """The training seed whose policy this bundle ships; an imported agent has none."""
        if self.manifest.shipped_seed is None:
            raise BundleError(f"{self.path} is an external agent: it has no training seeds, so no shipped seed")
        return self.manifest.shipped_seed

    def protocol(self) -> Protocol:
        """The evaluation protocol recorded with the bundle, checked against the catalog.

        The env (id, kwargs, wrappers) must be the catalog's: a bundle whose env the catalog no longer makes
        cannot be evaluated faithfully, so it is refused with the difference named. How it is played (seeds,
        episodes, deterministic) is the recorded one, even if the catalog's default changed since. Bundles
        from before the protocol was recorded give their env id and kwargs in the manifest and their seeds
        in eval.json; their wrappers are the catalog's of that time, which are taken as today's.
        """
        recorded = self.manifest.protocol
        if recorded is None:
            recorded = Protocol(
                env_id=self.manifest.env_id,
                env_kwargs=self.manifest.env_kwargs,
                wrappers=wrappers_of(self.spec),
                deterministic=self.spec.eval.deterministic,
                seed_base=self.spec.eval.seed_base,
                episodes=self.spec.eval.episodes,
            )
            try:
                recorded = self.eval_result().protocol(recorded.wrappers)
            except BundleError:
                pass  # no readable eval.json: verify says so; the catalog's play settings stand in
        differences = recorded.env_differences(self.spec)
        if differences:
            raise BundleError(
                f"{self.path} was evaluated on another env than the catalog's {self.spec.slug} now makes "
                f"({'; '.join(differences)}): it cannot be evaluated faithfully here"
            )
        return recorded

    # --- reading -----------------------------------------------------------------------------------

    def policy(self) -> LoadedPolicy:
        """The policy, rebuilt from policy.json + safetensors after every check of ``load_policy`` (size from
        the declared architecture, spaces equal to the game's, finite weights and outputs)."""
        if self._policy is None:
            files = PolicyFiles(self._file("policy.json"), self._file(WEIGHTS))
            self._policy = load_policy(files, validate.game_spaces(self.spec.slug))
        return self._policy

    def config_text(self) -> str:
        return read_text(
            self._file("config.yml"), "config.yml", BundleError, max_config_bytes(), "PLAYGROUND_MAX_CONFIG_KB"
        )

    def config(self) -> dict[str, Any]:
        """config.yml as our hyperparameters: no YAML aliases, bounded nesting, finite numbers. A trained bundle's
        Zoo keys (``normalize``, ``frame_stack``, ``env_wrapper``) are checked against the game and dropped and its
        ``policy_kwargs`` expression parsed (never eval'd); an imported one's is the source's, as it is."""
        from agents.bundle.interop import hyperparameters

        data = validate.config(parse_yaml(self.config_text(), f"{self.path}/config.yml", BundleError))
        return data if self.is_external else hyperparameters(self.spec, data, f"{self.path}/config.yml")

    def card(self) -> str:
        """The model card (README.md with the Hub's metadata)."""
        return read_text(self._file(CARD), "the model card (README.md)", BundleError)

    def eval_result(self) -> EvalResult:
        rel = "evidence/eval.json"
        return validate.eval_result(read_json(self._file(rel), f"{self.path}/{rel}", BundleError), rel)

    def eval_summary(self) -> dict[str, Any] | None:
        try:
            return self.eval_result().summary
        except BundleError:
            return None

    def health(self) -> dict[str, Any]:
        rel = "evidence/health.json"
        return validate.health(read_json(self._file(rel), f"{self.path}/{rel}", BundleError), self.manifest.seeds, rel)

    def results(self) -> dict[str, Any]:
        """results.json (huggingface_sb3's shape)."""
        return validate.results(read_json(self._file("results.json"), f"{self.path}/results.json", BundleError))

    def _seed_csv(self, kind: str, seed: int) -> tuple[str, str]:
        if not validate.is_int(seed) or seed not in self.manifest.seeds:
            raise BundleError(f"{self.path} has no training seed {seed!r}")
        rel = f"evidence/{kind}-seed{seed}.csv"
        return rel, read_text(self._file(rel), rel, BundleError)

    def diagnostics_text(self, seed: int) -> str:
        return self._seed_csv("training", seed)[1]

    def periodic_evals_text(self, seed: int) -> str:
        return self._seed_csv("eval-during-training", seed)[1]

    def diagnostics(self, seed: int) -> list[dict[str, Any]]:
        """training-seed<S>.csv: one row per PPO update, numbers as floats, every charted column there."""
        rel, text = self._seed_csv("training", seed)
        return validate.training_rows(parse_csv_rows(text, rel, BundleError), rel)

    def periodic_evals(self, seed: int) -> list[dict[str, Any]]:
        from agents.common.files import NON_NUMERIC_COLUMNS

        rel, text = self._seed_csv("eval-during-training", seed)
        return validate.periodic_rows(parse_csv_rows(text, rel, BundleError, NON_NUMERIC_COLUMNS), rel)

    def replay_names(self) -> list[str]:
        """The replays the manifest lists (``evidence/replays/<name>.json``)."""
        return listed_replays(self.manifest.files, REPLAYS)

    def replay(self, name: str) -> dict[str, Any]:
        """A replay, checked against the game's action space (seed, actions, rewards) before it is returned."""
        if name not in self._replays:
            if not isinstance(name, str) or name not in self.replay_names():
                raise BundleError(f"bad replay name {str(name)[:60]!r}")
            rel = f"{REPLAYS}/{name}.json"
            data = read_json(self._file(rel), f"replay {name}", BundleError)
            check_replay(data, self.spec, validate.game_spaces(self.spec.slug)[1])
            self._replays[name] = data
        return self._replays[name]

    def files(self) -> list[tuple[str, Path]]:
        """Every file of the bundle as (path inside the bundle, path to read), the manifest last: what a
        publish commits."""
        return [(rel, self._file(rel)) for rel in sorted(self.manifest.files)] + [(MANIFEST, self._file(MANIFEST))]

    # --- evaluation --------------------------------------------------------------------------------

    def evaluate(self, episodes: int | None = None, record: bool = False, progress: bool = False) -> EvalResult:
        """Evaluate the shipped policy with the bundle's recorded protocol (``episodes`` overrides its count).

        :param progress: show the episodes done and the running mean (a bar on a terminal, else lines)
        """
        protocol = self.protocol()
        if episodes:
            protocol = Protocol(**{**protocol.to_json(), "episodes": int(episodes)})
        bar = Progress(f"evaluate {self.spec.slug}", protocol.episodes, "episodes") if progress else None
        return evaluate_policy(self.spec, self.policy(), protocol, record, progress=bar)

    # --- verification ------------------------------------------------------------------------------

    def check_files(self) -> list[Check]:
        """Every file listed in the manifest is inside the folder (no links out), within the size limits, and
        has its sha256; and no file is unlisted. Sizes are checked before a file is hashed."""
        return check_listed_files(self.path, self.manifest.files, MANIFEST, self._blobs, skip=REPRODUCTIONS)

    def verify(self) -> list[Check]:
        """All checks: files (stopping there, before anything is loaded, if any fails), reproductions, the
        evidence its origin needs, protocol, policy, config, health and curves, eval.json, every replay."""
        return files_first(self.check_files(), lambda: self.check_reproductions() + self.check_contents())

    def _check(self, name: str, fn) -> Check:
        return run_check(name, fn)

    def check_contents(self) -> list[Check]:
        """What the app relies on, file by file: what ``pull`` and ``import`` require before registering."""
        from agents.evaluation.evaluate import summarise

        m = self.manifest
        checks = []

        def complete():
            needed = validate.required_files(m.origin, m.seeds)
            missing = [f for f in needed if f not in m.files] + ([] if self.replay_names() else ["a replay"])
            if missing:
                raise BundleError(
                    f"{'an external' if m.is_external else 'a trained'} bundle needs "
                    f"{', '.join(missing)}, which it does not list"
                )
            return f"{len(needed)} files and {len(self.replay_names())} replays listed"

        checks.append(self._check("evidence complete for its origin", complete))

        def env():
            p = self.protocol()
            return f"{p.env_id} {p.env_kwargs or ''}".strip()

        checks.append(self._check("recorded env is the catalog's", env))

        def policy():
            pol = self.policy()
            return f"{sum(t.numel() for t in pol.policy.parameters()):,} parameters, finite outputs on {self.spec.name}"

        checks.append(self._check("policy loads (safetensors + JSON, no pickle)", policy))
        checks.append(self._check("config.yml", lambda: f"{len(self.config())} hyperparameters"))
        if not m.is_external:
            checks.append(self._check("health.json", lambda: f"verdict {self.health()['verdict']}"))
            for seed in m.seeds:
                checks.append(
                    self._check(
                        f"training curves of seed {seed}",
                        lambda seed=seed: (
                            f"{len(self.diagnostics(seed))} updates, "
                            f"{len(self.periodic_evals(seed))} periodic evaluations"
                        ),
                    )
                )
        try:
            ev = self.eval_result()
            if ev.game != self.spec.slug or ev.env_id != self.spec.env_id:
                raise BundleError(f"eval.json is of {ev.game} ({ev.env_id}), not {self.spec.slug}")
            s = summarise(ev.returns, ev.lengths)
            same = all(s[k] == ev.summary[k] for k in ("mean", "std", "min", "max", "ci95"))
            checks.append(
                Check(
                    "eval.json summary matches its episodes",
                    same,
                    f"mean {s['mean']:.2f} +/- {s['std']:.2f} over {s['episodes']} episodes"
                    if same
                    else "the summary does not follow from the per-episode returns",
                )
            )
            res = self.results()
            ok = res.get("mean_reward") == ev.mean and res.get("std_reward") == ev.std
            checks.append(
                Check(
                    "results.json matches eval.json",
                    ok,
                    "matches" if ok else "results.json reports other numbers than eval.json",
                )
            )
        except BundleError as exc:
            checks.append(Check("eval.json summary matches its episodes", False, f"unreadable: {exc}"))
        names = self.replay_names()
        if not names:
            checks.append(Check("replays", False, "the bundle has no replays"))
        for name in names:
            try:
                result = resimulate(self.replay(name), self.spec)
                checks.append(Check(f"replay {name} re-simulates", result["ok"], result["detail"]))
            except BundleError as exc:
                checks.append(Check(f"replay {name} re-simulates", False, str(exc)))
        return checks

    # --- reproductions ----------------------------------------------------------------------------

    def _reproductions_dir(self) -> Path:
        return self.path / REPRODUCTIONS

    def _report_dirs(self) -> list[Path]:
        """Report folders: real folders (never links) in a real ``evidence/reproductions``."""
        root = self._reproductions_dir()
        try:
            if not stat.S_ISDIR(os.lstat(root).st_mode) or not stat.S_ISDIR(os.lstat(root.parent).st_mode):
                return []
            return sorted(
                Path(e.path) for e in os.scandir(root) if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
            )
        except OSError:
            return []

    def reproductions(self) -> list[dict[str, Any]]:
        """Every saved reproduction or ablation report (report.json plus its ``id``, the folder name), oldest first."""
        out = []
        for d in self._report_dirs():
            try:
                report = read_json(confined(d, "report.json"), f"reproduction report {d.name}", BundleError)
            except BundleError:
                continue
            if isinstance(report, dict):
                out.append({**report, "id": d.name})
        return out

    def reproduction_rows(self, report_id: str, rel: str) -> list[dict[str, Any]]:
        """A CSV inside a reproduction report, e.g. ``clip100/training-seed1.csv``."""
        from agents.common.files import NON_NUMERIC_COLUMNS

        d = next((d for d in self._report_dirs() if d.name == report_id), None)
        if d is None:
            raise BundleError(f"bad reproduction file {str(report_id)[:60]}/{str(rel)[:60]}")
        text = read_text(confined(d, rel), f"{report_id}/{rel}", BundleError)
        return parse_csv_rows(text, f"{report_id}/{rel}", BundleError, NON_NUMERIC_COLUMNS)

    def add_reproduction(self, name: str, files: dict[str, str | bytes], manifest: dict[str, Any]) -> Path:
        """Write a reproduction report folder ``<UTC time>-<name>`` atomically, with a manifest.json that
        holds ``manifest`` and the sha256 of every file."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        final = self._reproductions_dir() / f"{stamp}-{name}"
        tmp = self._reproductions_dir() / f".{stamp}-{name}.writing"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            for rel, content in files.items():
                validate.check_rel(rel, "a reproduction report")
                if rel == "manifest.json":
                    raise BundleError(f"bad report file name {rel!r}")
                path = tmp / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)  # type: ignore[operator]
            digests = {str(p.relative_to(tmp)): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
            (tmp / "manifest.json").write_text(json.dumps({**manifest, "files": digests}, indent=1) + "\n")
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def check_reproductions(self) -> list[Check]:
        """Each reproduction folder's files match its own manifest, and none is unlisted. The paths a report's
        manifest lists are confined to its folder like the bundle's own: nothing outside is opened."""
        checks = []
        root = self._reproductions_dir()
        if os.path.islink(root) or os.path.islink(root.parent):
            return [Check("reproductions", False, f"{REPRODUCTIONS} is a symbolic link; links are refused")]
        for d in self._report_dirs():
            name = f"reproduction {d.name}"
            try:
                listed = read_json(confined(d, "manifest.json"), f"the manifest of {name}", BundleError)
                listed = listed.get("files") if isinstance(listed, dict) else None
                if not isinstance(listed, dict) or len(listed) > MAX_FILES:
                    raise BundleError(f"the manifest of {name} has no 'files' mapping")
                for rel in listed:
                    validate.check_rel(rel, f"the manifest of {name}")
            except BundleError as exc:
                checks.append(Check(name, False, str(exc)))
                continue
            bad = []
            for rel, digest in sorted(listed.items()):
                try:
                    p = confined(d, rel)
                except BundleError as exc:
                    bad.append(str(exc))
                    continue
                if os.stat(p).st_size > max_file_bytes():
                    bad.append(f"{rel} is larger than PLAYGROUND_MAX_FILE_MB")
                elif sha256_file(p) != digest:
                    bad.append(f"{rel} was changed")
            present, odd = present_files(d)
            bad += [f"{rel} is not in its manifest" for rel in sorted(present - set(listed) - {"manifest.json"})]
            bad += [f"{rel} is not a regular file" for rel in odd]
            checks.append(
                Check(f"{name} checksums", not bad, f"{len(listed)} files match" if not bad else "; ".join(bad[:10]))
            )
        return checks
