"""Run every model card's ``## Usage`` snippets as their users would, against bundles published to a stand-in Hub,
and print the table: user type × game → score reached with their own tools vs the card.

    .venv/bin/python bench/interop.py                      # every shipped game (Atari: a few minutes each)
    .venv/bin/python bench/interop.py cartpole acrobot     # some games
    .venv/bin/python bench/interop.py --markdown           # the table as Markdown (docs/interop.md)

Each game's shipped bundle is published with ``agents.hub.client.publish`` to ``tests/hub_server.py`` (the
stand-in Hub on loopback); then the card's four snippets run as written, as separate processes, with
``HF_ENDPOINT`` pointing at the stand-in:

- ``sb3`` (Stable-Baselines3 + huggingface_sb3) and ``onnx`` (onnxruntime): Python, in the throwaway venv;
- ``zoo`` (``python -m rl_zoo3.load_from_hub`` then ``rl_zoo3.enjoy``): bash, in the throwaway venv;
- ``playground`` (``playground pull`` and the bundle's own evaluation): bash, with the project's venv.

The throwaway venv is made beside the project's: ``rl_zoo3`` and ``huggingface_sb3`` (with what they need that
the project lacks) are installed by pip into it; SB3, gymnasium, torch and onnxruntime come from the
project's venv through a ``.pth`` file (so no second torch is downloaded). The Zoo's release accepts those
versions (rl_zoo3 2.9.2: stable-baselines3 2.9, gymnasium 1.4).

A snippet plays ``SNIPPET_EPISODES`` episodes; its mean "reaches the card" when it lies in the card's 95 % CI
widened by the sampling error of so few episodes: ``[lo - 2·std/√n, hi + 2·std/√n]`` with the larger of the
card's std and the snippet's own.
The onnx snippet of a deterministic game plays the card's own seeds, so it must give the card's first n
returns exactly (checked too).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ZOO_VERSION = "2.9.2"
"""rl_zoo3's release for stable-baselines3 2.9"""
TOKEN = "hf_interopTestToken000000000000000"
ALL_GAMES = (
    "cartpole",
    "acrobot",
    "pendulum",
    "lunarlander",
    "lunarlander-continuous",
    "bipedalwalker",
    "pong",
    "breakout",
)


class PipUnavailable(RuntimeError):
    """pip could not reach the package registry."""


@dataclass
class Venv:
    path: Path

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"


def make_venv(where: Path, timeout: float = 900) -> Venv:
    """A throwaway venv under ``where`` with rl_zoo3 and huggingface_sb3, layered over the project's venv."""
    import site

    venv = Venv(Path(where))
    subprocess.run([sys.executable, "-m", "venv", str(venv.path)], check=True, capture_output=True)
    pyver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    project_site = [p for p in site.getsitepackages() if p.endswith("site-packages")]
    (venv.path / "lib" / pyver / "site-packages" / "_project.pth").write_text("\n".join(project_site) + "\n")
    proc = subprocess.run(
        [str(venv.python), "-m", "pip", "install", "-q", "--disable-pip-version-check", f"rl_zoo3=={ZOO_VERSION}"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        text = proc.stderr + proc.stdout
        if re.search(r"No matching distribution|Could not find a version|connection|resolve|timed out", text, re.I):
            raise PipUnavailable(f"pip could not install rl_zoo3=={ZOO_VERSION}: {text.strip().splitlines()[-1]}")
        raise RuntimeError(f"pip install rl_zoo3 failed:\n{text[-2000:]}")
    return venv


def publish_bundle(hub_url: str, slug: str) -> str:
    """Publish the shipped bundle of ``slug`` to the stand-in Hub under the cards' organisation; its repo id."""
    from agents.bundle.usage import HUB_ORG
    from agents.hub.client import publish

    os.environ["HF_TOKEN"] = TOKEN
    out = publish(str(ROOT / "models" / slug), HUB_ORG, endpoint=hub_url, log=lambda _: None)
    return out["repo_id"]


@dataclass
class Outcome:
    snippet: str
    mean: float | None
    std: float | None
    episodes: int
    seconds: float
    output: str
    returns: list[float] | None = None


def _scores(name: str, out: str) -> tuple[float | None, float | None, int, list[float]]:
    if name == "zoo":
        atari = [float(x) for x in re.findall(r"Atari Episode Score: (-?[\d.]+)", out)]
        if atari:
            import numpy as np

            return float(np.mean(atari)), float(np.std(atari)), len(atari), atari
        m = re.search(r"Mean reward: (-?[\d.]+) \+/- ([\d.]+)", out)
        n = re.search(r"(\d+) Episodes", out)
        if m:
            return float(m.group(1)), float(m.group(2)), int(n.group(1)) if n else 0, []
        return None, None, 0, []
    m = re.search(r"mean_reward=(-?[\d.]+) \+/- ([\d.]+)", out)
    if not m:
        return None, None, 0, []
    return float(m.group(1)), float(m.group(2)), 0, []


def run_snippet(
    name: str, lang: str, code: str, venv: Venv, env: dict[str, str], cwd: Path, timeout: float = 1800
) -> Outcome:
    """Run one snippet as written: Python with the venv's python, bash with the venv (the playground's snippet:
    the project's venv) first on PATH."""
    from agents.bundle.usage import SNIPPET_EPISODES

    bin_dir = ROOT / ".venv" / "bin" if name == "playground" else venv.bin
    full = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    full.update(env)
    full["PATH"] = f"{bin_dir}{os.pathsep}{full.get('PATH', '')}"
    full.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "SDL_VIDEODRIVER": "dummy", "MPLBACKEND": "Agg"})
    if name == "playground":
        full["PYTHONPATH"] = str(ROOT)
    cwd.mkdir(parents=True, exist_ok=True)
    script = cwd / f"{name}.{'py' if lang == 'python' else 'sh'}"
    script.write_text(code + "\n")
    cmd = [str(venv.python), str(script)] if lang == "python" else ["bash", "-eo", "pipefail", str(script)]
    t = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full, cwd=cwd, timeout=timeout)
    seconds = time.monotonic() - t
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"snippet {name} failed (exit {proc.returncode}):\n{output[-3000:]}")
    mean, std, n, returns = _scores(name, output)
    return Outcome(name, mean, std, n or SNIPPET_EPISODES, seconds, output, returns or None)


