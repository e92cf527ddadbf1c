"""The playground's first page: the game catalog and the bundled agents with their evidence summary.

A placeholder until the full app (gallery, replay viewer, evidence pages) lands; it already reads
everything through ``agents.bundle`` and shows a broken bundle as an error for that game only.
"""

from pathlib import Path

import streamlit as st

from agents.bundle import Bundle, models_dir
from envs import GAMES, PlaygroundError

st.set_page_config(page_title="PPO Playground", layout="wide")


@st.cache_data
def load_summary(models: str, slug: str) -> dict:
    """The card for one game: its bundle's score and health, or why there is none."""
    path = Path(models) / slug
    if not path.exists():
        return {"status": "none"}
    try:
        b = Bundle.open(path)
        s = b.eval_summary()
        return {"status": "ok", "summary": s, "health": b.health()["verdict"], "seeds": b.training_seeds(),
                "shipped_seed": b.shipped_seed(), "met": b.spec.bar.met_by(s["mean"], s["std"])}
    except PlaygroundError as exc:
        return {"status": "error", "error": str(exc)}


st.title("PPO Playground")
st.caption("PPO agents trained with Stable-Baselines3, with the evidence of how they were trained.")

for slug, spec in GAMES.items():
    card = load_summary(str(models_dir()), slug)
    with st.container(border=True):
        st.subheader(f"{spec.name} · `{spec.env_id}`")
        st.write(spec.description)
        ref = spec.reference
        if card["status"] == "ok":
            s = card["summary"]
            st.markdown(
                f"**{s['mean']:.2f} ± {s['std']:.2f}** over {s['episodes']} episodes "
                f"(95 % CI {s['ci95'][0]:.2f} … {s['ci95'][1]:.2f}) · bar {spec.bar.describe()}: "
                f"{'✅ met' if card['met'] else '❌ not met'} · solved threshold {spec.solved_threshold:g} · "
                + (f"Zoo reference {ref.mean:g} ± {ref.std:g}" if ref else "no Zoo reference")
                + f" · {len(card['seeds'])} training seeds, ships seed {card['shipped_seed']} · health: {card['health']}"
            )
        elif card["status"] == "error":
            st.error(f"This game's bundle cannot be used: {card['error']}")
        else:
            st.info("No agent bundled yet.")
