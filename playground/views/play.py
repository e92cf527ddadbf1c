"""Play: the keyboard map of a game (real-time play against the agent comes with the play issue)."""

import streamlit as st

from playground import ui

st.title("Play")
spec = ui.pick_game("play-game")
if spec is None:
    ui.to_gallery()
st.info("Real-time keyboard play against the agent is not built yet. This is how the game will be played:")
st.table({"keys": [k for k, _ in spec.keymap.legend()], "action": [a for _, a in spec.keymap.legend()]})
