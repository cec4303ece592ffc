"""Verification must be able to fail: each kind of leak is planted in an
output, and the real checks must catch it and release nothing.

Only the stage that would make the mistake is replaced (masking that skips a
face, a fill that barely blurs, an encoder that writes a GPS tag or a
thumbnail); the detectors, recognizers and metadata reader that catch it are
the real ones.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import (
    astronaut,
    crowd,
    encoded,
    exif_segment,
    exif_tiff,
    report_of,
    run_cli,
    thumbnail_of,
)
from PIL import Image, ImageFilter

import unseen
import unseen.api
import unseen.handlers.image
import unseen.mask.apply
import unseen.plans
from unseen.cli.main import main
from unseen.types import Detections, MaskRegion
from unseen.verify import load_attackers, verify_frame


@pytest.fixture(scope="module")
def attackers() -> Any:
    return load_attackers()


def _source(tmp_path: Path, image: Image.Image, name: str = "photo.jpg") -> Path:
    src = tmp_path / "in"
    src.mkdir(exist_ok=True)
    path = src / name
    path.write_bytes(encoded(image, "JPEG", quality=95))
    return path


def _released(out: Path) -> list[str]:
    return sorted(p.name for p in out.rglob("*") if not p.name.startswith("unseen-report-"))


def _light_blur(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(2))


# --- the frame-level API -----------------------------------------------------------------


def _region(box: tuple[int, int, int, int], face: tuple[int, int, int, int]) -> MaskRegion:
    return MaskRegion(0, "box", box, tuple(float(v) for v in face), 0.9, "test")  # type: ignore[arg-type]


def test_a_solid_mask_passes_and_the_unmasked_face_fails(attackers: Any) -> None:
    original = np.asarray(astronaut(256))
    face = (90, 27, 135, 90)
    region = _region((70, 5, 155, 105), face)
    masked = original.copy()
    masked[5:105, 70:155] = 0
    passed = verify_frame(original, masked, [region], 7, attackers=attackers)
    assert passed.passed, passed.summary()
    [score] = passed.faces
    assert score.before > score.threshold > score.after
    leaked = verify_frame(original, original, [region], 7, attackers=attackers)
    assert [(f.check, f.frame, f.box) for f in leaked.findings] == [
        ("face-structure", 7, region.box),
        ("reidentification", 7, region.box),
    ]
    assert "sface still matches the face (similarity 1.00" in leaked.findings[1].detail


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 0, 255), (128, 128, 128), (210, 170, 150)])
def test_a_solid_fill_of_any_colour_scores_as_its_context_reference(
    attackers: Any, monkeypatch: pytest.MonkeyPatch, colour: tuple[int, int, int]
) -> None:
    """Recognizers score flat patches erratically (SFace gives a solid mask
    over one background 0.37 in magenta and -0.08 in black). The reference
    that says what painting the place alone leaves is painted in the
    output's own colour, so a solid fill never counts as a match, while a
    light blur scores far above its reference."""
    [sface] = [r for r in attackers.recognizers if r.name == "sface"]
    monkeypatch.setattr(sface, "threshold", -1.0)  # the reference is computed for every face
    original = np.asarray(astronaut(256))
    region = _region((70, 5, 155, 105), (90, 27, 135, 90))
    masked = original.copy()
    masked[5:105, 70:155] = colour
    [solid] = verify_frame(original, masked, [region], attackers=attackers).faces
    assert solid.context == pytest.approx(solid.after, abs=1e-4)
    # As a JPEG, whose ringing at the mask's edges must not make the
    # reference a noisy patch (it once scored 0.15 against the output's 0.47).
    lossy = np.asarray(Image.open(io.BytesIO(encoded(Image.fromarray(masked), "JPEG"))))
    [jpeg] = verify_frame(original, lossy, [region], attackers=attackers).faces
    assert jpeg.context == pytest.approx(jpeg.after, abs=0.05)
    blurred = original.copy()
    blurred[5:105, 70:155] = np.asarray(_light_blur(Image.fromarray(original)))[5:105, 70:155]
    [blur] = verify_frame(original, blurred, [region], attackers=attackers).faces
    assert blur.context is not None and blur.after > blur.context + 0.1


def test_a_noise_fill_carries_no_structure_and_matches_its_reference(
    attackers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Noise masks once failed one crowd photo in ten: on small faces SFace
    scored them 0.4-0.6 against a flat reference, and their random 6x6
    cells crossed the structure limit now and then."""
    from unseen.verify.faces import structure

    [sface] = [r for r in attackers.recognizers if r.name == "sface"]
    monkeypatch.setattr(sface, "threshold", -1.0)  # the reference is computed for every face
    original = np.asarray(astronaut(192))
    face = (68, 20, 101, 68)
    region = _region((61, 6, 108, 75), face)
    rng = np.random.default_rng(7)
    for _ in range(5):
        masked = original.copy()
        masked[6:75, 61:108] = rng.integers(0, 256, (69, 47, 3), dtype=np.uint8)
        assert structure(original, masked, face) == 0.0
        [score] = verify_frame(original, masked, [region], attackers=attackers).faces
        assert score.context is not None and score.after - score.context < score.margin


