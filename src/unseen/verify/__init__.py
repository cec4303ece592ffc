"""Verification: every output is attacked before it is released.

- :func:`verify_frame` attacks one frame (residual faces, re-identification);
  video and animated images call it per frame.
- :func:`verify_image` checks one image file's bytes: read-back (format,
  size, metadata, embedded images), then every frame.
- :class:`FrameAudit` attacks a video's frames as they are protected.
- :func:`load_attackers` loads the detectors and recognizers once.
"""

from unseen.verify.faces import Attackers, load_attackers, verify_frame
from unseen.verify.image import FACE_CHECKS, read_back, verify_image
from unseen.verify.video import FrameAudit

__all__ = [
    "FACE_CHECKS",
    "Attackers",
    "FrameAudit",
    "load_attackers",
    "read_back",
    "verify_frame",
    "verify_image",
]
