"""End to end: `unseen anonymize` and `unseen inspect` run as a user runs them,
on real faces, checked by what ends up on disk and on the terminal."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import (
    astronaut,
    astronaut_face,
    contains,
    core,
    crowd,
    error_lines,
    inner_ellipse,
    jpeg_with_metadata,
    outside_boxes,
    pixels,
    report_of,
    run_cli,
    sha256,
    snapshot,
)
from PIL import Image

import unseen
from unseen.media.sniff import sniff

SUMMARY = re.compile(r"^(\d+) processed, (\d+) failed, (\d+) faces masked$", re.M)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small folder of real faces in three formats and nested folders, protected once."""
    root = tmp_path_factory.mktemp("cli")
    src = root / "photos"
    (src / "trip" / "day 1").mkdir(parents=True)
    astronaut(256).save(src / "astronaut.jpg", quality=95)
    group, faces = crowd(4, 64)
    group.save(src / "trip" / "day 1" / "group.png")
    astronaut(192).save(src / "trip" / "portrait.webp", quality=95)
    truth = {
        "astronaut.jpg": [astronaut_face(256)],
        "trip/day 1/group.png": faces,
        "trip/portrait.webp": [astronaut_face(192)],
    }
    before = snapshot(src)
    proc = run_cli("anonymize", src, "--out", root / "safe")
    return {
        "root": root,
        "src": src,
        "out": root / "safe",
        "proc": proc,
        "truth": truth,
        "before": before,
    }


def test_a_folder_is_protected_with_exit_code_0_and_a_summary(photos: dict[str, Any]) -> None:
    proc = photos["proc"]
    assert proc.returncode == 0, proc.stderr
    assert error_lines(proc.stderr) == []
    match = SUMMARY.search(proc.stdout)
    assert match, proc.stdout
    processed, failed, faces = (int(g) for g in match.groups())
    assert (processed, failed) == (3, 0)
    assert faces == report_of(photos["out"])["summary"]["faces_masked"] >= 6
    assert f"outputs: {photos['out']}" in proc.stdout
    assert "report:  " in proc.stdout


def test_outputs_mirror_the_input_folders(photos: dict[str, Any]) -> None:
    out: Path = photos["out"]
    written = {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and not p.name.startswith("unseen-report-")
    }
    assert written == set(photos["truth"])


def test_inputs_are_untouched(photos: dict[str, Any]) -> None:
    assert snapshot(photos["src"]) == photos["before"]


def test_report_describes_every_file(photos: dict[str, Any]) -> None:
    report = report_of(photos["out"])
    assert report["schema"] == "unseen.report/2"
    assert report["options"]["fill"] == "solid"
    assert report["summary"] == {
        "files": 3,
        "processed": 3,
        "skipped": 0,
        "failed": 0,
        "faces_masked": sum(f["faces_masked"] for f in report["files"]),
        "verified": 3,
    }
    by_name = {Path(f["input"]).relative_to(photos["src"]).as_posix(): f for f in report["files"]}
    assert set(by_name) == set(photos["truth"])
    for name, entry in by_name.items():
        assert entry["status"] == "ok"
        assert entry["error"] is None
        assert Path(entry["output"]) == photos["out"] / name
        with Image.open(entry["output"]) as image:
            assert entry["size"] == list(image.size)
            assert entry["format"] == image.format
        assert entry["frames"] == 1
        assert entry["faces_masked"] == len(entry["regions"]) >= len(photos["truth"][name])
        width, height = entry["size"]
        for region in entry["regions"]:
            x1, y1, x2, y2 = region["box"]
            assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
            assert region["frame"] == 0
            assert region["shape"] == "box"
            assert isinstance(region["detector"], str) and region["detector"]
            assert 0.0 < region["score"] <= 1.0
            fx1, fy1, fx2, fy2 = region["face"]
            # The painted area is the face grown by the margins, clipped to the image.
            assert x1 <= fx1 + 1 and y1 <= fy1 + 1 and x2 >= fx2 - 1 and y2 >= fy2 - 1


def test_every_face_is_covered_by_a_reported_mask(photos: dict[str, Any]) -> None:
    for entry in report_of(photos["out"])["files"]:
        name = Path(entry["input"]).relative_to(photos["src"]).as_posix()
        boxes = [r["box"] for r in entry["regions"]]
        for face in photos["truth"][name]:
            assert any(contains(box, core(face)) for box in boxes), (name, face, boxes)


