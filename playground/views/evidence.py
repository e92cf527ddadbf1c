"""Evidence: every training seed's curves against PPO's healthy bands, the evaluation, the manifest,
verification, and the command that reproduces the run. A two-player game's evidence (win/draw/loss per
opponent and seat, the opponents' definitions, the replays) is drawn by ``views/match_evidence.py``."""

import altair as alt
import pandas as pd
import streamlit as st
import yaml

from agents.metrics.table import charted
from playground import ui
from playground.views import match_evidence

st.title("Evidence")
spec = ui.pick_game("evidence-game", only_bundled=True, two_player=True)
if spec is None:
    ui.to_gallery()
if spec.is_two_player:
    match_evidence.draw(spec)
    st.stop()
agent, b = ui.agent_and_bundle(spec, "evidence-agent")
if b is None:
    st.info(f"No agent is bundled for {spec.name} yet, so there is no evidence to show.")
    st.stop()

# Each section in its own ui.agent_errors: a bundle missing one file (health.json, say) loses that section,
# with one line saying why, and every other section is still drawn. Text from the bundle goes through ui.literal.
m = b.manifest
with ui.agent_errors(agent.who, "summary"):
    st.markdown(ui.score_line(b))
    if b.is_external:
        src = m.source or {}
        st.warning(
            f"**{b.origin}.** {ui.literal(agent.source)}: an SB3 checkpoint trained elsewhere "
            f"({ui.literal(src.get('kind'))} {ui.literal(src.get('zip'))}, sha256 "
            f"{ui.literal(str(src.get('zip_sha256'))[:12] + '…')}, "
            f"SB3 {ui.literal(src.get('sb3_version') or '?')})."
            " There are no training curves and no health verdict; the evaluation below was run here, with "
            "the game's protocol."
        )
    else:
        st.caption(
            f"Source: {ui.literal(agent.source)} · Ships seed {int(m.shipped_seed)} of "
            f"{[int(s) for s in m.seeds]} — {ui.literal(m.shipped_because)}"
        )

# --- health --------------------------------------------------------------------------------------
with ui.agent_errors(agent.who, "training curves and health"):
    health = b.health() if not b.is_external else None
    if health is not None:
        st.header("Training curves and health")
        cols = st.columns(len(health["seeds"]))
        for col, (seed, h) in zip(cols, health["seeds"].items(), strict=True):
            col.metric(
                f"seed {int(seed)}{' (shipped)' if int(seed) == m.shipped_seed else ''}",
                ui.verdict(h["verdict"]),
                ui.literal(h["summary"]),
                delta_color="off",
            )
        with st.expander("Health findings per seed"):
            rows = [
                {"seed": seed, "metric": f["metric"], "band": f["band"], "status": f["status"], "finding": f["message"]}
                for seed, h in health["seeds"].items()
                for f in h["findings"]
            ]
            st.dataframe(pd.DataFrame(rows), hide_index=True)  # cells are plain text
            st.caption(ui.literal(next(iter(health["seeds"].values()))["rule"]))

        diag = ui.diagnostics(str(b.path))
        curves = charted()  # the curves, their titles and shaded bands: agents/metrics/table.py
        for i in range(0, len(curves), 2):
            for col, metric in zip(st.columns(2), curves[i : i + 2], strict=False):  # the last row may have one
                band = metric.healthy
                with col:
                    chart = ui.metric_chart(metric, diag, "seed", mean=True, threshold=spec.solved_threshold)
                    st.altair_chart(chart, width="stretch")
                    st.caption(
                        metric.chart.note
                        + (f" Shaded: the healthy band {band[0]:g}–{band[1]:g}." if band else "")
                        + (f" Health: {metric.rules_text()}." if metric.rules else "")
                        + " Thin lines: seeds; black: their mean."
                    )