def reaches(summary: dict, mean: float, n: int, std: float | None = None) -> bool:
    """The few-episode mean lies in the card's 95 % CI widened by two standard errors of ``n`` episodes, with the
    larger of the card's std and the snippet's own (``std``): a snippet whose episodes show a tail the card's
    100 did not (Acrobot's rare 500-step episode) is judged by the spread it actually had."""
    lo, hi = summary["ci95"]
    spread = max(summary["std"], std or 0.0)
    slack = 2 * spread / math.sqrt(max(n, 1))
    return lo - slack - 1e-6 <= mean <= hi + slack + 1e-6


def run_game(
    slug: str, hub_url: str, venv: Venv, home: Path, only: tuple[str, ...] | None = None, workers: int = 1
) -> list[Outcome]:
    """Publish ``slug`` and run its card's snippets (all, or ``only``), ``workers`` at a time (each snippet is its
    own single-threaded process, so two use both cores of a 2-core machine); each outcome with its parsed score,
    in the card's order."""
    from concurrent.futures import ThreadPoolExecutor

    from agents.bundle import Bundle
    from agents.bundle.usage import snippets

    publish_bundle(hub_url, slug)
    card = Bundle.open(ROOT / "models" / slug).card()
    env = {
        "HF_ENDPOINT": hub_url,
        "HF_HOME": str(home / "hf"),
        "PLAYGROUND_DATA": str(home / "data"),
        "PLAYGROUND_CACHE": str(home / "cache"),
        "HOME": str(home),
    }
    todo = [(name, lang, code) for name, (lang, code) in snippets(card).items() if not only or name in only]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [
            pool.submit(run_snippet, name, lang, code, venv, env, home / slug / name) for name, lang, code in todo
        ]
        return [f.result() for f in futures]


def main(argv: list[str] | None = None) -> int:
    from agents.bundle import Bundle
    from tests.hub_server import FakeHub

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("games", nargs="*", default=list(ALL_GAMES))
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--venv", help="reuse this throwaway venv (made if missing)")
    parser.add_argument("--workers", type=int, default=1, help="snippets run at once (default 1)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="interop-") as tmp:
        root = Path(tmp)
        venv_dir = Path(args.venv) if args.venv else root / "venv"
        venv = Venv(venv_dir) if (venv_dir / "bin" / "python").exists() else make_venv(venv_dir)
        hub = FakeHub(root / "hub")
        hub.start()
        rows = []
        try:
            for slug in args.games:
                b = Bundle.open(slug)
                s = b.eval_result().summary
                for o in run_game(slug, hub.url, venv, root / "home", workers=args.workers):
                    ok = o.mean is not None and reaches(s, o.mean, o.episodes, o.std)
                    rows.append((slug, o, s, ok))
                    print(
                        f"{slug:24} {o.snippet:10} {o.mean if o.mean is not None else float('nan'):9.2f} "
                        f"({o.episodes} ep, {o.seconds:5.0f} s)  card {s['mean']:.2f} "
                        f"[{s['ci95'][0]:.2f}, {s['ci95'][1]:.2f}]  {'reaches' if ok else 'MISSES'}",
                        flush=True,
                    )
        finally:
            hub.stop()
    if args.markdown:
        print()
        print("| game | user | score reached (episodes) | card: mean (95 % CI) | reaches |")
        print("|---|---|---|---|---|")
        for slug, o, s, ok in rows:
            got = f"{o.mean:.2f} ± {o.std:.2f} ({o.episodes})" if o.mean is not None else "no score"
            print(
                f"| {slug} | {o.snippet} | {got} | {s['mean']:.2f} ({s['ci95'][0]:.2f} … {s['ci95'][1]:.2f}) | "
                f"{'yes' if ok else 'no'} |"
            )
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
