"""The library's entry points. The CLI is a thin layer over these."""

from __future__ import annotations

import dataclasses
import itertools
import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import numpy.typing as npt

from unseen import __version__
from unseen.audio import (
    Track,
    listen,
    protect_audio,
    settle_sound,
    settled,
    sound_notes,
    voice_finding,
)
from unseen.audio.speaker import SpeakerCheck
from unseen.config import VERIFY_RECOGNIZERS, Options
from unseen.detect import Detector, detect_faces, get_detector
from unseen.errors import (
    CorruptMedia,
    InputError,
    LimitExceeded,
    OutputError,
    UnseenError,
    UnsupportedFormat,
    VerificationFailed,
)
from unseen.mask import apply_masks, plan_masks
from unseen.media import video
from unseen.media.image import FORMATS, Decoded, check_format, decode, encode
from unseen.media.sniff import HEAD_BYTES, Kind, sniff
from unseen.metadata.read import open_image, read_metadata
from unseen.output import Staging, write_atomic
from unseen.paths import Job, claim_outputs, collect
from unseen.track import Masked, Tracker, audit_video, mask_video
from unseen.types import (
    CHECKS,
    PICTURE_CHECKS,
    SOUND_CHECKS,
    AudioSummary,
    Check,
    Detections,
    EmbeddedImage,
    FileResult,
    Finding,
    Inspection,
    MaskRegion,
    MetadataItem,
    RunReport,
    Verification,
)
from unseen.verify import (
    FACE_CHECKS,
    Attackers,
    FrameAudit,
    load_attackers,
    mask_missed,
    residual_faces,
    verify_image,
)

# onnxruntime (1.32 on Linux) writes a persistent device id under ~/.cache and
# a session file in the temporary folder as soon as it is imported, then sends
# usage telemetry to Microsoft (DNS lookups seconds later), unless this is set
# before its first import, which happens lazily when a detector is created.
# unseen must never touch the network nor leave identifiers on the user's disk.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

Progress = Callable[[int, int, FileResult], None]
#: Progress within one video: the input as shown, frames done, frames expected.
FrameProgress = Callable[[str, int, int], None]


def anonymize(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    options: Options | None = None,
    force: bool = False,
    skip_existing: bool = False,
    progress: Progress | None = None,
    frame_progress: FrameProgress | None = None,
) -> RunReport:
    """Protect every image and video in ``inputs`` (files or folders,
    recursively), writing clean copies under ``out_dir`` with the same
    relative names. ``frame_progress``, if given, is called after each video
    frame written, with the input as shown, frames done and frames expected.

    Never raises for a bad input file: each file's outcome, error included,
    is in the returned report. Inputs are never modified, and an output
    exists only if every stage succeeded for it.

    With ``skip_existing``, a file whose output already exists is left alone
    and reported as ``"skipped"``: outputs appear atomically, so an existing
    one is complete, and rerunning an interrupted batch finishes it.

    Example::

        report = anonymize(["photos/"], "safe/")
        assert report.ok, [f.error for f in report.failed]
    """
    if force and skip_existing:
        raise ValueError("force and skip_existing exclude each other")
    options = options or Options()
    out = Path(out_dir)
    out_format = None if options.format is None else check_format(options.format)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    if out.exists() and not out.is_dir():
        raise OutputError("the output path exists and is not a folder", path=out, stage="write")
    for given in inputs:
        if os.path.isdir(given) and os.path.realpath(given) == os.path.realpath(out):
            raise OutputError(
                "the output folder is an input folder: outputs would land next to the "
                "originals; choose another --out",
                path=out,
                stage="write",
            )
    passes = _passes(options)
    attackers = load_attackers() if options.verify else None

    def rename(job: Job) -> Path:
        """``--format`` converts images only: videos and sound keep their names."""
        if out_format is None or job.problem is not None:
            return job.relative
        try:
            kind, _ = _sniff_file(job.source)
        except (OSError, UnseenError):
            return job.relative  # the job fails later, with the reason
        if kind in ("video", "audio"):
            return job.relative
        return job.relative.with_suffix(FORMATS[out_format][0])

    jobs = claim_outputs(collect(list(inputs), out), rename)
    results: list[FileResult] = []
    for index, job in enumerate(jobs):
        result = _protect(
            job, out, options, out_format, passes, attackers, force, skip_existing, frame_progress
        )
        results.append(result)
        if progress is not None:
            progress(index + 1, len(jobs), result)
    return RunReport(__version__, started, _jsonable(options), tuple(results))


