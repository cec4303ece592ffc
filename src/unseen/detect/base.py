"""The detector interface and the registry of detectors.

A detector is anything with a ``name`` and a ``detect(rgb, threshold)``
method returning :class:`~unseen.types.Detections` in the pixel coordinates
of the array it was given. Adding one means writing a module with a class
and one ``register`` call; the pipeline does not change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from unseen.models import Registry
from unseen.types import Detections

RGB = npt.NDArray[np.uint8]


class Detector(Protocol):
    """Finds faces in one RGB image (H x W x 3, uint8)."""

    name: str

    def detect(self, rgb: RGB, threshold: float) -> Detections: ...


class Pass(NamedTuple):
    """One detection pass: a detector, the scale it sees the image at, and
    the score from which its candidates count."""

    detector: Detector
    scale: float
    threshold: float


def _load_builtin() -> None:
    # Imported here so that the registry exists before the built-in modules
    # register themselves, and so that no model loads before it is asked for.
    from unseen.detect import centerface, yunet  # noqa: F401


DETECTORS: Registry[Detector] = Registry("detector", "detect", _load_builtin)


def register(name: str, factory: Callable[[], Detector]) -> None:
    """Make a detector available under ``name``."""
    DETECTORS.register(name, factory)


def get_detector(name: str, role: str = "mask") -> Detector:
    """The detector registered as ``name``, loaded once per process and ``role``.

    Masking and verification run in threads of their own, and a detector is
    not safe to share between threads (OpenCV's YuNet keeps the input size
    it was last given), so each role has its own instance.
    """
    return DETECTORS.get(name, role)
