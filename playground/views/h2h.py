"""The agent against people: what a head-to-head page shows under its game, for any two-player game.

Not a page of its own: the Head to head page (``views/duel.py``) and the Play page's two-player Pong call
:func:`show_board`; the Watch page calls :func:`show_match_replays`. Everything comes from the ratings store
(``playground.store.ratings``), which holds only games the servers played themselves; names reach Markdown
only through ``ui.literal`` and are otherwise shown as table cells (plain text).

>>> from playground.views import h2h
>>> h2h.show_board("pong-duel", "pong-duel@8664489f9cd6")  # the agent of those weights in "pong-duel"
>>> h2h.show_board("connect-four")  # the game's most-played agent
"""

from __future__ import annotations

import datetime
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from envs.catalog import TWO_PLAYER_GAMES
from playground import ui

OUTCOME_WORDS = {"win": "person won", "draw": "draw", "loss": "agent won"}


def _store() -> Any:
    """The ratings store, or None (one line logged on the page) when the database cannot be opened."""
    from envs import PlaygroundError
    from playground.store.db import get_database
    from playground.store.ratings import RatingStore

    try:
        return RatingStore(get_database())
    except PlaygroundError as exc:
        st.caption(f"Ratings are not available on this server: {ui.literal(exc)}")
        return None