def _passes(options: Options, video: bool = False) -> list[tuple[Detector, float, float]]:
    return [
        (get_detector(name), scale, threshold) for name, scale, threshold in options.passes(video)
    ]


def _additions(options: Options) -> list[tuple[Detector, float, float]]:
    return [(get_detector(name), scale, t) for name, scale, t in options.additions()]


def _find_faces(
    rgb: npt.NDArray[np.uint8], passes: list[tuple[Detector, float, float]], options: Options
) -> Detections:
    """The faces ``passes`` find in a photo's frame, with the profile's
    second opinions and adding passes."""
    return detect_faces(rgb, passes, options.seconded(), _additions(options))


def _jsonable(options: Options) -> dict[str, object]:
    out = {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(options).items()
    }
    if options.voice_seed is not None:
        out["voice_seed"] = "hidden"  # it would let a reader re-create the pseudo-voice
    return out


def _protect(
    job: Job,
    out: Path,
    options: Options,
    out_format: str | None,
    passes: list[tuple[Detector, float, float]],
    attackers: Attackers | None,
    force: bool,
    skip_existing: bool = False,
    frame_progress: FrameProgress | None = None,
) -> FileResult:
    began = time.monotonic()
    target = out / job.relative
    try:
        if job.problem is not None:
            raise InputError(job.problem, stage="read")
        if os.path.realpath(target) == os.path.realpath(job.source):
            raise OutputError("the output would replace the input", stage="write")
        if skip_existing and _is_plain_file(target):
            return FileResult(
                input=job.shown,
                output=os.fspath(target),
                status="skipped",
                seconds=time.monotonic() - began,
            )
        kind, fmt = _sniff_file(job.source)
        if kind == "video":
            return _protect_video(
                job, target, fmt, options, attackers, force, began, frame_progress
            )
        if kind == "audio":
            return _protect_audio(job, target, fmt, options, force, began)
        if kind != "image":
            raise UnsupportedFormat(_unsupported(job.source), stage="read")
        return _protect_image(job, target, options, out_format, passes, attackers, force, began)
    except VerificationFailed as exc:
        return _failed(job, exc.reason, exc.stage, began, exc.verification)
    except UnseenError as exc:
        return _failed(job, exc.reason, exc.stage, began)
    except OSError as exc:
        return _failed(job, exc.strerror or str(exc), "io", began)
    except Exception as exc:  # fail closed on anything unforeseen
        return _failed(job, f"unexpected error: {type(exc).__name__}: {exc}", None, began)


