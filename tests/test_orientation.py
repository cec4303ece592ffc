"""EXIF orientation is applied before detection: outputs are upright, with the
masks over the faces, whatever way the camera stored the pixels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import (
    EXIFTOOL,
    SUFFIX,
    astronaut,
    astronaut_face,
    contains,
    core,
    exiftool_all,
    outside_boxes,
    pixels,
    unexpected_tags,
    with_orientation,
)
from PIL import Image

import unseen
import unseen.api
import unseen.handlers.image
from unseen.types import Detections

W, H = 224, 160  # landscape, so that orientations 5 to 8 store it as portrait
TOLERANCE = {"JPEG": 5, "PNG": 0, "WEBP": 5, "TIFF": 0, "HEIF": 6, "AVIF": 6}


@pytest.fixture(scope="module")
def rotated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("orientation")
    upright = astronaut(W, H)
    for fmt, suffix in SUFFIX.items():
        for orientation in range(1, 9):
            path = root / "in" / f"{fmt}-{orientation}.{suffix}"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(with_orientation(upright, orientation, fmt))
    report = unseen.anonymize([root / "in"], root / "out")
    return {
        "root": root,
        "upright": np.asarray(upright, np.int16),
        "by_name": {Path(f.input).name: f for f in report.files},
    }


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", list(TOLERANCE))  # the formats that store an orientation
def test_output_is_upright_with_the_mask_on_the_face(
    rotated: dict[str, Any], fmt: str, orientation: int
) -> None:
    name = f"{fmt}-{orientation}.{SUFFIX[fmt]}"
    with Image.open(rotated["root"] / "in" / name) as stored:
        stored_size = stored.size
    if fmt in ("JPEG", "PNG", "WEBP"):  # Pillow turns TIFF, HEIF and AVIF upright itself
        # Orientations 5 to 8: the camera stored it sideways.
        assert stored_size == ((H, W) if orientation >= 5 else (W, H))
    result = rotated["by_name"][name]
    assert result.status == "ok", result.error
    assert result.size == (W, H)
    out = pixels(Path(result.output))
    assert out.shape == (H, W, 3)
    boxes = [r.box for r in result.regions]
    assert any(contains(box, core(astronaut_face(W))) for box in boxes), boxes
    # Away from the mask, the output is the upright picture, not a rotated or mirrored one.
    keep = outside_boxes(out.shape, boxes, pad=6)
    assert np.abs(out - rotated["upright"])[keep].mean() <= TOLERANCE[fmt]


# --- the reference samples in ../shared/data ----------------------------------------------

EXIF_SAMPLES = Path("metadata") / "exif-samples"


@pytest.fixture(scope="module")
def samples(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = shared_data / EXIF_SAMPLES / "jpg" / "orientation"
    files = sorted(folder.glob("*.jpg"))
    assert len(files) == 16
    out = tmp_path_factory.mktemp("samples")
    report = unseen.anonymize([folder], out)
    return {"folder": folder, "by_name": {Path(f.input).name: f for f in report.files}}


@pytest.mark.shared
@pytest.mark.parametrize("kind", ["landscape", "portrait"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_reference_orientation_samples_come_out_upright(
    samples: dict[str, Any], kind: str, orientation: int
) -> None:
    result = samples["by_name"][f"{kind}_{orientation}.jpg"]
    assert result.status == "ok", result.error
    upright_size = (600, 450) if kind == "landscape" else (450, 600)
    assert result.size == upright_size
    with Image.open(result.output) as image:
        assert image.size == upright_size
        out = np.asarray(image.convert("RGB"), np.int16)
    # Sample 1 needs no rotation: every other one must look like it.
    reference = pixels(samples["folder"] / f"{kind}_1.jpg")
    masks = [r.box for n, f in samples["by_name"].items() if n.startswith(kind) for r in f.regions]
    keep = outside_boxes(out.shape, masks, pad=6)
    assert np.abs(out - reference)[keep].mean() < 6
    # What the detectors are sure of, they find at the same upright place in
    # every variant. (Borderline candidates, scored near the threshold in the
    # foliage, come and go with each variant's compression noise.)
    first = samples["by_name"][f"{kind}_1.jpg"]
    for ours, theirs in ((result, first), (first, result)):
        for region in ours.regions:
            if region.score >= 0.5:
                assert any(
                    np.abs(np.array(region.box) - np.array(other.box)).max() <= 12
                    for other in theirs.regions
                ), (region.box, region.score, [r.box for r in theirs.regions])


def _no_faces(*args: Any, **kwargs: Any) -> Detections:
    return Detections.empty()


@pytest.fixture(scope="module")
def sweep(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every reference sample through the whole pipeline except face detection:
    this sweep is about decoding and metadata, detection is exercised everywhere
    else, and running it on these 12 to 16 MP phone photos takes minutes."""
    base = shared_data / EXIF_SAMPLES
    files = sorted(
        [
            *base.glob("jpg/**/*.jpg"),
            *base.glob("jpg/**/*.jpeg"),
            *base.glob("tiff/*.tif*"),
            *base.glob("heic/**/*.heic"),
            *base.glob("heic/**/*.HEIC"),
            *base.glob("heic/**/*.heif"),
        ]
    )
    assert len(files) > 80
    root = tmp_path_factory.mktemp("sweep")
    results = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(unseen.handlers.image, "detect_faces", _no_faces)
        for folder in ("jpg", "tiff", "heic"):
            inputs = [f for f in files if f.is_relative_to(base / folder)]
            # Writing HEIF takes 25 to 60 s per phone photo on two cores (x265):
            # big phone HEICs are read here and written as JPEG; HEIF writing
            # is covered by the round-trip tests.
            big = [f for f in inputs if f.stat().st_size > 300_000 and folder == "heic"]
            small = [f for f in inputs if f not in big]
            report = unseen.anonymize(small, root / folder)
            converted = unseen.anonymize(
                big, root / "heic-as-jpeg", options=unseen.Options(format="jpeg")
            )
            for result in (*report.files, *converted.files):
                results[result.input] = result
    return {"files": files, "results": results, "root": root}


@pytest.mark.shared
def test_every_reference_sample_is_protected_or_refused_cleanly(sweep: dict[str, Any]) -> None:
    assert len(sweep["results"]) == len(sweep["files"])
    for result in sweep["results"].values():
        if result.status == "ok":
            found = unseen.inspect(result.output, faces=False)
            assert found.identifying == (), (result.input, found.identifying)
            assert found.embedded == (), (result.input, found.embedded)
        else:
            assert result.output is None
            assert result.error and "\n" not in result.error, result.input


@pytest.mark.shared
def test_refused_samples_leave_no_output(sweep: dict[str, Any]) -> None:
    written = {p.name for p in sweep["root"].rglob("*") if p.is_file()}
    for result in sweep["results"].values():
        if result.status != "ok":
            assert Path(result.input).name not in written


@pytest.mark.shared
@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed")
def test_exiftool_finds_nothing_in_any_protected_sample(sweep: dict[str, Any]) -> None:
    outputs = [Path(r.output) for r in sweep["results"].values() if r.status == "ok"]
    found = exiftool_all(outputs)
    assert len(found) == len(outputs)
    leaks = {path: unexpected_tags(tags) for path, tags in found.items()}
    assert {path: extra for path, extra in leaks.items() if extra} == {}
