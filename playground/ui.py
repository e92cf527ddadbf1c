"""What the pages share: cached loaders (policies as resources, evidence tables as data), the game and agent
pickers, and the two rules every page keeps with what comes from outside (docs/security.md, "The app pages"):

- text from outside (query parameters, agent ids and sources, anything read from a bundle) reaches a Markdown
  element only through :func:`literal`, so it is shown as the characters it is;
- whatever one agent's files make go wrong stays in :func:`agent_errors`: one line naming that agent, and the
  page goes on without it.

No RL here: everything comes from ``agents`` and ``envs``.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from agents.bundle import Bundle
from agents.bundle.manifest import Check
from agents.bundle.match import Gate, MatchBundle, MatchEvaluation, Points, is_match_bundle
from agents.common.settings import models_dir
from agents.hub import registry
from agents.media.watch import Trajectory, cached_trajectory, first_frame, fresh_episode, replay_video
from agents.metrics.table import Metric, charted
from envs import GAMES, GameSpec, PlaygroundError, get_spec
from envs.catalog import TWO_PLAYER_GAMES

PAGES = ("gallery", "watch", "evidence", "play", "lab")
LITERAL_CHARS = 300
"""the longest piece of outside text a page shows; the rest is cut (a name or a message, never a document)"""

log = logging.getLogger(__name__)


def literal(value: object, limit: int = LITERAL_CHARS) -> str:
    """``value`` as a Markdown code span, to be placed in anything Streamlit renders as Markdown (alerts,
    captions, ``st.markdown``, labels, metric values).

    Inside a code span nothing is interpreted: no link, image, autolink, emphasis, HTML, LaTeX or colour
    directive, so a crafted ``?agent=`` or a bundle's field shows as the characters it is. The fence is one
    backtick longer than any run of backticks in the value, so the value cannot close it; control characters
    (a blank line would end the paragraph, and the span with it) become spaces.
    """
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    run = longest = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}"  # CommonMark strips exactly one space on each side


def one_line(exc: BaseException) -> str:
    """An exception as one line: a PlaygroundError's own message, anything else with its type."""
    first = next(iter(str(exc).strip().splitlines()), "")
    if isinstance(exc, PlaygroundError):
        return first
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


@contextlib.contextmanager
def agent_errors(who: str, part: str | None = None) -> Iterator[None]:
    """Draw one agent's part of a page; if anything in it fails, say so in one line naming the agent and go on.

    An agent's files come from anywhere (a pulled repo, an imported checkpoint), so any exception while
    drawing it is that agent's, not the page's: a BundleError, or whatever its content makes the code raise
    (NaN weights in torch, a normaliser of the wrong length in numpy). ``who`` is Markdown (``Agent.who``);
    ``part`` names the part of the page that is left out. Streamlit's own st.stop/st.rerun are BaseExceptions
    and pass through.
    """
    try:
        yield
    except Exception as exc:
        if not isinstance(exc, PlaygroundError):  # the operator gets the traceback, the visitor one line
            log.warning("%s cannot be shown", who, exc_info=True)
        st.error(f"{who} cannot be used{f' ({part})' if part else ''}: {literal(one_line(exc))}")


def models() -> str:
    return str(models_dir())


@dataclass(frozen=True)
class Agent:
    """One agent of a game the app can show: the bundled one, or one pulled from a Hub or imported."""

    key: str
    """``bundled``, or the registry id (``hub:ORG/NAME``, ``import:<folder>``); the URL's ``agent``"""
    path: str
    source: str
    """``bundled``, ``hub ORG/NAME@1a2b3c4`` or ``imported from <file>``"""

    @property
    def who(self) -> str:
        """The agent named in Markdown, for messages: its source is outside text."""
        return "The bundled agent" if self.key == "bundled" else f"The agent {literal(self.source)}"


def agents(slug: str) -> list[Agent]:
    """The game's agents: the bundled one first (even when broken, so its error is shown), then the others."""
    out = []
    path = Path(models()) / slug
    if path.exists():
        out.append(Agent("bundled", str(path), "bundled"))
    return out + [Agent(e.id, e.path, e.source) for e in registry.for_game(slug)]


