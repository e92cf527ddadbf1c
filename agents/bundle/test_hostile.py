"""A hostile corpus against `playground verify` and `playground import` (issue 18; docs/security.md).

Every case is generated here, small, from the shipped CartPole bundle and its SB3 zip: what a Hub repo
author, a checkpoint's author or whoever hands over a bundle folder could send. Each runs the real CLI
(``playground.cli.main``) in a child process whose address space is capped at 2 GB (``RLIMIT_AS``), with an
audit hook that records every file the process opens. For each case: the exit status, one line that says
what was wrong (no traceback), the peak memory (``ru_maxrss``) under 1 GB, and no file opened in the
``outside/`` folder that the hostile content points at.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from agents.bundle import MANIFEST
from agents.common.settings import REPO_ROOT

pytestmark = pytest.mark.slow

MEMORY_CAP = 2 * 2**30
"""the child's address space: a case that tries to allocate gigabytes fails instead of swapping the machine"""
PEAK_RSS = 2**30
"""no process over 1 GB (the issue's bar)"""
EXIT_FAILED = 1
"""`playground`'s status for a command that failed with a message (2 is a usage error)"""
CARTPOLE = REPO_ROOT / "models" / "cartpole"

RUNNER = r"""
import contextlib, io, json, os, resource, sys, traceback, warnings
cases_file, results_file, outside = sys.argv[1:4]
opened = []

def audit(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        opened.append(os.fsdecode(args[0]))

sys.addaudithook(audit)
warnings.simplefilter("ignore")
from playground.cli import main

for case in json.load(open(cases_file)):
    saved = {k: os.environ.get(k) for k in case["env"]}
    os.environ.update(case["env"])
    opened.clear()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(case["argv"])
        except SystemExit as exc:
            code = exc.code
        except BaseException:
            traceback.print_exc()
            code = "traceback"
    for k, v in saved.items():
        os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    outside_opened = sorted({p for p in opened if os.path.realpath(p).startswith(outside)})
    with open(results_file, "a") as f:
        f.write(json.dumps({"id": case["id"], "code": code, "stdout": out.getvalue(), "stderr": err.getvalue(),
                            "outside": outside_opened,
                            "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}) + "\n")
"""


# --- running the CLI on a batch of cases -------------------------------------------------------------------


def run_cases(cases: list[dict], tmp: Path, outside: Path, env: dict[str, str] | None = None) -> dict[str, dict]:
    """Run ``playground <argv>`` for every case in one child process (capped address space, audited opens);
    returns each case's exit status, output, peak memory and the files it opened under ``outside``."""
    cases_file, results_file = tmp / "cases.json", tmp / "results.jsonl"
    cases_file.write_text(json.dumps([{"env": {}, **c} for c in cases]))
    results_file.unlink(missing_ok=True)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING", "PLAYGROUND_"))}
    full = {**inherited, "PYTHONWARNINGS": "ignore", **(env or {})}

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(cases_file), str(results_file), str(outside.resolve())],
        capture_output=True,
        text=True,
        env=full,
        cwd=REPO_ROOT,
        timeout=1500,
        preexec_fn=cap,
    )
    lines = results_file.read_text().splitlines() if results_file.exists() else []
    results = {r["id"]: r for r in map(json.loads, lines)}
    missing = [c["id"] for c in cases if c["id"] not in results]
    assert not missing, f"the runner died before {missing}: {proc.returncode}\n{proc.stderr[-3000:]}"
    return results


def assert_refused(r: dict, *expected: str, code: int = EXIT_FAILED) -> str:
    """One case's bar: the exit status, no traceback, one error line (naming what was wrong), memory and
    files. Returns the error line."""
    everything = r["stdout"] + r["stderr"]
    assert "Traceback" not in everything and r["code"] != "traceback", everything[-3000:]
    assert r["code"] == code, (r["id"], r["code"], everything[-2000:])
    lines = r["stderr"].strip().splitlines()
    assert len(lines) == 1, (r["id"], r["stderr"])
    assert r["maxrss"] < PEAK_RSS, f"{r['id']}: peak memory {r['maxrss'] / 2**20:.0f} MB"
    assert r["outside"] == [], f"{r['id']} opened files outside the bundle: {r['outside']}"
    said = lines[0] + "\n" + "\n".join(x for x in r["stdout"].splitlines() if x.startswith("[FAIL]"))
    for e in expected:
        assert e in said, (r["id"], e, said)
    return said


