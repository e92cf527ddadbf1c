"""Every shipped hyperparameter file names a catalog game and passes validation, the comparison configs too."""

import pytest
import yaml

from agents.training.config import HYPERPARAMS_DIR, load_config, validate_config
from envs import GAMES, get_spec

FILES = sorted(HYPERPARAMS_DIR.glob("*.yml"))


def test_every_game_has_a_config():
    assert {p.stem for p in FILES} >= set(GAMES)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_config_is_valid_and_names_a_game(path):
    game = next(
        (g for g in sorted(GAMES, key=len, reverse=True) if path.stem == g or path.stem.startswith(g + "-")), None
    )
    assert game, f"{path.name} does not start with a game slug"
    validate_config(yaml.safe_load(path.read_text()), source=str(path))
    assert load_config(get_spec(game), path)["n_timesteps"] > 0