@st.cache_resource(show_spinner=False)
def bundle_at(path: str) -> tuple[Bundle | None, str | None]:
    """(bundle, None) or (None, why it cannot be used, in one line); the checksums are verified when it is
    opened. Any exception counts: the folder's content is outside input."""
    try:
        return Bundle.open(path), None
    except Exception as exc:
        if not isinstance(exc, PlaygroundError):
            log.warning("bundle %s cannot be opened", path, exc_info=True)
        return None, one_line(exc)


def bundle(slug: str) -> tuple[Bundle | None, str | None]:
    """The bundled agent: (bundle, None), (None, why it cannot be used), or (None, None) when there is none."""
    path = Path(models()) / slug
    if not path.exists():
        return None, None
    return bundle_at(str(path))


@st.cache_resource(show_spinner="Loading the policy…")
def policy_at(path: str):
    return bundle_at(path)[0].policy()


def policy(slug: str):
    return policy_at(str(Path(models()) / slug))


def policy_error(path: str) -> str | None:
    """Why the policy of the (opened) bundle at ``path`` cannot be built, in one line; None when it can."""
    try:
        policy_at(path)
    except Exception as exc:
        if not isinstance(exc, PlaygroundError):
            log.warning("the policy of %s cannot be built", path, exc_info=True)
        return one_line(exc)
    return None


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
def diagnostics(path: str) -> pd.DataFrame:
    """Every training seed's diagnostics rows, with a ``seed`` column."""
    b, _ = bundle_at(path)
    frames = [pd.DataFrame(b.diagnostics(s)).assign(seed=str(s)) for s in b.training_seeds()]
    return pd.concat(frames, ignore_index=True)


@st.cache_data(show_spinner=False)
def periodic_evals(path: str) -> pd.DataFrame:
    b, _ = bundle_at(path)
    frames = [pd.DataFrame(b.periodic_evals(s)).assign(seed=str(s)) for s in b.training_seeds()]
    return pd.concat(frames, ignore_index=True)


@st.cache_resource(show_spinner="Re-simulating the replay…", max_entries=32)
def recorded_trajectory(path: str, name: str) -> tuple[Trajectory, bytes]:
    b, _ = bundle_at(path)
    rep = b.replay(name)
    t = cached_trajectory(b.spec, rep, policy_at(path), b.policy_id)
    return t, replay_video(b.spec, rep, t.frames)


@st.cache_resource(show_spinner="Playing a fresh episode…", max_entries=32)
def fresh_trajectory(path: str, slug: str, seed: int, with_agent: bool) -> tuple[Trajectory, bytes, dict]:
    """A new episode on ``seed``, cached per (agent, seed): the agent's at ``path``, or a random policy's."""
    spec = get_spec(slug)
    pol = policy_at(path) if with_agent else None
    rep = fresh_episode(spec, seed, pol)
    pid = bundle_at(path)[0].policy_id if with_agent else "random"
    t = cached_trajectory(spec, rep, pol, pid)
    return t, replay_video(spec, rep, t.frames), rep


def requested_game(two_player: bool = False) -> GameSpec | None:
    """The game named in the URL (``?game=<slug>``); an unknown one gets a message and None. ``two_player``:
    a two-player game's slug (``connect-four``) is one too."""
    slug = st.query_params.get("game")
    if not slug:
        return None
    if two_player and slug in TWO_PLAYER_GAMES:
        return TWO_PLAYER_GAMES[slug]
    try:
        return get_spec(slug)
    except PlaygroundError as exc:
        st.warning(f"{literal(exc)} Showing the gallery instead.")
        return None


