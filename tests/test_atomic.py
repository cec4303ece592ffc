"""Outputs appear whole or not at all, and nothing is written outside --out."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from helpers import (
    astronaut,
    encoded,
    error_lines,
    jpeg_with_metadata,
    run_cli,
    sha256,
    snapshot,
)

import unseen
import unseen.api
import unseen.handlers.image
from unseen.errors import VerificationFailed


def _tree(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "sub" / "deeper" / "a.png").write_bytes(encoded(astronaut(96), "PNG"))
    return src


def _leftovers(folder: Path) -> list[str]:
    """Every private folder or temporary file of unseen's left under ``folder``."""
    return [p.name for p in folder.rglob(".unseen-*")]


def test_failed_check_leaves_no_temporary_file_and_no_empty_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Path] = []

    def reject(path: Path, *args: Any) -> None:
        seen.append(path)
        assert path.exists()
        raise VerificationFailed("rejected by the test", stage="verify")

    monkeypatch.setattr(unseen.handlers.image, "check_output", reject)
    report = unseen.anonymize([_tree(tmp_path)], tmp_path / "out")
    [result] = report.files
    assert (result.status, result.stage, result.error) == (
        "failed",
        "verify",
        "rejected by the test",
    )
    # The temporary file was written in a private folder inside the output
    # folder itself (same file system: linking it into place is atomic), then
    # the whole private folder was removed.
    [temporary] = seen
    assert temporary.parent.parent == tmp_path / "out" / "sub" / "deeper"
    assert temporary.parent.name.startswith(".unseen-")
    assert not temporary.parent.exists()
    assert list((tmp_path / "out").rglob("*")) == []


def test_the_private_folder_is_0700_while_it_exists_and_removed_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_encode = unseen.handlers.image.encode
    modes: dict[str, int] = {}

    def watching(decoded: Any, frames: Any, fmt: str, stream: BinaryIO) -> None:
        [private] = (tmp_path / "out" / "sub" / "deeper").glob(".unseen-*")
        modes["folder"] = private.stat().st_mode
        [temporary] = private.iterdir()
        modes["file"] = temporary.stat().st_mode
        real_encode(decoded, frames, fmt, stream)

    monkeypatch.setattr(unseen.handlers.image, "encode", watching)
    assert unseen.anonymize([_tree(tmp_path)], tmp_path / "out").ok
    assert stat.S_ISDIR(modes["folder"]) and modes["folder"] & 0o777 == 0o700
    assert stat.S_ISREG(modes["file"]) and modes["file"] & 0o777 == 0o600
    assert _leftovers(tmp_path) == []
    assert (tmp_path / "out" / "sub" / "deeper" / "a.png").is_file()


