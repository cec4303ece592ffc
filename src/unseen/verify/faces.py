"""The face attacks on one frame: residual faces, and re-identification.

Frame-level on purpose: a still image is one frame, an animation or a video
many; the caller decodes, this module only compares pixels.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from unseen.config import (
    REID_CONTEXT_MARGIN,
    REID_MIN_FACE,
    RESIDUAL_INSIDE_MASK,
    STRUCTURE_CORE,
    STRUCTURE_CORRELATION,
    STRUCTURE_FLAT,
    STRUCTURE_GRID,
    STRUCTURE_NOISE,
    VERIFY_PASSES,
    VERIFY_RECOGNIZERS,
    Options,
)
from unseen.detect import Detector, detect_faces, get_detector
from unseen.mask.apply import apply_masks, shape_mask
from unseen.types import Check, Detections, FaceScore, Finding, MaskRegion, Verification
from unseen.verify.recognize import Recognizer, get_recognizer, grown

Pixels = npt.NDArray[np.uint8]
#: Re-identification looks at the face grown by this much of its size on every side.
_WINDOW = 1.0


@dataclass(frozen=True)
class Attackers:
    """The models the face checks run: detection passes on a mirrored view of
    the output, and recognizers. Load once with :func:`load_attackers`."""

    passes: tuple[tuple[Detector, float, float], ...]
    recognizers: tuple[Recognizer, ...]


def load_attackers(
    passes: Sequence[tuple[str, float, float]] = VERIFY_PASSES,
    recognizers: Sequence[str] = VERIFY_RECOGNIZERS,
) -> Attackers:
    """The detectors and recognizers named, loaded (raises ``ModelMissing``)."""
    return Attackers(
        tuple(
            (get_detector(name, role="verify"), scale, threshold)
            for name, scale, threshold in passes
        ),
        tuple(get_recognizer(name) for name in recognizers),
    )


def verify_frame(
    original: Pixels | None,
    protected: Pixels,
    regions: Sequence[MaskRegion],
    frame_index: int = 0,
    *,
    attackers: Attackers | None = None,
    structure_check: bool = True,
    kept: Sequence[MaskRegion] = (),
) -> Verification:
    """Attack one protected frame.

    - **residual faces**: the detection passes run on the mirrored
      ``protected`` frame; a face lying mostly outside every region fails.
    - **re-identification** (needs ``original``, same size): for every region,
      each recognizer aligns the face on ``original`` and compares it with the
      same patch of ``protected``; a match fails.
    - **face structure** (needs ``original``): the face's pixels, reduced to
      a coarse grid, must not correlate with the original's (what blur and
      pixelation leave, and attacks trained on blurred faces use).

    Faces shorter than ``REID_MIN_FACE`` pixels get neither of the last two
    (recognizers are unreliable there); they get no ``FaceScore``.

    ``regions`` are where faces were masked (or, to audit another tool's
    output, where faces are in the original), in frame pixels. Frames are
    H x W x 3 or 4 uint8; neither is modified. ``attackers`` defaults to
    :func:`load_attackers` (models are loaded once per process either way).
    ``structure_check`` false skips the face-structure check (for a fill that
    keeps structure by design, chosen knowingly). ``kept`` are regions left
    visible by a person's decision (a plan's ``keep``): a face there is no
    residual face, and nothing there is attacked.

    Example::

        attackers = load_attackers()
        result = verify_frame(original, protected, regions, 12, attackers=attackers)
        if not result.passed:
            print(result.summary())
    """
    began = time.monotonic()
    attackers = attackers or load_attackers()
    rgb = np.ascontiguousarray(protected[..., :3])
    findings = residual_faces(rgb, [*regions, *kept], frame_index, attackers.passes)
    scores: list[FaceScore] = []
    skipped: tuple[Check, ...] = () if structure_check else ("face-structure",)
    if original is None:
        skipped = ("reidentification", "face-structure")
    elif original.shape[:2] != protected.shape[:2]:
        findings.append(
            Finding(
                "reidentification",
                f"the output is {protected.shape[1]}x{protected.shape[0]}, the original "
                f"{original.shape[1]}x{original.shape[0]}: faces cannot be compared",
                frame_index,
            )
        )
    else:
        source = np.ascontiguousarray(original[..., :3])
        for region in regions:
            if region.face[3] - region.face[1] < REID_MIN_FACE:
                continue
            correlation = structure(source, rgb, region.face) if structure_check else 0.0
            if correlation >= STRUCTURE_CORRELATION:
                findings.append(
                    Finding(
                        "face-structure",
                        f"the masked face keeps the original's coarse structure (correlation "
                        f"{correlation:.2f} on a {STRUCTURE_GRID}x{STRUCTURE_GRID} grid, limit "
                        f"{STRUCTURE_CORRELATION:g}): blurred or pixelated, not destroyed",
                        frame_index,
                        region.box,
                    )
                )
            for recognizer in attackers.recognizers:
                score = reidentify(recognizer, source, rgb, region)
                scores.append(score)
                if score.matched:
                    findings.append(
                        Finding(
                            "reidentification",
                            f"{recognizer.name} still matches the face (similarity "
                            f"{score.after:.2f}, match at {score.threshold:g}; "
                            f"{score.context or 0:.2f} with the place refilled)",
                            frame_index,
                            region.box,
                        )
                    )
    return Verification(tuple(findings), tuple(scores), skipped, time.monotonic() - began)


def mask_missed(
    pixels: Pixels, missed: Sequence[Finding], options: Options, frame_index: int
) -> tuple[Pixels, tuple[MaskRegion, ...]]:
    """The faces that residual-face findings point at, masked too (recall
    first: a face the masking passes missed, or a false alarm), and the
    regions painted."""
    boxes = np.array([f.box for f in missed if f.box], np.float32).reshape(-1, 4)
    faces = Detections(boxes, np.ones(len(boxes), np.float32), ("verify",) * len(boxes))
    return apply_masks(pixels, faces, options, frame_index)


def residual_faces(
    rgb: Pixels,
    regions: Sequence[MaskRegion],
    frame_index: int,
    passes: Sequence[tuple[Detector, float, float]],
) -> list[Finding]:
    """Faces the passes find in the mirrored frame that lie mostly outside every region.

    Mirroring gives the detectors a view they have not seen: convolutional
    detectors are not exactly symmetric, so a face near their threshold in
    one view can cross it in the other. Hits lying mostly inside a region are
    ignored: a solid mask keeps a face's outline, which CenterFace scores
    about 0.25.
    """
    height, width = rgb.shape[:2]
    found = detect_faces(np.asarray(cv2.flip(rgb, 1), np.uint8), passes)
    masked = np.zeros((height, width), bool)
    for region in regions:
        x1, y1, x2, y2 = region.box
        masked[y1:y2, x1:x2] = True
    findings = []
    for (mx1, top, mx2, bottom), score, source in found:
        box = (
            max(0, int(width - mx2)),
            max(0, int(top)),
            min(width, int(np.ceil(width - mx1))),
            min(height, int(np.ceil(bottom))),
        )
        area = (box[2] - box[0]) * (box[3] - box[1])
        if area <= 0:
            continue
        inside = masked[box[1] : box[3], box[0] : box[2]].sum() / area
        if inside < RESIDUAL_INSIDE_MASK:
            findings.append(
                Finding(
                    "residual-face",
                    f"a face is visible outside every mask ({source} score {score:.2f}, "
                    f"{inside:.0%} of it masked)",
                    frame_index,
                    box,
                )
            )
    return findings


def structure(
    original: Pixels, protected: Pixels, face: tuple[float, float, float, float]
) -> float:
    """Correlation of the middle of the face (eyes, nose, mouth: the central
    ``STRUCTURE_CORE`` of its box, inside any mask) in both frames, each reduced
    to a coarse grid of grey cells; 0 when either grid is flat (a solid fill)."""
    height, width = original.shape[:2]
    x1, y1, x2, y2 = face
    dx, dy = (x2 - x1) * (1 - STRUCTURE_CORE) / 2, (y2 - y1) * (1 - STRUCTURE_CORE) / 2
    left, top = max(0, int(x1 + dx)), max(0, int(y1 + dy))
    right, bottom = min(width, int(np.ceil(x2 - dx))), min(height, int(np.ceil(y2 - dy)))
    if right - left < 2 or bottom - top < 2:
        return 0.0
    greys = [
        Image.fromarray(np.ascontiguousarray(frame[top:bottom, left:right])).convert("L")
        for frame in (original, protected)
    ]
    cells = [
        np.asarray(
            g.resize((STRUCTURE_GRID, STRUCTURE_GRID), Image.Resampling.BOX), np.float64
        ).ravel()
        for g in greys
    ]
    if cells[1].std() < STRUCTURE_FLAT or cells[0].std() < STRUCTURE_FLAT:
        return 0.0
    # Cells that vary no more than independent pixel noise makes them vary
    # (a noise fill) carry no structure either: their correlation with the
    # original is chance, and on a crowd's many small faces chance crosses
    # the limit now and then.
    pixels = np.asarray(greys[1], np.float64)
    noise = pixels.std() / np.sqrt(pixels.size / STRUCTURE_GRID**2)
    if cells[1].std() < STRUCTURE_NOISE * noise:
        return 0.0
    return float(np.corrcoef(cells[0], cells[1])[0, 1])


#: The context reference's pixels are drawn from a fixed seed, so that a
#: verification can be repeated (they are a yardstick, not a secret).
_REFERENCE_SEED = 0
#: A mask area whose pixels, but for 1% and a ring along its edges where
#: lossy encoding (JPEG, H.264) rings within a block (8 pixels), lie this
#: close to their median (levels) is a flat fill.
_FLAT_LEVELS = 8.0
_RING = 8


def _refilled(area: Pixels, inside: npt.NDArray[np.bool_]) -> Pixels:
    """``area`` with its mask area (``inside``) refilled for the context
    reference: a noise of the same colour and spread, or, for a flat fill,
    made exactly flat but for the ring that lossy encoding leaves along its
    edges, kept as it is. SFace scores flat patches on that ring alone: on
    two WIDER FACE photos with solid masks saved as JPEG, 0.47 against 0.15
    when refilled as noise, and 0.40 against -0.12 when refilled wholly flat
    (as PNG, 0.49 against exactly its reference)."""
    # The mask area fills ``area`` to its borders: they are edges too.
    kernel = np.ones((2 * _RING + 1,) * 2, np.uint8)
    interior = cv2.erode(
        inside.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0
    )
    core = interior.astype(bool) if interior.any() else inside
    centre = np.median(area[core], axis=0)
    deviation = np.abs(area[core].astype(np.float64) - centre)
    if np.percentile(deviation, 99) <= _FLAT_LEVELS:
        out = area.copy()
        out[core] = np.rint(centre).astype(np.uint8)
        return out
    pixels = area[inside].astype(np.float64)
    drawn = np.random.default_rng(_REFERENCE_SEED).normal(
        pixels.mean(axis=0), pixels.std(axis=0), pixels.shape
    )
    out = area.copy()
    out[inside] = np.clip(np.rint(drawn), 0, 255).astype(np.uint8)
    return out


def reidentify(
    recognizer: Recognizer, original: Pixels, protected: Pixels, region: MaskRegion
) -> FaceScore:
    """How ``recognizer`` scores the face of ``region``: the original against
    its mirror image (before), against the protected patch (after) and, only
    when that reaches the threshold, against the protected patch with the
    mask area refilled with its own colour statistics there (context)."""
    # Everything happens in a window around the face: the aligned patch never
    # reaches further, and a 12-megapixel frame is not copied once per face.
    height, width = original.shape[:2]
    left, top, right, bottom = grown(region.face, width, height, _WINDOW)
    x1, y1, x2, y2 = region.box
    face = region.face
    local = (face[0] - left, face[1] - top, face[2] - left, face[3] - top)
    source = original[top:bottom, left:right]
    inside = shape_mask(region.box, region.shape)
    sx1, sy1 = max(x1, left), max(y1, top)
    sx2, sy2 = min(x2, right), min(y2, bottom)
    cut = (slice(sy1 - top, sy2 - top), slice(sx1 - left, sx2 - left))
    inside = inside[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1]
    patch = protected[top:bottom, left:right]
    # The context reference: the output with the mask area replaced by
    # pixels drawn independently with the output's own colour statistics
    # there (mean and spread per channel): the output's colour and grain,
    # none of its structure. A solid fill scores exactly as its reference,
    # a noise fill as a noise reference, whatever their colours
    # (recognizers score flat and noisy patches erratically: a solid mask
    # scored 0.37 in magenta and -0.08 in black on one background, noise
    # masks 0.4-0.6 against a flat grey one on small faces). Around the mask
    # it is the output, as the attacker sees it: other masks there (a crowd,
    # a tracked face) are painted in both. With the original's surroundings
    # instead, a false positive wholly inside the masks around it scored
    # 0.42 for black against 0.05 (a real arm-wrestling clip, refused).
    painted = patch.copy()
    if inside.any():
        painted[cut] = _refilled(patch[cut], inside)
    chip, attacked, surroundings = recognizer.chips(source, [patch, painted], local)
    reference, mirrored, seen = recognizer.embed(
        [chip, np.ascontiguousarray(chip[:, ::-1]), attacked]
    )
    after = recognizer.similarity(reference, seen)
    context = None
    if after >= recognizer.threshold:
        [alone] = recognizer.embed([surroundings])
        context = recognizer.similarity(reference, alone)
    return FaceScore(
        region.frame,
        region.box,
        recognizer.name,
        recognizer.similarity(reference, mirrored),
        after,
        context,
        recognizer.threshold,
        REID_CONTEXT_MARGIN,
    )