# --- evaluation ----------------------------------------------------------------------------------
with ui.agent_errors(agent.who, "evaluation"):
    st.header("Evaluation")
    ev = b.eval_result()
    s = ev.summary
    returns = pd.DataFrame({"return": ev.returns})
    marks = pd.DataFrame(
        [
            {"what": "mean", "x": float(s["mean"])},
            {"what": "solved threshold", "x": spec.solved_threshold},
        ]
        + ([{"what": "Zoo reference", "x": spec.reference.mean}] if spec.reference else [])
    )
    hist = (
        alt.Chart(returns)
        .mark_bar(opacity=0.7)
        .encode(
            x=alt.X("return:Q", bin=alt.Bin(maxbins=30), title="episode return"), y=alt.Y("count()", title="episodes")
        )
    )
    ci = (
        alt.Chart(pd.DataFrame({"lo": [float(s["ci95"][0])], "hi": [float(s["ci95"][1])]}))
        .mark_rect(opacity=0.25, color="orange")
        .encode(x="lo:Q", x2="hi:Q")
    )
    rules = alt.Chart(marks).mark_rule(strokeWidth=2).encode(x="x:Q", color=alt.Color("what:N", title=None))
    st.altair_chart(alt.layer(hist, ci, rules).properties(height=260), width="stretch")
    st.caption(
        f"{int(s['episodes'])} episodes, episode i on seed {ev.seeds[0]} + i, "
        f"{'deterministic' if ev.deterministic else 'stochastic'} policy. Orange: the 95 % CI of the mean "
        f"({ui.literal(s['ci_method'])})."
    )

# --- hyperparameters, manifest, verification, reproduction ----------------------------------------
left, right = st.columns(2)
with left, ui.agent_errors(agent.who, "hyperparameters"):
    st.header("Hyperparameters")
    config = b.config()
    st.dataframe(pd.DataFrame({"key": list(config), "value": [str(v) for v in config.values()]}), hide_index=True)
    st.header("Reproduce")
    if b.is_external:
        st.caption("Not reproduced here. The command that imported it, and the checks anyone can re-run:")
        st.code("\n".join([m.commands["import"], m.commands["verify"]]), language="bash")
    else:
        st.code("\n".join([*m.reproduce, m.commands["bundle"], f"playground verify {spec.slug}"]), language="bash")
with right, ui.agent_errors(agent.who, "manifest"):
    st.header("Manifest")
    if b.is_external:
        st.markdown(
            f"Imported {ui.literal(m.provenance['bundled']['finished'])} from "
            f"{ui.literal((m.source or {}).get('path'))}"
        )
        st.json(m.source, expanded=False)
    else:
        hw = m.provenance.get("hardware") or {}
        st.markdown(
            f"Trained {ui.literal(m.provenance.get('started'))} → {ui.literal(m.provenance.get('finished'))}; "
            f"wall time per seed (s): {ui.literal(dict(m.wall_seconds))}"
        )
        st.markdown(
            "Hardware: "
            + ui.literal(
                f"{hw.get('cpu')}, {hw.get('cores')} cores, {hw.get('memory_gib')} GiB, GPU: {hw.get('gpu') or 'none'}"
            )
        )
    st.dataframe(pd.DataFrame({"package": list(m.versions), "version": list(m.versions.values())}), hide_index=True)
    if not b.is_external:
        with st.expander("Commands and code"):
            st.code(
                yaml.safe_dump({"commands": m.commands, "code": m.provenance.get("code")}, sort_keys=False),
                language="yaml",
            )

# --- reproductions and ablations -----------------------------------------------------------------
reports, published_curves = [], None
with ui.agent_errors(agent.who, "reproductions"):
    st.header("Reproductions and ablations")
    reports = b.reproductions()
    st.caption(
        "Re-runs of this agent's training from its manifest (`playground reproduce`) and ablations from the "
        "PPO texts (`playground ablate`), each judged on the IQM of per-seed final scores with a bootstrap CI "
        "(docs/reproduce.md). Every saved report is listed, newest first."
    )
    if b.is_external:
        st.info("An external agent has no training to reproduce here.")
    elif not reports:
        st.info(f"No reproduction saved yet. Run `playground reproduce {spec.slug} --n-seeds 3`.")
    published_curves = (
        ui.diagnostics(str(b.path))[["timesteps", "seed", "ep_rew_mean"]].dropna().assign(variant="published")
        if reports
        else None
    )
