"""Gallery: every catalog game as a card, with its agents' scores (bundled, pulled from a Hub, imported) or a
note that it has none."""

import streamlit as st

from envs import GAMES
from playground import ui

st.title("PPO Playground")
st.caption(
    "PPO agents trained with Stable-Baselines3 on Gymnasium games — watch them, play them, and check "
    "the evidence of how they were trained."
)
if st.query_params.get("game"):
    ui.requested_game()  # an unknown game in the URL gets its message here

columns = st.columns(3)
for i, (slug, spec) in enumerate(GAMES.items()):
    b, error = ui.bundle(slug)
    with columns[i % 3].container(border=True, key=f"card-{slug}"):
        st.subheader(spec.name)
        st.caption(f"`{spec.env_id}`{' · ' + str(spec.env_kwargs) if spec.env_kwargs.get('continuous') else ''}")
        st.image(ui.thumbnail(slug), width="stretch")
        # each agent in its own agent_errors: one bundle's bad file costs its own line, not the gallery
        if error:
            st.error(f"The bundled agent cannot be used: {ui.literal(error)}")
        elif b is None:
            st.info("No agent bundled yet: watch a random policy.")
        else:
            with ui.agent_errors("The bundled agent"):
                line, health = ui.score_line(b), b.health()  # both read before anything is drawn
                s = b.eval_result().summary
                met = spec.bar.met_by(s["mean"], s["std"])
                st.markdown(
                    ("✅ **solved**" if s["mean"] >= spec.solved_threshold else "⏳ not solved")
                    + f" · bar {spec.bar.describe()} {'met' if met else 'not met'}"
                )
                st.markdown(line)
                st.caption(
                    f"bundled · {len(b.training_seeds())} training seeds · health: {ui.verdict(health['verdict'])}"
                )
        for agent in ui.agents(slug):
            if agent.key == "bundled":
                continue
            other, why = ui.bundle_at(agent.path)
            if why:
                st.error(f"{agent.who} cannot be used: {ui.literal(why)}")
                continue
            with ui.agent_errors(agent.who):
                o = other.eval_result().summary
                st.markdown(
                    f"**{ui.literal(agent.source)}** · {o['mean']:.2f} ± {o['std']:.2f} over "
                    f"{int(o['episodes'])} episodes"
                )
                st.caption(other.origin)
                st.page_link(
                    "views/watch.py",
                    label=f"Watch {ui.literal(agent.source)}",
                    icon="▶️",
                    query_params={"game": slug, "agent": agent.key},
                )
        st.write(spec.description)
        a, c, d = st.columns(3)
        a.page_link("views/watch.py", label="Watch", icon="▶️", query_params={"game": slug})
        if b is not None:
            c.page_link("views/evidence.py", label="Evidence", icon="📈", query_params={"game": slug})
        d.page_link("views/play.py", label="Play", icon="🕹️", query_params={"game": slug})
