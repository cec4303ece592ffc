"""deface 1.5.0 on one video, run by bench/video.py inside bench/.venv-deface.

Runs deface's own ``video_detect`` with its CLI defaults (threshold 0.2, mask
scale 1.3, ellipse, blur, libx264, sound dropped), recording CenterFace's
detections in every frame, then exports the exact pixels deface masked in
each frame (the checkerboard probe of bench/deface_worker.py) as a packed
boolean array, for bench/video.py to score.

Usage: python deface_video_worker.py INPUT OUTPUT MASKS.npy
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from deface.deface import video_detect
from deface_worker import (
    ELLIPSE,
    MASK_SCALE,
    MOSAICSIZE,
    REPLACEWITH,
    THRESHOLD,
    RecordingCenterFace,
    applied_mask,
)


class AllFrames(RecordingCenterFace):
    """deface's CenterFace, keeping the detections of every frame and its size."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[np.ndarray] = []
        self.shape = (0, 0)

    def __call__(self, img: np.ndarray, threshold: float = 0.5) -> tuple[Any, Any]:
        dets, lms = super().__call__(img, threshold)
        self.frames.append(self.dets)
        self.shape = img.shape[:2]
        return dets, lms


def main(source: str, output: str, masks: str) -> None:
    centerface = AllFrames()
    video_detect(
        source,
        output,
        centerface=centerface,
        threshold=THRESHOLD,
        enable_preview=False,
        cam=False,
        nested=False,
        replacewith=REPLACEWITH,
        mask_scale=MASK_SCALE,
        ellipse=ELLIPSE,
        draw_scores=False,
        ffmpeg_config={"codec": "libx264"},
        mosaicsize=MOSAICSIZE,
    )
    height, width = centerface.shape
    packed = [np.packbits(applied_mask(d, height, width)) for d in centerface.frames]
    np.save(masks, np.stack(packed))


if __name__ == "__main__":
    main(*sys.argv[1:4])