def pick_game(key: str, only_bundled: bool = False, two_player: bool = False) -> GameSpec | None:
    """A game picker that starts on the URL's game and keeps the URL in step (deep links); ``two_player``
    offers the two-player games after the others (with ``only_bundled``, those with a bundle folder)."""
    from_url = requested_game(two_player)
    if from_url is None and st.query_params.get("game"):
        return None  # unknown game: the caller shows the gallery
    # "bundled" includes broken bundles, so that their error is shown rather than another game
    catalog = {**GAMES, **(TWO_PLAYER_GAMES if two_player else {})}
    slugs = [s for s in GAMES if not only_bundled or agents(s)] or list(GAMES)
    if two_player:
        slugs += [s for s in TWO_PLAYER_GAMES if not only_bundled or (Path(models()) / s).exists()]
    default = from_url.slug if from_url and from_url.slug in slugs else slugs[0]
    slug = st.selectbox(
        "Game",
        slugs,
        index=slugs.index(default),
        key=key,
        format_func=lambda s: (
            f"{catalog[s].name} · {catalog[s].env_id}" + (" · two players" if catalog[s].is_two_player else "")
        ),
    )
    if st.query_params.get("game") != slug:
        st.query_params["game"] = slug
    return catalog[slug]


def score_line(b: Bundle) -> str:
    """The evaluation in one Markdown line. Every value is formatted as a number, so none of eval.json's text
    reaches the page (a value that is not a number raises, and the page's :func:`agent_errors` says so)."""
    s = b.eval_result().summary  # BundleError naming eval.json when it has no summary
    spec = b.spec
    ref = spec.reference
    met = spec.bar.met_by(s["mean"], s["std"])
    steps = b.manifest.steps_of_shipped_seed()
    return (
        f"**{s['mean']:.2f} ± {s['std']:.2f}** over {int(s['episodes'])} episodes "
        f"(95 % CI {s['ci95'][0]:.2f} … {s['ci95'][1]:.2f}) · solved threshold {spec.solved_threshold:g} · "
        + (f"trained {steps:,} steps · " if isinstance(steps, int) else "")
        + (f"Zoo {ref.mean:g} ± {ref.std:g} after {ref.timesteps:,} steps" if ref else "no Zoo reference")
        + f" · bar {spec.bar.describe()}: {'met' if met else 'not met'}"
    )


# Material icons (Streamlit bundles their font) rather than emoji, which a browser without an emoji font shows as
# empty boxes (Debian's chromium here did)
VERDICT_ICONS = {
    "healthy": ":green[:material/check_circle:]",
    "watch": ":orange[:material/visibility:]",
    "unhealthy": ":red[:material/error:]",
    "no data": ":gray[:material/remove:]",
}


def verdict(value: object) -> str:
    """A health verdict from a bundle's health.json, with its icon; anything else shown as text."""
    return f"{VERDICT_ICONS[value]} {value}" if isinstance(value, str) and value in VERDICT_ICONS else literal(value)


def to_gallery() -> None:
    """Leave for the gallery, keeping an unknown ``game`` in the URL so the gallery can say so."""
    st.switch_page("views/gallery.py", query_params={"game": st.query_params.get("game", "")})


def pick_agent(spec: GameSpec, key: str) -> Agent | None:
    """The game's agent named in the URL (``?agent=hub:ORG/NAME``; the bundled one by default), with a
    picker when there is more than one; the URL follows the choice."""
    options = agents(spec.slug)
    if not options:
        return None
    keys = [a.key for a in options]
    wanted = st.query_params.get("agent") or keys[0]
    if wanted not in keys:
        st.warning(f"{spec.name} has no agent {literal(wanted)}; showing {literal(options[0].source)}.")
        wanted = keys[0]
    choice = wanted
    if len(options) > 1:
        labels = {a.key: a.source for a in options}
        choice = st.selectbox("Agent", keys, index=keys.index(wanted), key=f"{key}-{spec.slug}", format_func=labels.get)
    if choice == "bundled" and "agent" in st.query_params:
        del st.query_params["agent"]
    elif choice != "bundled" and st.query_params.get("agent") != choice:
        st.query_params["agent"] = choice
    return options[keys.index(choice)]


