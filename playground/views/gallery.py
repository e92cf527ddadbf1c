"""Gallery: every catalog game as a card, with its agents' scores (bundled, pulled from a Hub, imported) or a
note that it has none; the two-player games with their agent's wins, draws and losses per seat."""

import streamlit as st

from agents.bundle.interop import registered_env_id
from agents.bundle.match import MATCH_GAMES
from envs import GAMES
from envs.catalog import TWO_PLAYER_GAMES
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
        st.caption(f"`{registered_env_id(spec)}`")  # the id gymnasium registers, as the card and the Hub say
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
                    (
                        ":material/check_circle: **solved**"
                        if s["mean"] >= spec.solved_threshold
                        else ":material/hourglass_empty: not solved"
                    )
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
                    icon=":material/play_arrow:",
                    query_params={"game": slug, "agent": agent.key},
                )
        st.write(spec.description)
        # a horizontal flex row: each link as wide as its label (three equal columns cut "Evidence" short)
        with st.container(horizontal=True, gap="small"):
            st.page_link("views/watch.py", label="Watch", icon=":material/play_arrow:", query_params={"game": slug})
            if b is not None:
                st.page_link(
                    "views/evidence.py", label="Evidence", icon=":material/monitoring:", query_params={"game": slug}
                )
            st.page_link("views/play.py", label="Play", icon=":material/sports_esports:", query_params={"game": slug})

# --- two-player games: an agent judged by wins, draws and losses per seat against named opponents --------------

st.header("Two-player games")
st.caption(
    "You and the agent on one board or court. A two-player agent is judged against named test opponents, "
    "per seat, on win/draw/loss with Wilson 95 % intervals, not on a return."
)
columns = st.columns(3)
for i, (slug, spec) in enumerate(TWO_PLAYER_GAMES.items()):
    with columns[i % 3].container(border=True, key=f"card-{slug}"):
        st.subheader(spec.name)
        st.caption(f"`{spec.env_id}` · two players ({' and '.join(spec.seats)}) · PettingZoo")
        match = None
        with ui.agent_errors("The bundled agent"):
            match = ui.match_bundle(slug)
            if match is None:
                st.info(
                    "No two-player bundle for it yet: its agent's evidence against scripted opponents is in "
                    "docs/play.md."
                    if slug not in MATCH_GAMES
                    else "No two-player agent bundled yet."
                )
            else:
                ev = match.evaluation()
                met, barred = ev.bars()
                st.markdown(
                    (
                        ":material/check_circle: every bar met"
                        if met == barred
                        else f":material/hourglass_empty: **below the bar**: {barred - met} of {barred} not met"
                    )
                    + f" · {ev.games_per_seat:,} games per seat"
                )
                seats = match.game.agent_seats
                if len(seats) == 1:  # two-player Pong: the agent plays the right paddle only
                    st.caption(f"the agent plays {spec.seats[seats[0]]} (right paddle); whole matches to 21")
                points = match.points() if len(seats) == 1 else {}
                for opponent in ev.opponents:
                    rows = [ev.row(opponent, seat) for seat in seats]
                    st.markdown(
                        f"vs **{opponent}**: "
                        + " · ".join(
                            ("" if len(seats) == 1 else f"{'first' if r.seat == 0 else 'second'} ")
                            + f"{r.wins}/{r.draws}/{r.losses} W/D/L "
                            f"({r.win_rate:.1%} wins"
                            f"{'' if r.bar is None else ', bar met' if r.bar_met else ', bar not met'})"
                            for r in rows
                        )
                        + (
                            f" · mean score {points[opponent][0]:.1f} : {points[opponent][1]:.1f} (agent : bot)"
                            if opponent in points
                            else ""
                        )
                    )
                t = match.manifest.training
                trained = (
                    f"self-play seed {int(t['seed'])}, {int(t['timesteps']):,} steps"
                    if len(seats) == 2
                    else f"{t['source']} ({ui.literal(str(t.get('from', '')))}), {int(t['timesteps']):,} steps"
                )
                st.caption(f"bundled · {trained} · `playground verify` re-simulates its replays")
        st.write(spec.description)
        with st.container(horizontal=True, gap="small"):
            if slug == "connect-four":
                st.page_link(
                    "views/duel.py", label="Head to head", icon=":material/swords:", query_params={"game": slug}
                )
            else:
                st.page_link(
                    "views/play.py",
                    label="Head to head (Play page)",
                    icon=":material/sports_esports:",
                    query_params={"game": "pong"},
                )
            if match is not None:
                st.page_link(
                    "views/evidence.py", label="Evidence", icon=":material/monitoring:", query_params={"game": slug}
                )
