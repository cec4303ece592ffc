"""Verification of a video, frame by frame, while it is being protected.

A video is too long to decode twice, so its frames are attacked as they
leave the masking stage, before they are encoded: the residual-face check on
every frame, at ``VIDEO_RESIDUAL_SCALE`` (one frame with a face is enough to
identify someone), and
re-identification and face structure on every ``REID_EVERY``-th frame
(recognizers cost about as much per face as detection costs per frame). The
first finding stops the video: nothing is released.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from unseen.config import REID_EVERY, VIDEO_RESIDUAL_SCALE, WEAK_FILLS, Options
from unseen.errors import VerificationFailed
from unseen.types import Check, FaceScore, MaskRegion, Verification
from unseen.verify.faces import Attackers, Pixels, verify_frame

#: Face scores kept for the report: the highest ``after`` of each recognizer
#: and region, for at most this many frames (a long video would list thousands).
KEPT_SCORES = 200


class FrameAudit:
    """Attacks each protected frame as it comes; :meth:`result` sums them up.

    Call it with every frame, in order: the original pixels, the protected
    pixels and the regions masked in it. Raises
    :class:`~unseen.errors.VerificationFailed` at the first finding.
    """

    def __init__(self, attackers: Attackers, options: Options) -> None:
        self.attackers = Attackers(
            tuple((d, scale * VIDEO_RESIDUAL_SCALE, t) for d, scale, t in attackers.passes),
            attackers.recognizers,
        )
        self.structure = options.fill not in WEAK_FILLS
        self.scores: list[FaceScore] = []
        self.seconds = 0.0

    def __call__(
        self, index: int, original: Pixels, protected: Pixels, regions: Sequence[MaskRegion]
    ) -> None:
        began = time.monotonic()
        sampled = index % REID_EVERY == 0
        found = verify_frame(
            original if sampled else None,
            protected,
            regions,
            index,
            attackers=self.attackers,
            structure_check=self.structure,
        )
        self.seconds += time.monotonic() - began
        if not found.passed:
            raise VerificationFailed(
                found.summary(),
                stage="verify",
                verification=Verification(found.findings, found.faces, seconds=self.seconds),
            )
        self.scores.extend(found.faces)
        if len(self.scores) > KEPT_SCORES:
            self.scores.sort(key=lambda s: s.after, reverse=True)
            del self.scores[KEPT_SCORES:]

    def result(self) -> Verification:
        """Every check passed (else a frame raised): the scores kept and the time spent."""
        skipped: tuple[Check, ...] = () if self.structure else ("face-structure",)
        ordered = sorted(self.scores, key=lambda s: (s.frame, s.box))
        return Verification((), tuple(ordered), skipped, self.seconds)
