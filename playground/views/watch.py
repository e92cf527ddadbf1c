"""Watch: a recorded replay or a fresh episode, as video and step by step with the policy's view; or a person's
match against an agent (``views/h2h.py``), re-simulated from its seed and both sides' moves."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from playground import ui
from playground.views import h2h

st.title("Watch")
KINDS = {"episodes": "The agent's episodes", "matches": "Matches against people"}
kind = st.radio(
    "Watch",
    list(KINDS),
    index=1 if st.query_params.get("match") else 0,
    format_func=KINDS.get,
    horizontal=True,
    key="watch-kind",
    label_visibility="collapsed",
)
if kind == "matches":  # a person's game against an agent, re-simulated from its seed and both sides' moves
    h2h.show_match_replays()
    st.stop()
if "match" in st.query_params:
    del st.query_params["match"]

spec, agent, b = ui.game_and_agent("watch-game", "watch-agent")

# everything the agent's files feed: if they make it fail, one line says so and the pull box still shows
with ui.agent_errors(agent.who if agent else "The random policy"):
    sources = (["Recorded replay"] if b else []) + ["Fresh episode"]
    source = st.radio("Episode", sources, horizontal=True, key="watch-source")
    if source == "Recorded replay":
        names = b.replay_names()
        name = st.selectbox(
            "Replay",
            names,
            key="watch-replay",  # options are plain text, never Markdown
            format_func=lambda n: f"{n} — seed {b.replay(n)['seed']}, return {b.replay(n)['return']:.2f}",
        )
        traj, video = ui.recorded_trajectory(str(b.path), name)
        target = spec.slug if agent.key == "bundled" else b.path
        st.caption(
            f"Recorded in the final evaluation; {ui.literal(f'playground verify {target}')} re-simulates it exactly."
        )
    else:
        seed = int(st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="watch-seed"))
        traj, video, rep = ui.fresh_trajectory(str(b.path) if b else "", spec.slug, seed, with_agent=b is not None)
        who = (
            "No agent is bundled: a random policy"
            if b is None
            else "The shipped agent"
            if agent.key == "bundled"
            else f"The agent from {ui.literal(agent.source)}"
        )
        st.caption(who + f" plays seed {seed}.")

    st.video(video, format="video/mp4")
    st.markdown(f"**{traj.steps} steps · return {traj.returns[-1]:.2f}**" if traj.steps else "empty episode")

    step = st.slider("Step", 0, max(traj.steps - 1, 0), 0, key="watch-step") if traj.steps > 1 else 0
    left, right = st.columns([3, 2])
    left.image(ui.jpeg_uri(traj.frames[step]), caption=f"before action {step}", width="stretch")
    with right:
        action = traj.actions[step]
        # a discrete action by the catalog's name for it; a continuous one as numbers (a metric is Markdown)
        if isinstance(action, int):
            label = traj.action_labels[action] if traj.action_labels else str(action)
        else:
            label = ", ".join(f"{float(x):.3f}" for x in np.ravel(action))
        a, r, g = st.columns(3)
        a.metric("Action", label)
        r.metric("Reward", f"{traj.rewards[step]:.3f}")
        g.metric("Return so far", f"{traj.returns[step]:.2f}")
        if traj.values is not None:
            st.metric("Value estimate V(s)", f"{traj.values[step]:.3f}")
        if traj.probs is not None:
            labels = traj.action_labels or [str(i) for i in range(len(traj.probs[step]))]
            df = pd.DataFrame({"action": labels, "probability": traj.probs[step]})
            st.altair_chart(
                alt.Chart(df, title="Policy: action probabilities")
                .mark_bar()
                .encode(x=alt.X("probability", scale=alt.Scale(domain=[0, 1])), y=alt.Y("action", sort=None)),
                width="stretch",
            )
        elif traj.means is not None:
            st.caption("Policy: Gaussian over each action dimension (before clipping to the bounds)")
            names = getattr(spec.keymap, "dim_names", ()) or [f"dim {i}" for i in range(len(traj.means[step]))]
            st.dataframe(
                pd.DataFrame({"dimension": names, "mean": traj.means[step], "std": traj.stds[step]}), hide_index=True
            )
        elif b is None:
            st.caption("A random policy has no probabilities or value estimate.")

ui.pull_box(spec)
