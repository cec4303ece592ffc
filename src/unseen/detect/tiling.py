"""Running detectors over whole images: tiles at full resolution, a
downscaled pass for faces larger than a tile, and merging of what overlaps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from unseen.config import SECOND_OPINION, TILE_OVERLAP, TILE_SIZE, pass_label
from unseen.detect.base import RGB, Detector
from unseen.types import Detections

#: Two boxes are one face when their IoU reaches this; a box with this share
#: of its area inside a stronger one is absorbed by it.
MERGE_IOU = 0.3
MERGE_CONTAINED = 0.6
#: Largest face (height in original pixels) kept from an enlarged view.
ENLARGED_MAX_FACE = 48
#: Largest enlarged view, in pixels: bigger images are enlarged less, or not at all.
ENLARGED_MAX_PIXELS = 12_000_000
#: Smallest face (height in original pixels) that an adding pass contributes.
ADDED_MIN_FACE = 64


def tiles(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of windows of ``tile`` covering ``[0, length)`` with at
    least ``overlap`` shared between neighbours."""
    if length <= tile:
        return [0]
    step = tile - overlap
    count = -(-(length - overlap) // step)
    last = length - tile
    return sorted({min(i * step, last) for i in range(count)} | {last})


def windows(
    width: int, height: int, tile: int = TILE_SIZE, overlap: int = TILE_OVERLAP
) -> Iterator[tuple[int, int, int, int]]:
    """``(x, y, w, h)`` of each tile of an image."""
    for y in tiles(height, tile, overlap):
        for x in tiles(width, tile, overlap):
            yield x, y, min(tile, width - x), min(tile, height - y)


def cluster(dets: Detections) -> Detections:
    """One box per face for the boxes of one detector at one scale.

    Boxes overlapping a stronger one (IoU of at least ``MERGE_IOU``) are
    the same face reported again, slightly shifted: they become their
    score-weighted mean, which keeps the box tight. Repeated until nothing
    changes (a mean can reach a box that none of its members reached), so
    clustering a result again is a no-op.
    """
    return _until_stable(lambda d: _merge(d, union=False), dets)


def combine(groups: Sequence[Detections]) -> Detections:
    """One box per face across tiles, detectors and scales.

    Boxes of the same face from different views disagree on where a face
    ends, so they become their union: when in doubt, mask more. A box lying
    mostly inside a larger one (a face cut at a tile border, an eye taken
    for a tiny face in an enlarged view) is absorbed by it, the larger box
    growing to hold it, so no area any view called a face is ever dropped.
    Repeated until nothing changes, so combining a result again is a no-op.
    """
    return _until_stable(lambda d: _absorb(_merge(d, union=True)), Detections.concat(list(groups)))


def _until_stable(step: Callable[[Detections], Detections], dets: Detections) -> Detections:
    """``step`` applied until it merges no more boxes."""
    while True:
        merged = step(dets)
        if len(merged) == len(dets):
            return merged
        dets = merged


def _absorb(dets: Detections) -> Detections:
    """Grow each box over the smaller boxes lying mostly inside it, keeping the best score."""
    if len(dets) <= 1:
        return dets
    boxes = dets.boxes.astype(np.float64)
    scores = dets.scores.copy()
    sources = list(dets.sources)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = np.ones(len(boxes), bool)
    for i in np.argsort(-areas, kind="stable"):
        if not keep[i]:
            continue
        inside = _overlaps(boxes[i], boxes)[1] & keep & (areas < areas[i])
        if inside.any():
            group = np.vstack([boxes[i : i + 1], boxes[inside]])
            boxes[i] = np.concatenate([group[:, :2].min(axis=0), group[:, 2:].max(axis=0)])
            best = int(np.flatnonzero(inside)[np.argmax(scores[inside])])
            if scores[best] > scores[i]:
                scores[i], sources[i] = scores[best], sources[best]
            keep &= ~inside
    return Detections(
        boxes[keep].astype(np.float32), scores[keep], tuple(np.array(sources, object)[keep])
    )


def _merge(dets: Detections, union: bool) -> Detections:
    if len(dets) <= 1:
        return dets
    order = np.argsort(-dets.scores, kind="stable")
    boxes = dets.boxes[order].astype(np.float64)
    scores = dets.scores[order].astype(np.float64)
    alive = np.ones(len(boxes), bool)
    out_boxes, out_scores, out_sources = [], [], []
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        members = alive & _overlaps(boxes[i], boxes)[0]
        members[i] = True
        group = boxes[members]
        if union:
            out_boxes.append(np.concatenate([group[:, :2].min(axis=0), group[:, 2:].max(axis=0)]))
        else:
            weights = scores[members]
            out_boxes.append((group * weights[:, None]).sum(axis=0) / weights.sum())
        out_scores.append(scores[i])
        out_sources.append(dets.sources[order[i]])
        alive &= ~members
    return Detections(np.array(out_boxes), np.array(out_scores), tuple(out_sources))


def _overlaps(
    box: npt.NDArray[np.float64], boxes: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Which ``boxes`` are the same face as ``box`` (IoU), and which lie
    mostly inside it."""
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
        inside = np.where(areas > 0, inter / areas, 1.0)
    return iou >= MERGE_IOU, inside >= MERGE_CONTAINED


def detect_faces(
    rgb: RGB,
    passes: Sequence[tuple[Detector, float, float]],
    seconded: Mapping[str, float] | None = None,
    additions: Sequence[tuple[Detector, float, float]] = (),
) -> Detections:
    """Every face found in ``rgb`` by the ``(detector, scale, threshold)``
    passes, merged, in the pixel coordinates of ``rgb``.

    Each pass sees the image at its scale, cut into tiles. An enlarged pass
    keeps only faces up to ``ENLARGED_MAX_FACE`` pixels (large ones are seen
    whole at scale 1); a pass at scale 1 on an image larger than a tile also
    sees one downscaled view, where faces larger than a tile are whole.

    ``seconded`` gives some passes, by label, a weaker threshold: their
    candidates scoring from it up to the pass's threshold are kept when
    another pass saw the same face at its detector's ``SECOND_OPINION``, or
    when they are ``ENLARGED_MAX_FACE`` pixels tall or more (no enlarged pass
    confirms those).

    ``additions`` are passes (at scale 1 or less) that only add faces: their
    candidates ``ADDED_MIN_FACE`` pixels tall or more that overlap no face
    the ``passes`` found (IoU under ``MERGE_IOU``).
    """
    seconded = seconded or {}
    height, width = rgb.shape[:2]
    found: list[Detections] = []
    weak: dict[str, list[Detections]] = {}
    opinions: dict[str, list[Detections]] = {}
    for detector, nominal, threshold in passes:
        scale = nominal
        if scale > 1.0:
            # Enlarged views are bounded: a 12 MP photo is not blown up to 48 MP.
            scale = min(scale, (ENLARGED_MAX_PIXELS / (width * height)) ** 0.5)
            if scale <= 1.0:
                continue
        label = pass_label(detector.name, nominal)
        opinion = SECOND_OPINION.get(detector.name, threshold)
        floor = min(threshold, seconded.get(label, threshold), opinion) if seconded else threshold
        views = [_resized(rgb, scale)]
        if scale <= 1.0 and max(width, height) > TILE_SIZE:
            views.append(_resized(rgb, TILE_SIZE / max(width, height)))
        for factor, view in views:
            for dets in _detect_view(detector, view, factor, floor):
                if factor > 1.0:
                    dets = Detections(dets.boxes, dets.scores, (label,) * len(dets))
                found.append(cluster(dets.select(dets.scores >= threshold)))
                if not seconded:
                    continue
                opinions.setdefault(label, []).append(dets.select(dets.scores >= opinion))
                if label in seconded:
                    # Clustered with the stronger boxes, so that a weak copy
                    # of a face already found joins it instead of widening it.
                    faces = cluster(dets.select(dets.scores >= seconded[label]))
                    weak.setdefault(label, []).append(faces.select(faces.scores < threshold))
    for label, groups in weak.items():
        # Clustered only here: a pass's own low-scoring boxes are many, and
        # serve only the other passes.
        others = [cluster(d) for other, ds in opinions.items() if other != label for d in ds]
        found.append(_second_opinion(Detections.concat(groups), combine(others)))
    faces = combine(found)
    if not additions:
        return faces
    return combine([faces, *(_added(rgb, faces, *addition) for addition in additions)])


def _added(
    rgb: RGB, faces: Detections, detector: Detector, scale: float, threshold: float
) -> Detections:
    """What one adding pass finds that is large enough and overlaps none of ``faces``."""
    label = pass_label(detector.name, scale)
    factor, view = _resized(rgb, min(scale, 1.0))
    added = []
    for dets in _detect_view(detector, view, factor, threshold):
        dets = cluster(dets)
        dets = dets.select(
            (dets.boxes[:, 3] - dets.boxes[:, 1] >= ADDED_MIN_FACE) & ~_seen(dets, faces)
        )
        added.append(Detections(dets.boxes, dets.scores, (label,) * len(dets)))
    return Detections.concat(added)


def _second_opinion(candidates: Detections, others: Detections) -> Detections:
    """The ``candidates`` that ``others`` saw too, and those too tall for an
    enlarged pass to have looked at."""
    if not len(candidates):
        return candidates
    keep = candidates.boxes[:, 3] - candidates.boxes[:, 1] >= ENLARGED_MAX_FACE
    return candidates.select(keep | _seen(candidates, others))


def _seen(candidates: Detections, others: Detections) -> npt.NDArray[np.bool_]:
    """Which ``candidates`` are a face of ``others`` too (IoU of ``MERGE_IOU`` or more)."""
    if not len(others) or not len(candidates):
        return np.zeros(len(candidates), bool)
    boxes = others.boxes.astype(np.float64)
    return np.array([_overlaps(box, boxes)[0].any() for box in candidates.boxes.astype(np.float64)])


def _detect_view(
    detector: Detector, view: RGB, factor: float, threshold: float
) -> list[Detections]:
    """What one detector finds in each tile of a view, unmerged, in the
    coordinates of the whole image. Tiles are not merged here: a face cut at
    a tile border must not be averaged with its whole copy from the next
    tile."""
    view_h, view_w = view.shape[:2]
    tiles_found = []
    for x, y, w, h in windows(view_w, view_h):
        dets = detector.detect(np.ascontiguousarray(view[y : y + h, x : x + w]), threshold)
        dets = _shifted(dets, x, y, factor)
        if factor > 1.0 and len(dets):
            dets = dets.select(dets.boxes[:, 3] - dets.boxes[:, 1] <= ENLARGED_MAX_FACE)
        tiles_found.append(dets)
    return tiles_found


def _resized(rgb: RGB, factor: float) -> tuple[float, RGB]:
    if factor == 1.0:
        return 1.0, rgb
    height, width = rgb.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    if factor < 1:
        # Area averaging: antialiased, and thirty times faster than Pillow's
        # bilinear filter on a video frame.
        view = np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), np.uint8)
    else:
        view = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC))
    return size[0] / width, view


def _shifted(dets: Detections, x: int, y: int, factor: float) -> Detections:
    if not len(dets):
        return dets
    boxes = (dets.boxes + np.array([x, y, x, y], np.float32)) / factor
    return Detections(boxes, dets.scores, dets.sources)