def _when(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def show_board(game: str, agent: str | None = None, *, store: Any = None, title: str | None = None) -> None:
    """The agent's rating, its record against people (W/D/L, Wilson 95 % CI of its win rate), the people who
    beat it and the latest matches, for ``game`` (a two-player slug) and ``agent`` (default: its most-played
    agent). ``store`` defaults to the app's :class:`~playground.store.ratings.RatingStore`."""
    spec = TWO_PLAYER_GAMES.get(game)
    st.subheader(title or f"The agent against people: {spec.name if spec else game}")
    store = store if store is not None else _store()
    if store is None:
        return
    board = store.board(game, agent, limit=10)
    if board.agent is None:
        st.caption("Nobody has finished a game against this agent yet: be the first.")
        return
    wins, draws, losses = board.record
    n = wins + draws + losses
    a = board.agent
    st.caption(f"Agent {ui.literal(a.name)}, rated on {a.games} games against people.")
    cols = st.columns(3)
    cols[0].metric(
        "Agent rating (OpenSkill μ ± σ)",  # noqa: RUF001
        f"{a.mu:.1f} ± {a.sigma:.1f}",
        help=f"Plackett-Luce; the conservative ordinal μ − 3σ is {a.ordinal:.1f}. Everyone starts at 25 ± 8.3.",  # noqa: RUF001
    )
    cols[1].metric("Agent vs people (W / D / L)", f"{wins} / {draws} / {losses}")
    lo, hi = board.agent_win_ci
    cols[2].metric(
        "Agent win rate, Wilson 95 % CI",
        f"{wins / n:.0%}" if n else "—",
        f"{lo:.0%} – {hi:.0%}",
        delta_color="off",
        help="Draws count as not won. The interval is wide until many people have played.",
    )
    if board.beaten_by:
        st.markdown("**People who beat the agent**, best rating first")
        st.dataframe(
            pd.DataFrame(
                {
                    "player": [p.name for p in board.beaten_by],
                    "rating μ": [round(p.mu, 1) for p in board.beaten_by],
                    "σ": [round(p.sigma, 1) for p in board.beaten_by],  # noqa: RUF001
                    "games": [p.games for p in board.beaten_by],
                }
            ),
            hide_index=True,
        )
    else:
        st.caption("Nobody has beaten this agent yet.")
    if board.recent:
        st.markdown("**Latest games**")
        st.dataframe(
            pd.DataFrame(
                {
                    "match": [m.id for m in board.recent],
                    "player": [m.player for m in board.recent],
                    "result": [OUTCOME_WORDS[m.outcome] for m in board.recent],
                    "score": [m.score or "" for m in board.recent],
                    "finished": [_when(m.finished_at) for m in board.recent],
                }
            ),
            hide_index=True,
        )
        st.caption("Replay any of them on the Watch page, under *Matches against people*.")
    st.caption(
        "Only games the server played itself count: it applies every move, so a result is never what a browser "
        "claims. Kept apart from the agent's evidence against scripted opponents (its bundle's evaluation)."
    )


# --- match replays (the Watch page) -------------------------------------------------------------------------


def _grid_chart(grid: Any, person_stone: int, last: tuple[int, int] | None) -> alt.Chart:
    rows = []
    for r in range(len(grid)):
        for c in range(len(grid[0])):
            v = int(grid[r][c])
            who = "empty" if v == 0 else "person" if v == person_stone else "agent"
            rows.append({"column": c + 1, "row": r, "who": who, "last": last == (r, c)})
    df = pd.DataFrame(rows)
    scale = alt.Scale(domain=["person", "agent", "empty"], range=["#e63946", "#f4c430", "#ffffff"])
    return (
        alt.Chart(df)
        .mark_circle(size=900, stroke="#1d3557", opacity=1)
        .encode(
            x=alt.X("column:O", axis=alt.Axis(labelAngle=0, title=None, orient="top")),
            y=alt.Y("row:O", axis=None),
            color=alt.Color("who:N", scale=scale, legend=alt.Legend(title=None, orient="bottom")),
            strokeWidth=alt.condition("datum.last", alt.value(4), alt.value(1)),
        )
        .properties(width=320, height=280, background="#457b9d")
    )


def _connect_four_replay(match: Any) -> None:
    from agents.selfplay.agent import MAX_MOVES, board_from_moves
    from playground import board_server

    detail = match.detail
    moves = detail.get("moves")
    seat = detail.get("person_seat")
    if not isinstance(moves, list) or len(moves) > MAX_MOVES or seat not in (0, 1):
        st.error(f"Match {match.id} has no Connect Four replay this page can read.")
        return
    try:
        check = board_server.resimulate(match, board_server.AgentCache())
    except ValueError as exc:
        st.error(f"Match {match.id} does not re-simulate: {ui.literal(exc)}")
        return
    (st.success if check.ok else st.error)(check.summary)
    ply = st.slider("Move", 0, len(moves), len(moves), key="watch-match-ply") if moves else 0
    board = board_from_moves(moves[:ply])
    last = None
    if ply:
        col = moves[ply - 1]
        height = int((board.grid[:, col] != 0).sum())  # type: ignore[index]
        last = (6 - height, col)
    left, right = st.columns([3, 2])
    left.altair_chart(_grid_chart(board.grid, seat + 1, last))
    with right:
        if ply:
            mover = "person" if (ply - 1) % 2 == seat else "agent"
            st.metric(f"Move {ply}", f"{'Person' if mover == 'person' else 'Agent'}: column {moves[ply - 1] + 1}")
            thinks = detail.get("agent_thinks") or []
            k = sum(1 for i in range(ply) if i % 2 != seat) - 1  # the agent's move count up to this ply
            if mover == "agent" and 0 <= k < len(thinks) and isinstance(thinks[k], dict):
                t = thinks[k]
                probs = [float(p) for p in t.get("probabilities", [])][:7]
                st.metric("Agent's V(s) before this move", f"{float(t.get('value', 0.0)):+.2f}")
                df = pd.DataFrame({"column": [str(c + 1) for c in range(len(probs))], "probability": probs})
                st.altair_chart(
                    alt.Chart(df, title="What the agent thought: move probabilities")
                    .mark_bar()
                    .encode(x=alt.X("column", sort=None), y=alt.Y("probability", scale=alt.Scale(domain=[0, 1]))),
                    width="stretch",
                )
        else:
            st.caption("The empty board: slide to step through the game.")


def _pong_replay(match: Any) -> None:
    detail = match.detail
    score = detail.get("score") if isinstance(detail.get("score"), dict) else {}
    st.metric("Score (person : agent)", f"{score.get('person', '?')} : {score.get('agent', '?')}")
    st.caption(
        f"{detail.get('frames', '?')} frames from seed {match.seed}. The replay (seed, the person's action on every "
        "frame, the agent's every 4th frame) re-simulates the match: the agent's actions are recomputed, not read."
    )
    if st.button("Re-simulate and show this match", key=f"watch-pong-resim-{match.id}"):
        from agents.media.watch import encode_mp4
        from playground import board_server

        with st.spinner("Re-running every frame of the match…"):
            try:
                check = board_server.resimulate_pong(match, frame_every=2)
            except Exception as exc:  # the replay came from the store, but its content is checked here
                st.error(f"Match {match.id} cannot be re-simulated here: {ui.literal(ui.one_line(exc))}")
                return
        (st.success if check.ok else st.error)(check.summary)
        if check.frames:
            with st.spinner("Encoding the video…"):
                st.video(encode_mp4(list(check.frames), 30), format="video/mp4")
            st.caption("Every second frame of the re-simulated match, at the game's speed (60 frames/s).")


def show_match_replays() -> None:
    """The Watch page's *Matches against people*: pick a game and one of its recorded matches (or
    ``?match=<id>``), step through it, and see it re-simulated from its seed and both sides' moves."""
    store = _store()
    if store is None:
        return
    wanted = st.query_params.get("match")
    picked = None
    if wanted:
        picked = store.match(wanted) if str(wanted).isdigit() and len(str(wanted)) < 19 else None
        if picked is None:
            st.warning(f"No recorded match {ui.literal(wanted)}; pick one below.")
    games = list(TWO_PLAYER_GAMES)
    default = games.index(picked.game) if picked and picked.game in games else 0
    game = st.selectbox(
        "Game", games, index=default, key="watch-match-game", format_func=lambda s: TWO_PLAYER_GAMES[s].name
    )
    matches = store.matches(game, limit=50)
    if picked is not None and picked.game == game and all(m.id != picked.id for m in matches):
        matches = [picked, *matches]
    if not matches:
        st.info(f"No finished {TWO_PLAYER_GAMES[game].name} games against people yet.")
        return
    ids = [m.id for m in matches]
    by_id = {m.id: m for m in matches}
    index = ids.index(picked.id) if picked is not None and picked.id in by_id else 0
    match_id = st.selectbox(
        "Match",
        ids,
        index=index,
        key=f"watch-match-{game}",  # options are plain text, never Markdown
        format_func=lambda i: (
            f"#{i} · {by_id[i].player} vs the agent · {OUTCOME_WORDS[by_id[i].outcome]}"
            f"{' ' + by_id[i].score if by_id[i].score else ''} · {_when(by_id[i].finished_at)}"
        ),
    )
    if st.query_params.get("match") != str(match_id):
        st.query_params["match"] = str(match_id)
    match = by_id[match_id]
    st.caption(
        f"{ui.literal(match.player)} against {ui.literal(match.agent)}, seat {match.seat} "
        f"({'first' if match.seat == 0 else 'second'}), seed {match.seed}."
    )
    if game == "connect-four":
        _connect_four_replay(match)
    elif game == "pong-duel":
        _pong_replay(match)
