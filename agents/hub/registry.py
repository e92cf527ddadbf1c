"""Agents beyond ``models/``: pulled from a Hub or imported from an SB3 checkpoint.

A small JSON file, ``$PLAYGROUND_DATA/agents.json`` (default ``~/.local/share/ppo-playground``), lists
them: which game, where the bundle folder is (a pulled agent stays in huggingface_hub's cache), and
where it came from. The bundles themselves are checked every time they are opened; this file only
says where to look.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from agents.common.provenance import now_iso
from agents.common.settings import data_dir


def registry_path() -> Path:
    return data_dir() / "agents.json"


@dataclass(frozen=True)
class AgentEntry:
    """One agent the app can list next to a game's bundled one."""

    id: str
    """``hub:ORG/NAME`` or ``import:<bundle folder>``: one entry per id, a new pull or import replaces it"""
    game: str
    path: str
    """the bundle folder (for a pulled agent, its snapshot in huggingface_hub's cache)"""
    source: str
    """what the app shows: ``hub ORG/NAME@1a2b3c4`` or ``imported from <file>``"""
    added: str
    repo: str | None = None
    revision: str | None = None
    commit: str | None = None
    endpoint: str | None = None


def entries() -> list[AgentEntry]:
    """Every registered agent, in the order they were added; an unreadable registry lists none."""
    try:
        raw = json.loads(registry_path().read_text())
        return [AgentEntry(**{k: e.get(k) for k in AgentEntry.__dataclass_fields__}) for e in raw["agents"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def for_game(slug: str) -> list[AgentEntry]:
    return [e for e in entries() if e.game == slug]


def get(agent_id: str) -> AgentEntry | None:
    return next((e for e in entries() if e.id == agent_id), None)


def add(agent_id: str, game: str, path: Path, source: str, **extra) -> AgentEntry:
    """Record an agent (replacing an entry with the same id); written atomically."""
    entry = AgentEntry(id=agent_id, game=game, path=str(path), source=source, added=now_iso(), **extra)
    rest = [e for e in entries() if e.id != agent_id]
    target = registry_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"agents": [asdict(e) for e in [*rest, entry]]}, indent=1) + "\n")
    os.replace(tmp, target)
    return entry


def remove(agent_id: str) -> bool:
    """Forget an agent (its folder is the caller's); returns whether it was listed. Written atomically."""
    current = entries()
    rest = [e for e in current if e.id != agent_id]
    if len(rest) == len(current):
        return False
    target = registry_path()
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"agents": [asdict(e) for e in rest]}, indent=1) + "\n")
    os.replace(tmp, target)
    return True
