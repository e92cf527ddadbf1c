"""The bundle's typed records: :class:`Manifest` (``evidence/manifest.json``) and :class:`Check` (one line of
``playground verify``). Only the bundle package reads or writes the manifest's JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal

from agents.common.errors import BundleError
from agents.evaluation.evaluate import Protocol

MANIFEST = "evidence/manifest.json"
FORMAT = "ppo-playground/bundle@1"
TRAINED = "trained here"
EXTERNAL = "external — not reproduced here"
_SHA256 = re.compile(r"[0-9a-f]{64}")

Origin = Literal["trained", "external"]


@dataclass(frozen=True)
class Check:
    """One verification: what was checked, whether it held, and a line for the user."""

    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class Manifest:
    """What a bundle is and where it came from; ``files`` lists every file with its sha256.

    ``origin`` is ``trained`` (trained here: every training seed's evidence is in the bundle) or
    ``external`` (imported: trained elsewhere, ``source`` says what it was; no shipped seed).
    """

    game: str
    env_id: str
    env_kwargs: dict[str, Any]
    origin: Origin
    files: dict[str, str]
    algo: str = "PPO"
    seeds: list[int] = field(default_factory=list)
    shipped_seed: int | None = None
    shipped_because: str = ""
    timesteps: dict[str, int | None] = field(default_factory=dict)
    wall_seconds: dict[str, float | None] = field(default_factory=dict)
    commands: dict[str, Any] = field(default_factory=dict)
    reproduce: list[str] = field(default_factory=list)
    protocol: Protocol | None = None
    """the evaluation protocol as recorded at bundling (bundles before it was recorded: None, see
    ``Bundle.protocol``)"""
    source: dict[str, Any] | None = None
    """external agents: the checkpoint they came from"""
    provenance: dict[str, Any] = field(default_factory=dict)
    """code, versions, hardware, time stamps: shown and compared, never interpreted"""
    format: str = FORMAT

    _PROVENANCE_KEYS = ("code", "versions", "hardware", "started", "finished", "bundled", "python_executable")

    @property
    def is_external(self) -> bool:
        return self.origin == "external"

    @property
    def origin_label(self) -> str:
        return EXTERNAL if self.is_external else TRAINED

    @property
    def versions(self) -> dict[str, str | None]:
        return dict(self.provenance.get("versions") or {})

    def steps_of_shipped_seed(self) -> int | None:
        if self.shipped_seed is None:
            return None
        return self.timesteps.get(str(self.shipped_seed))

    def total_wall_seconds(self) -> float:
        return float(sum(v for v in self.wall_seconds.values() if v))

    # --- JSON --------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The manifest's JSON, keys in the order bundle@1 files have them."""
        out: dict[str, Any] = {"format": self.format, "game": self.game, "env_id": self.env_id,
                               "env_kwargs": self.env_kwargs, "algo": self.algo, "origin": self.origin_label}
        if self.source is not None:
            out["source"] = self.source
        out.update({"seeds": self.seeds, "shipped_seed": self.shipped_seed, "shipped_because": self.shipped_because,
                    "timesteps": self.timesteps, "wall_seconds": self.wall_seconds, "commands": self.commands,
                    "reproduce": self.reproduce})
        if self.protocol is not None:
            out["protocol"] = self.protocol.to_json()
        for k in self._PROVENANCE_KEYS:
            if k in self.provenance:
                out[k] = self.provenance[k]
        out["files"] = self.files
        return out

    @classmethod
    def from_json(cls, d: Any, where: str = "the manifest") -> Manifest:
        """Parse and check the manifest's JSON; anything malformed raises one BundleError naming it."""
        if not isinstance(d, dict):
            raise BundleError(f"{where} is not a bundle manifest (not a JSON object)")
        if d.get("format") != FORMAT:
            raise BundleError(f"{where} has format {d.get('format')!r}; this version reads {FORMAT}")

        def need(key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
            if key not in d:
                if default is ...:
                    raise BundleError(f"{where} lacks '{key}'")
                return default
            value = d[key]
            if not isinstance(value, kind) or isinstance(value, bool):
                raise BundleError(f"{where}: '{key}' has the wrong type ({type(value).__name__})")
            return value

        files = need("files", dict)
        for rel, digest in files.items():
            p = PurePosixPath(rel)
            if (not isinstance(rel, str) or not rel or p.is_absolute() or ".." in p.parts or "\\" in rel
                    or not isinstance(digest, str) or not _SHA256.fullmatch(digest)):
                raise BundleError(f"{where} lists an unsafe or malformed file entry {rel!r}")
        origin_text = need("origin", str, TRAINED)
        origin: Origin = "external" if origin_text.startswith("external") else "trained"
        seeds = need("seeds", list, [])
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise BundleError(f"{where}: 'seeds' must be a list of integers")
        shipped = need("shipped_seed", (int, type(None)), None)
        if origin == "trained" and (shipped is None or shipped not in seeds):
            raise BundleError(f"{where}: a trained bundle needs its shipped_seed among its seeds, got {shipped!r}")
        protocol = None
        if "protocol" in d:
            try:
                protocol = Protocol.from_json(need("protocol", dict))
            except (KeyError, TypeError, ValueError) as exc:
                raise BundleError(f"{where}: malformed protocol ({exc})") from None
        return cls(game=need("game", str), env_id=need("env_id", str), env_kwargs=need("env_kwargs", dict, {}),
                   origin=origin, files=files, algo=need("algo", str, "PPO"), seeds=list(seeds), shipped_seed=shipped,
                   shipped_because=need("shipped_because", str, ""), timesteps=need("timesteps", dict, {}),
                   wall_seconds=need("wall_seconds", dict, {}), commands=need("commands", dict, {}),
                   reproduce=need("reproduce", list, []), protocol=protocol, source=need("source", (dict, type(None)), None),
                   provenance={k: d[k] for k in cls._PROVENANCE_KEYS if k in d}, format=d["format"])
