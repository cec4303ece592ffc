"""Shared fixtures. Test media are built in the tests (see helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SHARED
from hypothesis import settings

# No per-example deadline: a busy CI machine must not turn a slow example into a failure.
settings.register_profile("unseen", deadline=None)
settings.load_profile("unseen")


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
