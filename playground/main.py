"""The Streamlit script behind ``app.py``: page set-up, navigation and deep links.

``?game=<slug>&page=watch|evidence|play|duel|lab`` opens that view of that game.
"""

import streamlit as st

from playground.ui import literal

st.set_page_config(page_title="PPO Playground", page_icon="🎮", layout="wide")

pages = {
    "gallery": st.Page(
        "views/gallery.py", title="Gallery", icon=":material/grid_view:", url_path="gallery", default=True
    ),
    "watch": st.Page("views/watch.py", title="Watch", icon=":material/play_arrow:", url_path="watch"),
    "evidence": st.Page("views/evidence.py", title="Evidence", icon=":material/monitoring:", url_path="evidence"),
    "play": st.Page("views/play.py", title="Play", icon=":material/sports_esports:", url_path="play"),
    "duel": st.Page("views/duel.py", title="Head to head", icon=":material/swords:", url_path="duel"),
    "lab": st.Page("views/lab.py", title="Lab", icon=":material/science:", url_path="lab"),
}
current = st.navigation(list(pages.values()))

requested = st.query_params.get("page")
if requested is not None:
    if requested not in pages:
        st.warning(f"unknown page {literal(requested)}; pages are {', '.join(pages)}.")
    elif pages[requested].url_path != current.url_path and not (requested == "gallery" and current.url_path == ""):
        st.switch_page(pages[requested], query_params=dict(st.query_params))

current.run()