def test_a_face_outside_every_region_is_a_residual_face(attackers: Any) -> None:
    image, boxes = crowd(2, 96)
    pixels = np.asarray(image)
    # Only the first face is declared masked; the second is left as it is.
    x1, y1, x2, y2 = boxes[0]
    masked = pixels.copy()
    masked[y1:y2, x1:x2] = 0
    found = verify_frame(None, masked, [_region((x1, y1, x2, y2), boxes[0])], attackers=attackers)
    [finding] = found.findings
    assert finding.check == "residual-face"
    assert finding.box is not None and finding.box[0] >= boxes[1][0] - 20
    assert found.skipped == ("reidentification", "face-structure")


def test_frames_of_different_sizes_cannot_pass(attackers: Any) -> None:
    original = np.asarray(astronaut(256))
    found = verify_frame(original, original[:200], [], attackers=attackers)
    assert "faces cannot be compared" in found.summary()


# --- anonymize: nothing is released when a check fails ------------------------------------


def _skipping_the_rightmost_face(monkeypatch: pytest.MonkeyPatch) -> None:
    real = unseen.plans.apply_masks

    def skip_last(pixels: Any, dets: Detections, options: Any, frame: int = 0) -> Any:
        rightmost = int(np.argmax(dets.boxes[:, 0]))
        return real(pixels, dets.select(np.arange(len(dets)) != rightmost), options, frame)

    monkeypatch.setattr(unseen.plans, "apply_masks", skip_last)


def test_a_face_only_the_residual_check_finds_is_masked_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image, boxes = crowd(3, 96)
    src = _source(tmp_path, image, "group.png")
    _skipping_the_rightmost_face(monkeypatch)
    report = unseen.anonymize([src], tmp_path / "out")
    [result] = report.files
    assert result.status == "ok", result.error
    assert [r.detector for r in result.regions].count("verify") == 1
    assert (
        "1 frame(s) had a face (or a false alarm) that only the residual check found"
        in (result.notes[-1])
    )
    out = np.asarray(Image.open(result.output or ""))
    x1, y1, x2, y2 = boxes[2]
    assert out[y1:y2, x1:x2].mean() < 20  # painted, not left as it was


def test_a_missed_face_is_caught_and_nothing_is_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image, boxes = crowd(3, 96)
    src = _source(tmp_path, image, "group.png")
    _skipping_the_rightmost_face(monkeypatch)
    # ... and the late mask fails too: the check on the written file must refuse it.
    monkeypatch.setattr(unseen.handlers.image, "mask_missed", lambda pixels, *_: (pixels, ()))
    report = unseen.anonymize([src], tmp_path / "out")
    [result] = report.files
    assert (result.status, result.stage, result.output) == ("failed", "verify", None)
    assert "residual-face in frame 0 at box" in (result.error or "")
    assert result.verification is not None
    [finding] = [f for f in result.verification.findings if f.check == "residual-face"]
    assert finding.box is not None and finding.box[0] >= boxes[2][0] - 20
    assert _released(tmp_path / "out") == []


