"""Byte-mutation fuzzing, one target per format handler.

Each target starts from a tiny valid file of its format (32 x 32, with as
much metadata as the format holds), mutates its bytes (bit flips,
truncation, insertion, splicing, overwritten header fields such as huge
declared dimensions and chunk lengths) and runs the whole per-file pipeline
through the public API. The properties:

- ``unseen.inspect`` raises nothing but :class:`unseen.UnseenError`;
- ``unseen.anonymize`` returns a report (never raises) whose one file is
  ``ok`` or ``failed`` for a stated reason, never an "unexpected error";
- a failed file leaves no output and no ``.unseen-*`` leftover;
- an output carries no identifying metadata and no embedded image by
  ``unseen.inspect``, and the original is byte-identical.

Face detection is replaced by a detector that finds nothing: fuzzing is
about parsing, decoding, encoding and checking, and the detector sees only
decoded pixels, never file bytes. Pixel limits are lowered to 4 MP so that
a mutated but plausible size (say 9000 x 9000) is refused in microseconds
instead of decoded for seconds; the limit logic is the same one.

A short run (a few examples per format) is part of ``make test``. The long
run is ``make fuzz FUZZ_SECONDS=600``: it loads the ``fuzz`` hypothesis
profile (tests/conftest.py) and keeps each target searching for its share
of the time. A crash found there becomes an ``@example`` or a test below.
"""

from __future__ import annotations

import os
import struct
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from helpers import astronaut, encoded, with_metadata
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import unseen
import unseen.api
import unseen.handlers.image
from unseen.media.image import FORMATS as SUFFIXES
from unseen.types import Detections

FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF", "AVIF")
FUZZ_SECONDS = float(os.environ.get("UNSEEN_FUZZ_SECONDS", "0"))
OPTIONS = unseen.Options(
    profile="fast", max_pixels=4_000_000, max_total_pixels=16_000_000, max_frames=64
)
#: Values written over header fields: zero, one, sign and width boundaries, huge sizes.
FIELD_VALUES = (0, 1, 2, 255, 0x7FFF, 0xFFFF, 65_500, 30_000, 2**31 - 1, 2**31, 2**32 - 1)


@cache
def seed(fmt: str) -> bytes:
    """A small valid file of ``fmt`` carrying metadata (animated for GIF)."""
    image = astronaut(32)
    if fmt == "GIF":
        frames = [image, image.rotate(90)]
        return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    return with_metadata(image, fmt)


def _find_all(data: bytes, needle: bytes, limit: int = 8) -> list[int]:
    found, start = [], 0
    while len(found) < limit and (at := data.find(needle, start)) >= 0:
        found.append(at)
        start = at + 1
    return found


