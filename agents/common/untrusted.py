"""Readers for files that come from outside (a pulled repo, an imported checkpoint, a bundle folder someone
handed you): each is bounded before it costs memory (``docs/security.md``).

- a file's size is checked with ``lstat`` before a byte is read; a symlink, a folder or a device is refused;
- JSON: ``NaN``/``Infinity`` and numbers that overflow to infinity are refused, integers are at most 64-bit,
  nesting is bounded;
- YAML: a SafeLoader that refuses aliases and anchors (a 900-byte "billion laughs" expands to gigabytes)
  and bounds nesting; floats must be finite;
- archive members: read with their inflated size bounded and their declared size honoured (the reader
  stops at the declared size and checks the CRC), nested archives included.

Every refusal raises the caller's error class with one line naming the file, the value and the setting.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import stat
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from agents.common import settings
from envs.errors import PlaygroundError

Error = type[PlaygroundError]

_MB = 2**20
MAX_INT = 2**63
"""integers in JSON from outside are at most 64-bit (seeds, sizes, counts): anything larger is a mistake or an attack"""


def _mb(n: int) -> str:
    return f"{n / _MB:,.1f} MB" if n >= _MB // 10 else f"{n:,} bytes"


def too_big(what: str, size: int, limit: int, setting: str) -> str:
    """The one line for a size over a limit."""
    return f"{what} is {_mb(size)}, over the limit of {_mb(limit)} ({setting}; raise it only for a source you trust)"


# --- files ---------------------------------------------------------------------------------------------


def regular_file_size(
    path: Path, what: str, error: Error, limit: int | None = None, setting: str = "PLAYGROUND_MAX_FILE_MB"
) -> int:
    """The size of ``path``, a regular file (not a symlink, folder or device), at most ``limit`` bytes."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise error(f"{what} is missing: {path}") from None
    except OSError as exc:
        raise error(f"{what} cannot be read ({path}): {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise error(f"{what} is a symbolic link ({path}); links are refused, so that nothing outside is read")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{what} is not a regular file ({path})")
    if limit is not None and st.st_size > limit:
        raise error(too_big(f"{what} ({path})", st.st_size, limit, setting))
    return st.st_size


def read_bytes(path: Path, what: str, error: Error, limit: int, setting: str) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (checked before reading, and while reading)."""
    regular_file_size(path, what, error, limit, setting)
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise error(f"{what} cannot be read ({path}): {exc.strerror}") from None
    if len(data) > limit:  # it grew after the check
        raise error(too_big(f"{what} ({path})", len(data), limit, setting))
    return data


def read_text(
    path: Path, what: str, error: Error, limit: int | None = None, setting: str = "PLAYGROUND_MAX_JSON_MB"
) -> str:
    """A UTF-8 text file of at most ``limit`` bytes (default: the JSON limit)."""
    raw = read_bytes(path, what, error, settings.max_json_bytes() if limit is None else limit, setting)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not UTF-8 text ({path}): {exc.reason} at byte {exc.start}") from None


# --- JSON ----------------------------------------------------------------------------------------------


class _Refused(ValueError):
    pass


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:40]} is not finite")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > 20:
        raise _Refused(f"the integer {text[:24]}… has {len(text)} digits")
    value = int(text)
    if not -MAX_INT <= value < MAX_INT:
        raise _Refused(f"the integer {text} is larger than 64 bits")
    return value


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number JSON allows")


def check_depth(value: Any, what: str, error: Error, limit: int | None = None) -> None:
    """Refuse containers nested deeper than ``limit`` (iteratively: a deep value cannot exhaust the stack)."""
    limit = settings.max_nesting() if limit is None else limit
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict):
            children: Iterable[Any] = v.values()
        elif isinstance(v, (list, tuple)):
            children = v
        else:
            continue
        if depth > limit:
            raise error(f"{what} is nested more than {limit} levels deep (PLAYGROUND_MAX_NESTING)")
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list, tuple)))


def parse_json(raw: bytes | str, what: str, error: Error) -> Any:
    """JSON with finite numbers, 64-bit integers and bounded nesting; anything else raises ``error``."""
    try:
        value = json.loads(raw, parse_float=_finite_float, parse_int=_bounded_int, parse_constant=_refuse_constant)
    except RecursionError:
        raise error(f"{what} is nested too deeply to read (PLAYGROUND_MAX_NESTING)") from None
    except _Refused as exc:
        raise error(f"{what} is refused: {exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise error(f"{what} is not valid JSON: {str(exc)[:200]}") from None
    check_depth(value, what, error)
    return value


def read_json(path: Path, what: str, error: Error, limit: int | None = None) -> Any:
    """The JSON in a regular file of at most ``limit`` bytes (default ``PLAYGROUND_MAX_JSON_MB``)."""
    raw = read_bytes(path, what, error, settings.max_json_bytes() if limit is None else limit, "PLAYGROUND_MAX_JSON_MB")
    return parse_json(raw, what, error)


# --- YAML ----------------------------------------------------------------------------------------------


class BoundedSafeLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader without aliases or anchors and with bounded nesting.

    An alias makes the loaded object share a node, so a few hundred bytes of anchors referring to anchors
    expand to billions of items once the object is walked (printed, dumped, stringified by a page). Config
    files have no need for them, so any alias or anchor is refused outright.
    """

    max_depth = 32

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases and anchors (&, *) are not accepted", event.start_mark
            )
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested more than {self.max_depth} levels deep (PLAYGROUND_MAX_NESTING)",
                    event.start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def check_finite(value: Any, what: str, error: Error) -> None:
    """Refuse a float that is NaN or infinite anywhere in ``value`` (YAML reads ``.inf``, ``1e999``)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            raise error(f"{what} holds a number that is not finite ({v})")
        if isinstance(v, int) and not isinstance(v, bool) and not -MAX_INT <= v < MAX_INT:
            raise error(f"{what} holds an integer larger than 64 bits")
        if isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)


def parse_yaml(text: str, what: str, error: Error, loader: type[BoundedSafeLoader] = BoundedSafeLoader) -> Any:
    """YAML through ``loader`` (a :class:`BoundedSafeLoader`): no aliases, bounded nesting, finite numbers."""
    bound = type(loader.__name__, (loader,), {"max_depth": settings.max_nesting()})
    try:
        value = yaml.load(text, Loader=bound)
    except RecursionError:
        raise error(f"{what} is nested too deeply to read (PLAYGROUND_MAX_NESTING)") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise error(f"{what} cannot be read as YAML safely: {exc.problem or exc.context}{where}") from None
    except yaml.YAMLError as exc:
        raise error(f"{what} cannot be read as YAML safely: {' '.join(str(exc).split())[:300]}") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise error(f"{what} cannot be read as YAML safely: {str(exc)[:200]}") from None
    check_finite(value, what, error)
    return value


def read_yaml(path: Path, what: str, error: Error, loader: type[BoundedSafeLoader] = BoundedSafeLoader) -> Any:
    """A YAML file of at most ``PLAYGROUND_MAX_CONFIG_KB``, read with :func:`parse_yaml`."""
    text = read_text(path, what, error, settings.max_config_bytes(), "PLAYGROUND_MAX_CONFIG_KB")
    return parse_yaml(text, what, error, loader)


# --- CSV -----------------------------------------------------------------------------------------------


def parse_csv_rows(text: str, what: str, error: Error, keep_text: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows of a CSV with numbers as floats (empty cells as NaN); columns in ``keep_text`` stay strings."""
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise error(f"{what} is not a readable CSV: {exc}") from None
    for r in rows:
        if None in r:
            raise error(f"{what} has a row with more cells than its header")
        for k, v in r.items():
            if k in keep_text:
                r[k] = v if v not in ("", None) else float("nan")
                continue
            try:
                r[k] = float(v) if v not in ("", None) else float("nan")
            except ValueError:
                pass
    return rows


