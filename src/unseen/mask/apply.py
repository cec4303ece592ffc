"""Painting masks over faces.

The input frame is never written to; a new array is returned. "solid" and
"noise" replace the pixels outright, so nothing of the face survives;
"pixelate" and "blur" keep a coarse version of it that published attacks can
match, and are offered only for cases where that risk is accepted.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

from unseen.config import Options
from unseen.types import Detections, MaskRegion

Pixels = npt.NDArray[np.uint8]

#: Pixelation keeps this many blocks across the masked area: coarse enough
#: to hide features, and documented as weaker than solid or noise fills.
PIXELATE_BLOCKS = 6


def mask_box(
    face: tuple[float, float, float, float],
    margin: tuple[float, float, float],
    width: int,
    height: int,
) -> tuple[int, int, int, int]:
    """The area to paint for a detected face: the box grown by the margins
    (sides, top, bottom, as fractions of the face size), rounded outwards and
    clipped to the image. End-exclusive."""
    x1, y1, x2, y2 = face
    w, h = x2 - x1, y2 - y1
    side, top, bottom = margin
    return (
        max(0, int(np.floor(x1 - side * w))),
        max(0, int(np.floor(y1 - top * h))),
        min(width, int(np.ceil(x2 + side * w))),
        min(height, int(np.ceil(y2 + bottom * h))),
    )


def shape_mask(box: tuple[int, int, int, int], shape: str) -> npt.NDArray[np.bool_]:
    """The pixels of ``box`` (its own coordinates) that a mask of ``shape`` paints."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    if shape == "box":
        return np.ones((h, w), bool)
    # Pixel centres inside the ellipse inscribed in the box. Tiny boxes are
    # filled whole so that a face of a few pixels is never left untouched.
    if w < 4 or h < 4:
        return np.ones((h, w), bool)
    ys = (np.arange(h) + 0.5 - h / 2) / (h / 2)
    xs = (np.arange(w) + 0.5 - w / 2) / (w / 2)
    inside: npt.NDArray[np.bool_] = (ys[:, None] ** 2 + xs[None, :] ** 2) <= 1.0
    return inside


def _fill(patch: Pixels, options: Options, rng: np.random.Generator) -> Pixels:
    h, w = patch.shape[:2]
    colour = (h, w, 3)
    out = patch.copy()
    if options.fill == "solid":
        out[..., :3] = np.array(options.color, np.uint8)
    elif options.fill == "noise":
        out[..., :3] = rng.integers(0, 256, colour, dtype=np.uint8)
    elif options.fill == "pixelate":
        block = Image.fromarray(np.ascontiguousarray(patch[..., :3]))
        small = block.resize(
            (max(1, min(w, PIXELATE_BLOCKS)), max(1, min(h, PIXELATE_BLOCKS))), Image.Resampling.BOX
        )
        out[..., :3] = np.asarray(small.resize((w, h), Image.Resampling.NEAREST))
    else:  # blur
        block = Image.fromarray(np.ascontiguousarray(patch[..., :3]))
        radius = max(2.0, max(w, h) / 6)
        out[..., :3] = np.asarray(block.filter(ImageFilter.GaussianBlur(radius)))
    return out


def plan_masks(
    dets: Detections, options: Options, width: int, height: int, frame: int = 0
) -> tuple[MaskRegion, ...]:
    """Where each detection's mask goes in a ``width`` x ``height`` frame:
    the face grown by the margins and clipped; faces wholly outside are dropped."""
    regions = []
    for (face, score, source), label, track in zip(dets, dets.labels, dets.track_ids, strict=True):
        box = mask_box(face, options.margin, width, height)
        if box[2] > box[0] and box[3] > box[1]:
            tracked = None if track < 0 else int(track)
            regions.append(
                MaskRegion(frame, options.shape, box, face, score, source, label, tracked)
            )
    return tuple(regions)


def apply_masks(
    pixels: Pixels, dets: Detections, options: Options, frame: int = 0
) -> tuple[Pixels, tuple[MaskRegion, ...]]:
    """A copy of ``pixels`` (H x W x 3 or 4) with every detection masked, and
    the regions painted, in the order given."""
    height, width = pixels.shape[:2]
    regions = plan_masks(dets, options, width, height, frame)
    out = pixels.copy()
    # A fresh secret per call: noise is never derived from the input.
    rng = np.random.default_rng()
    for region in regions:
        x1, y1, x2, y2 = region.box
        inside = shape_mask(region.box, options.shape)
        filled = _fill(pixels[y1:y2, x1:x2], options, rng)
        target = out[y1:y2, x1:x2]
        target[inside] = filled[inside]
    return out, regions
