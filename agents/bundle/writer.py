"""The one way a bundle folder is written: staged beside its destination, installed whole, or not at all."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from agents.bundle.manifest import MANIFEST
from agents.common.files import sha256_file


class ManifestLike(Protocol):
    """What the writer needs of a manifest: the files it lists (filled in by :meth:`BundleWriter.finish`) and
    its JSON (``agents.bundle.manifest.Manifest``, ``agents.bundle.match.MatchManifest``)."""

    files: dict[str, str]

    def to_json(self) -> dict[str, Any]: ...


class BundleWriter:
    """Stage a bundle in ``.<name>.writing`` next to ``out_dir``; on success the manifest (with the sha256 of
    every file) is written and the folder replaces ``out_dir``; on any failure the staging folder is removed
    and ``out_dir`` is left as it was::

        with BundleWriter(out_dir) as w:
            w.write_text("config.yml", text)
            ...
            w.finish(manifest)  # files are filled in; without finish() nothing is installed
    """

    def __init__(self, out_dir: Path, manifest_rel: str = MANIFEST, folders: tuple[str, ...] = ("evidence/replays",)):
        """:param manifest_rel: where the manifest goes (a two-player bundle's is ``manifest.json``)
        :param folders: folders made at the start"""
        self.out_dir = Path(out_dir)
        self.path = self.out_dir.with_name(f".{self.out_dir.name}.writing")
        self.manifest_rel = manifest_rel
        self.folders = folders
        self._manifest: ManifestLike | None = None

    def __enter__(self) -> BundleWriter:
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)
        for folder in self.folders:
            (self.path / folder).mkdir(parents=True, exist_ok=True)
        return self

    def write_text(self, rel: str, text: str) -> Path:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return p

    def write_json(self, rel: str, data: object, indent: int | None = 1) -> Path:
        return self.write_text(rel, json.dumps(data, indent=indent) + "\n")

    def copy(self, src: Path, rel: str) -> Path:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, p)
        return p

    def checksums(self) -> dict[str, str]:
        """sha256 of every staged file but the manifest."""
        return {
            str(p.relative_to(self.path)): sha256_file(p)
            for p in sorted(self.path.rglob("*"))
            if p.is_file() and str(p.relative_to(self.path)) != self.manifest_rel
        }

    def finish(self, manifest: ManifestLike) -> None:
        manifest.files = self.checksums()
        self.write_json(self.manifest_rel, manifest.to_json())
        self._manifest = manifest

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None or self._manifest is None:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        try:
            _install(self.path, self.out_dir)
        except BaseException:
            shutil.rmtree(self.path, ignore_errors=True)
            raise


def _install(tmp: Path, out_dir: Path) -> None:
    """Move the finished bundle into place, replacing an old one only once the new one is complete."""
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.rename(out_dir, old)
        os.rename(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, out_dir)
