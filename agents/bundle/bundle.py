"""The agent bundle: weights, config, model card and the evidence, in one folder (``docs/bundle.md``).

Everything the app, the hub and reproduction need goes through :class:`Bundle`; nothing else reads a
bundle's files directly.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agents.common.errors import BundleError
from agents.common.settings import models_dir
from agents.evaluation.evaluate import Episode, run_episodes, seeds_for, summarise
from agents.metrics.health import assess
from agents.policy.network import LoadedPolicy, Normalizer, export_policy, load_policy
from agents.common.provenance import git_state, hardware, now_iso
from envs import GameSpec, get_spec, make_env

REPLAY_FORMAT = "ppo-playground/replay@1"
MANIFEST = "evidence/manifest.json"
REPRODUCTIONS = "evidence/reproductions"
"""reports of re-runs of the training (``playground reproduce``/``ablate``), added after bundling: each
folder has its own manifest.json with its files' sha256, so adding one leaves the bundle's manifest valid"""
PACKAGES = ["stable-baselines3", "sb3-contrib", "gymnasium", "ale-py", "box2d", "torch", "numpy", "safetensors",
            "huggingface_hub", "streamlit"]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise BundleError(f"{what} is missing: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{what} is not valid JSON ({path}): {exc}") from None


def read_csv_rows(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in r.items():
            try:
                r[k] = float(v) if v not in ("", None) and k not in ("seeds", "returns", "lengths") else (
                    v if v != "" else float("nan"))
            except ValueError:
                pass
    return rows


class Bundle:
    """An agent bundle on disk."""

    def __init__(self, path: Path, manifest: dict[str, Any]):
        self.path = path
        self.manifest = manifest
        self.spec: GameSpec = get_spec(manifest["game"])
        self._policy: LoadedPolicy | None = None

    # --- opening -----------------------------------------------------------------------------------

    @classmethod
    def open(cls, where: str | Path, check: bool = True) -> "Bundle":
        """Open a bundle folder, or the bundled agent of a game slug; ``check`` verifies checksums."""
        path = Path(where)
        if not path.exists() and "/" not in str(where):
            spec = get_spec(str(where))  # unknown slugs raise UnknownGameError listing the games
            path = models_dir() / spec.slug
            if not path.exists():
                raise BundleError(f"no bundled agent for {spec.slug} (looked in {path})")
        if not path.is_dir():
            raise BundleError(f"{where} is not a bundle folder")
        manifest = _read_json(path / MANIFEST, "the bundle's manifest")
        if not isinstance(manifest, dict) or "game" not in manifest or "files" not in manifest:
            raise BundleError(f"{path / MANIFEST} is not a bundle manifest")
        bundle = cls(path, manifest)
        if check:
            bad = [c for c in bundle.check_files() if not c["ok"]]
            if bad:
                raise BundleError(f"bundle {path} failed its checksums: {bad[0]['detail']}"
                                  + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""))
        return bundle

    @staticmethod
    def is_bundle(path: str | Path) -> bool:
        """Whether ``path`` is a bundle folder (has a manifest); says nothing about its checksums."""
        return (Path(path) / MANIFEST).is_file()

    @classmethod
    def shipped(cls, slug: str, check: bool = True) -> "Bundle | None":
        """The shipped agent of a game (in ``models_dir()``), or None when the game has none."""
        spec = get_spec(slug)
        path = models_dir() / spec.slug
        return cls.open(path, check=check) if cls.is_bundle(path) else None

    # --- reading -----------------------------------------------------------------------------------

    @property
    def policy_id(self) -> str:
        """The sha256 of the weights: a cache key that changes whenever the policy does."""
        return self.manifest["files"]["policy.safetensors"]

    @property
    def origin(self) -> str:
        """``trained here`` (evidence of every training seed) or ``external — not reproduced here`` (imported)."""
        return self.manifest.get("origin", "trained here")

    @property
    def is_external(self) -> bool:
        return self.origin.startswith("external")

    def policy(self) -> LoadedPolicy:
        if self._policy is None:
            self._policy = load_policy(self.path)
        return self._policy

    def config(self) -> dict[str, Any]:
        return yaml.safe_load((self.path / "config.yml").read_text())

    def eval_result(self) -> dict[str, Any]:
        return _read_json(self.path / "evidence" / "eval.json", "eval.json")

    def eval_summary(self) -> dict[str, Any] | None:
        try:
            return self.eval_result()["summary"]
        except BundleError:
            return None

    def health(self) -> dict[str, Any]:
        return _read_json(self.path / "evidence" / "health.json", "health.json")

    def training_seeds(self) -> list[int]:
        return list(self.manifest["seeds"])

    def shipped_seed(self) -> int:
        return int(self.manifest["shipped_seed"])

    def diagnostics(self, seed: int) -> list[dict[str, Any]]:
        return read_csv_rows(self.path / "evidence" / f"training-seed{seed}.csv")

    def periodic_evals(self, seed: int) -> list[dict[str, Any]]:
        return read_csv_rows(self.path / "evidence" / f"eval-during-training-seed{seed}.csv")

    def replay_names(self) -> list[str]:
        return sorted(p.stem for p in (self.path / "evidence" / "replays").glob("*.json"))

    def replay(self, name: str) -> dict[str, Any]:
        if "/" in name or name.startswith("."):
            raise BundleError(f"bad replay name {name!r}")
        return _read_json(self.path / "evidence" / "replays" / f"{name}.json", f"replay {name}")

    # --- evaluation --------------------------------------------------------------------------------

    def evaluate(self, episodes: int | None = None, record: bool = False) -> dict[str, Any]:
        """Evaluate the shipped policy with the game's protocol on its recorded seeds."""
        return evaluate_policy_on_spec(self.spec, self.policy(), episodes, record)

    # --- verification ------------------------------------------------------------------------------

    def check_files(self) -> list[dict[str, Any]]:
        """Every file listed in the manifest has its sha256, and no file is unlisted."""
        checks = []
        listed = self.manifest.get("files", {})
        for rel, digest in sorted(listed.items()):
            p = self.path / rel
            if ".." in Path(rel).parts or Path(rel).is_absolute():
                checks.append({"check": f"sha256 {rel}", "ok": False, "detail": f"manifest lists a path outside the bundle: {rel}"})
            elif not p.is_file():
                checks.append({"check": f"sha256 {rel}", "ok": False, "detail": f"{rel} is missing"})
            else:
                actual = sha256_file(p)
                checks.append({"check": f"sha256 {rel}", "ok": actual == digest,
                               "detail": "matches" if actual == digest else
                               f"{rel} was changed: sha256 {actual[:12]}… but the manifest says {digest[:12]}…"})
        present = {str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.is_file()
                   and not str(p.relative_to(self.path)).startswith(REPRODUCTIONS + "/")}
        unlisted = sorted(present - set(listed) - {MANIFEST})
        checks.append({"check": "no unlisted files", "ok": not unlisted,
                       "detail": "none" if not unlisted else f"files not in the manifest: {', '.join(unlisted)}"})
        return checks

    # --- reproductions ----------------------------------------------------------------------------

    def reproductions_dir(self) -> Path:
        return self.path / REPRODUCTIONS

    def reproductions(self) -> list[dict[str, Any]]:
        """Every saved reproduction or ablation report (report.json plus its ``id``, the folder name), oldest first."""
        out = []
        for d in sorted(p for p in self.reproductions_dir().glob("*") if p.is_dir() and not p.name.startswith(".")):
            try:
                report = _read_json(d / "report.json", f"reproduction report {d.name}")
            except BundleError:
                continue
            out.append({**report, "id": d.name})
        return out

    def reproduction_rows(self, report_id: str, rel: str) -> list[dict[str, Any]]:
        """A CSV inside a reproduction report, e.g. ``clip100/training-seed1.csv``."""
        path = self.reproductions_dir() / report_id / rel
        if ".." in Path(report_id).parts or ".." in Path(rel).parts or "/" in report_id:
            raise BundleError(f"bad reproduction file {report_id}/{rel}")
        return read_csv_rows(path)

    def add_reproduction(self, name: str, files: dict[str, str | bytes], manifest: dict[str, Any]) -> Path:
        """Write a reproduction report folder ``<UTC time>-<name>`` atomically, with a manifest.json that
        holds ``manifest`` and the sha256 of every file."""
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        final = self.reproductions_dir() / f"{stamp}-{name}"
        tmp = self.reproductions_dir() / f".{stamp}-{name}.writing"
        shutil.rmtree(tmp, ignore_errors=True)
        for rel, content in files.items():
            if ".." in Path(rel).parts or Path(rel).is_absolute() or rel == "manifest.json":
                raise BundleError(f"bad report file name {rel!r}")
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        digests = {str(p.relative_to(tmp)): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        (tmp / "manifest.json").write_text(json.dumps({**manifest, "files": digests}, indent=1) + "\n")
        os.rename(tmp, final)
        return final

    def check_reproductions(self) -> list[dict[str, Any]]:
        """Each reproduction folder's files match its own manifest, and none is unlisted."""
        checks = []
        for d in sorted(p for p in self.reproductions_dir().glob("*") if p.is_dir() and not p.name.startswith(".")):
            name = f"reproduction {d.name}"
            try:
                listed = _read_json(d / "manifest.json", f"the manifest of {name}")["files"]
            except (BundleError, KeyError, TypeError) as exc:
                checks.append({"check": name, "ok": False, "detail": str(exc)})
                continue
            bad = []
            for rel, digest in sorted(listed.items()):
                p = d / rel
                if ".." in Path(rel).parts or not p.is_file():
                    bad.append(f"{rel} is missing")
                elif sha256_file(p) != digest:
                    bad.append(f"{rel} was changed")
            present = {str(p.relative_to(d)) for p in d.rglob("*") if p.is_file()} - {"manifest.json"}
            bad += [f"{rel} is not in its manifest" for rel in sorted(present - set(listed))]
            checks.append({"check": f"{name} checksums", "ok": not bad,
                           "detail": f"{len(listed)} files match" if not bad else "; ".join(bad)})
        return checks

    def verify(self) -> list[dict[str, Any]]:
        """All checks: checksums, policy loads, eval.json consistent, every replay re-simulates exactly."""
        checks = self.check_files() + self.check_reproductions()
        try:
            self.policy()
            checks.append({"check": "policy loads (safetensors + JSON, no pickle)", "ok": True, "detail": "ok"})
        except BundleError as exc:
            checks.append({"check": "policy loads (safetensors + JSON, no pickle)", "ok": False, "detail": str(exc)})
        try:
            ev = self.eval_result()
            s = summarise(ev["returns"], ev["lengths"])
            same = all(s[k] == ev["summary"][k] for k in ("mean", "std", "min", "max", "ci95"))
            checks.append({"check": "eval.json summary matches its episodes", "ok": same,
                           "detail": f"mean {s['mean']:.2f} +/- {s['std']:.2f} over {s['episodes']} episodes"
                           if same else "the summary does not follow from the per-episode returns"})
            res = _read_json(self.path / "results.json", "results.json")
            ok = res.get("mean_reward") == ev["summary"]["mean"] and res.get("std_reward") == ev["summary"]["std"]
            checks.append({"check": "results.json matches eval.json", "ok": ok,
                           "detail": "matches" if ok else "results.json reports other numbers than eval.json"})
        except (BundleError, KeyError, TypeError, ValueError) as exc:
            checks.append({"check": "eval.json summary matches its episodes", "ok": False, "detail": f"unreadable: {exc}"})
        names = self.replay_names()
        if not names:
            checks.append({"check": "replays", "ok": False, "detail": "the bundle has no replays"})
        for name in names:
            try:
                result = resimulate(self.replay(name), self.spec)
                checks.append({"check": f"replay {name} re-simulates", "ok": result["ok"], "detail": result["detail"]})
            except BundleError as exc:
                checks.append({"check": f"replay {name} re-simulates", "ok": False, "detail": str(exc)})
        return checks


def evaluate_policy_on_spec(spec: GameSpec, policy: LoadedPolicy, episodes: int | None = None,
                            record: bool = False) -> dict[str, Any]:
    import torch

    n = episodes or spec.eval.episodes
    seeds = seeds_for(spec.eval.seed_base, n)
    torch.manual_seed(spec.eval.seed_base)  # stochastic (Atari) evaluation samples reproducibly too
    eps = run_episodes(spec, policy.act_fn(spec.eval.deterministic), seeds, record=record)
    result = {
        "game": spec.slug, "env_id": spec.env_id, "env_kwargs": spec.env_kwargs,
        "deterministic": spec.eval.deterministic, "seeds": seeds,
        "returns": [e.ret for e in eps], "lengths": [e.length for e in eps],
        "summary": summarise([e.ret for e in eps], [e.length for e in eps]),
    }
    if record:
        result["_episodes"] = eps
    return result


# --- replays -------------------------------------------------------------------------------------

def replay_record(spec: GameSpec, ep: Episode, label: str, deterministic: bool) -> dict[str, Any]:
    return {"format": REPLAY_FORMAT, "game": spec.slug, "env_id": spec.env_id, "env_kwargs": spec.env_kwargs,
            "wrappers": "make_env(spec, 'eval')", "seed": ep.seed, "label": label, "deterministic": deterministic,
            "length": ep.length, "return": ep.ret, "actions": ep.actions, "rewards": ep.rewards}


def resimulate(replay: dict[str, Any], spec: GameSpec | None = None, render: bool = False) -> dict[str, Any]:
    """Re-run a replay's actions from its seed; ``ok`` when every reward and the return are identical.

    With ``render`` the frames are returned too (for the replay viewer).
    """
    if not isinstance(replay, dict) or replay.get("format") != REPLAY_FORMAT:
        raise BundleError("not a replay file (format field missing or wrong)")
    try:
        spec = spec or get_spec(replay["game"])
        if replay["game"] != spec.slug or replay["env_id"] != spec.env_id:
            raise BundleError(f"replay is of {replay['game']} ({replay['env_id']}), not {spec.slug}")
        actions, rewards, seed = replay["actions"], replay["rewards"], int(replay["seed"])
        recorded_return = float(replay["return"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"malformed replay: {exc}") from None
    env = make_env(spec, "replay" if render else "eval")
    frames = []
    try:
        obs, _ = env.reset(seed=seed)
        if render:
            frames.append(env.render())
        ret, ended_at = 0.0, None
        box = not hasattr(env.action_space, "n")
        for i, a in enumerate(actions):
            action = np.asarray(a, dtype=env.action_space.dtype) if box else int(a)
            if not env.action_space.contains(action):
                return {"ok": False, "detail": f"step {i}: action {a!r} is outside {env.action_space}"}
            obs, reward, terminated, truncated, _ = env.step(action)
            if render:
                frames.append(env.render())
            reward = float(reward)
            if i < len(rewards) and reward != rewards[i]:
                return {"ok": False, "detail": f"step {i}: reward {reward!r} but the replay recorded {rewards[i]!r}"}
            ret += reward
            if terminated or truncated:
                ended_at = i
                break
    finally:
        env.close()
    if ended_at is not None and ended_at != len(actions) - 1:
        return {"ok": False, "detail": f"the episode ended at step {ended_at}, but the replay has {len(actions)} actions"}
    if ended_at is None:
        return {"ok": False, "detail": f"the episode did not end after the replay's {len(actions)} actions"}
    if len(rewards) != len(actions):
        return {"ok": False, "detail": f"{len(actions)} actions but {len(rewards)} rewards"}
    if ret != recorded_return:
        return {"ok": False, "detail": f"return {ret!r} but the replay recorded {recorded_return!r}"}
    out = {"ok": True, "detail": f"seed {seed}: {len(actions)} steps, return {ret:.2f} identical"}
    if render:
        out["frames"] = frames
    return out


# --- building a bundle ---------------------------------------------------------------------------

def _load_run(run_dir: Path, spec: GameSpec) -> dict[str, Any]:
    run = _read_json(run_dir / "run.json", f"run.json of {run_dir}")
    if run.get("game") != spec.slug:
        raise BundleError(f"{run_dir} is a run of {run.get('game')}, not {spec.slug}")
    if run.get("status") != "done":
        raise BundleError(f"{run_dir} has not finished (status {run.get('status')}); resume it with "
                          f"`playground train {spec.slug} --seed {run.get('seed')} --out {run_dir} --resume`")
    run["dir"] = run_dir
    run["periodic"] = read_csv_rows(run_dir / "eval.csv")
    run["diagnostics"] = read_csv_rows(run_dir / "diagnostics.csv")
    return run


def _pick_seed(runs: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """The run whose last periodic evaluation (its own seeds, disjoint from the final evaluation) is best."""

    def key(r):
        last = r["periodic"][-1] if r["periodic"] else {"mean": -np.inf, "std": 0}
        return (last["mean"] - last["std"], last["mean"], -r["seed"])

    best = max(runs, key=key)
    lines = []
    for r in runs:
        last = r["periodic"][-1] if r["periodic"] else None
        lines.append(f"seed {r['seed']}: " + (f"{last['mean']:.2f} +/- {last['std']:.2f}" if last else "no evaluation"))
    reason = ("highest mean − std in the last periodic evaluation during training (10 episodes on the "
              "training-evaluation seeds, disjoint from the final evaluation's seeds): " + "; ".join(lines))
    return best, reason


def write_evaluation(tmp: Path, spec: GameSpec, out_dir: Path, episodes: int | None = None,
                     replays: int = 5) -> dict[str, Any]:
    """Evaluate the policy in ``tmp`` with the game's protocol: ``evidence/eval.json``, the replays and
    ``results.json`` (huggingface_sb3's shape). Returns the evaluation."""
    (tmp / "evidence" / "replays").mkdir(parents=True, exist_ok=True)
    policy = load_policy(tmp)
    result = evaluate_policy_on_spec(spec, policy, episodes, record=True)
    eps: list[Episode] = result.pop("_episodes")
    result["policy_sha256"] = sha256_file(tmp / "policy.safetensors")
    result["command"] = f"playground evaluate {out_dir}"
    result["evaluated_at"] = now_iso()
    (tmp / "evidence" / "eval.json").write_text(json.dumps(result, indent=1) + "\n")

    order = sorted(range(len(eps)), key=lambda i: (eps[i].ret, -i))
    picks = {"worst": order[0], "best": order[-1], "median": order[len(order) // 2]}
    for i in range(len(eps)):
        if len(picks) >= replays:
            break
        if i not in picks.values():
            picks[f"episode{i:03d}"] = i
    for label, i in picks.items():
        rec = replay_record(spec, eps[i], label, spec.eval.deterministic)
        (tmp / "evidence" / "replays" / f"{label}.json").write_text(json.dumps(rec) + "\n")

    summary = result["summary"]
    results = {"mean_reward": summary["mean"], "std_reward": summary["std"], "is_deterministic": spec.eval.deterministic,
               "n_eval_episodes": summary["episodes"], "eval_datetime": result["evaluated_at"]}
    (tmp / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return result


def file_checksums(folder: Path) -> dict[str, str]:
    """The manifest's ``files``: sha256 of every file under ``folder`` but the manifest itself."""
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and str(p.relative_to(folder)) != MANIFEST}


def install_bundle(tmp: Path, out_dir: Path) -> None:
    """Move a finished bundle from ``tmp`` to ``out_dir``, replacing an old one only once the new one is complete."""
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.rename(out_dir, old)
        os.rename(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, out_dir)


def write_sb3_zip_without_optimizer_state(model, dest: Path) -> None:
    """Save ``model`` as SB3's zip with a freshly built optimizer in place of the trained one.

    SB3's ``save`` always writes ``policy.optimizer.pth`` and ``PPO.load`` refuses a zip without it, so the
    file cannot simply be left out. A new Adam has no moment estimates (``state`` is empty), so the file is a
    few hundred bytes instead of twice the weights: for the Atari CNN that keeps the bundle well under 25 MB.
    ``PPO.load`` works as usual; training on from this zip restarts Adam's moments (the run folder's
    checkpoints keep the full state for ``playground train --resume``).
    """
    policy = model.policy
    lr = float(model.lr_schedule(1.0)) if callable(model.lr_schedule) else float(model.learning_rate)
    policy.optimizer = policy.optimizer_class(policy.parameters(), lr=lr, **policy.optimizer_kwargs)
    model.save(dest)


def build_bundle(game: str, run_dirs: list[Path], out: str | Path | None = None, command: str | None = None,
                 replays: int = 5, episodes: int | None = None) -> Path:
    """Assemble ``models/<game>`` from finished runs: ship the best seed, evaluate it, record replays."""
    from stable_baselines3 import PPO

    spec = get_spec(game)
    if not run_dirs:
        raise BundleError("give at least one run folder")
    runs = [_load_run(Path(d), spec) for d in run_dirs]
    seeds = [r["seed"] for r in runs]
    if len(set(seeds)) != len(seeds):
        raise BundleError(f"two runs have the same seed: {seeds}")
    best, reason = _pick_seed(runs)
    started = now_iso()

    out_dir = Path(out) if out else models_dir() / spec.slug
    tmp = out_dir.with_name(f".{out_dir.name}.building")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "evidence" / "replays").mkdir(parents=True)

    # weights: SB3's own zip for PPO.load users, and safetensors + JSON for everything here
    zip_name = f"ppo-{spec.hub_env_id}.zip"
    model = PPO.load(best["dir"] / "final" / "model.zip", device="cpu")  # our own run's file, not a download
    if spec.is_atari:
        write_sb3_zip_without_optimizer_state(model, tmp / zip_name)
    else:
        shutil.copyfile(best["dir"] / "final" / "model.zip", tmp / zip_name)
    norm_state = json.loads((best["dir"] / "final" / "normalize.json").read_text())
    normalizer = None
    if norm_state and norm_state.get("norm_obs"):
        normalizer = Normalizer(mean=np.array(norm_state["obs_mean"]), var=np.array(norm_state["obs_var"]),
                                clip=float(norm_state["clip_obs"]), epsilon=float(norm_state["epsilon"]),
                                count=float(norm_state["obs_count"]))
    export_policy(model.policy, normalizer, tmp)
    shutil.copyfile(best["dir"] / "config.yml", tmp / "config.yml")

    # evidence: every seed's curves and periodic evaluations, health per seed
    health = {"shipped_seed": best["seed"], "seeds": {}}
    continuous = not hasattr(model.action_space, "n")
    for r in runs:
        shutil.copyfile(r["dir"] / "diagnostics.csv", tmp / "evidence" / f"training-seed{r['seed']}.csv")
        shutil.copyfile(r["dir"] / "eval.csv", tmp / "evidence" / f"eval-during-training-seed{r['seed']}.csv")
        health["seeds"][str(r["seed"])] = assess(r["diagnostics"], continuous=continuous)
    health["verdict"] = health["seeds"][str(best["seed"])]["verdict"]
    (tmp / "evidence" / "health.json").write_text(json.dumps(health, indent=1) + "\n")

    # final evaluation of the shipped policy, loaded back the way the app loads it
    result = write_evaluation(tmp, spec, out_dir, episodes, replays)

    manifest = {
        "format": "ppo-playground/bundle@1",
        "game": spec.slug, "env_id": spec.env_id, "env_kwargs": spec.env_kwargs, "algo": "PPO",
        "origin": "trained here",
        "seeds": seeds, "shipped_seed": best["seed"], "shipped_because": reason,
        "timesteps": {str(r["seed"]): r.get("timesteps") for r in runs},
        "wall_seconds": {str(r["seed"]): r.get("wall_seconds") for r in runs},
        "commands": {"train": {str(r["seed"]): r["commands"] for r in runs},
                     "bundle": command or f"playground bundle {spec.slug} " + " ".join(str(d) for d in run_dirs),
                     "evaluate": f"playground evaluate {spec.slug}", "verify": f"playground verify {spec.slug}"},
        "reproduce": [f"playground train {spec.slug} --seed {s}" for s in seeds],
        "code": {"training": {str(r["seed"]): r.get("code") for r in runs}, "bundling": git_state()},
        "versions": package_versions(),
        "hardware": best.get("hardware") or hardware(),
        "started": min(r["segments"][0]["start"] for r in runs),
        "finished": max(r.get("finished", "") for r in runs),
        "bundled": {"started": started, "finished": now_iso()},
        "python_executable": sys.executable.split("/")[-1],
    }
    (tmp / "README.md").write_text(model_card(spec, manifest, result, health, (tmp / "config.yml").read_text()))
    manifest["files"] = file_checksums(tmp)
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")

    install_bundle(tmp, out_dir)
    return out_dir


# --- model card ----------------------------------------------------------------------------------

def card_data(spec: GameSpec, summary: dict):
    """The Hub's card metadata for a PPO agent: library_name, the RL tags and model-index "mean +/- std"."""
    from huggingface_hub import ModelCardData
    from huggingface_hub.repocard_data import EvalResult

    score = f"{summary['mean']:.2f} +/- {summary['std']:.2f}"
    return ModelCardData(
        library_name="stable-baselines3",
        tags=[spec.env_id, "reinforcement-learning", "stable-baselines3", "deep-reinforcement-learning"],
        model_name="PPO",
        eval_results=[EvalResult(task_type="reinforcement-learning", task_name="reinforcement-learning",
                                 dataset_type=spec.env_id, dataset_name=spec.env_id, metric_type="mean_reward",
                                 metric_name="mean_reward", metric_value=score)],
    )


def _atari_use_note(spec: GameSpec) -> str:
    if not spec.is_atari:
        return ""
    return (f" on `{spec.env_id}` with {spec.env_kwargs}, SB3's `AtariWrapper` and `VecFrameStack(n_stack="
            f"{spec.frame_stack})`. The zip carries no optimizer moments (a fresh Adam), which keeps the bundle "
            "small; training on from it restarts Adam's estimates")


def model_card(spec: GameSpec, manifest: dict, result: dict, health: dict, config_text: str) -> str:
    """README.md with the Hub's metadata (library_name, tags, model-index) and our evidence summary."""
    s = result["summary"]
    data = card_data(spec, s)
    bar = spec.bar
    met = bar.met_by(s["mean"], s["std"])
    ref = spec.reference
    seeds = manifest["seeds"]
    per_seed = "\n".join(
        f"| {seed} | {manifest['timesteps'][str(seed)]:,} | {manifest['wall_seconds'][str(seed)]:.0f} s | "
        f"{health['seeds'][str(seed)]['verdict']} |" for seed in seeds)
    findings = "\n".join(f"- **{f['metric']}** ({f['band']}): {f['status']} — {f['message']}"
                         for f in health["seeds"][str(manifest["shipped_seed"])]["findings"])
    body = f"""
# PPO agent playing {spec.env_id}

A PPO agent ({spec.name}) trained with [Stable-Baselines3](https://github.com/DLR-RM/stable-baselines3) by
PPO Playground. Every number below comes from the files in `evidence/`; `playground verify` re-checks them.

## Evaluation

| | |
|---|---|
| mean ± std over {s['episodes']} episodes | **{s['mean']:.2f} +/- {s['std']:.2f}** |
| 95 % CI of the mean | {s['ci95'][0]:.2f} … {s['ci95'][1]:.2f} ({s['ci_method']}) |
| min / max | {s['min']:.2f} / {s['max']:.2f} |
| policy | {'deterministic' if result['deterministic'] else 'stochastic'}; episode i resets with seed {result['seeds'][0]} + i |
| bar ({bar.describe()}) | {'met' if met else 'not met'} |
| solved threshold | {spec.solved_threshold:g} ({spec.solved_source}) |
| our budget | {manifest['timesteps'][str(manifest['shipped_seed'])]:,} steps (shipped seed) |
| Zoo reference | {f"{ref.mean:g} ± {ref.std:g} after {ref.timesteps:,} steps ({ref.source})" if ref else "none"} |

## Training

{len(seeds)} training seeds; this bundle ships seed **{manifest['shipped_seed']}**, chosen by
{manifest['shipped_because']}.

| seed | timesteps | wall time | health |
|---|---|---|---|
{per_seed}

Health of the shipped seed ({health['verdict']}):

{findings}

Hyperparameters (`config.yml`; starting point: RL Baselines3 Zoo `hyperparams/ppo.yml`):

```yaml
{config_text.strip()}
```

## Use

```bash
playground verify {spec.slug}        # checksums + re-simulate every replay
playground evaluate {spec.slug}      # re-run the {s['episodes']}-episode evaluation
```

With plain SB3: `PPO.load("{f"ppo-{spec.hub_env_id}.zip"}")`{" (observations must be normalised with the statistics in policy.json)" if spec.normalize else ""}{_atari_use_note(spec)}.

## Reproduce

```bash
{chr(10).join(manifest['reproduce'])}
{manifest['commands']['bundle']}
```

Versions, hardware and checksums: `evidence/manifest.json`.
"""
    return f"---\n{data.to_yaml()}\n---\n{body}"


# --- gallery table -------------------------------------------------------------------------------

def _zoo(spec: GameSpec) -> str:
    ref = spec.reference
    return f"{ref.mean:g} ± {ref.std:g} ({ref.timesteps / 1e6:g}M steps)" if ref else "—"


def gallery_table(models: Path | None = None) -> str:
    """The README's table of shipped agents, read from the bundles' evidence."""
    models = models or models_dir()
    rows = ["| game | bar | score (mean ± std, 95 % CI) | bar met | seeds | training steps | wall time | Zoo reference |",
            "|---|---|---|---|---|---|---|---|"]
    from envs import GAMES

    for slug, spec in GAMES.items():
        path = models / slug
        if not (path / MANIFEST).exists():
            continue
        b = Bundle.open(path)
        s = b.eval_summary()
        m = b.manifest
        steps = m["timesteps"][str(m["shipped_seed"])]
        wall = sum(v for v in m["wall_seconds"].values() if v)
        rows.append(f"| {spec.name} (`{spec.env_id}`) | {spec.bar.describe()} | {s['mean']:.2f} ± {s['std']:.2f} "
                    f"({s['ci95'][0]:.2f} … {s['ci95'][1]:.2f}) | {'yes' if spec.bar.met_by(s['mean'], s['std']) else 'no'} "
                    f"| {len(m['seeds'])} | {steps:,} | {wall / 60:.1f} min ({len(m['seeds'])} seed{'s' if len(m['seeds']) != 1 else ''}) | {_zoo(spec)} |")
    return "\n".join(rows)