def fields(fmt: str, data: bytes) -> list[tuple[int, int, str]]:
    """``(offset, width, byte order)`` of header fields worth overwriting:
    declared dimensions, counts, lengths and offsets."""
    out: list[tuple[int, int, str]] = []
    if fmt == "PNG":
        out += [(16, 4, "big"), (20, 4, "big"), (24, 1, "big"), (25, 1, "big")]
        out += [(at - 4, 4, "big") for at in _find_all(data, b"IDAT") + _find_all(data, b"eXIf")]
        out += [(at - 4, 4, "big") for at in _find_all(data, b"iCCP") + _find_all(data, b"acTL")]
    elif fmt == "GIF":
        out += [(6, 2, "little"), (8, 2, "little"), (10, 1, "little")]
        for at in _find_all(data, b"\x2c\x00\x00\x00\x00", 2):
            out += [(at + 5, 2, "little"), (at + 7, 2, "little"), (at + 9, 1, "little")]
    elif fmt == "BMP":
        out += [(o, 4, "little") for o in (2, 10, 14, 18, 22, 30, 34, 46)]
        out += [(26, 2, "little"), (28, 2, "little")]
    elif fmt == "JPEG":
        for at in _find_all(data, b"\xff\xc0", 2) + _find_all(data, b"\xff\xc2", 2):
            out += [(at + 2, 2, "big"), (at + 5, 2, "big"), (at + 7, 2, "big"), (at + 9, 1, "big")]
        for marker in (b"\xff\xe1", b"\xff\xe2", b"\xff\xed", b"\xff\xc4", b"\xff\xda"):
            out += [(at + 2, 2, "big") for at in _find_all(data, marker, 3)]
    elif fmt == "WEBP":
        out += [(4, 4, "little"), (24, 3, "little"), (27, 3, "little")]
        for kind in (b"VP8 ", b"VP8L", b"VP8X", b"EXIF", b"XMP ", b"ICCP", b"ANMF", b"ALPH"):
            out += [(at + 4, 4, "little") for at in _find_all(data, kind, 2)]
    elif fmt == "TIFF":
        order = "little" if data[:2] == b"II" else "big"
        out.append((4, 4, order))
        ifd = int.from_bytes(data[4:8], order)
        for i in range(min(24, int.from_bytes(data[ifd : ifd + 2], order))):
            entry = ifd + 2 + 12 * i
            out += [(entry + 2, 2, order), (entry + 4, 4, order), (entry + 8, 4, order)]
    elif fmt in ("HEIF", "AVIF"):
        for at in _find_all(data, b"ispe", 2):
            out += [(at + 8, 4, "big"), (at + 12, 4, "big")]
        for box in (b"ftyp", b"meta", b"iloc", b"iinf", b"iprp", b"ipco", b"mdat", b"Exif"):
            out += [(at - 4, 4, "big") for at in _find_all(data, box, 2)]
        out += [(at + 8, 2, "big") for at in _find_all(data, b"iloc", 1)]
    return [(o, w, e) for o, w, e in out if o >= 0 and o + w <= len(data)]


def _fix_png_crcs(data: bytearray) -> bytearray:
    """Recompute every chunk's CRC, so that a mutated field reaches the decoder
    instead of failing the checksum first."""
    at = 8
    while at + 12 <= len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        end = at + 8 + length
        if end + 4 > len(data):
            break
        data[end : end + 4] = struct.pack(">I", zlib.crc32(bytes(data[at + 4 : end])))
        at = end + 4
    return data


@st.composite
def mutated(draw: st.DrawFn, fmt: str) -> bytes:
    """``seed(fmt)`` after one to four random mutations."""
    data = bytearray(seed(fmt))
    targets = fields(fmt, bytes(data))
    for _ in range(draw(st.integers(1, 4))):
        size = len(data)
        # Half the positions fall in the first 64 bytes, where the headers are.
        pos = draw(st.one_of(st.integers(0, min(size, 64)), st.integers(0, size)))
        op = draw(st.sampled_from(["flip", "truncate", "insert", "splice", "overwrite", "field"]))
        if op == "flip" and pos < size:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=32))
        elif op == "splice" and size:
            start = draw(st.integers(0, size - 1))
            length = draw(st.integers(1, 256))
            data[pos:pos] = data[start : start + length]
        elif op == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=16))
            data[pos : pos + len(chunk)] = chunk
        elif op == "field" and targets:
            offset, width, order = draw(st.sampled_from(targets))
            value = draw(st.sampled_from(FIELD_VALUES)) % (1 << (8 * width))
            if offset + width <= len(data):
                data[offset : offset + width] = value.to_bytes(width, order)  # type: ignore[arg-type]
    if fmt == "PNG" and draw(st.booleans()):
        data = _fix_png_crcs(data)
    return bytes(data)