# --- forging bundles -----------------------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def forge(
    dst: Path,
    edits: dict[str, bytes | None] | None = None,
    src: Path = CARTPOLE,
    rehash: bool = True,
    manifest_edit=None,
) -> Path:
    """A copy of a bundle with files replaced (``None`` removes one) and, as a careful forger would, the
    manifest's checksums updated; ``manifest_edit`` changes the manifest's JSON itself."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("reproductions"))
    m = json.loads((dst / MANIFEST).read_text())
    for rel, content in (edits or {}).items():
        if content is None:
            (dst / rel).unlink()
            m["files"].pop(rel, None)
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        (dst / rel).write_bytes(content)
        if rehash:
            m["files"][rel] = sha256(content)
    if manifest_edit:
        manifest_edit(m)
    (dst / MANIFEST).write_text(json.dumps(m))
    return dst


def edit_json(rel: str, edit, src: Path = CARTPOLE) -> bytes:
    d = json.loads((src / rel).read_text())
    d = edit(d) or d
    return json.dumps(d).encode()


def policy_json(edit) -> dict[str, bytes]:
    return {"policy.json": edit_json("policy.json", edit)}


def alias_bomb() -> bytes:
    """900 bytes of YAML that expand to 9**9 (387 million) strings when walked."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    lines.append("n_steps: *a8")
    return ("\n".join(lines) + "\n").encode()


def nan_weights(src: Path = CARTPOLE) -> bytes:
    import torch
    from safetensors.torch import load_file, save

    tensors = load_file(src / "policy.safetensors")
    name = sorted(tensors)[0]
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    return save(tensors)


def replay_with(edit) -> dict[str, bytes]:
    return {"evidence/replays/best.json": edit_json("evidence/replays/best.json", edit)}