def test_a_lightly_blurred_face_is_caught_and_nothing_is_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _source(tmp_path, astronaut(256))

    def light_blur(patch: Any, options: Any, rng: Any) -> Any:
        out = patch.copy()
        out[..., :3] = np.asarray(
            _light_blur(Image.fromarray(np.ascontiguousarray(patch[..., :3])))
        )
        return out

    monkeypatch.setattr(unseen.mask.apply, "_fill", light_blur)
    # In this process, so that the planted fill is the one the command uses.
    result = CliRunner().invoke(main, ["anonymize", str(src), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "photo.jpg: face-structure in frame 0 at box" in result.stderr
    assert _released(tmp_path / "out") == []
    [entry] = report_of(tmp_path / "out")["files"]
    assert entry["stage"] == "verify"
    assert [f["check"] for f in entry["verification"]["findings"]] == ["face-structure"]
    # SFace alone scores this 45-pixel-wide face just under its match threshold:
    # the structure check is what catches a light blur at this size.
    assert entry["verification"]["faces"][0]["after"] > 0.3


def _planting(monkeypatch: pytest.MonkeyPatch, segment: bytes) -> None:
    """An encoder that writes the protected JPEG, plus ``segment`` after SOI."""
    real = unseen.handlers.image.encode

    def leaky(decoded: Any, frames: Any, fmt: str, stream: Any) -> None:
        buffer = io.BytesIO()
        real(decoded, frames, fmt, buffer)
        data = buffer.getvalue()
        stream.write(data[:2] + segment + data[2:])

    monkeypatch.setattr(unseen.handlers.image, "encode", leaky)


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        (exif_segment(exif_tiff()), "EXIF:GPS:GPSLatitude"),
        (
            exif_segment(exif_tiff(identifying=False, thumbnail=thumbnail_of(astronaut(256)))),
            "EXIF thumbnail",
        ),
    ],
    ids=["gps", "thumbnail"],
)
def test_leftover_metadata_is_caught_and_nothing_is_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, segment: bytes, expected: str
) -> None:
    src = _source(tmp_path, astronaut(128))
    _planting(monkeypatch, segment)
    report = unseen.anonymize([src], tmp_path / "out")
    [result] = report.files
    assert (result.status, result.stage) == ("failed", "verify")
    assert result.verification is not None
    [finding] = result.verification.findings
    assert finding.check == "metadata" and expected in finding.detail
    assert _released(tmp_path / "out") == []


def test_released_outputs_carry_their_verification(tmp_path: Path) -> None:
    src = _source(tmp_path, astronaut(256))
    [result] = unseen.anonymize([src], tmp_path / "out").files
    assert result.status == "ok"
    assert result.verification is not None and result.verification.complete
    assert [s.recognizer for s in result.verification.faces] == ["sface"]


def test_a_weak_fill_chosen_knowingly_skips_only_the_structure_check(tmp_path: Path) -> None:
    src = _source(tmp_path, astronaut(256))
    options = unseen.Options(fill="pixelate")
    [result] = unseen.anonymize([src], tmp_path / "out", options=options).files
    assert result.verification is not None
    assert result.verification.skipped == ("face-structure",)
    # SFace still attacks the pixelated face; here it does not match it.
    assert result.status == "ok", result.error
    assert [s.recognizer for s in result.verification.faces] == ["sface"]


