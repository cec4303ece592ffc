"""Running detectors over whole images: tiles at full resolution, a
downscaled pass for faces larger than a tile, and merging of what overlaps.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image

from unseen.config import TILE_OVERLAP, TILE_SIZE
from unseen.detect.base import RGB, Detector
from unseen.types import Detections

#: Two boxes are one face when their IoU reaches this, or when this share of
#: the smaller one lies inside the larger (a face cut at a tile border).
MERGE_IOU = 0.3
MERGE_CONTAINED = 0.6


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


def merge(dets: Detections) -> Detections:
    """One box per face: overlapping boxes become their union, with the best score.

    The union errs on the side of masking more, which is the side to err on.
    """
    if len(dets) <= 1:
        return dets
    order = np.argsort(-dets.scores, kind="stable")
    boxes = dets.boxes[order].astype(np.float64)
    scores = dets.scores[order]
    sources = [dets.sources[i] for i in order]
    alive = np.ones(len(boxes), bool)
    out_boxes, out_scores, out_sources = [], [], []
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        members = alive & _same_face(boxes[i], boxes)
        members[i] = True
        group = boxes[members]
        out_boxes.append(
            [group[:, 0].min(), group[:, 1].min(), group[:, 2].max(), group[:, 3].max()]
        )
        out_scores.append(scores[i])
        out_sources.append(sources[i])
        alive &= ~members
    return Detections(np.array(out_boxes), np.array(out_scores), tuple(out_sources))


def _same_face(
    box: npt.NDArray[np.float64], boxes: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    smaller = np.minimum(area, areas)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
        contained = np.where(smaller > 0, inter / smaller, 0.0)
    result: npt.NDArray[np.bool_] = (iou >= MERGE_IOU) | (contained >= MERGE_CONTAINED)
    return result


def detect_faces(rgb: RGB, detectors: Sequence[Detector], threshold: float) -> Detections:
    """Every face the detectors find in ``rgb``, merged, in its pixel coordinates."""
    height, width = rgb.shape[:2]
    found: list[Detections] = []
    for detector in detectors:
        for x, y, w, h in windows(width, height):
            dets = detector.detect(np.ascontiguousarray(rgb[y : y + h, x : x + w]), threshold)
            found.append(_shifted(dets, x, y, 1.0))
        if max(width, height) > TILE_SIZE:
            # Faces larger than a tile are only whole in a downscaled view.
            factor = TILE_SIZE / max(width, height)
            small = Image.fromarray(rgb).resize(
                (max(1, round(width * factor)), max(1, round(height * factor))),
                Image.Resampling.BILINEAR,
            )
            found.append(_shifted(detector.detect(np.asarray(small), threshold), 0, 0, factor))
    return merge(Detections.concat(found))


def _shifted(dets: Detections, x: int, y: int, factor: float) -> Detections:
    if not len(dets):
        return dets
    boxes = dets.boxes / factor + np.array([x, y, x, y], np.float32)
    return Detections(boxes, dets.scores, dets.sources)
