"""The model cards' ``## Usage`` snippets run as written, as an SB3, RL Zoo, onnxruntime or playground user runs
them, against bundles published to the stand-in Hub (``tests/hub_server.py``), and reach the card's score
(issue 14 item 3; docs/interop.md).

The harness is ``bench/interop.py`` (which also prints the table). Every shipped game's card, all four snippets
(SB3 + huggingface_sb3, the RL Zoo's ``load_from_hub`` + ``enjoy``, onnxruntime, the playground), each on the
card's 10 episodes as written: about ten minutes here, most of it the two Atari games. The Zoo and
huggingface_sb3 are pip-installed into a throwaway venv under the session's tmp dir (layered over the project's
venv, so no second torch); without a reachable package registry the tests skip with the reason, except under
CI=true, where they fail.
"""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
import pytest

from agents.bundle import Bundle
from agents.bundle.usage import SNIPPET_EPISODES, SNIPPETS, snippets
from bench.interop import ALL_GAMES, PipUnavailable, make_venv, reaches, run_game
from envs.make import make_env
from tests.hub_server import FakeHub

pytestmark = pytest.mark.slow  # pip, a stand-in Hub, four tools in subprocesses

CASES = {slug: SNIPPETS for slug in ALL_GAMES}


@pytest.fixture(scope="session")
def zoo_venv(tmp_path_factory):
    """rl_zoo3 and huggingface_sb3 in a throwaway venv, made once per session."""
    try:
        return make_venv(tmp_path_factory.mktemp("interop") / "venv")
    except PipUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc} (CI=true: the interop test must run)")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    server = FakeHub(tmp_path_factory.mktemp("hub"))
    server.start()
    yield server
    server.stop()


def test_every_card_has_the_four_snippets():
    from envs.catalog import GAMES

    assert set(CASES) == set(GAMES)  # every shipped single-player game is run below
    for slug in CASES:
        assert set(snippets(Bundle.open(slug).card())) == set(SNIPPETS)


def test_reaches_refuses_what_the_issue_saw():
    """The criterion fails the scores the issue's readers got by following the old cards (BipedalWalker -118,
    the continuous lander -32), even with a wide spread of their own, and passes the card's own mean."""
    for slug, got in (("bipedalwalker", -118.0), ("lunarlander-continuous", -32.0)):
        card = Bundle.open(slug).eval_result().summary
        assert not reaches(card, got, 10, std=150.0)
        assert reaches(card, card["mean"], 10)


@pytest.mark.parametrize("slug", sorted(CASES))
def test_the_cards_snippets_reach_the_cards_score(slug, hub, zoo_venv, tmp_path):
    b = Bundle.open(slug)
    card = b.eval_result()
    env = make_env(b.spec, "eval")
    discrete = isinstance(env.action_space, gym.spaces.Discrete)
    env.close()
    outcomes = run_game(slug, hub.url, zoo_venv, tmp_path / "home", only=CASES[slug], workers=2)
    assert [o.snippet for o in outcomes] == list(CASES[slug])
    for o in outcomes:
        assert o.mean is not None, f"{o.snippet} printed no score:\n{o.output[-2000:]}"
        assert o.episodes >= SNIPPET_EPISODES if o.snippet == "zoo" else o.episodes == SNIPPET_EPISODES
        assert reaches(card.summary, o.mean, o.episodes, o.std), (
            f"{slug} {o.snippet}: {o.mean:.2f} ± {o.std} over {o.episodes} episodes, card {card.summary['mean']:.2f} "
            f"{card.summary['ci95']}"
        )
        if card.deterministic and discrete and o.snippet in ("onnx", "playground"):
            # the card's own seeds and deterministic actions: the card's first episodes, exactly. Not on
            # continuous games: last-bit differences in the actions (onnxruntime's, or torch's on a batch of
            # another size) can move a Box2D episode a little (LunarLander continuous, playground: 282.34 for the
            # card's 282.3465), or a lot (docs/interop.md)
            assert o.mean == pytest.approx(np.mean(card.returns[:SNIPPET_EPISODES]), abs=0.006)
        if o.snippet == "zoo" and b.spec.normalize:
            assert "Loading running average" in o.output  # the Zoo applied our vec_normalize.pkl
