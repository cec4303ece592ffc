"""Photos and animated images: plan (find every face), apply (mask what the
plan says, attack the result, write it, read it back), verify and inspect."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from unseen.detect import detect_faces
from unseen.detect.base import Pass
from unseen.errors import VerificationFailed
from unseen.handlers.base import (
    Run,
    Work,
    check_unchanged,
    not_for,
    read_file,
)
from unseen.mask import plan_masks
from unseen.media.image import Decoded, decode, encode
from unseen.media.sniff import HEAD_BYTES, Kind, sniff
from unseen.metadata.read import open_image, read_metadata
from unseen.output import write_atomic
from unseen.paths import Job
from unseen.plans import FilePlan, Region, by_frame, detections, found, paint
from unseen.types import (
    Detections,
    EmbeddedImage,
    FileResult,
    Inspection,
    MaskRegion,
    MetadataItem,
    Verification,
)
from unseen.verify import mask_missed, residual_faces, verify_image

Pixels = npt.NDArray[np.uint8]

#: Faces down to this score are listed by ``inspect`` (masking uses the profile's thresholds).
INSPECT_THRESHOLD = 0.05


@dataclass(frozen=True)
class Loaded:
    """One image file, read once: its bytes, format, pixels and metadata."""

    data: bytes
    format: str
    decoded: Decoded
    items: tuple[MetadataItem, ...]
    embedded: tuple[EmbeddedImage, ...]

    @classmethod
    def read(cls, path: Path, run: Run) -> Loaded:
        data = read_file(path, run.options)
        kind, fmt = sniff(data[:HEAD_BYTES])
        if kind != "image":
            raise not_for(kind, fmt)
        decoded = decode(data, fmt, run.options)
        items, embedded = read_metadata(data, open_image(data, fmt), fmt)
        return cls(data, fmt, decoded, items, embedded)

    def removed(self) -> tuple[str, ...]:
        """ "group:name" of everything beyond the pixels that the output leaves out."""
        names = [f"{m.group}:{m.name}" for m in self.items if m.identifying or m.group == "ICC"]
        names += [f"embedded:{e.kind}" for e in self.embedded]
        decoded = self.decoded
        if decoded.total_frames > len(decoded.frames):
            names.append(f"frames:{decoded.total_frames - len(decoded.frames)} not kept")
        return tuple(dict.fromkeys(names))


def find_faces(rgb: Pixels, run: Run) -> Detections:
    """The faces the run's photo passes find, with second opinions and adding passes."""
    return detect_faces(rgb, run.passes, run.seconded, run.additions)