def test_failed_encoding_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def half_then_fail(decoded: Any, frames: Any, fmt: str, stream: BinaryIO) -> None:
        stream.write(b"\x89PNG\r\n\x1a\n half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(unseen.handlers.image, "encode", half_then_fail)
    (tmp_path / "out").mkdir()
    report = unseen.anonymize([_tree(tmp_path)], tmp_path / "out")
    assert report.files[0].error == "cannot write the output: No space left on device"
    assert report.files[0].stage == "write"
    assert list((tmp_path / "out").rglob("*")) == []


def test_an_output_that_does_not_decode_is_not_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that silently produces a cut-off file: the header reads back
    fine, the pixel data does not, and the check catches it."""
    real = unseen.handlers.image.encode

    def truncated(decoded: Any, frames: Any, fmt: str, stream: BinaryIO) -> None:
        whole = BytesIO()
        real(decoded, frames, fmt, whole)
        stream.write(whole.getvalue()[: len(whole.getvalue()) // 2])

    monkeypatch.setattr(unseen.handlers.image, "encode", truncated)
    (tmp_path / "out").mkdir()
    # JPEG: its header and EXIF come first, so only decoding the pixels fails.
    options = unseen.Options(format="jpeg")
    report = unseen.anonymize([_tree(tmp_path)], tmp_path / "out", options=options)
    assert report.files[0].status == "failed"
    assert report.files[0].stage == "verify"
    assert "does not decode" in (report.files[0].error or "")
    assert list((tmp_path / "out").rglob("*")) == []


def test_interruption_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(decoded: Any, frames: Any, fmt: str, stream: BinaryIO) -> None:
        stream.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(unseen.handlers.image, "encode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        unseen.anonymize([_tree(tmp_path)], tmp_path / "out")
    assert _leftovers(tmp_path) == []
    assert not any(p.is_file() for p in (tmp_path / "out").rglob("*"))


def test_interrupted_command_exits_130_and_leaves_nothing(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    code = (
        "import sys, unseen.handlers.image\n"
        "def boom(*args):\n"
        "    raise KeyboardInterrupt\n"
        "unseen.handlers.image.encode = boom\n"
        "from unseen.cli.main import main\n"
        "sys.argv = ['unseen', *sys.argv[1:]]\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "anonymize", str(src), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 130
    assert "interrupted: no partial output was left behind" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _leftovers(tmp_path) == []
    assert not any(p.is_file() for p in (tmp_path / "out").rglob("*"))


def test_cli_failures_leave_no_temporary_files(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    data = encoded(astronaut(96), "JPEG")
    (src / "truncated.jpg").write_bytes(data[: len(data) // 2])
    proc = run_cli("anonymize", src, "--out", tmp_path / "out")
    assert proc.returncode == 1
    assert len(error_lines(proc.stderr)) == 1
    assert _leftovers(tmp_path) == []
    assert not (tmp_path / "out" / "truncated.jpg").exists()


def test_a_refused_replacement_keeps_the_previous_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _tree(tmp_path)
    assert unseen.anonymize([src], tmp_path / "out").ok
    output = tmp_path / "out" / "sub" / "deeper" / "a.png"
    before = output.read_bytes()

    def reject(path: Path, *args: Any) -> None:
        raise VerificationFailed("rejected by the test", stage="verify")

    monkeypatch.setattr(unseen.handlers.image, "check_output", reject)
    assert not unseen.anonymize([src], tmp_path / "out", force=True).ok
    assert output.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_outputs_get_ordinary_permissions(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    assert unseen.anonymize([src], tmp_path / "out").ok
    umask = os.umask(0)
    os.umask(umask)
    mode = (tmp_path / "out" / "sub" / "deeper" / "a.png").stat().st_mode & 0o777
    assert mode == 0o666 & ~umask


def test_nothing_is_written_outside_the_output_folder(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jpg").write_bytes(jpeg_with_metadata(astronaut(128)))
    (src / "b.gif").write_bytes(encoded(astronaut(96), "GIF"))
    (src / "bad.jpg").write_bytes(b"not an image")
    home, temp, cwd = tmp_path / "home", tmp_path / "tmp", tmp_path / "cwd"
    for folder in (home, temp, cwd):
        folder.mkdir()
    watched = {"in": src, "home": home, "tmp": temp, "cwd": cwd}
    before = {name: snapshot(folder) for name, folder in watched.items()}
    env = {"HOME": str(home), "TMPDIR": str(temp), "XDG_CACHE_HOME": str(home / ".cache")}
    proc = run_cli("anonymize", src, "--out", tmp_path / "out", cwd=cwd, env=env)
    assert proc.returncode == 1  # bad.jpg
    inspected = run_cli("inspect", src / "a.jpg", cwd=cwd, env=env)
    assert inspected.returncode == 0
    assert {name: snapshot(folder) for name, folder in watched.items()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "home", "in", "out", "tmp"]
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written[:2] == ["a.jpg", "b.gif"]
    assert len(written) == 4 and all(n.startswith("unseen-report-") for n in written[2:])


def test_rerun_with_skip_existing_finishes_an_interrupted_run(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        (src / name).write_bytes(encoded(astronaut(96), "PNG"))
    out = tmp_path / "out"
    assert run_cli("anonymize", src, "--out", out, "--report", tmp_path / "r1.json").returncode == 0
    # As if the first run had been interrupted before b.png: its output never appeared.
    (out / "b.png").unlink()
    kept = {name: (out / name).stat().st_mtime_ns for name in ("a.png", "c.png")}
    digests = {name: sha256(out / name) for name in kept}
    report = tmp_path / "r2.json"
    proc = run_cli("anonymize", src, "--out", out, "--skip-existing", "--report", report)
    assert proc.returncode == 0, proc.stderr
    assert error_lines(proc.stderr) == []
    assert "1 processed, 2 skipped, 0 failed" in proc.stdout
    assert {name: (out / name).stat().st_mtime_ns for name in kept} == kept
    assert {name: sha256(out / name) for name in kept} == digests
    assert (out / "b.png").is_file()
    data = json.loads(report.read_text("utf-8"))
    assert {Path(f["input"]).name: f["status"] for f in data["files"]} == {
        "a.png": "skipped",
        "b.png": "ok",
        "c.png": "skipped",
    }
    assert data["summary"] == {
        "files": 3,
        "processed": 1,
        "skipped": 2,
        "failed": 0,
        "faces_masked": data["summary"]["faces_masked"],
        "verified": 1,
    }
    assert _leftovers(tmp_path) == []


def test_skip_existing_still_fails_bad_files_and_refuses_force(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    (src / "bad.jpg").write_bytes(b"not an image")
    out = tmp_path / "out"
    assert not unseen.anonymize([src], out).ok
    report = unseen.anonymize([src], out, skip_existing=True)
    assert [(f.status, f.error) for f in report.files] == [
        (
            "failed",
            "not a supported image, video or audio file (its content matches no known format)",
        ),
        ("skipped", None),
    ]
    assert not report.ok
    with pytest.raises(ValueError, match="exclude each other"):
        unseen.anonymize([src], out, force=True, skip_existing=True)
    both = run_cli("anonymize", src, "--out", out, "--force", "--skip-existing")
    assert both.returncode == 2
    assert "--force and --skip-existing exclude each other" in both.stderr
