"""Head to head: a person against the Connect Four agent on one board, turn by turn.

The board is ``playground/board_component.js`` over the WebSocket ``/api/board`` (``playground.board_server``;
the messages are in docs/head-to-head.md); this script sets the game up (who moves first, the person's name)
and, under it, shows the agent's record against people from the ratings store (``views/h2h.py``).
"""

from pathlib import Path

import streamlit as st

from agents.bundle.match import MatchBundle, is_match_bundle
from envs import PlaygroundError
from playground import board_server, ui
from playground.leaderboard import MAX_PLAYER, clean_player
from playground.views import h2h

HTML = """
<div class="c4">
  <div class="c4-top">
    <button class="c4-new" data-testid="c4-new">New game</button>
    <label class="c4-toggle"><input type="checkbox" class="c4-thinks-toggle" data-testid="c4-thinks-toggle" checked>
      What the agent thinks</label>
    <span class="c4-status" data-testid="c4-status" aria-live="polite">loading…</span>
  </div>
  <div class="c4-main">
    <div class="c4-board" data-testid="c4-board"></div>
    <div class="c4-thinks" data-testid="c4-thinks">
      <div class="c4-thinks-title">What the agent thinks: <span class="c4-agent-name"></span></div>
      <div class="c4-bars"></div>
      <div class="c4-value" data-testid="c4-value"></div>
    </div>
  </div>
  <div class="c4-result" data-testid="c4-result" aria-live="polite"></div>
</div>
"""

CSS = """
.c4 { font-family: inherit; color: var(--st-text-color); }
.c4-top { display: flex; gap: .75rem; align-items: center; flex-wrap: wrap; margin-bottom: .5rem; }
.c4-top button { border: 1px solid var(--st-border-color, #ccc); border-radius: .5rem; padding: .25rem .75rem;
  background: var(--st-secondary-background-color); color: inherit; cursor: pointer; }
.c4-main { display: flex; gap: 1.5rem; flex-wrap: wrap; align-items: flex-start; }
.c4-board { display: grid; grid-template-columns: repeat(7, 48px); gap: 6px; padding: 8px; background: #1d4e89;
  border-radius: .5rem; width: max-content; }
.c4-col { height: 28px; border: 0; border-radius: .35rem; background: #2f6db5; color: #fff; font-weight: 700;
  cursor: pointer; }
.c4-col:hover { background: #4a8ad4; }
.c4-cell { width: 48px; height: 48px; border-radius: 50%; background: #f5f7fa; cursor: pointer;
  box-shadow: inset 0 2px 4px rgba(0,0,0,.35); }
.c4-cell.c4-you { background: #e63946; }
.c4-cell.c4-agent { background: #f4c430; }
.c4-cell.c4-win { outline: 4px solid #2ecc71; outline-offset: -4px; }
.c4[data-phase="waiting"] .c4-cell, .c4[data-phase="over"] .c4-cell { cursor: default; }
.c4-thinks { min-width: 280px; }
.c4-thinks-title { font-weight: 600; margin-bottom: .25rem; }
.c4-bars { display: grid; grid-template-columns: repeat(7, 34px); gap: 6px; height: 140px; align-items: end; }
.c4-barwrap { display: flex; flex-direction: column; justify-content: flex-end; height: 100%; text-align: center;
  font-size: .75rem; }
.c4-bar-fill { background: #f4c430; border-radius: .2rem .2rem 0 0; min-height: 0; }
.c4-chosen .c4-bar-fill { background: #d69e00; }
.c4-bar-label { border-top: 1px solid var(--st-border-color, #ccc); }
.c4-value { margin-top: .5rem; max-width: 320px; font-size: .9rem; }
.c4-result { margin-top: .75rem; font-size: 1.1rem; min-height: 1.5rem; }
"""


@st.cache_resource(show_spinner=False)
def _board_component():
    """Registered once per process (as the play page's component)."""
    js = (Path(__file__).resolve().parent.parent / "board_component.js").read_text()
    return st.components.v2.component("ppo_board", html=HTML, css=CSS, js=js)


