"""Play: a person against the agent in real time, side by side on the same seed (or Solo, or Live watch).

The game loop runs in the browser (``playground/play_component.js``) over the WebSocket ``/api/play``
(``playground.play_server``; the protocol is in docs/play.md); this script only sets the game up and,
when an episode ends, shows the scoreboard and the leaderboard from SQLite (``playground.leaderboard``).
"""

from pathlib import Path

import pandas as pd
import streamlit as st

from agents.hub import registry
from envs import GAMES
from playground import leaderboard, protocol, ui

HTML = """
<div class="ppo-play">
  <div class="ppo-bar">
    <button class="ppo-start" data-testid="ppo-start">Start</button>
    <button class="ppo-restart">Restart</button>
    <button class="ppo-new">New seed</button>
    <button class="ppo-half">Half speed</button>
    <span class="ppo-seed"></span>
    <span class="ppo-status" data-testid="ppo-status">loading…</span>
  </div>
  <div class="ppo-stage">
    <div class="ppo-boards"></div>
    <div class="ppo-overlay" data-testid="ppo-overlay"></div>
  </div>
</div>
"""

CSS = """
.ppo-play { font-family: inherit; color: var(--st-text-color); }
.ppo-bar { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; margin-bottom: .5rem; }
.ppo-bar button { border: 1px solid var(--st-border-color, #ccc); border-radius: .5rem; padding: .25rem .75rem;
  background: var(--st-secondary-background-color); color: inherit; cursor: pointer; }
.ppo-seed { opacity: .7; }
.ppo-bar button:disabled { opacity: .5; cursor: default; }
.ppo-stage { position: relative; }
.ppo-overlay { position: absolute; inset: 0; display: none; align-items: center; justify-content: center;
  text-align: center; padding: 1rem; font-size: 1.6rem; font-weight: 700; color: #fff;
  background: rgba(0, 0, 0, .45); border-radius: .25rem; pointer-events: none; }
.ppo-boards { display: flex; gap: 1rem; flex-wrap: wrap; }
.ppo-board.ppo-court { flex: 0 1 420px; max-width: 420px; }
.ppo-board { flex: 1 1 300px; }
.ppo-title { font-weight: 600; margin-bottom: .25rem; }
.ppo-canvas { width: 100%; image-rendering: pixelated; background: #000; border-radius: .25rem; }
.ppo-score { font-variant-numeric: tabular-nums; margin-top: .25rem; }
"""


@st.cache_resource(show_spinner=False)
def _play_component():
    """Registered once per process: registering on every rerun re-reads the JS and logs an overwrite warning."""
    return st.components.v2.component(
        "ppo_play", html=HTML, css=CSS, js=(Path(__file__).resolve().parent.parent / "play_component.js").read_text()
    )


_component = _play_component()

MODES = {
    "duel": "Head to head: you vs the agent on one court",
    "versus": "Versus: you and the agent, same seed",
    "solo": "Solo",
    "watch": "Live watch: the agent alone",
}
# single-player games whose agent also plays a person on one court (the two-player game's slug). A comment, not
# a docstring: Streamlit's "magic" writes a bare string in a page script onto the page.
DUELS = {"pong": "pong-duel"}


def requested_agent(slug: str) -> str | None:
    """The registered agent the URL names (``?agent=lab:<job id>``, from the Lab's Play link), when it is one of
    this game's and can be played; otherwise one line says why and the shipped agent plays (None)."""
    wanted = st.query_params.get("agent")
    if not wanted or wanted == "bundled":
        return None
    if len(wanted) > protocol.MAX_AGENT or not protocol.AGENT_ID.fullmatch(wanted):
        st.warning("`agent` is not an agent id (lab:…, hub:…, import:…); playing the shipped agent.")
        return None
    entry = registry.get(wanted)
    if entry is None or entry.game != slug:
        st.warning(f"{GAMES[slug].name} has no agent {ui.literal(wanted, 120)}; playing the shipped agent.")
        return None
    b, why = ui.bundle_at(entry.path)
    if b is not None and b.spec.slug != slug:
        why = f"its bundle is a {b.spec.slug} agent"
    why = why or ui.policy_error(entry.path)  # said here, not by the play route once a game has started
    if why:
        st.error(f"The agent {ui.literal(wanted, 120)} cannot be used, so the shipped one plays: {ui.literal(why)}")
        return None
    st.info(
        f"Playing against **{ui.literal(wanted, 120)}** ({ui.literal(entry.source, 200)}), not the shipped agent: "
        "its games are not recorded on the leaderboard or in the ratings."
    )
    return wanted


st.title("Play")
spec = ui.pick_game("play-game")
if spec is None:
    ui.to_gallery()
agent = requested_agent(spec.slug)
b, err = ui.bundle(spec.slug)
if b is not None:
    err = ui.policy_error(str(b.path))  # said here, not by the play route once a game has started
    b = None if err else b
if err and agent is None:
    st.error(f"The {spec.name} agent cannot be used, so only Solo is offered: {ui.literal(err)}")
playable = b is not None or agent is not None
modes = [m for m in MODES if m != "duel" or spec.slug in DUELS] if playable else ["solo"]
if not playable and not err:
    st.info(f"{spec.name} has no trained agent yet: Solo only.")

c1, c2, c3 = st.columns([2, 1, 1])
mode = c1.radio("Mode", modes, format_func=MODES.get, horizontal=True, key="play-mode")
seed = int(c2.number_input("Seed", min_value=0, max_value=protocol.MAX_SEED, value=0, step=1, key="play-seed"))
player = leaderboard.clean_player(
    c3.text_input("Your name", value="", max_chars=leaderboard.MAX_PLAYER, key="play-player")
)

