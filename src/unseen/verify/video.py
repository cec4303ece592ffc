"""Verification of a video, frame by frame, while it is being protected.

A video is too long to decode twice, so its frames are attacked as they
leave the masking stage, before they are encoded: the residual-face check on
every frame, at ``VIDEO_RESIDUAL_SCALE`` (one frame with a face is enough to
identify someone), and
re-identification and face structure on every ``REID_EVERY``-th frame
(recognizers cost about as much per face as detection costs per frame). The
first finding stops the video: nothing is released. One exception, recall
first: a face the residual check finds outside every mask (a face the
masking passes missed, or a false alarm) is masked too, and the frame is
checked again; it is refused only if a face is still visible then. The
frames masked this way are counted (:attr:`FrameAudit.late`).

To audit a video already written (``unseen verify``), the same checks run in
a mode that collects findings, up to ``KEPT_FINDINGS``, instead of stopping,
and checks face structure on every frame (its regions are where the original
has faces, not masks known to be painted, so a face left untouched there is
no residual face).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from unseen.config import REID_EVERY, VIDEO_RESIDUAL_SCALE, WEAK_FILLS, Options
from unseen.errors import VerificationFailed
from unseen.types import Check, FaceScore, Finding, MaskRegion, Verification
from unseen.verify.faces import Attackers, Pixels, mask_missed, verify_frame

#: Face scores kept for the report: the highest ``after`` of each recognizer
#: and region, for at most this many frames (a long video would list thousands).
KEPT_SCORES = 200
#: Findings collected by an audit before it stops (the video fails either way).
KEPT_FINDINGS = 50


class FrameAudit:
    """Attacks each protected frame as it comes; :meth:`result` sums them up.

    Call it with every frame, in order: the original pixels (None when there
    is no original: residual faces only), the protected pixels and the regions
    masked in it. Raises :class:`~unseen.errors.VerificationFailed` at the
    first finding. With ``collect`` (to audit a written video, where the
    regions come from the original's faces) it keeps the findings until
    :attr:`full`, and checks face structure on every frame.
    """

    def __init__(self, attackers: Attackers, options: Options, *, collect: bool = False) -> None:
        self.options = options
        #: Frames where faces found by the residual check were masked.
        self.late: list[int] = []
        self.attackers = Attackers(
            tuple((d, scale * VIDEO_RESIDUAL_SCALE, t) for d, scale, t in attackers.passes),
            attackers.recognizers,
        )
        self.detectors = Attackers(self.attackers.passes, ())
        self.structure = options.fill not in WEAK_FILLS
        self.collect = collect
        self.findings: list[Finding] = []
        self.scores: list[FaceScore] = []
        self.seconds = 0.0

    @property
    def full(self) -> bool:
        """``KEPT_FINDINGS`` findings were collected: further frames need no attack."""
        return len(self.findings) >= KEPT_FINDINGS

    def __call__(
        self,
        index: int,
        original: Pixels | None,
        protected: Pixels,
        regions: Sequence[MaskRegion],
        kept: Sequence[MaskRegion] = (),
    ) -> Pixels:
        """Attack one frame; returns it, with any face the residual check found
        (outside ``regions`` and the regions ``kept`` visible by decision) masked."""
        began = time.monotonic()
        sampled = index % REID_EVERY == 0
        # An audit's regions are where the original has faces, not masks known
        # to be painted: the face-structure check (no model, cheap) looks at
        # every frame for a face left as it was, recognizers at sampled ones.
        compared = sampled or self.collect
        found = verify_frame(
            original if compared else None,
            protected,
            regions,
            index,
            attackers=self.attackers if sampled else self.detectors,
            structure_check=self.structure,
            kept=kept,
        )
        missed = [f for f in found.findings if f.check == "residual-face" and f.box]
        if missed and len(missed) == len(found.findings) and not self.collect:
            protected, found = self._mask_late(index, protected, [*regions, *kept], missed, found)
        self.seconds += time.monotonic() - began
        if not found.passed and self.collect:
            self.findings.extend(found.findings[: KEPT_FINDINGS - len(self.findings)])
        elif not found.passed:
            raise VerificationFailed(
                found.summary(),
                stage="verify",
                verification=Verification(found.findings, found.faces, seconds=self.seconds),
            )
        self.scores.extend(found.faces)
        if len(self.scores) > KEPT_SCORES:
            self.scores.sort(key=lambda s: s.after, reverse=True)
            del self.scores[KEPT_SCORES:]
        return protected

    def _mask_late(
        self,
        index: int,
        protected: Pixels,
        regions: Sequence[MaskRegion],
        missed: list[Finding],
        found: Verification,
    ) -> tuple[Pixels, Verification]:
        """Mask the faces the residual check found, then look again for any left."""
        protected, painted = mask_missed(protected, missed, self.options, index)
        self.late.append(index)
        again = verify_frame(None, protected, [*regions, *painted], index, attackers=self.detectors)
        return protected, Verification(again.findings, found.faces)

    def result(self) -> Verification:
        """The findings collected (none unless ``collect``: a frame raised),
        the scores kept and the time spent."""
        skipped: tuple[Check, ...] = () if self.structure else ("face-structure",)
        ordered = sorted(self.scores, key=lambda s: (s.frame, s.box))
        return Verification(tuple(self.findings), tuple(ordered), skipped, self.seconds)