class ImageHandler:
    kind: Kind = "image"

    def plan(self, job: Job, fmt: str, run: Run) -> FilePlan:
        return self._plan(job, Loaded.read(job.source, run), run)

    def _plan(self, job: Job, loaded: Loaded, run: Run) -> FilePlan:
        regions: list[Region] = []
        for index, frame in enumerate(loaded.decoded.frames):
            dets = find_faces(np.ascontiguousarray(frame[..., :3]), run)
            regions += found(dets, index, len(regions))
        return FilePlan.of(
            job,
            self.kind,
            format=loaded.format,
            size=loaded.decoded.size,
            frames=len(loaded.decoded.frames),
            bytes=len(loaded.data),
            sha256=hashlib.sha256(loaded.data).hexdigest(),
            regions=tuple(regions),
            metadata=loaded.removed(),
            notes=loaded.decoded.notes,
        )

    def apply(self, work: Work, run: Run) -> FileResult:
        job, plan, target, force = work.job, work.plan, work.target, work.force
        loaded = Loaded.read(job.source, run)
        if plan is None:
            plan = self._plan(job, loaded, run)
        else:
            check_unchanged(plan, job.source, loaded.data)
        options, decoded = run.options, loaded.decoded
        planned = by_frame(plan)
        frames: list[Pixels] = []
        regions: list[MaskRegion] = []
        kept: list[MaskRegion] = []
        late: list[int] = []
        for index, frame in enumerate(decoded.frames):
            here = planned.get(index, [])
            masked, painted = paint(frame, here, options, index)
            visible = plan_masks(
                detections([r for r in here if r.decision == "keep"]), options, *decoded.size, index
            )
            if run.attackers is not None:
                # Recall first, as in video: a face the residual check finds
                # outside every mask (and every region kept by decision) is
                # masked too, then the file is verified.
                rgb = np.ascontiguousarray(masked[..., :3])
                missed = residual_faces(rgb, [*painted, *visible], index, run.attackers.passes)
                if missed:
                    masked, extra = mask_missed(masked, missed, options, index)
                    painted = (*painted, *extra)
                    late.append(index)
            frames.append(masked)
            regions.extend(painted)
            kept.extend(visible)
        fmt_out = run.out_format or loaded.format
        checked: list[Verification] = []

        def check(path: Path) -> None:
            checked.append(check_output(path, fmt_out, decoded, regions, kept, run))

        write_atomic(
            target, lambda stream: encode(decoded, frames, fmt_out, stream), check, force=force
        )
        return FileResult(
            input=job.shown,
            output=os.fspath(target),
            status="ok",
            format=fmt_out,
            size=decoded.size,
            frames=len(decoded.frames),
            regions=tuple(regions),
            kept=tuple(kept),
            removed=plan.metadata,
            notes=decoded.notes + late_masks(late),
            verification=checked[0],
        )

    def verify(self, protected: Path, fmt: str, original: Path | None, run: Run) -> Verification:
        data = read_file(protected, run.options)
        source: Decoded | None = None
        regions: list[MaskRegion] = []
        if original is not None:
            loaded = Loaded.read(original, run)
            source = loaded.decoded
            for index, frame in enumerate(source.frames):
                dets = find_faces(np.ascontiguousarray(frame[..., :3]), run)
                regions.extend(plan_masks(dets, run.options, *source.size, index))
        return verify_image(data, fmt, source, regions, run.options, run.attackers)

    def inspect(self, path: Path, fmt: str, run: Run, faces: bool) -> Inspection:
        loaded = Loaded.read(path, run)
        decoded, options = loaded.decoded, run.options
        candidates: tuple[MaskRegion, ...] | None = None
        masked: tuple[MaskRegion, ...] | None = None
        if faces:
            weaker = [Pass(d, scale, min(t, INSPECT_THRESHOLD)) for d, scale, t in run.passes]
            adding = [Pass(d, scale, min(t, INSPECT_THRESHOLD)) for d, scale, t in run.additions]
            weak_found: list[MaskRegion] = []
            painted: list[MaskRegion] = []
            for index, frame in enumerate(decoded.frames):
                rgb = np.ascontiguousarray(frame[..., :3])
                weak = detect_faces(rgb, weaker, additions=adding)
                weak_found.extend(plan_masks(weak, options, *decoded.size, index))
                dets = find_faces(rgb, run)
                painted.extend(plan_masks(dets, options, *decoded.size, index))
            candidates, masked = tuple(weak_found), tuple(painted)
        return Inspection(
            os.fspath(path),
            loaded.format,
            decoded.size,
            decoded.total_frames,
            loaded.items,
            loaded.embedded,
            candidates,
            masked,
        )


def check_output(
    path: Path,
    fmt: str,
    decoded: Decoded,
    regions: Sequence[MaskRegion],
    kept: Sequence[MaskRegion],
    run: Run,
) -> Verification:
    """Verify the written file (the check ``write_atomic`` runs before it
    publishes it): raises :class:`VerificationFailed` naming every finding."""
    verification = verify_image(
        path.read_bytes(), fmt, decoded, regions, run.options, run.attackers, kept
    )
    if not verification.passed:
        raise VerificationFailed(verification.summary(), stage="verify", verification=verification)
    return verification


def late_masks(late: list[int] | tuple[int, ...]) -> tuple[str, ...]:
    """A note on the frames where the residual check found, and masked, a face."""
    if not late:
        return ()
    shown = ", ".join(map(str, late[:10])) + (", ..." if len(late) > 10 else "")
    return (
        f"{len(late)} frame(s) had a face (or a false alarm) that only the residual "
        f"check found, masked too: frames {shown}",
    )
