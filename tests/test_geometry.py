"""Property tests for the geometry every mask depends on: tiles that leave no
face unseen, merging that loses no face area, masks that cover the face."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from unseen.config import TILE_OVERLAP, TILE_SIZE, Options
from unseen.detect.tiling import cluster, combine, detect_faces, tiles, windows
from unseen.mask import apply_masks, mask_box
from unseen.types import Detections

# --- tiles and windows ---------------------------------------------------------------------

tile_params = st.integers(2, 200).flatmap(
    lambda tile: st.tuples(st.integers(1, 2000), st.just(tile), st.integers(0, tile - 1))
)


@given(tile_params)
def test_tiles_cover_the_whole_length_with_the_overlap(params: tuple[int, int, int]) -> None:
    length, tile, overlap = params
    starts = tiles(length, tile, overlap)
    assert starts == sorted(set(starts))
    assert starts[0] == 0
    assert all(0 <= s <= max(0, length - tile) for s in starts)
    # The last window reaches the end; neighbours share at least `overlap` pixels.
    assert min(starts[-1] + tile, length) == length
    for a, b in itertools.pairwise(starts):
        assert a + tile - b >= overlap


@settings(max_examples=60)
@given(st.integers(1, 300), st.integers(1, 300), st.integers(8, 96), st.data())
def test_windows_cover_the_image_within_bounds(
    width: int, height: int, tile: int, data: st.DataObject
) -> None:
    overlap = data.draw(st.integers(0, tile - 1))
    seen = np.zeros((height, width), bool)
    for x, y, w, h in windows(width, height, tile, overlap):
        assert x >= 0 and y >= 0 and 0 < w <= tile and 0 < h <= tile
        assert x + w <= width and y + h <= height
        seen[y : y + h, x : x + w] = True
    assert seen.all()


@settings(max_examples=200)
@given(st.integers(1, 4000), st.integers(1, 4000), st.data())
def test_every_face_up_to_the_overlap_is_whole_in_some_tile(
    width: int, height: int, data: st.DataObject
) -> None:
    """What the overlap is for: a face no larger than it is never cut by every tile."""
    size = data.draw(st.integers(1, min(TILE_OVERLAP, width, height)))
    x = data.draw(st.integers(0, width - size))
    y = data.draw(st.integers(0, height - size))
    assert any(
        wx <= x and wy <= y and x + size <= wx + w and y + size <= wy + h
        for wx, wy, w, h in windows(width, height)
    )


def test_default_tiles() -> None:
    assert list(windows(TILE_SIZE, TILE_SIZE)) == [(0, 0, TILE_SIZE, TILE_SIZE)]
    assert len(list(windows(4032, 3024))) == 6  # 3 x 2 tiles for a 12 MP photo


# --- merging what the detectors found --------------------------------------------------------
#
# Within one view of an image, a detector's shifted candidates for one face are
# clustered into their score-weighted mean (cluster); across views and
# detectors, boxes of one face become their union and boxes mostly inside a
# larger one are absorbed (combine). What must hold for the person in the
# photo: every pixel that a detector called a face ends up under a mask.

CANVAS = 400
MARGIN = Options().margin
boxes = st.tuples(
    st.integers(50, 250), st.integers(50, 250), st.integers(4, 100), st.integers(4, 100)
).map(lambda t: (t[0], t[1], t[0] + t[2], t[1] + t[3]))
detections = st.lists(st.tuples(boxes, st.integers(1, 100)), max_size=8).map(
    lambda items: Detections(
        np.array([b for b, _ in items], np.float32).reshape(-1, 4),
        np.array([s / 100 for _, s in items], np.float32),
        tuple(f"detector{i % 2}" for i in range(len(items))),
    )
)


def _dets(*items: tuple[float, float, float, float, float]) -> Detections:
    return Detections(
        np.array([i[:4] for i in items], np.float32).reshape(-1, 4),
        np.array([i[4] for i in items], np.float32),
        tuple(f"detector{n}" for n in range(len(items))),
    )


def _area(boxes: list[tuple[float, ...]]) -> np.ndarray:
    painted = np.zeros((CANVAS, CANVAS), bool)
    for x1, y1, x2, y2 in boxes:
        painted[int(np.floor(y1)) : int(np.ceil(y2)), int(np.floor(x1)) : int(np.ceil(x2))] = True
    return painted


def _found(dets: Detections) -> np.ndarray:
    return _area([box for box, _, _ in dets])


def _masked(dets: Detections) -> np.ndarray:
    return _area([mask_box(box, MARGIN, CANVAS, CANVAS) for box, _, _ in dets])


@given(st.lists(detections, max_size=3))
def test_combine_never_drops_face_area(groups: list[Detections]) -> None:
    """Whatever the views report, every pixel some detector called a face stays in a box."""
    merged = combine(groups)
    found = _found(Detections.concat(groups))
    assert not (found & ~_found(merged)).any()


@given(st.lists(detections, max_size=3))
def test_combine_keeps_scores_and_sources(groups: list[Detections]) -> None:
    every = Detections.concat(groups)
    merged = combine(groups)
    assert (len(merged) == 0) == (len(every) == 0)
    assert len(merged) <= len(every)
    assert set(merged.scores.tolist()) <= set(every.scores.tolist())
    assert set(merged.sources) <= set(every.sources)


@given(detections)
def test_separate_faces_are_never_merged(dets: Detections) -> None:
    # Faces far apart (on a grid, no overlap at all) stay separate, box for box.
    spread = Detections(
        dets.boxes + np.arange(len(dets))[:, None] * 1000, dets.scores, dets.sources
    )
    for merged in (cluster(spread), combine([spread])):
        assert sorted(map(tuple, merged.boxes.tolist())) == sorted(
            map(tuple, spread.boxes.tolist())
        )


@given(
    st.tuples(st.integers(20, 200), st.integers(20, 200), st.integers(8, 150)),
    st.lists(
        st.tuples(st.floats(-0.1, 0.1), st.floats(-0.1, 0.1), st.integers(1, 100)),
        min_size=1,
        max_size=6,
    ),
)
def test_shifted_candidates_of_one_face_stay_under_its_mask(
    face: tuple[int, int, int], shifts: list[tuple[float, float, int]]
) -> None:
    """A detector reports one face several times, shifted by up to a tenth of
    its size: the clustered box, with the mask margins, covers every candidate."""
    x, y, size = face
    candidates = _dets(
        *[
            (x + dx * size, y + dy * size, x + size + dx * size, y + size + dy * size, s / 100)
            for dx, dy, s in shifts
        ]
    )
    merged = cluster(candidates)
    assert len(merged) == 1
    assert not (_found(candidates) & ~_masked(merged)).any()


@given(detections)
# Found by hypothesis in CI: the weighted mean of three boxes reached a
# fourth that none of them had reached; one pass left two boxes of one face.
@example(
    _dets(
        (50, 50, 54, 54, 0.01),
        (50, 50, 54, 54, 0.01),
        (50, 50, 57, 62, 0.01),
        (50, 50, 58, 60, 0.01),
        (50, 50, 56, 86, 0.03),
    )
)
def test_cluster_is_idempotent(dets: Detections) -> None:
    once = cluster(dets)
    twice = cluster(once)
    assert len(twice) == len(once)
    assert np.allclose(twice.boxes, once.boxes)


@given(st.lists(detections, max_size=3))
@example([_dets((60, 50, 80, 70, 0.02), (50, 50, 70, 70, 0.01), (50, 50, 70, 80, 0.01))])
def test_combine_is_idempotent(groups: list[Detections]) -> None:
    once = combine(groups)
    twice = combine([once])
    assert len(twice) == len(once)
    assert np.allclose(twice.boxes, once.boxes)


def test_a_face_cut_at_a_tile_border_stays_under_its_mask() -> None:
    # Tiles overlap, so a face near a border is whole in one tile and may also be
    # found, cut in half, in the next one. Each tile is clustered on its own and
    # the tiles are combined, so the cut copy cannot shrink the whole one.
    whole = (100, 100, 200, 200, 0.8)
    cut = (100, 100, 150, 200, 0.9)
    merged = combine([cluster(_dets(whole)), cluster(_dets(cut))])
    assert not (_found(_dets(whole)) & ~_masked(merged)).any()


def test_two_candidates_for_one_face_become_one() -> None:
    dets = _dets((10, 10, 50, 60, 0.9), (12, 8, 52, 58, 0.5))
    for merged in (cluster(dets), combine([dets])):
        assert len(merged) == 1
        assert merged.sources == ("detector0",)
        assert float(merged.scores[0]) == pytest.approx(0.9)


class _Scripted:
    """A detector that reports fixed candidates: the second-opinion rule is
    about scores that no real model can be made to give on demand."""

    def __init__(self, name: str, *found: tuple[float, float, float, float, float]) -> None:
        self.name = name
        self._found = _dets(*found)

    def detect(self, rgb: np.ndarray, threshold: float) -> Detections:
        kept = self._found.select(self._found.scores >= threshold)
        return Detections(kept.boxes, kept.scores, (self.name,) * len(kept))


def _seconded(*passes: tuple[_Scripted, float]) -> Detections:
    rgb = np.zeros((200, 200, 3), np.uint8)
    return detect_faces(rgb, [(d, 1.0, t) for d, t in passes], {"centerface": 0.09})


def test_a_weak_candidate_is_masked_only_with_a_second_opinion() -> None:
    weak = (20, 20, 40, 44, 0.1)  # under centerface's 0.15, over its 0.09
    alone = _seconded((_Scripted("centerface", weak), 0.15), (_Scripted("yunet"), 0.75))
    assert len(alone) == 0
    # YuNet at 0.3 masks nothing on its own (0.75) but confirms the face (0.2).
    seen = (22, 19, 41, 45, 0.3)
    confirmed = _seconded((_Scripted("centerface", weak), 0.15), (_Scripted("yunet", seen), 0.75))
    assert confirmed.boxes.tolist() == [[20, 20, 40, 44]]
    # Elsewhere in the picture, YuNet's candidate confirms nothing.
    far = (120, 120, 140, 145, 0.3)
    assert (
        len(_seconded((_Scripted("centerface", weak), 0.15), (_Scripted("yunet", far), 0.75))) == 0
    )
    # Without the weaker threshold, only the pass threshold counts.
    plain = detect_faces(
        np.zeros((200, 200, 3), np.uint8), [(_Scripted("centerface", weak), 1.0, 0.15)]
    )
    assert len(plain) == 0


def test_a_large_weak_candidate_needs_no_second_opinion() -> None:
    # No enlarged pass looks for faces of 48 px and more, so none could confirm it.
    large = (20, 20, 70, 80, 0.1)
    found = _seconded((_Scripted("centerface", large), 0.15), (_Scripted("yunet"), 0.75))
    assert found.boxes.tolist() == [[20, 20, 70, 80]]


def test_a_weak_copy_of_a_face_does_not_widen_its_mask() -> None:
    strong, copy = (20, 20, 40, 44, 0.6), (24, 24, 46, 50, 0.1)
    helper = _Scripted("yunet", (24, 24, 46, 50, 0.3))
    found = _seconded((_Scripted("centerface", strong, copy), 0.15), (helper, 0.75))
    assert found.boxes.tolist() == [[20, 20, 40, 44]]


def test_an_adding_pass_adds_large_faces_and_widens_none() -> None:
    # The adding pass sees the image at half size: its boxes are doubled.
    found = (20, 20, 90, 100, 0.9)
    half = _Scripted(
        "centerface",
        (8, 8, 47, 52, 0.2),  # the same face, looser: it must not widen the mask
        (110, 20, 150, 60, 0.2),  # a face of 80 px that the full pass missed
        (120, 150, 135, 170, 0.2),  # 40 px: not large enough to add
    )
    rgb = np.zeros((400, 400, 3), np.uint8)
    faces = detect_faces(rgb, [(_Scripted("yunet", found), 1.0, 0.5)], additions=[(half, 0.5, 0.1)])
    assert faces.boxes.tolist() == [[20, 20, 90, 100], [220, 40, 300, 120]]
    assert faces.sources == ("yunet", "centerface@0.5x")


# --- mask_box and apply_masks ---------------------------------------------------------------

margins = st.tuples(*[st.floats(0, 2, allow_nan=False)] * 3)
faces = st.tuples(
    st.floats(-50, 250), st.floats(-50, 250), st.floats(1, 120), st.floats(1, 120)
).map(lambda t: (t[0], t[1], t[0] + t[2], t[1] + t[3]))


@given(faces, margins, st.integers(1, 300), st.integers(1, 300))
def test_mask_box_holds_the_face_and_stays_in_the_image(
    face: tuple[float, float, float, float],
    margin: tuple[float, float, float],
    width: int,
    height: int,
) -> None:
    x1, y1, x2, y2 = mask_box(face, margin, width, height)
    assert x1 >= 0 and y1 >= 0 and x2 <= width and y2 <= height
    fx1, fy1, fx2, fy2 = face
    visible = fx1 < width and fy1 < height and fx2 > 0 and fy2 > 0
    if visible:
        # The part of the face inside the image, grown by the margins, is painted.
        w, h = fx2 - fx1, fy2 - fy1
        side, top, bottom = margin
        assert x1 <= max(0, fx1 - side * w) and y1 <= max(0, fy1 - top * h)
        assert x2 >= min(width, fx2 + side * w) and y2 >= min(height, fy2 + bottom * h)


def _image(width: int = 120, height: int = 90, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(1)
    image = rng.integers(40, 216, (height, width, channels), dtype=np.uint8)
    image.flags.writeable = False  # decoded frames are read-only
    return image


def _one(face: tuple[float, float, float, float]) -> Detections:
    return Detections(np.array([face]), np.array([0.9]), ("test",))


@pytest.mark.parametrize("fill", ["solid", "noise", "pixelate", "blur"])
@pytest.mark.parametrize("shape", ["ellipse", "box"])
def test_apply_masks_never_writes_into_its_input(fill: str, shape: str) -> None:
    image = _image()
    copy = image.copy()
    out, regions = apply_masks(image, _one((30, 20, 70, 70)), Options(fill=fill, shape=shape))  # type: ignore[arg-type]
    assert np.array_equal(image, copy)
    assert out is not image and out.flags.writeable
    assert len(regions) == 1


@given(faces, st.sampled_from(["ellipse", "box"]))
@settings(max_examples=80)
def test_destroying_fills_change_every_pixel_inside_and_none_outside(
    face: tuple[float, float, float, float], shape: str
) -> None:
    image = _image()  # values 40 to 215: black differs from every pixel
    solid, regions = apply_masks(image, _one(face), Options(shape=shape))  # type: ignore[arg-type]
    noise, _ = apply_masks(image, _one(face), Options(shape=shape, fill="noise"))  # type: ignore[arg-type]
    # Detections hold float32 boxes: the mask is grown from the face as stored.
    stored = tuple(float(v) for v in _one(face).boxes[0])
    box = mask_box(stored, Options().margin, 120, 90)  # type: ignore[arg-type]
    painted = np.any(solid != image, axis=2)
    outside = np.ones(painted.shape, bool)
    outside[box[1] : box[3], box[0] : box[2]] = False
    assert not painted[outside].any()
    assert (solid[painted] == 0).all()
    if box[2] <= box[0] or box[3] <= box[1]:
        assert regions == ()
        return
    [region] = regions
    assert region.box == box and region.shape == shape
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    inside = painted[y1:y2, x1:x2]
    assert inside[h // 2, w // 2]
    if shape == "box" or w < 4 or h < 4:
        assert inside.all()
    else:
        assert inside.mean() > 0.7  # the inscribed ellipse, pi/4 of the box
    # Noise replaces the same pixels (a random pixel equals the original by
    # chance about once in 16 million).
    changed = np.any(noise != image, axis=2)
    assert not (changed & ~painted).any()
    assert changed.sum() >= painted.sum() - 1


def test_noise_is_fresh_each_time() -> None:
    image = _image()
    options = Options(fill="noise", shape="box")
    first, _ = apply_masks(image, _one((30, 20, 70, 70)), options)
    second, _ = apply_masks(image, _one((30, 20, 70, 70)), options)
    assert not np.array_equal(first, second)


def test_alpha_is_never_painted() -> None:
    image = _image(channels=4)
    out, _ = apply_masks(image, _one((30, 20, 70, 70)), Options(shape="box"))
    assert np.array_equal(out[..., 3], image[..., 3])


def test_weak_fills_still_change_the_face() -> None:
    image = _image()
    for fill in ("pixelate", "blur"):
        out, [region] = apply_masks(image, _one((30, 20, 70, 70)), Options(fill=fill))  # type: ignore[arg-type]
        x1, y1, x2, y2 = region.box
        diff = np.abs(out[y1:y2, x1:x2].astype(int) - image[y1:y2, x1:x2].astype(int))
        assert diff.mean() > 10, fill


def test_colour_option() -> None:
    out, [region] = apply_masks(
        _image(), _one((30, 20, 70, 70)), Options(shape="box", color=(255, 0, 128))
    )
    x1, y1, x2, y2 = region.box
    assert (out[y1:y2, x1:x2] == [255, 0, 128]).all()