def _protect_image(
    job: Job,
    target: Path,
    options: Options,
    out_format: str | None,
    passes: list[tuple[Detector, float, float]],
    attackers: Attackers | None,
    force: bool,
    began: float,
) -> FileResult:
    fmt, decoded, items, embedded = _load(job.source, options)
    frames: list[npt.NDArray[np.uint8]] = []
    regions: list[MaskRegion] = []
    late: list[int] = []
    for index, frame in enumerate(decoded.frames):
        dets = _find_faces(np.ascontiguousarray(frame[..., :3]), passes, options)
        masked, found = apply_masks(frame, dets, options, index)
        if attackers is not None:
            # Recall first, as in video: a face the residual check finds
            # outside every mask is masked too, then the file is verified.
            rgb = np.ascontiguousarray(masked[..., :3])
            missed = residual_faces(rgb, found, index, attackers.passes)
            if missed:
                masked, extra = mask_missed(masked, missed, options, index)
                found = (*found, *extra)
                late.append(index)
        frames.append(masked)
        regions.extend(found)
    fmt_out = out_format or fmt
    checked: list[Verification] = []

    def check(path: Path) -> None:
        checked.append(_check_output(path, fmt_out, decoded, regions, options, attackers))

    write_atomic(
        target, lambda stream: encode(decoded, frames, fmt_out, stream), check, force=force
    )
    removed = [f"{m.group}:{m.name}" for m in items if m.identifying or m.group == "ICC"] + [
        f"embedded:{e.kind}" for e in embedded
    ]
    if decoded.total_frames > len(decoded.frames):
        removed.append(f"frames:{decoded.total_frames - len(decoded.frames)} not kept")
    return FileResult(
        input=job.shown,
        output=os.fspath(target),
        status="ok",
        format=fmt_out,
        size=decoded.size,
        frames=len(decoded.frames),
        regions=tuple(regions),
        removed=tuple(dict.fromkeys(removed)),
        notes=decoded.notes + _late_masks(late),
        seconds=time.monotonic() - began,
        verification=checked[0],
    )


def _protect_video(
    job: Job,
    target: Path,
    fmt: str,
    options: Options,
    attackers: Attackers | None,
    force: bool,
    began: float,
    frame_progress: FrameProgress | None,
) -> FileResult:
    plan = _video_plan(job.source, fmt, options, keep_audio=options.audio == "keep")
    tracker: Tracker[video.Picture] = Tracker()
    passes = _passes(options, video=True)
    audit = None if attackers is None else FrameAudit(attackers, options)
    written = video.Written(0)
    sound: AudioSummary | None = None

    def mask(pictures: Iterator[video.Picture]) -> Iterator[Masked]:
        return mask_video(pictures, passes, options, tracker)

    def check(frames: Iterator[Masked]) -> Iterator[video.Picture]:
        return audit_video(frames, audit)

    def done(frames: int) -> None:
        if frame_progress is not None:
            frame_progress(job.shown, frames, max(frames, plan.expected_frames))

    with Staging(target, force=force) as stage:
        scratch = stage.scratch("sound.flac")
        if plan.audio:
            # The voice is settled before any frame is encoded: a pseudo-voice
            # the attacker still recognizes is drawn again at the cost of the
            # sound alone, and a failed voice costs no encoding at all.
            track = Track(plan.sample_rate, plan.channels, lambda: video.sound(job.source, plan))
            sound = settle_sound(track, options, scratch)

        def write(stream: BinaryIO) -> None:
            nonlocal written
            samples = settled(scratch, options) if plan.audio else None
            written = video.transcode(job.source, stream, plan, (mask, check), samples, done)

        stage.publish(write, lambda path: video.check_output(path, plan, written.frames))
    late = _late_masks(audit.late if audit else ())
    return FileResult(
        input=job.shown,
        output=os.fspath(target),
        status="ok",
        format=plan.muxer,
        size=plan.size,
        frames=written.frames,
        tracks=tracker.tracks,
        removed=plan.removed,
        notes=plan.notes + written.notes + (sound_notes(sound) if sound else ()) + late,
        seconds=time.monotonic() - began,
        audio=sound,
        verification=_video_verification(plan, options, audit),
    )


def _video_plan(path: Path, fmt: str, options: Options, keep_audio: bool) -> video.Plan:
    """The plan of a video file sniffed as ``fmt``, written back in its own container."""
    with _open_regular(path) as stream:
        muxer = video.muxer_for(fmt, stream.read(HEAD_BYTES), path.suffix)
    return video.plan(path, muxer, options, keep_audio=keep_audio)


def _video_verification(
    plan: video.Plan, options: Options, audit: FrameAudit | None
) -> Verification:
    """The checks a released video passed: its frames' (unless ``--no-verify``)
    and, when its sound was kept, the voice check (unless ``--voice keep``)."""
    frames = Verification(skipped=FACE_CHECKS) if audit is None else audit.result()
    if not plan.audio:
        return frames
    voice: tuple[Check, ...] = ("voice",) if options.voice == "keep" else ()
    return dataclasses.replace(frames, checks=CHECKS, skipped=frames.skipped + voice)