def check_file(fmt: str, data: bytes) -> None:
    """The fuzzing property for one file's bytes."""
    with tempfile.TemporaryDirectory(prefix="unseen-fuzz-") as root:
        source = Path(root, "in" + SUFFIXES[fmt][0])
        source.write_bytes(data)
        try:
            found = unseen.inspect(source, options=OPTIONS, faces=False)
        except unseen.UnseenError:
            found = None
        out = Path(root, "out")
        report = unseen.anonymize([source], out, options=OPTIONS)
        [result] = report.files
        assert result.status in ("ok", "failed")
        written = sorted(p.name for p in out.rglob("*")) if out.exists() else []
        assert not any(name.startswith(".unseen-") for name in written), written
        assert source.read_bytes() == data
        if result.status == "failed":
            assert result.error and not result.error.startswith("unexpected error"), result.error
            assert written == [], written
            return
        assert found is not None, "inspect refused a file that anonymize protected"
        assert written == [source.name]
        clean = unseen.inspect(Path(result.output or ""), options=OPTIONS, faces=False)
        assert clean.identifying == () and clean.embedded == (), (clean.metadata, clean.embedded)


def _no_faces(*args: Any) -> Detections:
    return Detections.empty()


def _target(fmt: str) -> Callable[[], None]:
    @given(data=mutated(fmt))
    def target(data: bytes) -> None:
        check_file(fmt, data)

    if FUZZ_SECONDS <= 0:
        # The short run in `make test`: a few examples per format, no database
        # replay noise between runs.
        target = settings(max_examples=6, database=None, suppress_health_check=list(HealthCheck))(
            target
        )
    return target


@pytest.fixture
def no_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unseen.handlers.image, "detect_faces", _no_faces)


@pytest.mark.parametrize("fmt", FORMATS)
def test_fuzz(fmt: str, no_detection: None) -> None:
    target = _target(fmt)
    target()
    # The long run: keep searching with fresh random seeds for this target's share.
    stop = time.monotonic() + FUZZ_SECONDS / len(FORMATS)
    while time.monotonic() < stop:
        target()


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_seed_is_protected(fmt: str, no_detection: None) -> None:
    # The property holds for the unmutated seed, so mutations start from a good file.
    check_file(fmt, seed(fmt))
    assert fields(fmt, seed(fmt)), f"no header fields found to mutate in the {fmt} seed"


# --- crashes the long run found, kept as regression tests ---------------------------------


def test_gif_frame_placed_off_the_canvas_is_refused_clearly(no_detection: None) -> None:
    # Found by fuzzing: Pillow grows the canvas to hold a frame placed at
    # y = 65535, to 32 x 65567, which no GIF can declare: the encoder overflowed
    # ("unexpected error: OverflowError: int too big to convert").
    data = bytearray(seed("GIF"))
    at = data.find(b"\x2c\x00\x00\x00\x00")
    data[at + 3 : at + 5] = (0xFFFF).to_bytes(2, "little")
    check_file("GIF", bytes(data))
    with tempfile.TemporaryDirectory() as root:
        Path(root, "a.gif").write_bytes(data)
        [result] = unseen.anonymize([Path(root, "a.gif")], Path(root, "out"), options=OPTIONS).files
    assert result.error == "32x65567 is too large for GIF (at most 65,535 pixels a side)"


@pytest.mark.parametrize("value", [0, 2**32 - 1])
def test_malformed_tiff_tags_print_no_warning(value: int, no_detection: None) -> None:
    # Found by fuzzing: Pillow warned on stderr ("Corrupt EXIF data", "Tag data
    # larger than file") while decoding, outside unseen's one line per file.
    # Every tag's type, count and value of the seed is broken in turn.
    base = seed("TIFF")
    for offset, width, order in fields("TIFF", base):
        data = bytearray(base)
        data[offset : offset + width] = (value % (1 << (8 * width))).to_bytes(width, order)  # type: ignore[arg-type]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_file("TIFF", bytes(data))
        assert [str(w.message) for w in caught] == [], offset


def test_tiff_tag_listed_but_unloadable_is_reported_not_raised(no_detection: None) -> None:
    # Found by fuzzing: four bytes changed in the TIFF seed left a tag (262,
    # PhotometricInterpretation) that Pillow lists but cannot load; inspect
    # raised a bare KeyError instead of reporting the file.
    data = bytearray(seed("TIFF"))
    for offset, value in ((18, 33), (62, 3), (118, 20), (1171, 27)):
        data[offset] = value
    check_file("TIFF", bytes(data))