def game_and_agent(
    key: str, agent_key: str, only_bundled: bool = False
) -> tuple[GameSpec, Agent | None, Bundle | None]:
    """A page's prologue: the picked game, its picked agent and that agent's bundle (None when the game has
    no agent). An unknown game goes to the gallery; a broken bundle shows its error and stops the page."""
    spec = pick_game(key, only_bundled)
    if spec is None:
        to_gallery()
    return (spec, *agent_and_bundle(spec, agent_key))


def agent_and_bundle(spec: GameSpec, agent_key: str) -> tuple[Agent | None, Bundle | None]:
    """The game's picked agent and its bundle (None, None when the game has no agent); a broken bundle shows
    its error and stops the page."""
    agent = pick_agent(spec, agent_key)
    if agent is None:
        return None, None
    b, error = bundle_at(agent.path)
    if error:
        st.error(f"{agent.who} cannot be used: {literal(error)}")
        st.stop()
    return agent, b


def game_and_bundle(key: str, only_bundled: bool = False) -> tuple[GameSpec, Bundle | None]:
    spec, _, b = game_and_agent(key, key.replace("-game", "-agent"), only_bundled)
    return spec, b


def pull_box(spec: GameSpec) -> None:
    """A box to pull an agent by repo id: downloaded into huggingface_hub's cache, every checksum verified,
    then listed with the game's agents."""
    from agents.hub.client import default_repo_name, pull

    with st.expander("Pull an agent from the Hugging Face Hub"):
        repo = st.text_input("Repo id", key=f"pull-repo-{spec.slug}", placeholder=f"ORG/{default_repo_name(spec)}")
        if st.button("Pull and verify", key=f"pull-{spec.slug}") and repo.strip():
            try:
                with st.spinner(f"Pulling {literal(repo.strip())} and verifying every checksum…"):
                    b, entry = pull(repo.strip())
            except PlaygroundError as exc:
                st.error(literal(exc))
                return
            if entry.game != spec.slug:
                st.warning(
                    f"{literal(entry.source)} plays {b.spec.name}, not {spec.name}: it is listed on that game's pages."
                )
                return
            st.query_params["agent"] = entry.id
            st.rerun()
        st.caption(
            "Downloads the bundle's files into huggingface_hub's cache (HF_ENDPOINT, HF_HUB_OFFLINE apply) "
            "and verifies every checksum in its manifest before it can be used. `playground pull ORG/NAME` "
            "does the same from the command line."
        )


@st.cache_data(show_spinner=False)
def reproduction_curves(path: str, report_id: str) -> pd.DataFrame:
    """Every run of a saved reproduction's training curve, with ``variant`` and ``seed`` columns."""
    b, _ = bundle_at(path)
    report = next(r for r in b.reproductions() if r["id"] == report_id)
    frames = [
        pd.DataFrame(b.reproduction_rows(report_id, f"{v['key']}/training-seed{s['seed']}.csv")).assign(
            variant=v["name"], seed=str(s["seed"])
        )
        for v in report["variants"]
        for s in v["seeds"]
        if s["ok"]
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def metric_chart(
    metric: Metric,
    data: pd.DataFrame,
    series: str,
    *,
    mean: bool = False,
    reference: pd.DataFrame | None = None,
    threshold: float | None = None,
    height: int = 220,
) -> alt.LayerChart:
    """One metric's curves as the Evidence and Lab pages draw them: a line per value of ``series``, the healthy
    band shaded (``agents/metrics/table.py``), the solved threshold as a dashed green rule on the reward,
    optionally the lines' mean (black) and a reference run (grey, dashed: the shipped agent on the Lab page)."""
    name, title, band = metric.column, metric.chart.title if metric.chart else metric.column, metric.healthy
    data = data[["timesteps", series, name]].dropna()
    lines = alt.Chart(data).mark_line(strokeWidth=1 if mean else 2, opacity=0.55 if mean else 0.9)
    layers: list[alt.Chart] = [
        lines.encode(
            x=alt.X("timesteps:Q", title="timesteps"),
            y=alt.Y(f"{name}:Q", title=title),
            color=alt.Color(f"{series}:N", title=series),
        )
    ]
    if mean:
        avg = data.groupby("timesteps", as_index=False)[name].mean()
        layers.append(alt.Chart(avg).mark_line(strokeWidth=2.5, color="black").encode(x="timesteps:Q", y=f"{name}:Q"))
    if reference is not None and name in reference and not reference[name].dropna().empty:
        ref = reference[["timesteps", name]].dropna()
        layers.append(
            alt.Chart(ref)
            .mark_line(strokeDash=[6, 4], strokeWidth=1.5, color="grey")
            .encode(x="timesteps:Q", y=f"{name}:Q")
        )
    if band:
        layers.insert(
            0,
            alt.Chart(pd.DataFrame({"lo": [band[0]], "hi": [band[1]]}))
            .mark_rect(opacity=0.15, color="green")
            .encode(y="lo:Q", y2="hi:Q"),
        )
    if name == "ep_rew_mean" and threshold is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"y": [threshold]})).mark_rule(strokeDash=[4, 4], color="green").encode(y="y:Q")
        )
    return alt.layer(*layers).properties(title=title, height=height)