def _late_masks(late: Sequence[int]) -> tuple[str, ...]:
    """A note on the frames where the residual check found, and masked, a face."""
    if not late:
        return ()
    shown = ", ".join(map(str, late[:10])) + (", ..." if len(late) > 10 else "")
    return (
        f"{len(late)} frame(s) had a face (or a false alarm) that only the residual "
        f"check found, masked too: frames {shown}",
    )


def _protect_audio(
    job: Job, target: Path, fmt: str, options: Options, force: bool, began: float
) -> FileResult:
    with _open_regular(job.source) as stream:
        size = os.fstat(stream.fileno()).st_size
    if size > options.max_file_bytes:
        raise LimitExceeded(
            f"{size:,} bytes, above the limit of {options.max_file_bytes:,}", stage="read"
        )
    summary, removed, notes = protect_audio(job.source, target, fmt, options, force=force)
    return FileResult(
        input=job.shown,
        output=os.fspath(target),
        status="ok",
        format=fmt,
        removed=removed,
        notes=notes,
        seconds=time.monotonic() - began,
        audio=summary,
        verification=Verification(
            skipped=("voice",) if options.voice == "keep" else (), checks=SOUND_CHECKS
        ),
    )


def _failed(
    job: Job,
    reason: str,
    stage: str | None,
    began: float,
    verification: Verification | None = None,
) -> FileResult:
    return FileResult(
        input=job.shown,
        output=None,
        status="failed",
        error=reason,
        stage=stage,
        seconds=time.monotonic() - began,
        verification=verification,
    )


def _is_plain_file(path: Path) -> bool:
    """A regular file, not a link to one: only such a file can be a published output."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _load(
    path: Path, options: Options
) -> tuple[str, Decoded, tuple[MetadataItem, ...], tuple[EmbeddedImage, ...]]:
    """A file's format, pixels and metadata, all from one read of its bytes."""
    data = _read(path, options)
    fmt = _image_format(data)
    decoded = decode(data, fmt, options)
    items, embedded = read_metadata(data, open_image(data, fmt), fmt)
    return fmt, decoded, items, embedded


def _read(path: Path, options: Options) -> bytes:
    """The whole file, after checking that it is a regular file of sane size."""
    with _open_regular(path) as stream:
        info = os.fstat(stream.fileno())
        if info.st_size > options.max_file_bytes:
            raise LimitExceeded(
                f"{info.st_size:,} bytes, above the limit of {options.max_file_bytes:,}",
                stage="read",
            )
        return stream.read(options.max_file_bytes + 1)


def _sniff_file(path: Path) -> tuple[Kind, str]:
    """What the file is, from its first bytes (never from its name)."""
    with _open_regular(path) as stream:
        return sniff(stream.read(HEAD_BYTES))


