"""The bundle's typed records: :class:`Manifest` (``evidence/manifest.json``) and :class:`Check` (one line of
``playground verify``). Only the bundle package reads or writes the manifest's JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from agents.bundle.validate import MAX_EPISODES, MAX_SEED, MAX_TEXT, check_rel, is_int, is_number, short_text
from agents.common.errors import BundleError
from agents.evaluation.evaluate import Protocol

MANIFEST = "evidence/manifest.json"
REPRODUCTIONS = "evidence/reproductions"
"""reports of re-runs of the training (``playground reproduce``/``ablate``), added after bundling: each
folder has its own manifest.json with its files' sha256, so adding one leaves the bundle's manifest valid"""
MAX_FILES = 1000
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
    registered_env_id: str | None = None
    """the id gymnasium registers for exactly this game (``LunarLanderContinuous-v3`` where ``env_id`` is
    ``LunarLander-v3`` with ``continuous=True``): the id the card, the Hub repo and the Zoo files use"""

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
        out: dict[str, Any] = {
            "format": self.format,
            "game": self.game,
            "env_id": self.env_id,
            "env_kwargs": self.env_kwargs,
            **({"registered_env_id": self.registered_env_id} if self.registered_env_id else {}),
            "algo": self.algo,
            "origin": self.origin_label,
        }
        if self.source is not None:
            out["source"] = self.source
        out.update(
            {
                "seeds": self.seeds,
                "shipped_seed": self.shipped_seed,
                "shipped_because": self.shipped_because,
                "timesteps": self.timesteps,
                "wall_seconds": self.wall_seconds,
                "commands": self.commands,
                "reproduce": self.reproduce,
            }
        )
        if self.protocol is not None:
            out["protocol"] = self.protocol.to_json()
        for k in self._PROVENANCE_KEYS:
            if k in self.provenance:
                out[k] = self.provenance[k]
        out["files"] = self.files
        return out

    @classmethod
    def from_json(cls, d: Any, where: str = "the manifest") -> Manifest:
        """Parse and check the manifest's JSON (every field the app, verify and pull use: types, lengths,
        ranges, safe file names); anything malformed raises one BundleError naming it."""
        if not isinstance(d, dict):
            raise BundleError(f"{where} is not a bundle manifest (not a JSON object)")
        if d.get("format") != FORMAT:
            raise BundleError(f"{where} has format {str(d.get('format'))[:40]!r}; this version reads {FORMAT}")
        need = _Fields(d, where)
        files = _files(need("files", dict), where)
        origin: Origin = "external" if need("origin", str, TRAINED).startswith("external") else "trained"
        seeds = need("seeds", list, [])
        if len(seeds) > 1000 or not all(is_int(s) and 0 <= s <= MAX_SEED for s in seeds):
            raise BundleError(f"{where}: 'seeds' must be a list of integers 0..{MAX_SEED}")
        shipped = need("shipped_seed", (int, type(None)), None)
        if origin == "trained" and (shipped is None or shipped not in seeds):
            raise BundleError(f"{where}: a trained bundle needs its shipped_seed among its seeds, got {shipped!r}")
        protocol = None
        if "protocol" in d:
            try:
                protocol = _protocol(need("protocol", dict))
            except (KeyError, TypeError, ValueError) as exc:
                raise BundleError(f"{where}: malformed protocol ({exc})") from None
        timesteps, wall = need("timesteps", dict, {}), need("wall_seconds", dict, {})
        if not all(v is None or (is_int(v) and v >= 0) for v in timesteps.values()):
            raise BundleError(f"{where}: 'timesteps' must map seeds to non-negative integers")
        if not all(v is None or (is_number(v) and v >= 0) for v in wall.values()):
            raise BundleError(f"{where}: 'wall_seconds' must map seeds to non-negative numbers")
        commands, reproduce = need("commands", dict, {}), need("reproduce", list, [])
        source = need("source", (dict, type(None)), None)
        provenance = {k: d[k] for k in cls._PROVENANCE_KEYS if k in d}
        _check_shown(origin, commands, reproduce, source, provenance, where)
        return cls(
            game=need("game", str),
            env_id=need("env_id", str),
            env_kwargs=need("env_kwargs", dict, {}),
            origin=origin,
            files=files,
            algo=need("algo", str, "PPO"),
            seeds=list(seeds),
            shipped_seed=shipped,
            shipped_because=need("shipped_because", str, ""),
            timesteps=timesteps,
            wall_seconds=wall,
            commands=commands,
            reproduce=reproduce,
            protocol=protocol,
            source=source,
            provenance=provenance,
            format=d["format"],
            registered_env_id=need("registered_env_id", (str, type(None)), None),
        )


class _Fields:
    """``need(key, type, default)``: a manifest field of the right type (a string of bounded length)."""

    def __init__(self, d: dict[str, Any], where: str):
        self.d, self.where = d, where

    def __call__(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.d:
            if default is ...:
                raise BundleError(f"{self.where} lacks '{key}'")
            return default
        value = self.d[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise BundleError(f"{self.where}: '{key}' has the wrong type ({type(value).__name__})")
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise BundleError(f"{self.where}: '{key}' is a {len(value):,}-character string")
        return value


def _files(files: dict[str, Any], where: str) -> dict[str, str]:
    """The listed files: plain relative names (never a pattern or a way out), each with a sha256."""
    if len(files) > MAX_FILES:
        raise BundleError(f"{where} lists {len(files):,} files; a bundle has about 20 (at most {MAX_FILES})")
    for rel, digest in files.items():
        check_rel(rel, where)
        if rel == MANIFEST or rel.startswith(REPRODUCTIONS + "/"):
            raise BundleError(f"{where} lists {rel!r}, which a bundle's own manifest cannot list")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise BundleError(f"{where} lists {rel!r} with a malformed sha256 {str(digest)[:70]!r}")
    return files


def _check_shown(
    origin: Origin,
    commands: dict[str, Any],
    reproduce: list[Any],
    source: dict[str, Any] | None,
    provenance: dict[str, Any],
    where: str,
) -> None:
    """What the Evidence page shows of the manifest is there, of the type it is shown as."""
    if len(reproduce) > 1000 or not all(short_text(c) for c in reproduce):
        raise BundleError(f"{where}: 'reproduce' must be a list of command lines")
    for key in ("import", "verify") if origin == "external" else ("bundle",):
        if not short_text(commands.get(key)):
            raise BundleError(f"{where}: commands[{key!r}] is not a command line")
    if origin == "external" and (
        source is None or not all(short_text(source.get(k), 1000) for k in ("kind", "zip", "zip_sha256"))
    ):
        raise BundleError(f"{where}: an external bundle needs its source's kind, zip and zip_sha256")
    versions = provenance.get("versions", {})
    if not isinstance(versions, dict) or not all(
        isinstance(k, str) and (v is None or short_text(v, 200)) for k, v in versions.items()
    ):
        raise BundleError(f"{where}: 'versions' must map package names to version strings")
    for key in ("code", "hardware", "bundled"):
        if key in provenance and not isinstance(provenance[key], dict):
            raise BundleError(f"{where}: '{key}' is not an object")
    if origin == "external" and not short_text((provenance.get("bundled") or {}).get("finished"), 100):
        raise BundleError(f"{where}: an external bundle needs bundled.finished (when it was imported)")


def _protocol(d: dict[str, Any]) -> Protocol:
    """The recorded protocol, with its numbers in range (seeds and episode counts are used to make envs)."""
    if not isinstance(d.get("env_kwargs"), dict):
        raise TypeError("env_kwargs is not an object")
    if not (is_int(d.get("seed_base")) and 0 <= d["seed_base"] <= MAX_SEED):
        raise ValueError(f"seed_base {str(d.get('seed_base'))[:30]} is not an integer 0..{MAX_SEED}")
    if not (
        is_int(d.get("episodes")) and 1 <= d["episodes"] <= MAX_EPISODES and d["seed_base"] + d["episodes"] <= MAX_SEED
    ):
        raise ValueError(f"episodes {str(d.get('episodes'))[:30]} is not an integer 1..{MAX_EPISODES}")
    if not isinstance(d.get("deterministic"), bool) or not short_text(d.get("wrappers"), 1000):
        raise TypeError("deterministic must be true or false and wrappers a string")
    return Protocol.from_json(d)
