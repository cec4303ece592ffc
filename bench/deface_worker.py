"""deface 1.5.0, run by bench/faces.py inside bench/.venv-deface (not unseen's venv).

deface's own per-image function (``deface.deface.image_detect``: decode,
CenterFace, ``anonymize_frame``, encode) runs with the CLI's defaults:
threshold 0.2, mask scale 1.3, ellipse masks, blur fill. Only the output
format differs from the CLI's (PNG, lossless, like unseen's side of the bench).

Blur leaves flat areas unchanged, so the output alone does not show every
masked pixel. The exact mask is exported instead: the same detections go
through deface's ``anonymize_frame`` again, on a black-and-white checkerboard
of the image's size, which any box blur of two pixels or more changes
everywhere it is applied. bench/faces.py checks the real output against it.

Protocol: one JSON request per line on stdin, ``{"input", "output", "mask"}``;
one JSON reply per line on stdout, ``{"seconds", "faces"}`` or ``{"error"}``.
``seconds`` is the wall clock of ``image_detect`` alone.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

import numpy as np
from deface.centerface import CenterFace
from deface.deface import anonymize_frame, image_detect
from PIL import Image

# deface's CLI defaults (deface --help).
THRESHOLD = 0.2
MASK_SCALE = 1.3
ELLIPSE = True
REPLACEWITH = "blur"
MOSAICSIZE = 20


class RecordingCenterFace:
    """deface's CenterFace, keeping the detections of its last call."""

    def __init__(self) -> None:
        self.detector = CenterFace(in_shape=None, backend="auto")
        self.dets = np.empty((0, 5), np.float32)

    def __call__(self, img: np.ndarray, threshold: float = 0.5) -> tuple[Any, Any]:
        dets, lms = self.detector(img, threshold=threshold)
        self.dets = dets.copy()
        return dets, lms


def checkerboard(height: int, width: int) -> np.ndarray:
    """Alternating black and white pixels, RGB."""
    grid = (np.indices((height, width)).sum(axis=0) % 2 * 255).astype(np.uint8)
    return np.repeat(grid[..., None], 3, axis=2)


def applied_mask(dets: np.ndarray, height: int, width: int) -> np.ndarray:
    """The pixels deface's ``anonymize_frame`` paints for ``dets``."""
    probe = checkerboard(height, width)
    frame = probe.copy()
    anonymize_frame(
        dets,
        frame,
        mask_scale=MASK_SCALE,
        replacewith=REPLACEWITH,
        ellipse=ELLIPSE,
        draw_scores=False,
        replaceimg=None,
        mosaicsize=MOSAICSIZE,
    )
    return (frame != probe).any(axis=2)


def handle(request: dict[str, str], centerface: RecordingCenterFace) -> dict[str, Any]:
    """Anonymize one image the way the deface CLI does, then export its mask."""
    start = time.perf_counter()
    image_detect(
        request["input"],
        request["output"],
        centerface=centerface,
        threshold=THRESHOLD,
        replacewith=REPLACEWITH,
        mask_scale=MASK_SCALE,
        ellipse=ELLIPSE,
        draw_scores=False,
        enable_preview=False,
        keep_metadata=False,
        mosaicsize=MOSAICSIZE,
    )
    seconds = time.perf_counter() - start
    with Image.open(request["input"]) as image:
        width, height = image.size
    np.save(request["mask"], applied_mask(centerface.dets, height, width))
    return {"seconds": seconds, "faces": len(centerface.dets)}


def serve(requests: TextIO, replies: TextIO) -> None:
    centerface = RecordingCenterFace()
    detector = centerface.detector
    providers = detector.sess.get_providers() if detector.backend == "onnxrt" else ["opencv"]
    print(json.dumps({"ready": True, "providers": providers}), file=replies, flush=True)
    for line in requests:
        try:
            reply = handle(json.loads(line), centerface)
        except Exception as exc:  # reported per image; the bench counts it as a failure
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), file=replies, flush=True)


if __name__ == "__main__":
    replies = sys.stdout
    sys.stdout = sys.stderr  # deface prints its execution provider; keep the protocol clean
    serve(sys.stdin, replies)
