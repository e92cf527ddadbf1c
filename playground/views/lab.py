"""Lab: train PPO from the browser and watch its diagnostics live against the healthy bands and the shipped
run; compare 2–4 runs (the chapters' experiments open as such comparisons); then watch, play and bundle
the agent you trained.

The page only queues jobs and reads their run folders: the runs are ordinary ``playground train`` processes
started by the lab's workers (``playground.lab.runner``, in the app's lifespan), so closing the tab stops
nothing and a restart of the app resumes them. ``?jobs=<id>,<id>`` opens a comparison (anyone with the link
can watch it; only the browser that queued a job can cancel it).
"""

import copy
import hashlib
import math
import re
import secrets

import pandas as pd
import streamlit as st

from agents.common.settings import database_url
from agents.metrics.table import charted
from envs import GAMES, PlaygroundError, get_spec
from envs.keymap import ContinuousKeyMap
from playground import ui
from playground.lab import knobs, live, presets, runner
from playground.store.db import get_database
from playground.store.jobs import JobStore

REFRESH_SECONDS = 1.0  # the live part redraws this often while a run is active: an update shows within ~2 s
JOB_ID = re.compile(r"^[0-9a-f]{12}$")


@st.cache_resource(show_spinner=False)
def _store(url: str) -> JobStore:
    return JobStore(get_database(url))


def session_id() -> str:
    """This browser: Streamlit's XSRF cookie (kept across reloads) hashed, else one id per page session."""
    cookie = st.context.cookies.get("_streamlit_xsrf") if st.context.cookies else None
    if cookie:
        return hashlib.sha256(cookie.encode()).hexdigest()[:32]
    if "lab-session" not in st.session_state:
        st.session_state["lab-session"] = secrets.token_hex(16)
    return st.session_state["lab-session"]


def requested_jobs() -> list[str]:
    raw = st.query_params.get("jobs") or ""
    ids = [x for x in raw.split(",") if x][: presets.MAX_ARMS]
    bad = [x for x in ids if not JOB_ID.match(x)]
    if bad:
        st.warning(f"{ui.literal(bad[0])} is not a lab job id (12 hex characters); it is left out.")
    return [x for x in ids if JOB_ID.match(x)]


def _fmt_seconds(s: float | None) -> str:
    if s is None:
        return "time unknown"
    if s >= 5400:
        return f"~{s / 3600:.1f} h"
    return f"~{s / 60:.0f} min" if s >= 90 else f"~{s:.0f} s"


@st.cache_data(show_spinner=False, ttl=3600)
def expected(slug: str, full: bool = False) -> float | None:
    """A run's expected time here: the lab's capped budget, or (``full``) the shipped config's whole budget."""
    return knobs.expected_seconds(slug, int(knobs.shipped_config(slug)["n_timesteps"]) if full else None)


@st.cache_data(show_spinner=False)
def game_defaults(slug: str) -> dict:
    return knobs.defaults(slug)


@st.cache_resource(show_spinner=False)
def chart_template(column: str, with_reference: bool, threshold: float) -> dict:
    """The Vega-Lite spec of :func:`playground.ui.metric_chart` for ``column`` (the Evidence page's chart: band,
    threshold, styles) with its runs and reference data named ``runs`` and ``ref``, so that each redraw only
    swaps the data: building and validating seven Altair charts every second took the app's process
    0.2-0.6 s a redraw, time the play route and other pages then waited for."""
    metric = next(m for m in charted() if m.column == column)
    runs = pd.DataFrame({"timesteps": [0.0], "run": [""], column: [0.0]})
    ref = pd.DataFrame({"timesteps": [0.0], column: [0.0]}) if with_reference else None
    spec = ui.metric_chart(metric, runs, "run", reference=ref, threshold=threshold).to_dict()
    for layer in spec["layer"]:
        if layer["mark"].get("type") == "line":
            spec["datasets"].pop(layer["data"]["name"], None)
            layer["data"] = {"name": "ref" if "strokeDash" in layer["mark"] else "runs"}
    return spec