def test_pixels_change_decisively_where_the_report_says_and_nowhere_else(
    photos: dict[str, Any],
) -> None:
    for entry in report_of(photos["out"])["files"]:
        before = pixels(Path(entry["input"]))
        after = pixels(Path(entry["output"]))
        assert before.shape == after.shape
        boxes = [r["box"] for r in entry["regions"]]
        for box in boxes:
            inside = inner_ellipse(after.shape, box)
            # Solid black fill: the face is gone, not blurred.
            assert np.abs(after - before)[inside].mean() > 60, (entry["input"], box)
            assert after[inside].mean() < 20, (entry["input"], box)
        outside = outside_boxes(after.shape, boxes, pad=8)
        change = np.abs(after - before)[outside].mean()
        if entry["format"] == "PNG":
            assert change == 0
        else:
            assert change < 4, entry["input"]


def test_faces_cannot_be_found_again_in_the_output(photos: dict[str, Any]) -> None:
    for entry in report_of(photos["out"])["files"]:
        found = unseen.inspect(entry["output"]).faces or ()
        boxes = [r["box"] for r in entry["regions"]]
        # 0.3, not the masking threshold: a mask's head-shaped silhouette alone
        # scores about 0.25, while the faces in these images score 0.8 to 0.9.
        for face in found:
            if face.score >= 0.3:
                assert not any(contains(box, core(face.face, 0.5)) for box in boxes), face


def test_existing_outputs_are_refused_without_force(tmp_path: Path) -> None:
    astronaut(160).save(tmp_path / "a.jpg")
    first = run_cli("anonymize", tmp_path / "a.jpg", "--out", tmp_path / "out")
    assert first.returncode == 0, first.stderr
    output = tmp_path / "out" / "a.jpg"
    kept = sha256(output)
    again = run_cli("anonymize", tmp_path / "a.jpg", "--out", tmp_path / "out", "--fill", "noise")
    assert again.returncode == 1
    [line] = error_lines(again.stderr)
    assert str(tmp_path / "a.jpg") in line
    assert "already exists" in line and "--force" in line
    assert SUMMARY.search(again.stdout).groups()[:2] == ("0", "1")  # type: ignore[union-attr]
    assert sha256(output) == kept
    # Both runs kept their report, even within the same second.
    assert len(list((tmp_path / "out").glob("unseen-report-*.json"))) == 2


def test_force_replaces_existing_outputs(tmp_path: Path) -> None:
    astronaut(160).save(tmp_path / "a.png")
    assert run_cli("anonymize", tmp_path / "a.png", "--out", tmp_path / "out").returncode == 0
    output = tmp_path / "out" / "a.png"
    solid = pixels(output)
    proc = run_cli(
        "anonymize", tmp_path / "a.png", "--out", tmp_path / "out", "--force", "--fill", "noise"
    )
    assert proc.returncode == 0, proc.stderr
    noisy = pixels(output)
    assert not np.array_equal(solid, noisy)
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".unseen-")] == []


@pytest.mark.parametrize(
    ("source", "fmt", "suffix", "detected"),
    [
        ("a.jpg", "png", ".png", "PNG"),
        ("a.png", "jpg", ".jpg", "JPEG"),
        ("a.png", "webp", ".webp", "WEBP"),
        ("a.jpg", "heic", ".heic", "HEIF"),
    ],
)
def test_format_option_converts_and_changes_the_suffix(
    tmp_path: Path, source: str, fmt: str, suffix: str, detected: str
) -> None:
    astronaut(160).save(tmp_path / source)
    proc = run_cli(
        "anonymize", tmp_path / source, "--out", tmp_path / "out", "--format", fmt, "--quiet"
    )
    assert proc.returncode == 0, proc.stderr
    output = (tmp_path / "out" / source).with_suffix(suffix)
    assert sorted(
        p.name for p in (tmp_path / "out").iterdir() if p.suffix not in (".json", ".html")
    ) == [output.name]
    assert sniff(output.read_bytes()[:64]) == ("image", detected)
    [entry] = report_of(tmp_path / "out")["files"]
    assert entry["format"] == detected
    assert entry["output"] == str(output)
    assert entry["faces_masked"] == 1


def test_rgba_converted_to_jpeg_is_flattened_not_revealed(tmp_path: Path) -> None:
    # Transparent pixels can hold anything; a format without alpha must not show them.
    image = astronaut(160).convert("RGBA")
    hidden = np.asarray(image).copy()
    hidden[:40, :, 3] = 0
    Image.fromarray(hidden).save(tmp_path / "a.png")
    proc = run_cli("anonymize", tmp_path / "a.png", "--out", tmp_path / "out", "--format", "jpg")
    assert proc.returncode == 0, proc.stderr
    out = pixels(tmp_path / "out" / "a.jpg")
    assert out[:30].mean() > 245  # flattened onto white


