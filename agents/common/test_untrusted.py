"""The readers of the trust boundary (agents/common/untrusted.py), one refusal at a time, and the limits
table of docs/security.md generated from the settings."""

import io
import os
import zipfile

import pytest

from agents.common import settings, untrusted
from agents.common.errors import BundleError


def test_security_doc_limits_table_is_generated_from_settings():
    doc = (settings.REPO_ROOT / "docs" / "security.md").read_text()
    assert settings.limits_table() in doc, "regenerate with: python -m agents.common.settings --update docs/security.md"
    assert all(f"`{s.name}`" in settings.limits_table() for s in settings.SETTINGS if s.limit)


@pytest.mark.parametrize(
    "text,why",
    [
        ("a: &x [1, 2]\nb: *x\n", "aliases and anchors"),
        ("a: &x 1\n", "aliases and anchors"),
        ("x: " + "[" * 40 + "]" * 40 + "\n", "nested more than 32 levels"),
        ("x: 1.0e+999\n", "not finite"),
        ("x: .nan\n", "not finite"),
        ("x: !!python/object/apply:os.system ['true']\n", "cannot be read as YAML safely"),
    ],
)
def test_yaml_refusals(text, why):
    with pytest.raises(BundleError, match=why):
        untrusted.parse_yaml(text, "config.yml", BundleError)


def test_yaml_plain_config_reads():
    assert untrusted.parse_yaml("n_steps: 128\npolicy_kwargs: {net_arch: [64, 64]}\n", "c", BundleError) == {
        "n_steps": 128,
        "policy_kwargs": {"net_arch": [64, 64]},
    }


@pytest.mark.parametrize(
    "raw,why",
    [
        (b'{"a": NaN}', "NaN is not a number"),
        (b'{"a": -Infinity}', "-Infinity is not a number"),
        (b'{"a": 1e400}', "1e400 is not finite"),
        (b'{"a": 123456789012345678901234567890}', "has 30 digits"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"[" * 40 + b"]" * 40, "nested more than 32 levels"),
        (b'{"a": ', "not valid JSON"),
    ],
)
def test_json_refusals(raw, why):
    with pytest.raises(BundleError, match=why):
        untrusted.parse_json(raw, "eval.json", BundleError)


def test_sizes_are_checked_before_reading(tmp_path, monkeypatch):
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(3 * 2**20)  # sparse: 3 MB that were never written
    monkeypatch.setenv("PLAYGROUND_MAX_JSON_MB", "1")
    opened = []
    real_open = open

    def spy(path, *args, **kwargs):
        opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    with pytest.raises(BundleError, match=r"is 3.0 MB, over the limit of 1.0 MB \(PLAYGROUND_MAX_JSON_MB"):
        untrusted.read_json(big, "eval.json", BundleError)
    assert str(big) not in opened, "refused before it was opened"


def test_links_and_special_files_are_refused(tmp_path):
    target = tmp_path / "outside.json"
    target.write_text("{}")
    (tmp_path / "link.json").symlink_to(target)
    with pytest.raises(BundleError, match="is a symbolic link"):
        untrusted.read_json(tmp_path / "link.json", "eval.json", BundleError)
    with pytest.raises(BundleError, match="not a regular file"):
        untrusted.read_json(tmp_path, "eval.json", BundleError)
    with pytest.raises(BundleError, match="is missing"):
        untrusted.read_json(tmp_path / "nope.json", "eval.json", BundleError)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_archive_members_are_bounded_by_inflated_size_nested_included(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MAX_FILE_MB", "1")
    monkeypatch.setenv("PLAYGROUND_MAX_BUNDLE_MB", "1.5")
    inner = _zip({"a": bytes(2**20 - 10)})  # 1 MB of zeros in a few KB
    outer = _zip({"inner.zip": inner, "b": bytes(600_000)})
    limits = untrusted.ArchiveLimits("x.zip", BundleError)
    zf = untrusted.open_zip(outer, "x.zip", BundleError)
    for info in limits.check_listing(zf, "x.zip"):
        data = limits.read(zf, info, "x.zip")
    assert len(data) == 600_000
    nested = untrusted.open_zip(zf.read("inner.zip"), "x.zip: inner.zip", BundleError)
    with pytest.raises(
        BundleError,
        match=r"once inflated \(with the archive around it\) is 1.6 MB, "
        r"over the limit of 1.5 MB \(PLAYGROUND_MAX_BUNDLE_MB",
    ):
        limits.check_listing(nested, "x.zip: inner.zip")  # 0.6 MB + its 1 MB: over 1.5 MB together
    with pytest.raises(BundleError, match=r"member 'big' once inflated is 2.0 MB, over the limit of 1.0 MB"):
        untrusted.ArchiveLimits("y.zip", BundleError).check_listing(
            untrusted.open_zip(_zip({"big": bytes(2 * 2**20)}), "y.zip", BundleError), "y.zip"
        )


def test_a_member_that_lies_about_its_size_is_refused():
    data = bytearray(_zip({"m": bytes(100_000)}))
    # the central directory's inflated size says 1,000 bytes: the reader stops there and the CRC fails
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24 : cd + 28] = (1000).to_bytes(4, "little")
    zf = untrusted.open_zip(bytes(data), "lie.zip", BundleError)
    limits = untrusted.ArchiveLimits("lie.zip", BundleError)
    with pytest.raises(BundleError, match=r"member 'm' cannot be read|inflates past"):
        limits.read(zf, limits.check_listing(zf, "lie.zip")[0], "lie.zip")