def chart_records(rows: list[dict], column: str, run: str | None = None, limit: int = 300) -> list[dict]:
    """The points of one curve for a chart's data: at most ``limit`` (evenly spaced, the last one kept), NaN as
    null (JSON has no NaN; Vega-Lite leaves a gap)."""
    step = max(1, -(-len(rows) // limit))
    picked = rows[::step] + ([rows[-1]] if rows and (len(rows) - 1) % step else [])
    out: list[dict] = []
    for r in picked:
        v = float(r[column])
        point: dict = {"timesteps": float(r["timesteps"]), column: v if math.isfinite(v) else None}
        if run is not None:
            point["run"] = run
        out.append(point)
    return out


def shipped_curve(slug: str) -> pd.DataFrame | None:
    """The shipped agent's diagnostics (its shipped seed), read through the Bundle API; None without one."""
    b, err = ui.bundle(slug)
    if b is None or err or b.is_external:
        return None
    diag = ui.diagnostics(str(b.path))
    return diag[diag["seed"] == str(b.shipped_seed())]


store = _store(database_url())
limits = runner.LabLimits.from_settings()
me = session_id()

st.title("Lab")
st.caption(
    "Train PPO here, on this machine: pick a game and its shipped config or one of the chapters' experiments, "
    "change the knobs a learner changes, and watch the run's diagnostics arrive against PPO's healthy bands "
    "and the shipped agent's curve. Each run is an ordinary `playground train` run (docs/lab.md)."
)

wanted = requested_jobs()

# --- a new run or comparison ----------------------------------------------------------------------------------
with st.expander("New run", expanded=not wanted):
    others = [s for s in GAMES if s not in knobs.LAB_GAMES and not GAMES[s].is_two_player]
    slug = st.selectbox(
        "Game",
        list(knobs.LAB_GAMES),
        key="lab-game",
        format_func=lambda s: f"{GAMES[s].name} · {_fmt_seconds(expected(s))} with its shipped config",
    )
    st.caption(
        "Not offered here, their shipped configs take too long on this machine (from each bundle's recorded "
        "wall time): " + ", ".join(f"{GAMES[s].name} {_fmt_seconds(expected(s, full=True))}" for s in others) + "."
    )
    preset_keys = ["shipped", *presets.PRESETS]
    choice = st.selectbox(
        "Start from",
        preset_keys,
        key="lab-preset",
        format_func=lambda k: "the shipped config" if k == "shipped" else f"experiment: {presets.PRESETS[k].title}",
    )
    preset = presets.PRESETS.get(choice)
    if preset:
        st.markdown(f"**{preset.question}**")
        st.caption(preset.source)
        st.caption("Runs, queued together: " + " · ".join(a.label for a in preset.arms))

    base = game_defaults(slug)
    values: dict = {}
    st.markdown(f"**Knobs** · {GAMES[slug].name}'s shipped config; nothing else of it can be changed here.")
    cols = st.columns(2)
    for i, k in enumerate(knobs.KNOBS):
        key = f"lab-knob-{slug}-{k.name}"
        default = base[k.name]
        with cols[i % 2]:
            help_text = f"Range: {k.describe_range()}."
            if k.kind == "choice":
                values[k.name] = st.selectbox(
                    k.name, list(k.choices), index=k.choices.index(default), key=key, help=help_text
                )
            elif k.kind == "bool":
                values[k.name] = st.checkbox(k.name, value=bool(default), key=key, help=help_text)
            else:
                lin = isinstance(default, str) and default.startswith("lin_")
                number = float(default[4:]) if lin else default
                none = False
                if k.optional:
                    none = st.checkbox(f"{k.name}: none", value=number is None, key=f"{key}-none", help=help_text)
                if number is None:
                    number = 0.015 if k.name == "target_kl" else k.bounds[0]
                v: float
                if k.kind == "int":
                    v = st.number_input(
                        k.name, value=int(number), step=int(k.step or 1), key=key, help=help_text, disabled=none
                    )
                else:
                    v = st.number_input(
                        k.name, value=float(number), step=k.step, format="%g", key=key, help=help_text, disabled=none
                    )
                if k.schedule:
                    lin = st.checkbox(f"{k.name}: decay linearly to 0 (lin_)", value=lin, key=f"{key}-lin")
                values[k.name] = None if none else (f"lin_{v:g}" if k.schedule and lin else v)
            st.caption(k.meaning)

    changed = [k for k in knobs.BY_NAME if values.get(k) != base.get(k) and k != "seed"]
    start_label = f"Start the comparison ({len(preset.arms)} runs)" if preset else "Start"
    if st.button(start_label, key="lab-start", type="primary"):
        try:
            if preset:
                arms = preset.arm_values(values)
            else:
                label = ", ".join(f"{k} {values[k]}" for k in changed) or "shipped config"
                arms = [(f"{label} · seed {values['seed']}", knobs.validate(values))]
            jobs = runner.submit(store, slug, arms, me, limits)
        except PlaygroundError as exc:
            st.error(ui.literal(ui.one_line(exc), 500))
        else:
            st.query_params["jobs"] = ",".join(j.id for j in jobs)
            st.rerun()

# --- this browser's runs ------------------------------------------------------------------------------------------
mine = store.list(session=me, limit=20)
if mine:
    with st.expander(f"Your runs ({len(mine)})", expanded=not wanted):
        picked = st.multiselect(
            "Overlay up to four runs",
            [j.id for j in mine],
            default=[j for j in wanted if any(m.id == j for m in mine)],
            max_selections=presets.MAX_ARMS,
            format_func=lambda i: next(f"{GAMES[j.game].name} · {j.label} · {j.state}" for j in mine if j.id == i),
            key="lab-overlay",
        )
        if st.button("Show these runs", key="lab-show") and picked:
            st.query_params["jobs"] = ",".join(picked)
            st.rerun()

if not wanted:
    st.stop()

jobs = [j for j in (store.get(i) for i in wanted) if j is not None]
if len(jobs) < len(wanted):
    st.warning("Some of the runs in the link no longer exist (finished runs are cleaned up after a while).")
if not jobs:
    st.stop()
if len({j.game for j in jobs}) > 1:
    st.warning("These runs are of different games; the curves are drawn together all the same.")
spec = get_spec(jobs[0].game)
continuous = isinstance(spec.keymap, ContinuousKeyMap)
reference = shipped_curve(spec.slug)
if reference is not None:
    reference = reference[reference["timesteps"] <= max(int(j.config.get("timesteps", 0)) for j in jobs)]


def draw_live() -> None:
    """The part that redraws every second while a run is active: progress, health, curves, the reading."""
    current = [store.get(j.id) or j for j in jobs]
    labels = [j.label for j in current]
    runs = {}
    for job in current:
        rows = live.read_rows(job.run_dir)
        runs[job.label if labels.count(job.label) == 1 else f"{job.label} ({job.id[:6]})"] = rows
        p = live.progress(job, rows)
        c1, c2 = st.container(key=f"lab-job-{job.id}").columns([4, 1])
        with c1:
            st.markdown(f"**{ui.literal(job.label)}** · {GAMES[job.game].name} · job `{job.id}` · {job.state}")
            st.progress(p.fraction, text=p.line())
            verdict, lines = live.health_lines(rows, continuous)
            if rows:
                st.caption(f"Health: {ui.verdict(verdict)}" + ("" if lines else " · every band kept so far"))
                for line in lines[:3]:
                    (st.error if line.startswith("alarm") else st.warning)(line)
        with c2:
            if not job.finished and job.session == me:
                if st.button("Cancel", key=f"lab-cancel-{job.id}"):
                    try:
                        store.request_cancel(job.id)
                    except PlaygroundError as exc:
                        st.error(ui.literal(ui.one_line(exc)))
    if len(runs) >= 2:
        st.info(live.comparison_line(runs, spec.solved_threshold))
    curves = charted()
    if not any(runs.values()):
        st.caption("The curves appear with the first PPO update.")
    else:
        for i in range(0, len(curves), 2):
            for col, metric in zip(st.columns(2), curves[i : i + 2], strict=False):
                name = metric.column
                chart = copy.deepcopy(chart_template(name, reference is not None, spec.solved_threshold))
                data = {"runs": [p for label, rows in runs.items() for p in chart_records(rows, name, label)]}
                if reference is not None:
                    data["ref"] = chart_records(reference.to_dict("records"), name)
                col.vega_lite_chart(spec={**chart, "datasets": {**chart["datasets"], **data}}, width="stretch")
        st.caption(
            "Shaded: the healthy band (agents/metrics/table.py); dashed green: the solved threshold; "
            + ("dashed grey: the shipped agent's run of this game (its shipped seed)." if reference is not None else "")
        )
    states = tuple(j.state for j in current)
    if st.session_state.get("lab-states") != states:
        st.session_state["lab-states"] = states
        st.rerun(scope="app")  # a run started or ended: redraw the whole page (links, the live part's pace)


active = any(not j.finished for j in jobs)
st.session_state["lab-states"] = tuple(j.state for j in jobs)
st.fragment(draw_live, run_every=REFRESH_SECONDS if active else None)()

# --- finished runs: evaluation, Watch, Play, bundle, publish ---------------------------------------------------------
for job in jobs:
    if job.state == "failed":
        st.error(f"{ui.literal(job.label)} failed: {ui.literal(job.error or 'no message', 500)}")
    elif job.state == "cancelled":
        st.warning(
            f"{ui.literal(job.label)} was cancelled; its partial run is kept in {ui.literal(job.run_dir)} "
            "(`playground train --resume` continues it)."
        )
    elif job.state == "done" and job.result:
        ev = job.result.get("eval") or {}
        with st.container(border=True):
            st.markdown(
                f"**{ui.literal(job.label)}** · 20-episode evaluation: **{float(ev.get('mean', float('nan'))):.2f} ± "
                f"{float(ev.get('std', float('nan'))):.2f}** (solved threshold {spec.solved_threshold:g})"
            )
            agent = str(job.result.get("agent"))
            a, b_, c = st.columns(3)
            a.page_link(
                "views/watch.py",
                label="Watch",
                icon=":material/play_arrow:",
                query_params={"game": job.game, "agent": agent},
            )
            b_.page_link(
                "views/play.py",
                label="Play (Versus)",
                icon=":material/sports_esports:",
                query_params={"game": job.game, "agent": agent},
            )
            b_.caption("Its games are not recorded on the shipped agent's leaderboard.")
            status = runner.bundle_status(job)
            if status == "none":
                if c.button("Make a bundle", key=f"lab-bundle-{job.id}"):
                    runner.make_bundle(job)
                    st.rerun()
            else:
                c.caption(f"Bundle: {ui.literal(status)}")
            folder = runner.job_folder(job) / "bundle"
            st.caption("Publish it to the Hugging Face Hub (after Make a bundle):")
            st.code(f"playground publish {folder} --repo ORG", language="bash")
