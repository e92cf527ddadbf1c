"""Fixtures shared by the hub tests."""

import pytest


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A user's machine: huggingface_hub's home (cache, no saved token) and the playground's data dir."""
    h = tmp_path_factory.mktemp("home")
    return {
        "HF_HOME": str(h / "hf"),
        "PLAYGROUND_DATA": str(h / "data"),
        "PLAYGROUND_CACHE": str(h / "cache"),
        "HOME": str(h),
    }
