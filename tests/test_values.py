"""Value types and small pure functions: Detections, Options, display, sniff."""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers import astronaut, encoded, png_header_only
from hypothesis import given
from hypothesis import strategies as st

import unseen
from unseen.media.image import FORMATS
from unseen.media.sniff import HEAD_BYTES, sniff
from unseen.paths import display
from unseen.types import Detections

# --- Detections ------------------------------------------------------------------------------

finite = st.floats(-1e4, 1e4, allow_nan=False, width=32)


@given(st.lists(st.tuples(finite, finite, finite, finite, st.floats(0, 1, width=32)), max_size=20))
def test_detections_keep_what_they_are_given(items: list[tuple[float, ...]]) -> None:
    boxes = np.array([i[:4] for i in items], np.float32).reshape(-1, 4)
    scores = np.array([i[4] for i in items], np.float32)
    dets = Detections(boxes, scores, tuple("d" for _ in items))
    assert len(dets) == len(items)
    assert dets.boxes.shape == (len(items), 4)
    assert np.array_equal(dets.boxes, boxes)
    for (box, score, source), item in zip(dets, items, strict=True):
        assert box == pytest.approx(item[:4]) and score == pytest.approx(item[4])
        assert source == "d" and isinstance(score, float)


def test_detections_are_read_only_copies() -> None:
    boxes = np.array([[1.0, 2.0, 3.0, 4.0]])
    dets = Detections(boxes, np.array([0.5]), ("a",))
    boxes[0, 0] = 99
    assert dets.boxes[0, 0] == 1
    with pytest.raises(ValueError):
        dets.boxes[0, 0] = 5
    with pytest.raises(ValueError):
        dets.scores[0] = 0.1
    with pytest.raises(AttributeError):
        dets.sources = ("b",)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("boxes", "scores", "sources"),
    [
        (np.zeros((2, 4)), np.zeros(1), ("a", "b")),
        (np.zeros((1, 4)), np.zeros(1), ()),
        (np.zeros((1, 4)), np.zeros(2), ("a",)),
        (np.array([[0, 0, np.nan, 1]]), np.zeros(1), ("a",)),
        (np.array([[0, 0, np.inf, 1]]), np.zeros(1), ("a",)),
        (np.zeros((1, 3)), np.zeros(1), ("a",)),
    ],
    ids=["boxes-vs-scores", "no-sources", "scores-vs-sources", "nan", "inf", "three-coords"],
)
def test_detections_refuse_inconsistent_arrays(
    boxes: np.ndarray, scores: np.ndarray, sources: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        Detections(boxes, scores, sources)


def test_detections_select_concat_empty() -> None:
    a = Detections(np.array([[0, 0, 1, 1], [2, 2, 3, 3]]), np.array([0.9, 0.3]), ("x", "y"))
    b = Detections.empty()
    assert len(b) == 0 and b.boxes.shape == (0, 4)
    both = Detections.concat([a, b, a])
    assert len(both) == 4 and both.sources == ("x", "y", "x", "y")
    picked = a.select(a.scores > 0.5)
    assert picked.sources == ("x",) and picked.boxes.tolist() == [[0, 0, 1, 1]]
    assert len(Detections.concat([])) == 0


# --- Options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"fill": "paint"},
        {"shape": "star"},
        {"threshold": 0.0},
        {"threshold": 1.0},
        {"margin": (0.1, -0.1, 0.1)},
        {"margin": (0.1, 0.1, 2.5)},
        {"color": (0, 0, 256)},
        {"max_pixels": 0},
        {"max_frames": -1},
        {"max_total_pixels": 0},
        {"max_file_bytes": 0},
    ],
    ids=str,
)
def test_options_refuse_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        unseen.Options(**bad)  # type: ignore[arg-type]


def test_default_options_destroy_faces() -> None:
    options = unseen.Options()
    assert options.fill in ("solid", "noise")  # never a reversible fill by default
    assert min(options.margin) > 0
    with pytest.raises(AttributeError):
        options.fill = "blur"  # type: ignore[misc]


# --- display ---------------------------------------------------------------------------------


@given(st.one_of(st.text(st.characters(codec=None)), st.binary().map(os.fsdecode)))
def test_display_prints_any_name_as_one_safe_line(name: str) -> None:
    shown = display(name)
    assert shown.isprintable()  # no control, format or separator characters survive
    assert "\n" not in shown and "\r" not in shown and "\x1b" not in shown


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("photos/holiday 2024.jpg", "photos/holiday 2024.jpg"),
        ("ação/照片.jpg", "ação/照片.jpg"),
        ("a\nb.jpg", "a\\x0ab.jpg"),
        ("\x1b[31mred", "\\x1b[31mred"),
        (os.fsdecode(b"caf\xe9.jpg"), "caf\\xe9.jpg"),
        ("right-to-left\u202egpj.exe", "right-to-left\\u202egpj.exe"),
        ("a\ud800b", "a\\ud800b"),
    ],
)
def test_display_examples(name: str, shown: str) -> None:
    assert display(name) == shown


# --- sniff -----------------------------------------------------------------------------------


@given(st.binary(max_size=HEAD_BYTES))
def test_sniff_never_fails(head: bytes) -> None:
    kind, fmt = sniff(head)
    assert kind in ("image", "video", "audio", "unknown")
    if kind == "image":
        assert fmt in FORMATS
    assert (kind == "unknown") == (fmt == "")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_sniff_knows_every_format_unseen_writes(fmt: str) -> None:
    data = encoded(astronaut(32), fmt)
    assert sniff(data[:HEAD_BYTES]) == ("image", fmt)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"", ("unknown", "")),
        (b"BM", ("unknown", "")),
        (b"hello world, this is text" * 3, ("unknown", "")),
        (png_header_only(1, 1), ("image", "PNG")),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", ("video", "MP4")),
        (b"\x00\x00\x00\x18ftypqt  \x00\x00\x00\x00qt  ", ("video", "MP4")),
        (b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A isom", ("audio", "M4A")),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", ("image", "AVIF")),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", ("image", "HEIF")),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", ("audio", "WAV")),
        (b"RIFF\x00\x00\x00\x00AVI LIST", ("video", "AVI")),
        (b"\x1a\x45\xdf\xa3\x01\x00", ("video", "MKV")),
        (b"ID3\x04\x00", ("audio", "MP3")),
        (b"OggS\x00\x02", ("audio", "OGG")),
        (b"fLaC\x00\x00", ("audio", "FLAC")),
    ],
)
def test_sniff_examples(head: bytes, expected: tuple[str, str]) -> None:
    assert sniff(head) == expected