duel = mode == "duel"
result = _component(
    key="play",
    data={
        "path": protocol.PATH,
        "game": DUELS[spec.slug] if duel else spec.slug,
        "mode": mode,
        "seed": seed,
        "player": player,
        "agent": agent,
    },
    on_finished_change=lambda: None,
)
legend = spec.keymap.legend()
if duel:
    st.caption(
        "**Keys:** `ArrowUp` / `ArrowDown` move your paddle (the left one), `Space` serves (the two-player game "
        "times serves: a server who waits two seconds is penalised). 60 frames per second; your keys act on "
        "every frame, the agent decides every 4th frame, as it was trained. First to 21 wins. Press a key or "
        "Start, then 3-2-1; hiding the tab pauses the match. Click the page once so it has the keyboard."
    )
else:
    st.caption(
        "**Keys:** " + " · ".join(f"`{k}` {a}" for k, a in legend) + f" — {min(spec.render_fps, protocol.FPS_CAP)} "
        "steps per second. Click the page once so it has the keyboard; keys are ignored while you type in a box."
        + (
            " Atari as the agent plays it: 4 frames per step, no sticky actions, the whole game (every life)."
            if spec.is_atari
            else ""
        )
    )


def _duel_evidence(weights_sha256: str) -> None:
    """The two-player Pong bundle's evaluation against the scripted left paddles, when it is of the weights the
    duel plays (``play_server.duel_agent``: models/pong-duel's, else models/pong's) and its files check out;
    nothing otherwise."""
    from agents.bundle.match import MatchBundle, is_match_bundle
    from agents.bundle.match_pong_card import headline

    folder = Path(ui.models()) / DUELS[spec.slug]
    if not is_match_bundle(folder):
        return
    with ui.agent_errors("The two-player Pong bundle", "its evaluation against scripted paddles"):
        bundle = MatchBundle.open(folder)
        ev, points = bundle.evaluation(), bundle.points()
        if ev.policy_sha256 != weights_sha256:
            return  # an evaluation of other weights than the ones this page plays
        rows = [
            {
                "left paddle": r.opponent,
                "wins / draws / losses": f"{r.wins} / {r.draws} / {r.losses}",
                "win rate, 95 % CI": f"{r.win_rate:.0%} ({r.ci('wins')[0]:.0%}–{r.ci('wins')[1]:.0%})",
                "points for – against": "{:.1f} – {:.1f}".format(*points[r.opponent]),
                "bar": "—" if r.bar is None else f"≥ {r.bar:.0%} wins: " + ("met" if r.bar_met else "below the bar"),
            }
            for r in ev.rows
        ]
        with st.expander(f"How good is it? {headline(ev).replace('**', '')}", expanded=False):
            st.dataframe(rows, hide_index=True)
            st.caption(
                f"The agent on the right paddle against scripted left paddles, whole matches to 21, from "
                f"`models/{DUELS[spec.slug]}/evaluation.json` ({ui.literal(bundle.manifest.commands['bundle'])}; "
                f"`playground verify {DUELS[spec.slug]}` re-checks it, docs/play.md)."
            )


finished = getattr(result, "finished", None)
if duel:
    from playground.play_server import duel_agent
    from playground.views import h2h

    try:
        shipped = duel_agent(DUELS[spec.slug])
    except Exception as exc:  # the bundle's files: one line, as the play route says it when a duel starts
        shipped = None
        st.error(f"The two-player Pong agent cannot be used: {ui.literal(ui.one_line(exc))}")
    if shipped is not None and agent is None:  # the shipped agent plays: its evidence against the bots, if bundled
        st.caption(
            f"The agent on the right paddle is `{shipped.source}`'s (weights `{shipped.sha256[:12]}`), rated as "
            f"`{shipped.name}`."
        )
        _duel_evidence(shipped.sha256)
    if shipped is not None:
        h2h.show_board(DUELS[spec.slug], shipped.name, title="The agent against people: two-player Pong")
    st.caption(
        "Kept apart from the agent's evidence against scripted paddles. A match is rated only from the moves the "
        "server applied, when it reached 21 at the game's speed; its replay is on the Watch page."
    )
    st.stop()
if finished is not None and int(finished) > 0:
    row = leaderboard.get(int(finished))
    if row and row["game"] == spec.slug:
        st.subheader("Scoreboard")
        cols = st.columns(3)
        cols[0].metric(f"You · {row['human_steps']} steps", f"{row['human_return']:.2f}")
        if row["agent_return"] is not None:
            cols[1].metric(f"Agent · {row['agent_steps']} steps", f"{row['agent_return']:.2f}")
            w = leaderboard.winner(row)
            cols[2].metric("Result", {"human": "You win", "agent": "Agent wins", "draw": "Draw"}[w])

st.subheader(f"Leaderboard: {spec.name}")
board = leaderboard.board(spec.slug)
if board["versus_games"]:
    st.caption(
        f"People beat the agent in {board['human_wins']} of {board['versus_games']} Versus games "
        f"({board['human_win_rate']:.0%}); {board['draws']} draws."
    )
if board["best"]:
    st.dataframe(
        pd.DataFrame(board["best"])
        .rename(columns={"human_return": "score", "human_steps": "steps", "agent_return": "agent"})
        .assign(finished_at=lambda d: pd.to_datetime(d["finished_at"], unit="s").dt.strftime("%Y-%m-%d %H:%M"))[
            ["player", "score", "steps", "mode", "seed", "agent", "finished_at"]
        ],
        hide_index=True,
    )
else:
    st.caption("No games finished yet: be the first.")
