"""Face detectors behind one interface, and how their results are combined."""

from unseen.detect.base import Detector, get_detector, register
from unseen.detect.tiling import detect_faces

__all__ = ["Detector", "detect_faces", "get_detector", "register"]