def test_no_verify_is_loud_and_recorded(tmp_path: Path) -> None:
    src = _source(tmp_path, astronaut(128))
    proc = run_cli("anonymize", src, "--out", tmp_path / "out", "--no-verify")
    assert proc.returncode == 0
    assert "WARNING: --no-verify" in proc.stderr
    report = report_of(tmp_path / "out")
    assert report["options"]["verify"] is False
    assert report["summary"]["verified"] == 0
    [entry] = report["files"]
    assert entry["verification"]["skipped"] == [
        "residual-face",
        "reidentification",
        "face-structure",
    ]
    assert entry["verification"]["checks"] == ["file", "metadata"]
    [page] = (tmp_path / "out").glob("unseen-report-*.html")
    assert "Verification was switched off (--no-verify)" in page.read_text("utf-8")


# --- unseen verify ------------------------------------------------------------------------


def test_verify_passes_unseen_output_and_fails_a_light_blur(tmp_path: Path) -> None:
    image = astronaut(512)
    original = _source(tmp_path, image)
    out = tmp_path / "out"
    assert run_cli("anonymize", original, "--out", out).returncode == 0
    ok = run_cli("verify", original, out / "photo.jpg")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "PASS" in ok.stdout
    blurred = tmp_path / "blurred.png"
    blurred.write_bytes(encoded(_light_blur(image), "PNG"))
    caught = run_cli("verify", original, blurred, "--json")
    assert caught.returncode == 1
    found = json.loads(caught.stdout)
    assert found["passed"] is False
    # At 90 pixels wide, SFace still matches the lightly blurred face.
    assert {f["check"] for f in found["findings"]} == {"face-structure", "reidentification"}


def test_verify_alone_finds_a_visible_face_and_metadata(tmp_path: Path) -> None:
    image = astronaut(256)
    leaky = tmp_path / "leaky.jpg"
    data = encoded(image, "JPEG", quality=90)
    leaky.write_bytes(data[:2] + exif_segment(exif_tiff()) + data[2:])
    proc = run_cli("verify", leaky)
    assert proc.returncode == 1
    assert "residual-face in frame 0" in proc.stdout
    assert "metadata: metadata survived" in proc.stdout and "GPS" in proc.stdout
    assert "reidentification: no original given" in proc.stdout
    assert "face-structure: no original given" in proc.stdout


def test_verify_names_an_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    proc = run_cli("verify", bad)
    assert proc.returncode == 1
    assert "bad.jpg" in proc.stderr and "empty" in proc.stderr


# --- the HTML report ----------------------------------------------------------------------


def test_the_html_report_shows_every_file_and_face_and_fetches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image, _ = crowd(3, 96)
    group = _source(tmp_path, image, "group.png")
    leaky = _source(tmp_path, astronaut(128), "leaky.jpg")
    real = unseen.handlers.image.encode

    def gps_for_leaky(decoded: Any, frames: Any, fmt: str, stream: Any) -> None:
        buffer = io.BytesIO()
        real(decoded, frames, fmt, buffer)
        data = buffer.getvalue()
        extra = exif_segment(exif_tiff()) if fmt == "JPEG" else b""
        stream.write(data[:2] + extra + data[2:])

    monkeypatch.setattr(unseen.handlers.image, "encode", gps_for_leaky)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["anonymize", str(group), str(leaky), "--out", str(out)])
    assert result.exit_code == 1
    [page] = out.glob("unseen-report-*.html")
    [data] = out.glob("unseen-report-*.json")
    assert page.stem == data.stem
    html = page.read_text("utf-8")
    assert "group.png" in html and "leaky.jpg" in html
    assert "metadata: metadata survived" in html and "GPS" in html
    # One before/after pair per masked face, against the threshold line.
    report = json.loads(data.read_text("utf-8"))
    faces = sum(len(f["verification"]["faces"]) for f in report["files"] if f["verification"])
    assert faces >= 3
    assert html.count("<circle") == 2 * faces
    assert "match at 0.363" in html
    # Self-contained: nothing to run, nothing to fetch, no pixels.
    assert "default-src 'none'" in html
    for forbidden in (
        "<script",
        "src=",
        "href=",
        "url(",
        "@import",
        "data:image",
        "base64",
        "<img",
    ):
        assert forbidden not in html.lower(), forbidden
