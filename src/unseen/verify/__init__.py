"""Verification: every output is attacked before it is released.

- :func:`verify_frame` attacks one frame (residual faces, re-identification);
  video and animated images call it per frame.
- :func:`verify_image` checks one image file's bytes: read-back (format,
  size, metadata, embedded images), then every frame.
- :class:`FrameAudit` attacks a video's frames as they are protected.
- :func:`load_attackers` loads the detectors and recognizers once.
- :func:`residual_faces` and :func:`mask_missed` find, before writing, the
  faces masking missed, and mask them too.
"""

from unseen.verify.faces import (
    Attackers,
    load_attackers,
    mask_missed,
    residual_faces,
    verify_frame,
)
from unseen.verify.image import FACE_CHECKS, read_back, verify_image
from unseen.verify.video import FrameAudit

__all__ = [
    "FACE_CHECKS",
    "Attackers",
    "FrameAudit",
    "load_attackers",
    "mask_missed",
    "read_back",
    "residual_faces",
    "verify_frame",
    "verify_image",
]