# --- archives ------------------------------------------------------------------------------------------


class ArchiveLimits:
    """What an archive (and the archives inside it) may inflate to: per member and in all, shared by nesting."""

    def __init__(self, what: str, error: Error, max_members: int = 1024):
        self.what = what
        self.error = error
        self.max_members = max_members
        self.per_member = settings.max_file_bytes()
        self.total = settings.max_bundle_bytes()
        self.used = 0

    def check_listing(self, zf: zipfile.ZipFile, where: str) -> list[zipfile.ZipInfo]:
        """The members of ``zf`` after checking their count and declared inflated sizes (before reading any)."""
        infos = zf.infolist()
        if len(infos) > self.max_members:
            raise self.error(f"{where} has {len(infos):,} members; at most {self.max_members} are accepted")
        declared = 0
        for info in infos:
            if info.file_size > self.per_member:
                raise self.error(
                    too_big(
                        f"{where}: member {info.filename!r} once inflated",
                        info.file_size,
                        self.per_member,
                        "PLAYGROUND_MAX_FILE_MB",
                    )
                )
            declared += info.file_size
            if self.used + declared > self.total:
                raise self.error(
                    too_big(
                        f"{where}: its members once inflated" + (" (with the archive around it)" if self.used else ""),
                        self.used + declared,
                        self.total,
                        "PLAYGROUND_MAX_BUNDLE_MB",
                    )
                )
        return infos

    def read(
        self,
        zf: zipfile.ZipFile,
        info: zipfile.ZipInfo,
        where: str,
        keep: bool = True,
        limit: int | None = None,
        setting: str = "PLAYGROUND_MAX_FILE_MB",
    ) -> bytes:
        """A member's bytes (or, with ``keep=False``, just a check that it inflates to its declared size),
        counted against the total. ``zipfile`` stops at the declared size and checks the CRC, so a member
        cannot inflate past what its header says."""
        limit = self.per_member if limit is None else limit
        if info.file_size > limit:
            raise self.error(too_big(f"{where}: member {info.filename!r}", info.file_size, limit, setting))
        chunks, n = [], 0
        try:
            with zf.open(info) as f:
                while chunk := f.read(1 << 20):
                    n += len(chunk)
                    if n > info.file_size or n > limit:
                        raise self.error(
                            f"{where}: member {info.filename!r} inflates past its declared {info.file_size:,} bytes"
                        )
                    if keep:
                        chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            raise self.error(f"{where}: member {info.filename!r} cannot be read: {exc}") from None
        if n != info.file_size:
            raise self.error(
                f"{where}: member {info.filename!r} is {n:,} bytes, not the {info.file_size:,} its header declares"
            )
        self.used += n
        return b"".join(chunks)


def open_zip(data: bytes | Path, where: str, error: Error) -> zipfile.ZipFile:
    """A zip archive from bytes or a file; anything that is not a readable zip raises ``error``."""
    try:
        return zipfile.ZipFile(io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data)
    except FileNotFoundError:
        raise error(f"no such file: {where}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise error(f"{where} is not a readable zip archive (truncated or corrupt?): {exc}") from None
