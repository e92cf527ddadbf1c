"""Errors of the database layer; all are PlaygroundErrors, shown as one line."""

from envs.errors import PlaygroundError


class StoreError(PlaygroundError):
    """The database cannot be used, or a value cannot be stored (the message says which, and why)."""


class JobStateError(StoreError):
    """A lab job asked to move to a state its current state does not allow (e.g. finish a queued job)."""


class QueueFull(StoreError):
    """A browser session already has as many lab jobs queued or running as the cap allows."""


class NotFound(StoreError, KeyError):
    """No row with that id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