def test_weak_fills_warn(tmp_path: Path) -> None:
    astronaut(128).save(tmp_path / "a.png")
    proc = run_cli("anonymize", tmp_path / "a.png", "--out", tmp_path / "out", "--fill", "blur")
    assert proc.returncode == 0
    assert "warning: --fill blur is reversible" in proc.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    astronaut(128).save(tmp_path / "a.png")
    assert run_cli("anonymize", tmp_path / "a.png").returncode == 2  # no --out
    bad = run_cli("anonymize", tmp_path / "a.png", "--out", tmp_path / "o", "--fill", "paint")
    assert bad.returncode == 2
    assert not (tmp_path / "o").exists()


def test_explicit_report_path(tmp_path: Path) -> None:
    astronaut(128).save(tmp_path / "a.png")
    report = tmp_path / "reports" / "run.json"
    proc = run_cli("anonymize", tmp_path / "a.png", "--out", tmp_path / "o", "--report", report)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(report.read_text())["summary"]["processed"] == 1
    assert f"report:  {report}" in proc.stdout
    assert list((tmp_path / "o").glob("*.json")) == []
    assert f"         {report.with_suffix('.html')}" in proc.stdout
    assert "<!DOCTYPE html>" in report.with_suffix(".html").read_text("utf-8")


def test_inspect_lists_metadata_by_group_and_the_thumbnail(tmp_path: Path) -> None:
    photo = tmp_path / "phone.jpg"
    photo.write_bytes(jpeg_with_metadata(astronaut(256)))
    before = snapshot(tmp_path)
    proc = run_cli("inspect", photo)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.startswith(f"{photo}: JPEG 256x256, 1 frame(s)")
    assert re.search(r"^  faces: [1-9]", text, re.M)
    for group in ("EXIF:IFD0", "EXIF:Exif", "EXIF:GPS", "XMP", "IPTC", "Comment", "Container"):
        assert re.search(rf"^    {re.escape(group)}$", text, re.M), group
    assert "Make = UnseenTestCam" in text
    assert "GPSLatitude = " in text
    assert "MakerNote = " in text
    assert re.search(r"^    EXIF thumbnail", text, re.M)
    assert "JPEG appended after the image" in text
    assert snapshot(tmp_path) == before  # inspect writes nothing


def test_inspect_json(tmp_path: Path) -> None:
    photo = tmp_path / "phone.jpg"
    photo.write_bytes(jpeg_with_metadata(astronaut(256)))
    proc = run_cli("inspect", "--json", "--no-faces", photo)
    assert proc.returncode == 0, proc.stderr
    [found] = json.loads(proc.stdout)
    assert found["path"] == str(photo)
    assert found["faces"] is None
    groups = {m["group"] for m in found["metadata"] if m["identifying"]}
    assert {"EXIF:IFD0", "EXIF:GPS", "EXIF:Exif", "XMP", "IPTC", "Comment"} <= groups
    assert "EXIF thumbnail" in {e["kind"] for e in found["embedded_images"]}


def test_inspect_of_a_clean_output_finds_nothing(tmp_path: Path) -> None:
    photo = tmp_path / "phone.jpg"
    photo.write_bytes(jpeg_with_metadata(astronaut(256)))
    assert run_cli("anonymize", photo, "--out", tmp_path / "out").returncode == 0
    proc = run_cli("inspect", "--json", tmp_path / "out" / "phone.jpg")
    [found] = json.loads(proc.stdout)
    assert [m for m in found["metadata"] if m["identifying"]] == []
    assert found["embedded_images"] == []
    # A black mask's silhouette alone scores well below a face (0.9).
    assert [f for f in found["faces"] if f["score"] >= 0.5] == []


def test_inspect_of_a_bad_file_fails_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "note.jpg").write_text("not a photo")
    astronaut(64).save(tmp_path / "ok.png")
    proc = run_cli("inspect", "--no-faces", tmp_path / "note.jpg", tmp_path / "ok.png")
    assert proc.returncode == 1
    [line] = error_lines(proc.stderr)
    assert line.startswith(f"error: {tmp_path / 'note.jpg'}: ")
    assert f"{tmp_path / 'ok.png'}: PNG 64x64" in proc.stdout


def test_version_and_help() -> None:
    assert "unseen, version" in run_cli("--version").stdout
    text = run_cli("anonymize", "--help").stdout
    for option in ("--out", "--force", "--fill", "--format", "--frames", "--report"):
        assert option in text


def test_the_command_line_options_come_from_the_settings_table() -> None:
    from unseen.config import SETTINGS, Options
    from unseen.media.image import FORMATS

    fields = {f.name for f in dataclasses.fields(Options)}
    assert {s.field for s in SETTINGS} <= fields
    [fmt] = [s for s in SETTINGS if s.field == "format"]
    assert set(fmt.choices) == {f.lower() for f in FORMATS}
    text = run_cli("anonymize", "--help").stdout + run_cli("plan", "--help").stdout
    for setting in SETTINGS:
        assert text.count(setting.flag) >= 2, setting.flag
