"""Shared fixtures. Test media are built in the tests (see helpers.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import SHARED
from hypothesis import HealthCheck, settings

# No per-example deadline: a busy CI machine must not turn a slow example into a failure.
settings.register_profile("unseen", deadline=None)
# The long fuzz run (`make fuzz`): many examples per search, failures printed
# as reproducible blobs and kept in .hypothesis/ to be replayed first next time.
settings.register_profile(
    "fuzz",
    deadline=None,
    max_examples=200,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
settings.load_profile(os.environ.get("UNSEEN_HYPOTHESIS_PROFILE", "unseen"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``shared`` skip cleanly where ../shared/data is absent."""
    if SHARED.is_dir():
        return
    skip = pytest.mark.skip(reason=f"evaluation media not present at {SHARED}")
    for item in items:
        if "shared" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"evaluation media not present at {SHARED}")
    return SHARED


@pytest.fixture(scope="session", autouse=True)
def _model_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Models joined from their packages (Whisper base) go to a folder of the
    test session, not the user's cache (processes the tests start inherit it)."""
    if "UNSEEN_CACHE" not in os.environ:
        os.environ["UNSEEN_CACHE"] = str(tmp_path_factory.mktemp("unseen-cache"))
