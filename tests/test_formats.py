"""Round trips: every format and pixel layout unseen accepts comes back in the
same format, size and upright orientation, with the face masked and the rest
of the picture intact."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import (
    astronaut,
    astronaut_face,
    contains,
    core,
    encoded,
    inner_ellipse,
    outside_boxes,
    register_heif,
    run_cli,
)
from PIL import Image

import unseen
from unseen.media.sniff import sniff

W, H = 224, 192  # not square, so that a swapped width and height shows


def _photo() -> Image.Image:
    return astronaut(W, H)


def _frames() -> list[Image.Image]:
    """Three frames in which the face moves."""
    base = _photo()
    return [base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), base.rotate(8)]


DURATIONS = [120, 250, 400]


def _animated(fmt: str) -> bytes:
    first, *rest = _frames()
    return encoded(first, fmt, save_all=True, append_images=rest, duration=DURATIONS, loop=0)


def _translucent() -> Image.Image:
    """The photo with a half-transparent band at the bottom, away from the face."""
    rgba = np.asarray(_photo().convert("RGBA")).copy()
    rgba[-48:, :, 3] = 128
    rgba[-8:, :8, 3] = 1
    return Image.fromarray(rgba)


def _palette_with_transparency() -> bytes:
    image = _photo().convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    return encoded(image, "PNG", transparency=0)


def _grey16() -> bytes:
    grey = np.asarray(_photo().convert("L"), np.uint16) * 257
    return encoded(Image.fromarray(grey), "PNG")


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[], bytes]
    fmt: str
    #: Largest mean difference allowed outside the masks (lossy formats re-encode).
    tolerance: float
    frames: int = 1
    mode: str = "RGB"


CASES = [
    Case("photo.jpg", lambda: encoded(_photo(), "JPEG", quality=95), "JPEG", 4),
    Case("photo.png", lambda: encoded(_photo(), "PNG"), "PNG", 0),
    Case("photo.webp", lambda: encoded(_photo(), "WEBP", quality=95), "WEBP", 5),
    Case("photo.tiff", lambda: encoded(_photo(), "TIFF"), "TIFF", 0),
    Case("photo.bmp", lambda: encoded(_photo(), "BMP"), "BMP", 0),
    Case("photo.gif", lambda: encoded(_photo(), "GIF"), "GIF", 6),
    Case("photo.heic", lambda: encoded(_photo(), "HEIF", quality=95), "HEIF", 5),
    Case("photo.avif", lambda: encoded(_photo(), "AVIF", quality=95), "AVIF", 5),
    Case("grey.jpg", lambda: encoded(_photo().convert("L"), "JPEG"), "JPEG", 4, mode="L"),
    Case("grey.png", lambda: encoded(_photo().convert("L"), "PNG"), "PNG", 0, mode="L"),
    Case("grey16.png", _grey16, "PNG", 1, mode="L"),
    Case("rgba.png", lambda: encoded(_translucent(), "PNG"), "PNG", 0, mode="RGBA"),
    Case(
        "grey-alpha.png",
        lambda: encoded(_translucent().convert("LA"), "PNG"),
        "PNG",
        0,
        mode="RGBA",
    ),
    Case("palette.png", lambda: encoded(_photo().convert("P"), "PNG"), "PNG", 0),
    Case("palette-transparent.png", _palette_with_transparency, "PNG", 0, mode="RGBA"),
    Case("cmyk.jpg", lambda: encoded(_photo().convert("CMYK"), "JPEG", quality=95), "JPEG", 5),
    Case("bilevel.png", lambda: encoded(_photo().convert("1"), "PNG"), "PNG", 0, mode="L"),
    Case(
        "rgba.webp",
        lambda: encoded(_translucent(), "WEBP", lossless=True, exact=True),
        "WEBP",
        5,
        mode="RGBA",
    ),
    Case("animated.gif", lambda: _animated("GIF"), "GIF", 8, frames=3),
    Case("animated.png", lambda: _animated("PNG"), "PNG", 0, frames=3),
    Case("animated.webp", lambda: _animated("WEBP"), "WEBP", 6, frames=3),
]


@pytest.fixture(scope="module")
def protected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("formats")
    for case in CASES:
        (root / "in" / case.name).parent.mkdir(parents=True, exist_ok=True)
        (root / "in" / case.name).write_bytes(case.make())
    report = unseen.anonymize([root / "in"], root / "out")
    return {"root": root, "by_name": {Path(f.input).name: f for f in report.files}}


def _frames_of(path: Path) -> tuple[list[np.ndarray], list[int], str, str | None]:
    """Every frame (as RGBA int16), per-frame durations, mode of the first frame, format."""
    register_heif()
    with Image.open(path) as image:
        fmt, mode = image.format, image.mode
        frames, durations = [], []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            image.load()
            if image.mode.startswith("I;16"):  # compare 16-bit input with 8-bit output
                frame = Image.fromarray((np.asarray(image, np.uint16) >> 8).astype(np.uint8))
            else:
                frame = image.convert("RGBA")
            frames.append(np.asarray(frame.convert("RGBA"), np.int16))
            durations.append(int(image.info.get("duration", 0) or 0))
    return frames, durations, mode, fmt


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_round_trip(protected: dict[str, Any], case: Case) -> None:
    result = protected["by_name"][case.name]
    assert result.status == "ok", result.error
    source = protected["root"] / "in" / case.name
    output = Path(result.output)
    assert output == protected["root"] / "out" / case.name  # same name, same suffix
    assert result.format == case.fmt
    assert sniff(output.read_bytes()[:64]) == ("image", case.fmt)
    assert result.size == (W, H)
    assert result.frames == case.frames

    before, _, _, _ = _frames_of(source)
    after, _, mode, fmt = _frames_of(output)
    assert fmt in (case.fmt, "MPO")
    assert len(after) == case.frames
    expected_mode = case.mode
    if case.fmt in ("GIF",):
        expected_mode = "P"
    if case.fmt == "WEBP" and case.frames > 1:
        expected_mode = "RGBA"  # animated WebP is always decoded with alpha
    assert mode == expected_mode
    for index, (old, new) in enumerate(zip(before, after, strict=True)):
        assert new.shape == (H, W, 4)  # upright, same size
        boxes = [r.box for r in result.regions if r.frame == index]
        assert boxes, f"no mask on frame {index}"
        for box in boxes:
            inside = inner_ellipse(new.shape, box)
            # The solid fill: black, whatever was there (and bilevel images were half black).
            assert new[..., :3][inside].mean() < 20
        outside = outside_boxes(new.shape, boxes, pad=8)
        assert np.abs(new - old)[outside].mean() <= case.tolerance


@pytest.mark.parametrize("case", [c for c in CASES if c.frames == 1], ids=lambda c: c.name)
def test_the_face_is_under_the_mask(protected: dict[str, Any], case: Case) -> None:
    result = protected["by_name"][case.name]
    face = core(astronaut_face(W))
    assert any(contains(r.box, face) for r in result.regions), result.regions


def test_alpha_is_kept(protected: dict[str, Any]) -> None:
    for name in ("rgba.png", "grey-alpha.png", "palette-transparent.png", "rgba.webp"):
        before, _, _, _ = _frames_of(protected["root"] / "in" / name)
        after, _, _, _ = _frames_of(Path(protected["by_name"][name].output))
        assert np.array_equal(before[0][..., 3], after[0][..., 3]), name


def test_sixteen_bit_grey_keeps_its_tones(protected: dict[str, Any]) -> None:
    result = protected["by_name"]["grey16.png"]
    with Image.open(result.output) as image:
        out = np.asarray(image, np.int16)
    expected = np.asarray(_photo().convert("L"), np.int16)
    keep = outside_boxes(out.shape, [r.box for r in result.regions])
    assert np.abs(out - expected)[keep].max() <= 1


def test_cmyk_colours_match_the_input(protected: dict[str, Any]) -> None:
    result = protected["by_name"]["cmyk.jpg"]
    with Image.open(protected["root"] / "in" / "cmyk.jpg") as image:
        expected = np.asarray(image.convert("RGB"), np.int16)
    with Image.open(result.output) as image:
        assert image.mode == "RGB"
        out = np.asarray(image, np.int16)
    keep = outside_boxes(out.shape, [r.box for r in result.regions], pad=8)
    assert np.abs(out - expected)[keep].mean() < 5


@pytest.mark.parametrize("name", ["animated.gif", "animated.png", "animated.webp"])
def test_animations_keep_every_frame_and_its_timing(protected: dict[str, Any], name: str) -> None:
    result = protected["by_name"][name]
    frames, durations, _, _ = _frames_of(Path(result.output))
    assert len(frames) == 3
    assert durations == DURATIONS
    with Image.open(result.output) as image:
        assert image.info.get("loop") == 0
    # The face moves between frames, and each frame has its own mask over it.
    assert sorted({r.frame for r in result.regions}) == [0, 1, 2]
    face = core(astronaut_face(W))
    mirrored = (W - face[2], face[1], W - face[0], face[3])
    assert any(contains(r.box, face) for r in result.regions if r.frame == 0)
    assert any(contains(r.box, mirrored) for r in result.regions if r.frame == 1)


def test_first_frame_only(tmp_path: Path) -> None:
    (tmp_path / "a.gif").write_bytes(_animated("GIF"))
    proc = run_cli("anonymize", tmp_path / "a.gif", "--out", tmp_path / "out", "--frames", "first")
    assert proc.returncode == 0, proc.stderr
    with Image.open(tmp_path / "out" / "a.gif") as image:
        assert getattr(image, "n_frames", 1) == 1
        assert image.size == (W, H)
    report = unseen.anonymize(
        [tmp_path / "a.gif"], tmp_path / "api", options=unseen.Options(frames="first")
    )
    [result] = report.files
    assert result.frames == 1
    assert {r.frame for r in result.regions} == {0}
    assert "frames:2 not kept" in result.removed


def test_outputs_decode_with_a_plain_reader(protected: dict[str, Any]) -> None:
    """Every output opens in a reader that knows nothing of unseen."""
    register_heif()
    for result in protected["by_name"].values():
        data = Path(result.output).read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert image.size == (W, H)


def test_png_is_written_with_fast_deflate(protected: dict[str, Any]) -> None:
    """PNG outputs use a fast zlib level (media/image.py says why): the zlib
    header of the first image-data chunk declares its compression level."""
    data = Path(protected["by_name"]["palette.png"].output).read_bytes()
    start = data.index(b"IDAT") + 4
    flevel = data[start + 1] >> 6  # 0 fastest, 1 fast, 2 default, 3 maximum
    assert flevel == 1
