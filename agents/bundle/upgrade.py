"""``playground upgrade``: give an existing bundle the files other tools need (``docs/interop.md``), through the
bundle writer, without changing its evidence.

The bundle must verify first. Its weights, evidence and replays are copied byte for byte; what is (re)written
is what this version of the playground writes for a new bundle: ``config.yml`` with the RL Zoo's keys, ``args.yml``,
``env_kwargs.yml``, ``train_eval_metrics.zip``, ``vec_normalize.pkl`` (normalised games), ``policy.onnx`` and the
model card (same numbers, from the same evidence, plus ``## Usage``). The manifest keeps every field, records
the upgrade command and lists the new checksums. Reports under ``evidence/reproductions/`` carry their own
checksums and are moved over as they are.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from agents.bundle.bundle import Bundle
from agents.bundle.card import external_card, model_card
from agents.bundle.interop import VEC_NORMALIZE, hyperparameters, registered_env_id, write_interop_files
from agents.bundle.manifest import MANIFEST, REPRODUCTIONS
from agents.bundle.writer import BundleWriter
from agents.common.errors import BundleError
from agents.common.untrusted import parse_yaml

REWRITTEN = {"README.md", "config.yml", VEC_NORMALIZE, MANIFEST}
"""files an upgrade writes anew (plus the interop files); every other listed file is copied as it is"""


def upgrade_bundle(where: str | Path, command: str | None = None) -> tuple[Path, list[str]]:
    """Rewrite the bundle at ``where`` (a folder or a shipped game's slug) with the interop files; returns the
    folder and the files written. Raises BundleError if the bundle does not verify."""
    from agents.bundle.interop import INTEROP_FILES

    bundle = Bundle.open(where)
    failed = [c for c in bundle.verify() if not c.ok]
    if failed:
        raise BundleError(f"{bundle.path} does not verify ({failed[0].name}: {failed[0].detail}); it is not upgraded")
    spec, m = bundle.spec, bundle.manifest
    raw = parse_yaml(bundle.config_text(), "config.yml", BundleError)
    # the hyperparameters as trained (an upgraded bundle's Zoo keys are checked and dropped, then written anew)
    config = raw if bundle.is_external else hyperparameters(spec, raw, "config.yml")
    result = bundle.eval_result()
    skip = REWRITTEN | set(INTEROP_FILES)
    with BundleWriter(bundle.path) as w:
        for rel, path in bundle.files():
            if rel not in skip:
                w.copy(path, rel)
        metrics = {}
        if not bundle.is_external:
            seed = bundle.shipped_seed()
            metrics = {
                f"training-seed{seed}.csv": bundle.diagnostics_text(seed).encode(),
                f"eval-during-training-seed{seed}.csv": bundle.periodic_evals_text(seed).encode(),
            }
        else:
            metrics = {"README.txt": b"Imported by PPO Playground: no training curves.\n"}
        normalized = bundle.policy().normalizer is not None
        written = write_interop_files(w.path, spec, config, m.shipped_seed, metrics, normalized=normalized)
        config_text = (w.path / "config.yml").read_text()
        if bundle.is_external:
            card = external_card(spec, m, result, config, normalized)
        else:
            card = model_card(spec, m, result, bundle.health(), config_text)
        w.write_text("README.md", card)
        m.registered_env_id = registered_env_id(spec)
        m.commands = {**m.commands, "upgrade": command or f"playground upgrade {spec.slug}"}
        w.finish(m)
        # reports of reproductions have their own manifests; the bundle's does not list them
        reports = bundle.path / REPRODUCTIONS
        if reports.is_dir():
            shutil.copytree(reports, w.path / REPRODUCTIONS, symlinks=True)
    return bundle.path, [*written, "README.md", MANIFEST]


def main(argv: list[str] | None = None) -> int:
    """``python -m agents.bundle.upgrade <slug|folder> ...``: upgrade each bundle named, one line each."""
    import argparse
    import sys

    from envs.errors import PlaygroundError

    parser = argparse.ArgumentParser(prog="python -m agents.bundle.upgrade", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundles", nargs="+", help="bundle folders or game slugs (their shipped bundle)")
    args = parser.parse_args(argv)
    status = 0
    for where in args.bundles:
        try:
            path, written = upgrade_bundle(where, command=f"python -m agents.bundle.upgrade {where}")
            print(f"upgraded {path}: wrote {', '.join(written)}")
        except PlaygroundError as exc:
            print(f"error: {where}: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
