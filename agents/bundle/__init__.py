"""The agent bundle, the project's central type (``docs/bundle.md``): open one with :class:`Bundle`."""

from agents.bundle.bundle import Bundle
from agents.bundle.manifest import EXTERNAL, MANIFEST, TRAINED, Check, Manifest
from agents.evaluation.evaluate import EvalResult, Protocol

__all__ = ["EXTERNAL", "MANIFEST", "TRAINED", "Bundle", "Check", "EvalResult", "Manifest", "Protocol"]