for r in reversed(reports):
    # a report is the bundle's text: every field of it reaches Markdown through ui.literal
    with ui.agent_errors(agent.who, "a reproduction report"):
        ablation = r["kind"] != "reproduction"
        label = ("Ablation " if ablation else "Reproduction · ") + ui.literal(
            (f"{r['name']} · " if ablation else "") + f"{str(r['created'])[:16].replace('T', ' ')} · {r['verdict']}"
        )
        with st.expander(label, expanded=r is reports[-1]):
            if r.get("ablation"):
                st.markdown(f"**{ui.literal(r['ablation']['title'])}** {ui.literal(r['ablation']['question'], 1000)}")
                st.caption(ui.literal(r["ablation"]["source"], 1000))
            good = r["verdict"] == "reproduced" or (ablation and r["verdict"] != "no runs finished")
            (st.success if good else st.warning)(f"Verdict: {ui.literal(r['verdict'])}")
            st.markdown("\n".join(f"- {ui.literal(x, 1000)}" for x in r["reasons"]))
            stats = []
            for v in r["variants"]:
                vp = v["vs_published"]
                if vp:
                    stats.append(
                        {
                            "variant": v["name"],
                            "seeds": vp["reproduced"]["runs"],
                            "IQM": round(vp["reproduced"]["iqm"], 2),
                            "95 % CI": f"{vp['reproduced']['ci'][0]:.2f} … {vp['reproduced']['ci'][1]:.2f}",
                            "published IQM": round(vp["published"]["iqm"], 2),
                            "published CI": f"{vp['published']['ci'][0]:.2f} … {vp['published']['ci'][1]:.2f}",
                            "band": f"{vp['band']['low']:.2f} … {vp['band']['high']:.2f}",
                            "vs published": vp["verdict"],
                            "target_kl stops": (
                                f"{v['kl_stops']['stopped']} of {v['kl_stops']['updates']} "
                                f"updates ({v['kl_stops']['share']:.1%})"
                            )
                            if v.get("kl_stops")
                            else "",
                        }
                    )
            st.dataframe(pd.DataFrame(stats), hide_index=True, key=f"repro-stats-{r['id']}")  # cells are plain text
            seeds = [
                {
                    "variant": v["name"],
                    "seed": s["seed"],
                    "final score": round(s["score"], 2) if s["ok"] else None,
                    "std": round(s["std"], 2) if s["ok"] else None,
                    "episodes": s.get("episodes"),
                    "timesteps": s.get("timesteps"),
                    "run": s.get("trained") if s["ok"] else f"FAILED: {s['error']}",
                    "same seed as published": ("identical" if s["same_seed_as_published"]["identical"] else "differs")
                    if s.get("same_seed_as_published")
                    else "",
                }
                for v in r["variants"]
                for s in v["seeds"]
            ]
            st.dataframe(pd.DataFrame(seeds), hide_index=True, key=f"repro-seeds-{r['id']}")
            curves = ui.reproduction_curves(str(b.path), r["id"])
            if not curves.empty:
                runs = pd.concat(
                    [published_curves, curves[["timesteps", "seed", "ep_rew_mean", "variant"]].dropna()],
                    ignore_index=True,
                )
                runs["run"] = runs["variant"] + " · seed " + runs["seed"]
                chart = (
                    alt.Chart(runs)
                    .mark_line(strokeWidth=1.2)
                    .encode(
                        x=alt.X("timesteps:Q"),
                        y=alt.Y("ep_rew_mean:Q", title="Episode reward"),
                        color=alt.Color("variant:N", title=None),
                        detail="run:N",
                        strokeDash=alt.condition(
                            alt.datum.variant == "published", alt.value([4, 3]), alt.value([1, 0])
                        ),
                    )
                )
                st.altair_chart(chart.properties(height=240), width="stretch")
                st.caption(
                    "Training episode reward of every reproduced run (solid, by variant) over the published "
                    "seeds' curves (dashed)."
                )
            st.caption(
                f"{ui.literal(r['eval_protocol'], 1000)}. {ui.literal(r['method'], 1000)}. "
                f"Published seeds: {ui.literal(r['published']['note'], 1000)}."
            )
            st.code(r["command"] or "", language="bash")

st.header("Verify")
st.caption(
    "Checks every file's sha256 against the manifest, loads the policy without unpickling, "
    "re-derives the evaluation summary and re-simulates every replay."
)
if st.button("Verify this bundle", key="verify"):
    with ui.agent_errors(agent.who, "verification"):
        with st.spinner("Verifying…"):
            checks = b.verify()
        ok = all(c.ok for c in checks)
        (st.success if ok else st.error)(f"{sum(c.ok for c in checks)} of {len(checks)} checks passed")
        st.dataframe(ui.checks_frame(checks), hide_index=True)
