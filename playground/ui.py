"""What the pages share: cached loaders (policies as resources, evidence tables as data) and the game
picker. No RL here: everything comes from ``agents`` and ``envs``.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd
import streamlit as st

from agents.bundle import Bundle, models_dir
from agents.watch import Trajectory, cached_trajectory, first_frame, fresh_episode, replay_video
from envs import GAMES, GameSpec, PlaygroundError, get_spec

PAGES = ("gallery", "watch", "evidence", "play")


def models() -> str:
    return str(models_dir())


@st.cache_resource(show_spinner=False)
def _bundle(models_path: str, slug: str) -> tuple[Bundle | None, str | None]:
    path = Path(models_path) / slug
    if not (path / "evidence" / "manifest.json").exists() and not path.exists():
        return None, None
    try:
        return Bundle.open(path), None
    except PlaygroundError as exc:
        return None, str(exc)


def bundle(slug: str) -> tuple[Bundle | None, str | None]:
    """(bundle, None), (None, why it cannot be used), or (None, None) when the game has no agent."""
    return _bundle(models(), slug)


@st.cache_resource(show_spinner="Loading the policy…")
def _policy(models_path: str, slug: str):
    b, _ = _bundle(models_path, slug)
    return b.policy()


def policy(slug: str):
    return _policy(models(), slug)


def jpeg_uri(jpeg: bytes) -> str:
    """A JPEG as a ``data:`` URI for ``st.image``.

    Streamlit serves image bytes from its media file manager and drops a file as soon as a rerun replaces
    it; a browser still fetching the old one (the step slider moved fast, a page left mid-load) then gets
    a 404 and shows a broken image. Frames are small, so they travel inline instead.
    """
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


@st.cache_data(show_spinner=False)
def thumbnail(slug: str) -> str:
    """The game's first frame (seed 0) as a data URI."""
    return jpeg_uri(first_frame(get_spec(slug), seed=0))


@st.cache_data(show_spinner=False)
def diagnostics(models_path: str, slug: str) -> pd.DataFrame:
    """Every training seed's diagnostics rows, with a ``seed`` column."""
    b, _ = _bundle(models_path, slug)
    frames = [pd.DataFrame(b.diagnostics(s)).assign(seed=str(s)) for s in b.training_seeds()]
    return pd.concat(frames, ignore_index=True)


@st.cache_data(show_spinner=False)
def periodic_evals(models_path: str, slug: str) -> pd.DataFrame:
    b, _ = _bundle(models_path, slug)
    frames = [pd.DataFrame(b.periodic_evals(s)).assign(seed=str(s)) for s in b.training_seeds()]
    return pd.concat(frames, ignore_index=True)


@st.cache_resource(show_spinner="Re-simulating the replay…", max_entries=32)
def recorded_trajectory(models_path: str, slug: str, name: str) -> tuple[Trajectory, bytes]:
    b, _ = _bundle(models_path, slug)
    rep = b.replay(name)
    t = cached_trajectory(b.spec, rep, _policy(models_path, slug), b.manifest["files"]["policy.safetensors"])
    return t, replay_video(b.spec, rep, t.frames)


@st.cache_resource(show_spinner="Playing a fresh episode…", max_entries=32)
def fresh_trajectory(models_path: str, slug: str, seed: int, with_agent: bool) -> tuple[Trajectory, bytes, dict]:
    """A new episode on ``seed``, cached per (game, seed): the agent's, or a random policy's."""
    spec = get_spec(slug)
    pol = _policy(models_path, slug) if with_agent else None
    rep = fresh_episode(spec, seed, pol)
    pid = _bundle(models_path, slug)[0].manifest["files"]["policy.safetensors"] if with_agent else "random"
    t = cached_trajectory(spec, rep, pol, pid)
    return t, replay_video(spec, rep, t.frames), rep


def requested_game() -> GameSpec | None:
    """The game named in the URL (``?game=<slug>``); an unknown one gets a message and None."""
    slug = st.query_params.get("game")
    if not slug:
        return None
    try:
        return get_spec(slug)
    except PlaygroundError as exc:
        st.warning(f"{exc} Showing the gallery instead.")
        return None


def pick_game(key: str, only_bundled: bool = False) -> GameSpec | None:
    """A game picker that starts on the URL's game and keeps the URL in step (deep links)."""
    from_url = requested_game()
    if from_url is None and st.query_params.get("game"):
        return None  # unknown game: the caller shows the gallery
    # "bundled" includes broken bundles, so that their error is shown rather than another game
    slugs = [s for s in GAMES if not only_bundled or any(bundle(s))] or list(GAMES)
    default = from_url.slug if from_url and from_url.slug in slugs else slugs[0]
    slug = st.selectbox("Game", slugs, index=slugs.index(default), key=key,
                        format_func=lambda s: f"{GAMES[s].name} · {GAMES[s].env_id}")
    if st.query_params.get("game") != slug:
        st.query_params["game"] = slug
    return GAMES[slug]


def score_line(b: Bundle) -> str:
    s = b.eval_summary()
    spec = b.spec
    ref = spec.reference
    met = spec.bar.met_by(s["mean"], s["std"])
    return (f"**{s['mean']:.2f} ± {s['std']:.2f}** over {s['episodes']} episodes "
            f"(95 % CI {s['ci95'][0]:.2f} … {s['ci95'][1]:.2f}) · solved threshold {spec.solved_threshold:g} · "
            + (f"Zoo {ref.mean:g} ± {ref.std:g}" if ref else "no Zoo reference")
            + f" · bar {spec.bar.describe()}: {'met' if met else 'not met'}")


def to_gallery() -> None:
    """Leave for the gallery, keeping an unknown ``game`` in the URL so the gallery can say so."""
    st.switch_page("views/gallery.py", query_params={"game": st.query_params.get("game", "")})


def game_and_bundle(key: str, only_bundled: bool = False) -> tuple[GameSpec, Bundle | None]:
    """A page's prologue: the picked game and its bundle (None when it has no agent). An unknown game
    goes to the gallery; a broken bundle shows its error and stops the page."""
    spec = pick_game(key, only_bundled)
    if spec is None:
        to_gallery()
    b, error = bundle(spec.slug)
    if error:
        st.error(f"This game's agent cannot be used: {error}")
        st.stop()
    return spec, b


@st.cache_data(show_spinner=False)
def reproduction_curves(models_path: str, slug: str, report_id: str) -> pd.DataFrame:
    """Every run of a saved reproduction's training curve, with ``variant`` and ``seed`` columns."""
    b, _ = _bundle(models_path, slug)
    report = next(r for r in b.reproductions() if r["id"] == report_id)
    frames = [pd.DataFrame(b.reproduction_rows(report_id, f"{v['key']}/training-seed{s['seed']}.csv"))
              .assign(variant=v["name"], seed=str(s["seed"]))
              for v in report["variants"] for s in v["seeds"] if s["ok"]]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
