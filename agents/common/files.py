"""Small file helpers every package uses: checksums, atomic writes, JSON and CSV reading."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from envs.errors import PlaygroundError

NON_NUMERIC_COLUMNS = ("seeds", "returns", "lengths")
"""CSV columns that hold lists as text (eval.csv) and are kept as strings"""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader (or a kill) sees the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path, what: str, error: type[PlaygroundError] = PlaygroundError) -> Any:
    """The JSON in ``path``; a missing or malformed file raises ``error`` naming ``what``."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise error(f"{what} is missing: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise error(f"{what} is not valid JSON ({path}): {exc}") from None


def read_csv_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV with numbers as floats (empty cells as NaN), list columns kept as text."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in r.items():
            if k in NON_NUMERIC_COLUMNS:
                r[k] = v if v != "" else float("nan")
                continue
            try:
                r[k] = float(v) if v not in ("", None) else float("nan")
            except ValueError:
                pass
    return rows