def checks_frame(checks: list[Check]) -> pd.DataFrame:
    """A bundle's verification as a table (plain-text cells): ok or FAIL, the check, its detail."""
    return pd.DataFrame([{"": "ok" if c.ok else "FAIL", "check": c.name, "detail": c.detail} for c in checks])


def charted_in(data: pd.DataFrame) -> list[Metric]:
    """The Evidence page's charted metrics that ``data`` has values of (a run may lack some columns)."""
    return [m for m in charted() if m.column in data and data[m.column].notna().any()]


# --- two-player bundles (agents/bundle/match.py) ------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _match_bundle_at(path: str) -> MatchBundle | None:
    """A two-player bundle, its checksums verified when it is opened (once per process, as :func:`bundle_at`),
    or None when the folder holds none. A failure is not cached: it raises again, for :func:`agent_errors`."""
    return MatchBundle.open(path) if is_match_bundle(path) else None


def match_bundle(slug: str) -> MatchBundle | None:
    """The shipped agent of a two-player game, or None; BundleError (one line) when it cannot be used."""
    return _match_bundle_at(str(Path(models()) / slug))


def match_summary(b: MatchBundle) -> str:
    """The agent and where it came from, in Markdown: every value from the manifest as a number or a literal."""
    t, policy = b.manifest.trained(), b.manifest.policy
    code = "not recorded" if t.commit is None else literal(t.commit) + (" (uncommitted changes)" if t.dirty else "")
    return "  \n".join(
        [
            f"**Agent**: policy {literal(policy['format'])}; plays {literal(policy.get('plays', '?'), 400)}",
            f"**Trained**: {literal(t.algo or '?')} · seed {t.seed} · {t.timesteps:,} steps in {t.minutes:g} min · "
            f"code {code}"
            + (f" · source {literal(t.source)}" if t.source else "")
            + (f" · from {literal(t.origin)}" if t.origin else ""),
            f"**Command**: {literal(t.command)}",
        ]
    )


def match_bars_line(ev: MatchEvaluation) -> str:
    """Whether the agent meets the catalog's bars, in Markdown, naming each one it misses."""
    met, barred = ev.bars()
    if not barred:
        return "No bar is set for this game."
    if met == barred:
        return f":material/check_circle: **every bar met** ({met} of {barred}), {ev.games_per_seat:,} games per seat"
    missed = [
        f"vs {literal(r.opponent)} as {literal(r.seat_name)}: {r.win_rate:.1%} wins, bar {r.bar * 100:g} %"
        for r in ev.rows
        if r.bar is not None and not r.bar_met
    ]
    return (
        f":material/hourglass_empty: **below the bar**: {barred - met} of {barred} not met "
        f"({'; '.join(missed)}), {ev.games_per_seat:,} games per seat"
    )


