"""The Evidence page of a two-player game (``views/evidence.py`` hands over to :func:`draw`): the agent and its
training run, its win/draw/loss per opponent and seat against the bars, the opponents' definitions, the training
curve, verification, the replays and the commands that rebuild the bundle.

Everything comes from the bundle through :class:`agents.bundle.match.MatchBundle`; each section is guarded by
``ui.agent_errors``, so a bundle with one bad file loses that section, with one line, and the rest is drawn.
"""

import streamlit as st

from envs import GameSpec
from playground import ui

WHO = "The bundled agent"


def draw(spec: GameSpec) -> None:
    with ui.agent_errors(WHO):
        b = ui.match_bundle(spec.slug)
        if b is None:
            st.info(f"No two-player agent is bundled for {spec.name} yet, so there is no evidence to show.")
    if b is None:  # an error (said above) or no bundle: nothing more to show
        return

    with ui.agent_errors(WHO, "summary"):
        st.markdown(ui.match_summary(b))

    with ui.agent_errors(WHO, "evaluation"):
        ev, points = b.evaluation(), b.point_summaries()
        st.markdown(ui.match_bars_line(ev))
        st.header("Evaluation")
        st.dataframe(ui.match_evaluation_table(ev, points), hide_index=True)  # cells are plain text
        seats = [spec.seats[s] for s in b.game.agent_seats]
        st.caption(
            f"{ev.games_per_seat:,} games against each opponent "
            + (f"from each seat ({seats[0]} moves first)" if len(seats) == 2 else f"from the agent's seat, {seats[0]}")
            + f", each block from its own seed (base seed {ev.seed}). Win rate with its Wilson 95 % interval; the "
            "bars are the catalog's minimum win rates (`match_bars`), recomputed by `playground verify`."
            + (" Points per match: mean [95 % percentile-bootstrap interval]." if points else "")
        )

    with ui.agent_errors(WHO, "opponents"):
        st.header("Opponents")
        st.dataframe(
            ui.match_opponents_table(b),
            hide_index=True,
            column_config={"plays": st.column_config.TextColumn(width="large")},
        )
        with st.expander("Their definitions as the manifest records them (JSON)"):
            st.json(b.manifest.opponents)
        st.caption("`playground verify` fails if the code now defines an opponent otherwise than recorded here.")

    with ui.agent_errors(WHO, "training curves"):
        st.header("Training curves")
        found = ui.match_curves(str(b.path))
        if found is None:
            st.info("This bundle carries no training curve.")
        else:
            file, what, curves = found
            st.caption(f"{ui.literal(file)}, one row per PPO update: {ui.literal(what, 500)}.")
            metrics = ui.charted_in(curves)
            for i in range(0, len(metrics), 2):
                for col, metric in zip(st.columns(2), metrics[i : i + 2], strict=False):
                    with col:
                        st.altair_chart(ui.metric_chart(metric, curves, "seed"), width="stretch")
                        st.caption(ui.match_chart_note(metric))

    with ui.agent_errors(WHO, "gates"):
        gates = b.pool_gates()
        if gates:  # a self-play run's (Connect Four's); two-player Pong's bundle has none
            st.altair_chart(ui.gate_chart(gates), width="stretch")
            st.caption(
                f"The self-play run's {len(gates)} gates (`evidence/gates.jsonl`): at each, the learner (its best "
                f"move) played {gates[-1].games} games against its opponent pool (the members in turn, seats "
                "alternating) and joined the pool as a snapshot when its score (wins + draws / 2, per game) reached "
                f"the dashed threshold; {sum(g.passed for g in gates)} joined. In the pool a snapshot samples its "
                "moves (for variety), where the learner at a gate plays its best move."
            )

    with ui.agent_errors(WHO, "replays"):
        st.header("Replays")
        st.dataframe(ui.match_replay_table(b), hide_index=True, height="content")
        st.caption(
            "Each replay is a seed and both sides' actions; `playground verify` plays it again on PettingZoo's "
            f"{spec.env_id} and checks every action and the result. The Watch page re-plays matches against people; "
            "these agent-vs-opponent replays have no page to watch them yet."
        )

    st.header("Verify")
    st.caption(
        "What `playground verify` runs: every file's sha256 against the manifest, the opponents' definitions "
        "against the code, the policy loaded without unpickling, the evaluation's counts, intervals and bars "
        "recomputed, and every replay re-simulated."
    )
    if st.button("Verify this bundle", key="match-verify"):
        with ui.agent_errors(WHO, "verification"):
            with st.spinner("Verifying (re-simulating the replays)…"):
                checks = b.verify()
            ok = all(c.ok for c in checks)
            (st.success if ok else st.error)(f"{sum(c.ok for c in checks)} of {len(checks)} checks passed")
            st.dataframe(ui.checks_frame(checks), hide_index=True)

    with ui.agent_errors(WHO, "commands"):
        st.header("Rebuild")
        st.code("\n".join(b.regenerate()), language="bash", wrap_lines=True)
        st.caption('The commands the bundle\'s card lists under "Regenerate".')
