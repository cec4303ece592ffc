"""The public library: what it exports, and that it neither prints nor exits."""

from __future__ import annotations

import json
import logging
import re
import types
from pathlib import Path

import pytest
from helpers import REPO, astronaut, encoded, jpeg_with_metadata

import unseen
from unseen import config, errors

PUBLIC = [
    "CorruptMedia",
    "FileResult",
    "Finding",
    "InputError",
    "Inspection",
    "LimitExceeded",
    "MaskRegion",
    "ModelMissing",
    "Options",
    "OutputError",
    "Plan",
    "RunReport",
    "UnseenError",
    "UnsupportedFormat",
    "Verification",
    "VerificationFailed",
    "__version__",
    "anonymize",
    "apply",
    "inspect",
    "iter_anonymize",
    "plan",
    "verify_file",
]


def test_public_names_are_exactly_the_curated_list() -> None:
    assert sorted(unseen.__all__) == PUBLIC
    for name in PUBLIC:
        assert hasattr(unseen, name), name
    # Nothing else public leaks out of the package namespace (submodules aside).
    extra = {
        name
        for name, value in vars(unseen).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert extra <= set(PUBLIC)


def test_public_functions_are_documented() -> None:
    for name in (
        "anonymize",
        "apply",
        "inspect",
        "iter_anonymize",
        "plan",
        "verify_file",
        "Options",
        "RunReport",
        "FileResult",
        "Verification",
        "UnseenError",
    ):
        assert (getattr(unseen, name).__doc__ or "").strip(), name


def test_error_tree() -> None:
    assert issubclass(unseen.InputError, unseen.UnseenError)
    for name in ("UnsupportedFormat", "CorruptMedia", "LimitExceeded"):
        assert issubclass(getattr(unseen, name), unseen.InputError)
    for name in ("OutputError", "ModelMissing", "VerificationFailed"):
        assert issubclass(getattr(unseen, name), unseen.UnseenError)
        assert not issubclass(getattr(unseen, name), unseen.InputError)
    error = unseen.CorruptMedia("the file is empty", path="a.jpg", stage="read")
    assert (error.reason, error.path, error.stage) == ("the file is empty", "a.jpg", "read")
    assert str(error) == "the file is empty [read]"
    # Every class is drawn in the module docstring.
    for name in PUBLIC:
        value = getattr(unseen, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert name in (errors.__doc__ or ""), name


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jpg").write_bytes(jpeg_with_metadata(astronaut(128)))
    (src / "b.png").write_bytes(encoded(astronaut(96), "PNG"))
    (src / "empty.jpg").write_bytes(b"")
    (src / "notes.jpg").write_text("text")
    return src


def test_library_never_prints_logs_or_exits(
    mixed: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    report = unseen.anonymize([mixed], tmp_path / "out")  # bad files do not raise
    assert [f.status for f in report.files] == ["ok", "ok", "failed", "failed"]
    found = unseen.inspect(mixed / "a.jpg")
    assert found.identifying
    with pytest.raises(unseen.CorruptMedia):
        unseen.inspect(mixed / "empty.jpg")
    (tmp_path / "file").write_text("")
    with pytest.raises(unseen.OutputError):
        unseen.anonymize([mixed], tmp_path / "file")
    out, err = capfd.readouterr()  # file descriptors: C libraries included
    assert (out, err) == ("", "")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_progress_is_reported_once_per_file_in_order(mixed: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    report = unseen.anonymize(
        [mixed],
        tmp_path / "out",
        progress=lambda done, total, result: calls.append((done, total, result.status)),
    )
    assert calls == [(i + 1, 4, f.status) for i, f in enumerate(report.files)]


def test_report_round_trips_through_json(mixed: Path, tmp_path: Path) -> None:
    report = unseen.anonymize([mixed], tmp_path / "out")
    data = json.loads(json.dumps(report.to_dict()))
    faces = sum(len(f.regions) for f in report.files)
    assert data["summary"] == {
        "files": 4,
        "processed": 2,
        "skipped": 0,
        "failed": 2,
        "faces_masked": faces,
        "verified": 2,
    }
    assert faces >= 2
    assert report.ok is False
    assert {f.input for f in report.failed} == {str(mixed / "empty.jpg"), str(mixed / "notes.jpg")}


def test_every_report_field_is_documented(mixed: Path, tmp_path: Path) -> None:
    doc = (REPO / "docs" / "report.md").read_text()
    documented = set(re.findall(r"`(?:[\w.]+\[\]\.)?(\w+)`", doc)) | set(
        re.findall(r'"(\w+)":', doc)
    )
    report = unseen.anonymize([mixed], tmp_path / "out").to_dict()
    entry = next(f for f in report["files"] if f["regions"])
    keys = {*report, *report["summary"], *entry, *entry["regions"][0]}
    assert keys - documented == set()


def test_every_limit_is_documented() -> None:
    doc = (REPO / "docs" / "limits.md").read_text()
    for name in (
        "max_pixels",
        "max_frames",
        "max_total_pixels",
        "max_file_bytes",
        "max_video_pixels",
    ):
        default = getattr(config.Options(), name)
        assert f"`{name}`" in doc, name
        assert f"{default:,}" in doc, (name, default)
    assert f"{config.TILE_SIZE} x {config.TILE_SIZE}" in doc
    assert f"{config.TILE_OVERLAP} pixels" in doc