def deep_json(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth


# --- verify ----------------------------------------------------------------------------------------------------

VERIFY_CASES = {
    # unbounded cost from a small file
    "config-alias-bomb": ({"config.yml": alias_bomb()}, ["config.yml", "aliases"]),
    "config-deep-yaml": ({"config.yml": b"x: " + b"[" * 5000 + b"]" * 5000 + b"\n"}, ["config.yml", "nested"]),
    "policy-20000-wide": (
        policy_json(lambda d: d["policy_kwargs"].update(net_arch=[20000, 20000])),
        ["PLAYGROUND_MAX_PARAMETERS"],
    ),
    "policy-deep-json": ({"policy.json": deep_json()}, ["policy.json", "nested"]),
    # accepting what cannot be used
    "nan-weights": ({"policy.safetensors": nan_weights()}, ["NaN"]),
    "another-games-policy": (
        {
            "policy.json": (REPO_ROOT / "models/acrobot/policy.json").read_bytes(),
            "policy.safetensors": (REPO_ROOT / "models/acrobot/policy.safetensors").read_bytes(),
        },
        ["made for another game"],
    ),
    "normaliser-wrong-length": (
        policy_json(
            lambda d: d.update(
                normalization={
                    "obs_mean": [0.0, 0.0, 0.0],
                    "obs_var": [1.0, 1.0, 1.0],
                    "clip_obs": 10.0,
                    "epsilon": 1e-8,
                }
            )
        ),
        ["normalization has 3 values"],
    ),
    "no-health-json": ({"evidence/health.json": None}, ["evidence complete", "evidence/health.json"]),
    "health-json-a-list": ({"evidence/health.json": b"[]"}, ["health.json", "not a JSON object"]),
    "replay-fractional-actions": (
        replay_with(lambda d: d.update(actions=[a + 0.4 for a in d["actions"]])),
        ["action 0 is", "outside CartPole's actions"],
    ),
    # malformed input that gave tracebacks
    "replay-action-text": (replay_with(lambda d: d["actions"].__setitem__(0, "x")), ["action 0 is 'x'"]),
    "replay-action-null": (replay_with(lambda d: d["actions"].__setitem__(0, None)), ["action 0 is None"]),
    "replay-action-inf": (
        {
            "evidence/replays/best.json": edit_json(
                "evidence/replays/best.json", lambda d: d["actions"].__setitem__(0, 1e308)
            ).replace(b"1e+308", b"1e400")
        },
        ["not finite"],
    ),
    "replay-seed-negative": (replay_with(lambda d: d.update(seed=-1)), ["seed -1 is not an integer"]),
    "replay-seed-1e400": (
        {
            "evidence/replays/best.json": edit_json("evidence/replays/best.json", lambda d: d.update(seed=1.5)).replace(
                b'"seed": 1.5', b'"seed": 1e400'
            )
        },
        ["not finite"],
    ),
    "policy-negative-layer": (policy_json(lambda d: d["policy_kwargs"].update(net_arch=[-64])), ["layer sizes"]),
}

HELD_VERIFY_CASES = {
    # refused with one line before this boundary too (by the bundle API's rewrite); kept as regression guards
    "manifest-glob-entry": (None, ["unsafe or malformed file entry '*'"]),
    "eval-without-summary": (
        {"evidence/eval.json": edit_json("evidence/eval.json", lambda d: d.pop("summary") and 0)},
        ["lacks 'summary'"],
    ),
    "policy-1e400-layer": (
        {
            "policy.json": edit_json("policy.json", lambda d: d["policy_kwargs"].update(net_arch=[1.5])).replace(
                b"1.5", b"1e400"
            )
        },
        ["policy.json", "not finite"],
    ),
    "policy-fractional-layer": (policy_json(lambda d: d["policy_kwargs"].update(net_arch=[64.5])), ["layer sizes"]),
    "policy-unknown-extractor-argument": (
        policy_json(lambda d: d["policy_kwargs"].update(features_extractor_kwargs={"features_dim": 64, "net": "x"})),
        ["FlattenExtractor takes no argument"],
    ),
    "policy-gsde-on-discrete": (policy_json(lambda d: d["policy_kwargs"].update(use_sde=True)), ["gSDE"]),
    "policy-kwargs-a-list": (
        policy_json(lambda d: d.update(policy_kwargs=[["net_arch", [64]]])),
        ["policy_kwargs is not an object"],
    ),
    "observation-space-a-list": (policy_json(lambda d: d.update(observation_space=[4])), ["malformed space"]),
    "reproduction-outside-paths": (None, ["unsafe or malformed file entry"]),
    "reproduction-dotdot-path": (None, ["unsafe or malformed file entry"]),
}


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> Path:
    """A folder outside every bundle, with files hostile content points at."""
    d = tmp_path_factory.mktemp("outside")
    (d / "secret.txt").write_text("a system file\n")
    shutil.copy(CARTPOLE / "policy.json", d / "policy.json")
    (d / "config.yml").write_text((CARTPOLE / "config.yml").read_text())
    return d


def _with_report(dst: Path, listed: str) -> Path:
    """A bundle with a reproduction report whose own manifest lists ``listed``."""
    b = forge(dst)
    report = b / "evidence" / "reproductions" / "20260101T000000Z-r"
    report.mkdir(parents=True)
    (report / "manifest.json").write_text(json.dumps({"files": {listed: "0" * 64}}))
    return b


@pytest.fixture(scope="module")
def verify_results(tmp_path_factory, outside):
    root = tmp_path_factory.mktemp("verify")
    cases = []
    for name, (edits, _) in {**VERIFY_CASES, **HELD_VERIFY_CASES}.items():
        if name == "manifest-glob-entry":
            forge(root / name, manifest_edit=lambda m: m["files"].update({"*": "0" * 64}))
        elif name == "reproduction-outside-paths":
            _with_report(root / name, str(outside / "secret.txt"))
        elif name == "reproduction-dotdot-path":
            report = root / name / "evidence" / "reproductions" / "20260101T000000Z-r"
            _with_report(root / name, os.path.relpath(outside / "secret.txt", report))
        else:
            forge(root / name, edits)
        cases.append({"id": name, "argv": ["verify", str(root / name)]})
    # checksum failed on a file verify would otherwise build: nothing is built
    forge(root / "policy-20000-wide-unhashed", VERIFY_CASES["policy-20000-wide"][0], rehash=False)
    cases.append({"id": "policy-20000-wide-unhashed", "argv": ["verify", str(root / "policy-20000-wide-unhashed")]})
    # symlinks out of the bundle, whose targets have the content the manifest expects
    b = forge(root / "symlinked-policy-json")
    (b / "policy.json").unlink()
    (b / "policy.json").symlink_to(outside / "policy.json")
    cases.append({"id": "symlinked-policy-json", "argv": ["verify", str(b)]})
    b = forge(root / "symlinked-config", {"config.yml": (outside / "config.yml").read_bytes()})
    (b / "config.yml").unlink()
    (b / "config.yml").symlink_to(outside / "config.yml")
    cases.append({"id": "symlinked-config", "argv": ["verify", str(b)]})
    # a listed file over PLAYGROUND_MAX_FILE_MB is refused before it is hashed or read
    forge(root / "file-over-the-limit", {"results.json": b" " * 300_000 + (CARTPOLE / "results.json").read_bytes()})
    cases.append(
        {
            "id": "file-over-the-limit",
            "argv": ["verify", str(root / "file-over-the-limit")],
            "env": {"PLAYGROUND_MAX_FILE_MB": "0.2"},
        }
    )
    return run_cases(cases, root, outside)


@pytest.mark.parametrize("case", sorted(VERIFY_CASES))
def test_verify_refuses(case, verify_results):
    said = assert_refused(verify_results[case], "verify FAILED", *VERIFY_CASES[case][1])
    assert "[FAIL]" in said


def test_verify_stops_at_a_failed_checksum_before_building_anything(verify_results):
    r = verify_results["policy-20000-wide-unhashed"]
    said = assert_refused(r, "verify FAILED", "policy.json was changed", "no file of this bundle was loaded")
    assert "policy loads" not in r["stdout"] and "replay" not in said


@pytest.mark.parametrize("case", ["symlinked-policy-json", "symlinked-config"])
def test_symlinks_out_of_the_bundle_are_refused(case, verify_results):
    assert_refused(verify_results[case], "verify FAILED", "is a symbolic link")


def test_a_file_over_the_limit_is_not_read(verify_results):
    assert_refused(verify_results["file-over-the-limit"], "verify FAILED", "results.json is", "PLAYGROUND_MAX_FILE_MB")


def test_what_held_before_still_holds(verify_results):
    """Cases the bundle API already refused with one line before this boundary (manifest paths, a missing
    summary, policy arguments SB3 rejects, reproduction paths out of the bundle): still refused, now with
    the cause named, nothing opened outside, and the answer never says whether an outside file exists."""
    for case, (_, expected) in HELD_VERIFY_CASES.items():
        r = verify_results[case]
        if case == "manifest-glob-entry":  # the manifest itself is refused: one error line
            said = assert_refused(r, *expected)
        else:
            said = assert_refused(r, "verify FAILED", *expected)
        assert "was changed" not in said and "is missing" not in said, (case, said)


def test_shipped_bundles_verify_through_the_same_checks():
    """The shipped bundles pass the same boundary (run on CartPole here; the CLI test covers the rest)."""
    from agents.bundle import Bundle

    checks = Bundle.open("cartpole").verify()
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    names = {c.name for c in checks}
    assert {"evidence complete for its origin", "config.yml", "health.json", "training curves of seed 1"} <= names


# --- import ------------------------------------------------------------------------------------------------------

SB3_ZIP = CARTPOLE / "ppo-CartPole-v1.zip"


def rewrite_zip(dst: Path, edit_data=None, replace: dict[str, bytes] | None = None, compress: bool = True) -> Path:
    """A copy of the shipped SB3 zip with its ``data`` JSON edited or members replaced."""
    with (
        zipfile.ZipFile(SB3_ZIP) as zin,
        zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zout,
    ):
        for info in zin.infolist():
            content = zin.read(info)
            if info.filename == "data" and edit_data:
                d = json.loads(content)
                d = edit_data(d) or d
                content = json.dumps(d).encode()
            if replace and info.filename in replace:
                content = replace[info.filename]
            zout.writestr(info.filename, content)
    return dst


def _raw_zip(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip written by hand: (name, bytes as stored, method, crc, inflated size) per member, so that a member
    can be a deflate stream that was never inflated here."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, data, method, crc, size in members:
        offset = out.tell()
        n = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size, len(n), 0))
        out.write(n + data)
        central.write(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                method,
                0,
                0x21,
                crc,
                len(data),
                size,
                len(n),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
        )
        central.write(n)
    cd = central.getvalue()
    start = out.tell()
    out.write(cd)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(cd), start, 0))
    return out.getvalue()


