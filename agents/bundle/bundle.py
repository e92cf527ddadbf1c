"""The agent bundle: weights, config, model card and the evidence, in one folder (``docs/bundle.md``).

Everything the app, the hub and reproduction need goes through :class:`Bundle`; no module outside
``agents.bundle`` joins a bundle's paths or reads its manifest's JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from agents.bundle.manifest import MANIFEST, Check, Manifest
from agents.common.errors import BundleError
from agents.common.files import read_csv_rows, read_json, sha256_file
from agents.common.settings import models_dir
from agents.evaluation.evaluate import EvalResult, Protocol, evaluate_policy, wrappers_of
from agents.evaluation.replay import resimulate
from agents.policy.network import LoadedPolicy, load_policy
from envs import GameSpec, get_spec

REPRODUCTIONS = "evidence/reproductions"
"""reports of re-runs of the training (``playground reproduce``/``ablate``), added after bundling: each
folder has its own manifest.json with its files' sha256, so adding one leaves the bundle's manifest valid"""
CARD = "README.md"
WEIGHTS = "policy.safetensors"


def _read(path: Path, what: str) -> Any:
    return read_json(path, what, BundleError)


class Bundle:
    """An agent bundle on disk: open it with :meth:`open` (or :meth:`shipped`), then ask it."""

    def __init__(self, path: Path, manifest: Manifest):
        self.path = path
        self.manifest = manifest
        self.spec: GameSpec = get_spec(manifest.game)
        self._policy: LoadedPolicy | None = None

    # --- opening -----------------------------------------------------------------------------------

    @staticmethod
    def is_bundle(path: str | Path) -> bool:
        """Whether ``path`` is a bundle folder (has a manifest); says nothing about its checksums."""
        return (Path(path) / MANIFEST).is_file()

    @classmethod
    def open(cls, where: str | Path, check: bool = True) -> Bundle:
        """Open a bundle folder, or the shipped agent of a game slug.

        ``check`` verifies every checksum and that the recorded env is the catalog's (see :meth:`protocol`).
        """
        path = Path(where)
        if not path.exists() and "/" not in str(where):
            spec = get_spec(str(where))  # unknown slugs raise UnknownGameError listing the games
            path = models_dir() / spec.slug
            if not path.exists():
                raise BundleError(f"no bundled agent for {spec.slug} (looked in {path})")
        if not path.is_dir():
            raise BundleError(f"{where} is not a bundle folder")
        manifest = Manifest.from_json(_read(path / MANIFEST, "the bundle's manifest"), where=str(path / MANIFEST))
        bundle = cls(path, manifest)
        if check:
            bad = [c for c in bundle.check_files() if not c.ok]
            if bad:
                raise BundleError(f"bundle {path} failed its checksums: {bad[0].detail}"
                                  + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""))
            bundle.protocol()  # refuses a bundle whose env the catalog no longer makes
        return bundle

    @classmethod
    def shipped(cls, slug: str, check: bool = True) -> Bundle | None:
        """The shipped agent of a game (in ``models_dir()``), or None when the game has none."""
        spec = get_spec(slug)
        path = models_dir() / spec.slug
        return cls.open(path, check=check) if cls.is_bundle(path) else None

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
        """The sha256 of the weights: a cache key that changes whenever the policy does."""
        return self.manifest.files[WEIGHTS]

    def manifest_sha256(self) -> str:
        return sha256_file(self.path / MANIFEST)

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
            recorded = Protocol(env_id=self.manifest.env_id, env_kwargs=self.manifest.env_kwargs,
                                wrappers=wrappers_of(self.spec), deterministic=self.spec.eval.deterministic,
                                seed_base=self.spec.eval.seed_base, episodes=self.spec.eval.episodes)
            try:
                recorded = self.eval_result().protocol(recorded.wrappers)
            except BundleError:
                pass  # no readable eval.json: verify says so; the catalog's play settings stand in
        differences = recorded.env_differences(self.spec)
        if differences:
            raise BundleError(f"{self.path} was evaluated on another env than the catalog's {self.spec.slug} now makes "
                              f"({'; '.join(differences)}): it cannot be evaluated faithfully here")
        return recorded

    # --- reading -----------------------------------------------------------------------------------

    def policy(self) -> LoadedPolicy:
        if self._policy is None:
            self._policy = load_policy(self.path)
        return self._policy

    def config_text(self) -> str:
        return (self.path / "config.yml").read_text()

    def config(self) -> dict[str, Any]:
        return yaml.safe_load(self.config_text())

    def card(self) -> str:
        """The model card (README.md with the Hub's metadata)."""
        return (self.path / CARD).read_text()

    def eval_result(self) -> EvalResult:
        data = _read(self.path / "evidence" / "eval.json", "eval.json")
        try:
            return EvalResult.from_json(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"{self.path}/evidence/eval.json is malformed: {exc!r}") from None

    def eval_summary(self) -> dict[str, Any] | None:
        try:
            return self.eval_result().summary
        except BundleError:
            return None

    def health(self) -> dict[str, Any]:
        return _read(self.path / "evidence" / "health.json", "health.json")

    def diagnostics_text(self, seed: int) -> str:
        return (self.path / "evidence" / f"training-seed{int(seed)}.csv").read_text()

    def diagnostics(self, seed: int) -> list[dict[str, Any]]:
        return read_csv_rows(self.path / "evidence" / f"training-seed{int(seed)}.csv")

    def periodic_evals(self, seed: int) -> list[dict[str, Any]]:
        return read_csv_rows(self.path / "evidence" / f"eval-during-training-seed{int(seed)}.csv")

    def replay_names(self) -> list[str]:
        return sorted(p.stem for p in (self.path / "evidence" / "replays").glob("*.json"))

    def replay(self, name: str) -> dict[str, Any]:
        if "/" in name or name.startswith(".") or name not in self.replay_names():
            raise BundleError(f"bad replay name {name!r}")
        return _read(self.path / "evidence" / "replays" / f"{name}.json", f"replay {name}")

    def files(self) -> list[tuple[str, Path]]:
        """Every file of the bundle as (path inside the bundle, path on disk), the manifest last: what a
        publish commits."""
        return [(rel, self.path / rel) for rel in sorted(self.manifest.files)] + [(MANIFEST, self.path / MANIFEST)]

    # --- evaluation --------------------------------------------------------------------------------

    def evaluate(self, episodes: int | None = None, record: bool = False) -> EvalResult:
        """Evaluate the shipped policy with the bundle's recorded protocol (``episodes`` overrides its count)."""
        protocol = self.protocol()
        if episodes:
            protocol = Protocol(**{**protocol.to_json(), "episodes": int(episodes)})
        return evaluate_policy(self.spec, self.policy(), protocol, record)

    # --- verification ------------------------------------------------------------------------------

    def check_files(self) -> list[Check]:
        """Every file listed in the manifest has its sha256, and no file is unlisted."""
        checks = []
        listed = self.manifest.files
        for rel, digest in sorted(listed.items()):
            p = self.path / rel
            if not p.is_file():
                checks.append(Check(f"sha256 {rel}", False, f"{rel} is missing"))
            else:
                actual = sha256_file(p)
                checks.append(Check(f"sha256 {rel}", actual == digest, "matches" if actual == digest else
                                    f"{rel} was changed: sha256 {actual[:12]}… but the manifest says {digest[:12]}…"))
        present = {str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.is_file()
                   and not str(p.relative_to(self.path)).startswith(REPRODUCTIONS + "/")}
        unlisted = sorted(present - set(listed) - {MANIFEST})
        checks.append(Check("no unlisted files", not unlisted,
                            "none" if not unlisted else f"files not in the manifest: {', '.join(unlisted)}"))
        return checks

    def verify(self) -> list[Check]:
        """All checks: checksums, protocol, policy loads, eval.json consistent, every replay re-simulates exactly."""
        from agents.evaluation.evaluate import summarise

        checks = self.check_files() + self.check_reproductions()
        try:
            p = self.protocol()
            checks.append(Check("recorded env is the catalog's", True, f"{p.env_id} {p.env_kwargs or ''}".strip()))
        except BundleError as exc:
            checks.append(Check("recorded env is the catalog's", False, str(exc)))
        try:
            self.policy()
            checks.append(Check("policy loads (safetensors + JSON, no pickle)", True, "ok"))
        except BundleError as exc:
            checks.append(Check("policy loads (safetensors + JSON, no pickle)", False, str(exc)))
        try:
            ev = self.eval_result()
            s = summarise(ev.returns, ev.lengths)
            same = all(s[k] == ev.summary[k] for k in ("mean", "std", "min", "max", "ci95"))
            checks.append(Check("eval.json summary matches its episodes", same,
                                f"mean {s['mean']:.2f} +/- {s['std']:.2f} over {s['episodes']} episodes"
                                if same else "the summary does not follow from the per-episode returns"))
            res = _read(self.path / "results.json", "results.json")
            ok = isinstance(res, dict) and res.get("mean_reward") == ev.mean and res.get("std_reward") == ev.std
            checks.append(Check("results.json matches eval.json", ok,
                                "matches" if ok else "results.json reports other numbers than eval.json"))
        except (BundleError, KeyError, TypeError, ValueError) as exc:
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
        return sorted(p for p in self._reproductions_dir().glob("*") if p.is_dir() and not p.name.startswith("."))

    def reproductions(self) -> list[dict[str, Any]]:
        """Every saved reproduction or ablation report (report.json plus its ``id``, the folder name), oldest first."""
        out = []
        for d in self._report_dirs():
            try:
                report = _read(d / "report.json", f"reproduction report {d.name}")
            except BundleError:
                continue
            out.append({**report, "id": d.name})
        return out

    def reproduction_rows(self, report_id: str, rel: str) -> list[dict[str, Any]]:
        """A CSV inside a reproduction report, e.g. ``clip100/training-seed1.csv``."""
        if ".." in Path(report_id).parts or ".." in Path(rel).parts or "/" in report_id or Path(rel).is_absolute():
            raise BundleError(f"bad reproduction file {report_id}/{rel}")
        return read_csv_rows(self._reproductions_dir() / report_id / rel)

    def add_reproduction(self, name: str, files: dict[str, str | bytes], manifest: dict[str, Any]) -> Path:
        """Write a reproduction report folder ``<UTC time>-<name>`` atomically, with a manifest.json that
        holds ``manifest`` and the sha256 of every file."""
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        final = self._reproductions_dir() / f"{stamp}-{name}"
        tmp = self._reproductions_dir() / f".{stamp}-{name}.writing"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            for rel, content in files.items():
                if ".." in Path(rel).parts or Path(rel).is_absolute() or rel == "manifest.json":
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
        """Each reproduction folder's files match its own manifest, and none is unlisted."""
        checks = []
        for d in self._report_dirs():
            name = f"reproduction {d.name}"
            try:
                listed = _read(d / "manifest.json", f"the manifest of {name}")["files"]
                if not isinstance(listed, dict):
                    raise TypeError("'files' is not a mapping")
            except (BundleError, KeyError, TypeError) as exc:
                checks.append(Check(name, False, str(exc)))
                continue
            bad = []
            for rel, digest in sorted(listed.items()):
                p = d / rel
                if not isinstance(rel, str) or ".." in Path(rel).parts or Path(rel).is_absolute() or not p.is_file():
                    bad.append(f"{rel} is missing")
                elif sha256_file(p) != digest:
                    bad.append(f"{rel} was changed")
            present = {str(p.relative_to(d)) for p in d.rglob("*") if p.is_file()} - {"manifest.json"}
            bad += [f"{rel} is not in its manifest" for rel in sorted(present - set(listed))]
            checks.append(Check(f"{name} checksums", not bad, f"{len(listed)} files match" if not bad else "; ".join(bad)))
        return checks