def match_evaluation_table(ev: MatchEvaluation, points: dict[str, tuple[Points, Points]]) -> pd.DataFrame:
    """The evaluation per opponent and seat: games, W/D/L, the win rate with its Wilson 95 % interval, the
    catalog's bar and whether it is met; points for and against (mean [95 % CI]) where the evaluation has them."""
    rows = []
    for r in ev.rows:
        lo, hi = r.ci("wins")
        row = {
            "opponent": r.opponent,
            "seat": r.seat_name,
            "games": r.games,
            "wins": r.wins,
            "draws": r.draws,
            "losses": r.losses,
            "win rate": f"{r.win_rate:.1%}",
            "Wilson 95 %": f"{lo:.1%} – {hi:.1%}",
            "bar": "none" if r.bar is None else f"≥ {r.bar * 100:g} %",
            "met": "" if r.bar is None else "met" if r.bar_met else "not met",
        }
        if r.opponent in points:
            row["points for"], row["points against"] = (str(x) for x in points[r.opponent])
        rows.append(row)
    return pd.DataFrame(rows)


def match_opponents_table(b: MatchBundle) -> pd.DataFrame:
    """Each opponent's definition as the manifest records it, as plain-text cells."""
    import json

    return pd.DataFrame(
        [
            {
                "opponent": o["name"],
                "kind": str(o["kind"]),
                "parameters": json.dumps(o["params"]),
                "plays": str(o.get("plays", "")),
                "code": str(o.get("code", "")),
            }
            for o in b.manifest.opponents
        ]
    )


def match_replay_table(b: MatchBundle) -> pd.DataFrame:
    """The bundle's replays: opponent, the agent's seat, seed, result, length and score where the game has one."""
    return pd.DataFrame(
        [
            {
                "replay": r.name,
                "opponent": r.opponent,
                "agent's seat": b.spec.seats[r.agent_seat],
                "seed": r.seed,
                "result for the agent": r.result,
                "length": r.length,
                **({"score (agent-opponent)": r.score} if r.score is not None else {}),
            }
            for r in b.replays()
        ]
    )


@st.cache_data(show_spinner=False)
def match_curves(path: str) -> tuple[str, str, pd.DataFrame] | None:
    """The two-player bundle's training curve: its file, which run it is, its rows with a ``seed`` column; None
    when it carries none. A cell that is not a number is no point."""
    b = _match_bundle_at(path)
    curve = b.curves() if b is not None else None
    if curve is None:
        return None
    frame = pd.DataFrame(curve.rows).apply(pd.to_numeric, errors="coerce")
    return curve.file, curve.what, frame.assign(seed=str(b.manifest.trained().seed))


def gate_chart(gates: list[Gate]) -> alt.LayerChart:
    """A self-play run's gates: each gate's score against the pool over the steps, coloured by whether the
    learner joined the pool, and the threshold it had to reach (dashed)."""
    data = pd.DataFrame(
        [
            {
                "timesteps": g.timesteps,
                "score": g.score,
                "threshold": g.threshold,
                "gate": "joined the pool" if g.passed else "did not join",
                "pool": g.pool,
            }
            for g in gates
        ]
    )
    points = (
        alt.Chart(data)
        .mark_circle(size=30, opacity=0.8)
        .encode(
            x=alt.X("timesteps:Q", title="timesteps"),
            y=alt.Y("score:Q", title="score against the pool", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color(
                "gate:N",
                title=None,
                scale=alt.Scale(domain=["joined the pool", "did not join"], range=["#2e7d32", "#c62828"]),
            ),
            tooltip=["timesteps:Q", "score:Q", "pool:Q", "gate:N"],
        )
    )
    threshold = alt.Chart(data).mark_line(strokeDash=[4, 4], color="grey").encode(x="timesteps:Q", y="threshold:Q")
    return alt.layer(points, threshold).properties(title="Gates", height=220)


def match_chart_note(metric: Metric) -> str:
    """A two-player run's chart caption: the metric table's note and PPO's healthy band. The table's note on the
    reward speaks of a single-player return and its evaluation; the page says what this run's reward counts."""
    note = metric.chart.note if metric.chart else ""
    if metric.column == "ep_rew_mean":
        note = "The mean episode reward of the last 100 training episodes."
    band = metric.healthy
    return note + (f" Shaded: PPO's healthy band {band[0]:g}–{band[1]:g}." if band else "")