def _open_regular(path: Path) -> BinaryIO:
    """The file opened for reading, after checking that it is a non-empty regular file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    stream = os.fdopen(fd, "rb")
    info = os.fstat(stream.fileno())
    if not stat.S_ISREG(info.st_mode):
        stream.close()
        raise InputError("not a regular file", stage="read")
    if info.st_size == 0:
        stream.close()
        raise CorruptMedia("the file is empty", stage="read")
    return stream


def _image_format(data: bytes) -> str:
    kind, fmt = sniff(data[:HEAD_BYTES])
    if kind != "image":
        raise UnsupportedFormat(_unsupported_kind(kind, fmt), stage="read")
    return fmt


def _unsupported(path: Path) -> str:
    return _unsupported_kind(*_sniff_file(path))


def _unsupported_kind(kind: Kind, fmt: str) -> str:
    if kind == "audio":  # only inspect and verify get here: anonymize takes it
        return (
            f"audio ({fmt}): inspect and verify read images only; anonymize protects "
            "audio files and verifies them as it does"
        )
    if kind == "video":  # only inspect gets here: anonymize and verify take it
        return (
            f"video ({fmt}): inspect reads images only; anonymize protects video files "
            "and verify attacks them"
        )
    return "not a supported image, video or audio file (its content matches no known format)"


def _check_output(
    path: Path,
    fmt: str,
    decoded: Decoded,
    regions: Sequence[MaskRegion],
    options: Options,
    attackers: Attackers | None,
) -> Verification:
    """Verify the written file (the check ``write_atomic`` runs before it
    publishes it): raises :class:`VerificationFailed` naming every finding."""
    verification = verify_image(path.read_bytes(), fmt, decoded, regions, options, attackers)
    if not verification.passed:
        raise VerificationFailed(verification.summary(), stage="verify", verification=verification)
    return verification


def verify_file(
    protected: str | os.PathLike[str],
    original: str | os.PathLike[str] | None = None,
    *,
    options: Options | None = None,
    recognizers: Sequence[str] = VERIFY_RECOGNIZERS,
) -> Verification:
    """Attack ``protected``, whichever tool made it, and return what was found.

    With ``original``, every face the detection profile finds in it is
    attacked at the same place in ``protected`` (re-identification), and
    any face visible elsewhere in ``protected`` fails (residual faces); the
    two must have the same size. Alone, ``protected`` gets the checks that
    need no original: residual faces and metadata. ``recognizers`` names the
    attackers (``"sface"``, ``"dlib"``). Raises
    :class:`~unseen.errors.UnseenError` for files it cannot read.

    Example::

        found = verify_file("safe/IMG_0042.jpg", "photos/IMG_0042.jpg")
        print("pass" if found.passed else found.summary())
    """
    options = options or Options()
    attackers = load_attackers(recognizers=recognizers)
    kind, fmt = _sniff_file(Path(protected))
    if kind == "video":
        return _verify_video(Path(protected), fmt, original, options, attackers)
    data = _read(Path(protected), options)
    source: Decoded | None = None
    regions: list[MaskRegion] = []
    if original is not None:
        _, source, _, _ = _load(Path(original), options)
        passes = _passes(options)
        for index, frame in enumerate(source.frames):
            dets = _find_faces(np.ascontiguousarray(frame[..., :3]), passes, options)
            regions.extend(plan_masks(dets, options, *source.size, index))
    return verify_image(data, _image_format(data), source, regions, options, attackers)


def _verify_video(
    protected: Path,
    fmt: str,
    original: str | os.PathLike[str] | None,
    options: Options,
    attackers: Attackers,
) -> Verification:
    """Attack a video file, frame by frame as it is decoded (and the original's
    frames in lockstep, when given): its metadata and extra streams, residual
    faces in every frame and, with an original, face structure in every frame
    and re-identification every ``REID_EVERY`` frames, where the profile's
    video passes find faces in the original; with an original and sound in
    both, the speaker attacker on the two sound tracks."""
    began = time.monotonic()
    after = _video_plan(protected, fmt, options, keep_audio=True)
    findings: list[Finding] = []
    if after.removed:
        findings.append(Finding("metadata", f"metadata survived: {', '.join(after.removed)}"))
    no_original: tuple[Check, ...] = ("reidentification", "face-structure")
    before = None
    source = None if original is None else Path(original)
    if source is not None:
        kind, source_fmt = _sniff_file(source)
        if kind != "video":
            raise UnsupportedFormat(
                f"the original is not a video ({_unsupported_kind(kind, source_fmt)})",
                path=source,
                stage="read",
            )
        before = _video_plan(source, source_fmt, options, keep_audio=True)
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
        # Rescaled, as some tools do (deface rounds sizes up to multiples of 16):
        # the faces are still attacked, on the output scaled back to the original.
    if voiced and source is not None and before is not None:
        findings += _audit_voice(protected, after, source, before)
    audit = FrameAudit(attackers, options, collect=True)
    findings += _audit_frames(protected, after, source, before, options, audit)
    found = audit.result()
    return Verification(
        tuple(findings) + found.findings,
        found.faces,
        tuple(c for c in CHECKS if c in found.skipped + no_original),
        time.monotonic() - began,
        checks,
    )


def _audit_voice(
    protected: Path, after: video.Plan, original: Path, before: video.Plan
) -> list[Finding]:
    """The speaker attacker on the two sound tracks, where the original holds
    speech, each streamed."""
    spoken = Track(before.sample_rate, before.channels, lambda: video.sound(original, before))
    speech = listen(spoken)
    if not speech.found:
        return []
    shown = Track(after.sample_rate, after.channels, lambda: video.sound(protected, after))
    check = SpeakerCheck(speech)
    nothing = np.zeros(0, np.float32)
    for piece in spoken.heard():
        check.feed(piece, nothing)
    for piece in shown.heard():
        check.feed(nothing, piece)
    finding = voice_finding(check.result()[1])
    return [] if finding is None else [finding]


def _audit_frames(
    protected: Path,
    after: video.Plan,
    original: Path | None,
    before: video.Plan | None,
    options: Options,
    audit: FrameAudit,
) -> list[Finding]:
    """Feed ``audit`` the protected frames, with the original's and the regions
    its faces take, until the end or until the audit is full. Returns a
    "file" finding when the two hold different numbers of frames."""
    passes = _passes(options, video=True)
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
            dets = detect_faces(theirs.rgb, passes)
            height, width = theirs.rgb.shape[:2]
            regions = plan_masks(dets, options, width, height, mine.index)
            if pixels.shape != theirs.rgb.shape:
                scaled = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)
                pixels = np.asarray(scaled, np.uint8)
        audit(mine.index, None if theirs is None else theirs.rgb, pixels, regions)
        if audit.full:
            return []
    if sources is not None and counts[0] != counts[1]:
        return [Finding("file", f"the output has {counts[0]} frames, the original {counts[1]}")]
    return []


def inspect(
    path: str | os.PathLike[str], *, options: Options | None = None, faces: bool = True
) -> Inspection:
    """What identifying content one file carries: metadata by group, embedded
    images and, unless ``faces`` is false, the faces a detector finds.

    Faces are searched with a threshold below the masking one, so that the
    caller can see what a lower threshold would add; ``masked`` holds what
    anonymizing with ``options`` would paint. Raises
    :class:`~unseen.errors.UnseenError` for files it cannot read.
    """
    options = options or Options()
    fmt, decoded, items, embedded = _load(Path(path), options)
    found: tuple[MaskRegion, ...] | None = None
    masked: tuple[MaskRegion, ...] | None = None
    if faces:
        passes = _passes(options)
        weaker = [(d, scale, min(t, INSPECT_THRESHOLD)) for d, scale, t in passes]
        adding = [(d, scale, min(t, INSPECT_THRESHOLD)) for d, scale, t in _additions(options)]
        candidates: list[MaskRegion] = []
        painted: list[MaskRegion] = []
        for index, frame in enumerate(decoded.frames):
            rgb = np.ascontiguousarray(frame[..., :3])
            weak = detect_faces(rgb, weaker, additions=adding)
            candidates.extend(plan_masks(weak, options, *decoded.size, index))
            dets = _find_faces(rgb, passes, options)
            painted.extend(plan_masks(dets, options, *decoded.size, index))
        found, masked = tuple(candidates), tuple(painted)
    return Inspection(
        os.fspath(path), fmt, decoded.size, decoded.total_frames, items, embedded, found, masked
    )


#: ``unseen verify`` still attacks the faces of an output whose size differs
#: from the original's, scaled back, when their aspect ratios differ by no more
#: than this (tools round sizes: deface writes 640x368 for 640x360).
RESCALED_ASPECT = 0.03

#: Faces down to this score are listed by ``inspect`` (masking uses the profile's thresholds).
INSPECT_THRESHOLD = 0.05
