"""The game catalog: specs for every game and the one function that makes their envs."""

from envs.catalog import GAMES, Bar, EvalProtocol, GameSpec, Reference, get_spec
from envs.errors import GameUnavailableError, PlaygroundError, UnknownGameError
from envs.keymap import ContinuousKeyMap, DiscreteKeyMap, keymap_covers
from envs.make import Purpose, make_env

__all__ = [
    "GAMES",
    "Bar",
    "ContinuousKeyMap",
    "DiscreteKeyMap",
    "EvalProtocol",
    "GameSpec",
    "GameUnavailableError",
    "PlaygroundError",
    "Purpose",
    "Reference",
    "UnknownGameError",
    "get_spec",
    "keymap_covers",
    "make_env",
]
