"""Errors from training, evaluation and bundles; all are PlaygroundErrors the CLI prints as messages."""

from envs.errors import PlaygroundError


class ConfigError(PlaygroundError):
    """A hyperparameter file or --set override that cannot be used."""


class ResumeError(PlaygroundError):
    """--resume was asked for but there is nothing (usable) to resume."""


class BundleError(PlaygroundError):
    """A bundle that is missing, corrupt, tampered with, or fails verification."""


class ImportCheckpointError(PlaygroundError):
    """An external SB3 checkpoint that cannot be turned into a bundle safely (or at all)."""


class HubError(PlaygroundError):
    """Publishing to or pulling from a Hugging Face Hub failed; the message says which step."""