@st.cache_resource(show_spinner=False)
def _agents() -> board_server.AgentCache:
    return board_server.AgentCache()


st.title("Head to head")
st.caption(
    "You and the agent on one board. Connect Four here; two-player Pong is on the Play page "
    "(game Pong, mode *Head to head*)."
)

try:
    agent = _agents().get()
except PlaygroundError as exc:
    st.error(f"The Connect Four agent cannot be used: {ui.literal(exc)}")
    st.stop()
if agent is None:
    st.info(
        "No Connect Four agent is shipped yet (models/connect-four). Train one with "
        "`playground selfplay connect-four --seed 1 --out DIR`."
    )
    st.stop()


def _evidence(loaded: board_server.LoadedAgent) -> tuple[list[dict], str, int]:
    """The rows of the bundle's ``evaluation.json`` when the agent is a two-player bundle's (1,000 games per
    seat against each test opponent, checked by ``MatchBundle.evaluation``), and a caption saying where they
    come from; no rows when the folder is not a bundle or its evaluation does not check out."""
    folder = loaded.path.parent
    if not is_match_bundle(folder):
        return [], "", 0
    try:
        bundle = MatchBundle.open(folder, check=False)
        ev = bundle.evaluation()
        if ev.policy_sha256 != loaded.sha256:
            return [], "", 0  # the evaluation is of other weights than the ones the board plays
    except PlaygroundError:
        return [], "", 0
    rows = [
        {
            "opponent": r.opponent,
            "agent moves": "first" if r.seat == 0 else "second",
            "wins / draws / losses": f"{r.wins} / {r.draws} / {r.losses}",
            "win rate, 95 % CI": f"{r.win_rate:.1%} ({r.ci('wins')[0]:.1%}–{r.ci('wins')[1]:.1%})",
            "bar": "—" if r.bar is None else f"≥ {r.bar:.0%} wins",
            "met": "—" if r.bar is None else ("yes" if r.bar_met else "no"),
        }
        for r in ev.rows
    ]
    t = bundle.manifest.training
    caption = (
        f"Self-play MaskablePPO, seed {int(t['seed'])}, {int(t['timesteps']):,} steps, {ev.games_per_seat:,} games "
        f"per seat. From the bundle's `evaluation.json` ({ui.literal(bundle.manifest.commands['bundle'])}; "
        "`playground verify connect-four` re-checks it, docs/connect-four.md); kept apart from the results "
        "against people below."
    )
    return rows, caption, ev.games_per_seat


rows, where, games = _evidence(agent)
if rows:
    barred = [r for r in rows if r["met"] != "—"]
    missed = sum(r["met"] == "no" for r in barred)
    verdict = "every bar met" if not missed else f"{missed} of {len(barred)} bars not met"
    with st.expander(
        f"How good is it? Against test opponents, {games:,} games per seat: {verdict}", expanded=bool(missed)
    ):
        st.dataframe(rows, hide_index=True)
        st.caption(where)

c1, c2 = st.columns([2, 1])
seat = c1.radio(
    "Who moves first?",
    [0, 1],
    format_func=lambda s: "You (red) move first" if s == 0 else "The agent (yellow) moves first",
    horizontal=True,
    key="duel-seat",
)
player = clean_player(c2.text_input("Your name", value="", max_chars=MAX_PLAYER, key="duel-player"))

_board_component()(
    key="duel-board",
    data={"path": board_server.PATH, "game": board_server.GAME, "seat": int(seat), "player": player},
    on_finished_change=lambda: None,
)
st.caption(
    "**Keys:** `1`–`7` drop in that column (or click it). The agent answers with its most probable legal move; "
    "*What the agent thinks* shows its move probabilities over the columns and its value estimate V(s) "
    "(about +1: it expects to win, −1: to lose). A full column is refused and the game goes on."
)

h2h.show_board(board_server.GAME, agent.name)