def torch_zip_bomb(inflated: int = 2**31) -> bytes:
    """``policy.pth`` as torch writes it, but with one storage declared as ``inflated`` bytes of zeros and
    stored deflated: about 2 MB that torch would inflate into one tensor of 2 GB."""
    import torch

    buf = io.BytesIO()
    torch.save({"action_net.weight": torch.zeros(1234)}, buf)
    members = []
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        for info in z.infolist():
            data = z.read(info)
            if info.filename.endswith("data.pkl"):
                numel = struct.pack("<i", inflated // 4)
                assert data.count(b"M\xd2\x04") == 2
                data = data.replace(b"M\xd2\x04", b"J" + numel)
            if info.filename.endswith("data/0"):
                co = zlib.compressobj(9, zlib.DEFLATED, -15)
                chunk = co.compress(bytes(1 << 20)) + co.flush(zlib.Z_FULL_FLUSH)
                stream = chunk * (inflated >> 20) + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
                # the CRC of 2 GB of zeros is not computed: a bounded reader must stop long before it
                members.append((info.filename, stream, zipfile.ZIP_DEFLATED, 0, inflated))
                continue
            members.append((info.filename, data, zipfile.ZIP_STORED, zlib.crc32(data), len(data)))
    return _raw_zip(members)


def _set(key, value):
    return lambda d: d.update({key: value})


def _kwargs(**kw):
    return lambda d: d.update(
        policy_kwargs={**{k: v for k, v in d["policy_kwargs"].items() if k.startswith(":")}, **kw}
    )


IMPORT_ZIPS = {
    "policy-kwargs-20000-wide": (dict(edit_data=_kwargs(net_arch=[20000, 20000])), ["PLAYGROUND_MAX_PARAMETERS"]),
    # stored, not deflated, around the nested archive: the outer zip's ratio check sees nothing unusual
    "policy-pth-deflate-bomb": (
        dict(replace={"policy.pth": None}, compress=False),
        ["policy.pth", "once inflated", "PLAYGROUND_MAX_FILE_MB"],
    ),
    "60mb-string-in-data": (
        dict(edit_data=_set("learning_rate", "A" * 60_000_000), compress=False),
        ["'data'", "PLAYGROUND_MAX_JSON_MB"],
    ),
    "100kb-string-hyperparameter": (
        dict(edit_data=_set("learning_rate", "A" * 100_000)),
        ["learning_rate is a 100,000-character string"],
    ),
    "huge-n-steps": (dict(edit_data=_set("n_steps", 10**12)), ["n_steps", "not an integer in 2..1048576"]),
    "n-steps-1e400": (dict(edit_data=_set("n_steps", 1.5)), ["not finite"]),
    "gsde-on-discrete": (dict(edit_data=_set("use_sde", True)), ["gSDE"]),
    "negative-layer": (dict(edit_data=_kwargs(net_arch=[-64])), ["layer sizes"]),
    "fractional-layer": (dict(edit_data=_kwargs(net_arch=[64.5])), ["layer sizes"]),
    "unknown-extractor-argument": (
        dict(edit_data=_kwargs(features_extractor_kwargs={"bogus": 1})),
        ["FlattenExtractor takes no argument 'bogus'"],
    ),
    "nan-weights": (dict(replace={"policy.pth": None}), ["NaN"]),
}


HELD_IMPORT_ZIPS = {
    # refused with one line before this boundary too; kept as regression guards
    "observation-space-a-list": (dict(edit_data=_set("observation_space", [4])), ["observation space is missing"]),
    "deep-space-shape": (
        dict(edit_data=lambda d: d["observation_space"].update(_shape="(" * 100_000)),
        ["has no readable size"],
    ),
}


def _nan_policy_pth() -> bytes:
    import torch

    with zipfile.ZipFile(SB3_ZIP) as z:
        state = torch.load(io.BytesIO(z.read("policy.pth")), weights_only=True)
    state = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in state.items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def import_results(tmp_path_factory, outside):
    root = tmp_path_factory.mktemp("import")
    data = root / "data"
    cases = []
    for name, (how, _) in {**IMPORT_ZIPS, **HELD_IMPORT_ZIPS}.items():
        how = dict(how)
        if name == "policy-pth-deflate-bomb":
            bomb = torch_zip_bomb()
            with zipfile.ZipFile(io.BytesIO(bomb)) as z:  # the case is what it says: 2 GB declared in ~2 MB
                assert len(bomb) < 3 * 2**20 and max(i.file_size for i in z.infolist()) == 2**31
            how["replace"] = {"policy.pth": bomb}
        if name == "nan-weights":
            how["replace"] = {"policy.pth": _nan_policy_pth()}
        z = rewrite_zip(root / f"{name}.zip", **how)
        if name == "n-steps-1e400":
            with zipfile.ZipFile(z) as zin:
                raw = zin.read("data").replace(b'"n_steps": 1.5', b'"n_steps": 1e400')
            rewrite_zip(z, replace={"data": raw})
        cases.append(
            {
                "id": name,
                "argv": ["import", str(z), "--game", "cartpole", "--episodes", "2", "--out", str(root / "out" / name)],
            }
        )
    # RL Zoo run folders: a config.yml that is a symlink out of the folder, and an alias bomb
    for name, config in (("zoo-symlinked-config", None), ("zoo-config-alias-bomb", alias_bomb())):
        run = root / name / "CartPole-v1_1"
        (run / "CartPole-v1").mkdir(parents=True)
        shutil.copy(SB3_ZIP, run / "CartPole-v1.zip")
        if config is None:
            (run / "CartPole-v1" / "config.yml").symlink_to(outside / "config.yml")
        else:
            (run / "CartPole-v1" / "config.yml").write_bytes(config)
        cases.append(
            {
                "id": name,
                "argv": [
                    "import",
                    str(run),
                    "--game",
                    "cartpole",
                    "--episodes",
                    "2",
                    "--out",
                    str(root / "out" / name),
                ],
            }
        )
    results = run_cases(cases, root, outside, env={"PLAYGROUND_DATA": str(data)})
    results["_root"] = {"out": root / "out", "data": data}
    return results


@pytest.mark.parametrize("case", sorted(IMPORT_ZIPS))
def test_import_refuses(case, import_results):
    assert_refused(import_results[case], *IMPORT_ZIPS[case][1])
    root = import_results["_root"]
    assert not (root["out"] / case).exists(), "a refused import writes nothing"
    assert not (root["data"] / "agents.json").exists(), "and registers nothing"


def test_import_refuses_a_zoo_config_linked_from_outside(import_results):
    assert_refused(import_results["zoo-symlinked-config"], "config.yml is a symbolic link")


def test_import_refuses_a_zoo_config_alias_bomb(import_results):
    assert_refused(import_results["zoo-config-alias-bomb"], "aliases and anchors")


def test_import_what_held_before_still_holds(import_results):
    for case, (_, expected) in HELD_IMPORT_ZIPS.items():
        assert_refused(import_results[case], *expected)
