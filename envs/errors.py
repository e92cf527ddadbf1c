"""Errors that speak to the user: what was wrong, with what value, and what to do."""


class PlaygroundError(Exception):
    """Base for every error the CLI and the app show as a message instead of a traceback."""


class UnknownGameError(PlaygroundError, KeyError):
    """A slug that is not in the catalog."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class GameUnavailableError(PlaygroundError):
    """The game is in the catalog but cannot be made here (e.g. a missing Atari ROM)."""
