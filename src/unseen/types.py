"""Immutable values that flow between stages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt


def _frozen(array: npt.ArrayLike, dtype: type, shape_tail: tuple[int, ...]) -> npt.NDArray[Any]:
    out: npt.NDArray[Any] = np.array(array, dtype=dtype, copy=True).reshape((-1, *shape_tail))
    out.flags.writeable = False
    return out


#: What a region is of: a face today (text, plates and people later).
FACE = "face"


@dataclass(frozen=True, eq=False)
class Detections:
    """What was found in one image: parallel arrays, checked on construction.

    ``boxes`` are ``(x1, y1, x2, y2)`` in pixels of the image searched,
    ``scores`` in [0, 1], ``sources`` the name of the detector of each box,
    ``labels`` what each box is of (``"face"`` unless given) and ``tracks``
    the track each box belongs to in a video (-1: none). The arrays are
    read-only; operations return new objects.
    """

    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    sources: tuple[str, ...]
    labels: tuple[str, ...] = ()
    tracks: npt.NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        boxes = _frozen(self.boxes, np.float32, (4,))
        scores = _frozen(self.scores, np.float32, ()).reshape(-1)
        count = len(scores)
        labels = tuple(self.labels) or (FACE,) * count
        tracks = _frozen(np.full(count, -1) if self.tracks is None else self.tracks, np.int64, ())
        if not len(boxes) == count == len(self.sources) == len(labels) == len(tracks):
            raise ValueError(
                f"detections need as many boxes ({len(boxes)}), scores ({count}), "
                f"sources ({len(self.sources)}), labels ({len(labels)}) and tracks ({len(tracks)})"
            )
        if len(boxes) and not np.all(np.isfinite(boxes)):
            raise ValueError("detection boxes must be finite")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "tracks", tracks.reshape(-1))

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), ())

    @classmethod
    def concat(cls, parts: list[Detections]) -> Detections:
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
            tuple(s for p in parts for s in p.sources),
            tuple(label for p in parts for label in p.labels),
            np.concatenate([p.track_ids for p in parts]),
        )

    @property
    def track_ids(self) -> npt.NDArray[np.int64]:
        """``tracks``, never None (it is filled in on construction)."""
        assert self.tracks is not None
        return self.tracks

    def __len__(self) -> int:
        return len(self.scores)

    def __iter__(self) -> Iterator[tuple[tuple[float, float, float, float], float, str]]:
        for box, score, source in zip(self.boxes, self.scores, self.sources, strict=True):
            x1, y1, x2, y2 = (float(v) for v in box)
            yield (x1, y1, x2, y2), float(score), source

    def select(self, keep: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Detections:
        return Detections(
            self.boxes[keep],
            self.scores[keep],
            tuple(np.asarray(self.sources, object)[keep]),
            tuple(np.asarray(self.labels, object)[keep]),
            self.track_ids[keep],
        )


@dataclass(frozen=True)
class MaskRegion:
    """One mask applied to the output, in output pixel coordinates."""

    frame: int
    shape: Literal["ellipse", "box"]
    #: The area painted over: (x1, y1, x2, y2), clipped to the image, end-exclusive.
    box: tuple[int, int, int, int]
    #: The face the detector reported, before margins.
    face: tuple[float, float, float, float]
    score: float
    detector: str
    label: str = FACE
    #: The track the region belongs to, in a video (None: not tracked).
    track: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "shape": self.shape,
            "box": list(self.box),
            "face": [round(v, 1) for v in self.face],
            "score": round(self.score, 4),
            "detector": self.detector,
            "label": self.label,
            "track": self.track,
        }


@dataclass(frozen=True)
class TrackSummary:
    """One face followed through a video, and the frames where it was masked."""

    id: int
    #: First and last frame masked (frame numbers from 0, in display order).
    first_frame: int
    last_frame: int
    #: Frames masked, and among them frames where a detector found the face
    #: (the others were bridged or extended by the tracker).
    frames_masked: int
    frames_detected: int
    #: Union of every face box masked, (x1, y1, x2, y2) in output pixels, before margins.
    face_extent: tuple[float, float, float, float]
    #: Best detector score, and the detector that gave it.
    score: float
    detector: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "frames_masked": self.frames_masked,
            "frames_detected": self.frames_detected,
            "face_extent": list(self.face_extent),
            "score": round(self.score, 4),
            "detector": self.detector,
        }


@dataclass(frozen=True)
class MetadataItem:
    """One piece of non-pixel content found in a file."""

    group: str
    name: str
    #: A short, printable rendering of the value (for ``inspect`` only; reports
    #: never include values).
    value: str
    #: False for what a viewer needs to show the file (dimensions, structure).
    identifying: bool = True


@dataclass(frozen=True)
class EmbeddedImage:
    """An image hidden inside a file: EXIF thumbnail, preview, extra frame."""

    kind: str
    size: tuple[int, int] | None
    nbytes: int


@dataclass(frozen=True)
class Inspection:
    """What identifying content one file carries."""

    path: str
    format: str
    size: tuple[int, int]
    frames: int
    metadata: tuple[MetadataItem, ...]
    embedded: tuple[EmbeddedImage, ...]
    #: Candidates down to a low score, masked or not.
    faces: tuple[MaskRegion, ...] | None = None
    #: What anonymizing would paint.
    masked: tuple[MaskRegion, ...] | None = None

    @property
    def identifying(self) -> tuple[MetadataItem, ...]:
        return tuple(m for m in self.metadata if m.identifying)

    def would_mask(self, face: MaskRegion) -> bool:
        """Whether anonymizing paints over the middle of candidate ``face``."""
        x = (face.face[0] + face.face[2]) / 2
        y = (face.face[1] + face.face[3]) / 2
        return any(
            m.frame == face.frame and m.box[0] <= x < m.box[2] and m.box[1] <= y < m.box[3]
            for m in self.masked or ()
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "size": list(self.size),
            "frames": self.frames,
            "metadata": [
                {"group": m.group, "name": m.name, "value": m.value, "identifying": m.identifying}
                for m in self.metadata
            ],
            "embedded_images": [
                {
                    "kind": e.kind,
                    "size": None if e.size is None else list(e.size),
                    "bytes": e.nbytes,
                }
                for e in self.embedded
            ],
            "faces": None
            if self.faces is None
            else [
                {
                    "box": [round(v, 1) for v in f.face],
                    "score": round(f.score, 4),
                    "detector": f.detector,
                    "frame": f.frame,
                    "masked": self.would_mask(f),
                }
                for f in self.faces
            ],
        }


@dataclass(frozen=True)
class Speech:
    """Where a sound track holds speech: ``(start, end)`` in seconds from the
    track's first sample, in order and apart, the seconds of sound listened
    to (the whole track), and what heard it: ``"vad"``, the voice-activity
    model, or ``"words"``, the speech recognizer, which listens where the
    voice-activity model heard nothing in a track that is not silent (it
    hears sung words, which the voice-activity model takes for music)."""

    segments: tuple[tuple[float, float], ...]
    seconds: float
    heard_by: Literal["vad", "words"] = "vad"

    @property
    def found(self) -> bool:
        return bool(self.segments)

    @property
    def speech_seconds(self) -> float:
        return sum(end - start for start, end in self.segments)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds_checked": round(self.seconds, 3),
            "speech_seconds": round(self.speech_seconds, 3),
            "heard_by": self.heard_by,
            "segments": [[round(a, 3), round(b, 3)] for a, b in self.segments],
        }


@dataclass(frozen=True)
class AudioSummary:
    """What was done to one audio file's sound."""

    voice: str
    sample_rate: int
    channels: int
    seconds: float
    #: The speaker attacker's similarity (cosine, -1 to 1): within the original
    #: (before) and between the original and the output (after); None when
    #: not measured (``voice="keep"``, or too little audio).
    similarity_before: float | None = None
    similarity_after: float | None = None
    #: Where the sound holds speech (None: not listened for, ``voice="keep"``).
    #: A sound without speech is kept as it is.
    speech: Speech | None = None
    #: Pseudo-voices drawn until the attacker no longer matched (0: none needed).
    draws: int = 0
    #: ``voice="replace"``: the languages the words were re-spoken in.
    languages: tuple[str, ...] = ()
    #: Why the voice was transformed although "replace" was asked for (speech
    #: that could not be transcribed with confidence); None when it was not.
    fallback: str | None = None
    #: How many times a phrase of ``--redact-words`` was said, and removed.
    redacted: int = 0

    def to_dict(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {
            "voice": self.voice,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "seconds": round(self.seconds, 3),
            "speech": None if self.speech is None else self.speech.to_dict(),
            "draws": self.draws,
            "languages": list(self.languages),
            "fallback": self.fallback,
            "redacted": self.redacted,
            "similarity_before": rounded(self.similarity_before),
            "similarity_after": rounded(self.similarity_after),
        }


#: "skipped": the output already existed and ``skip_existing`` was asked for.
Status = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True)
class FileResult:
    """The outcome for one input file."""

    input: str
    output: str | None
    status: Status
    error: str | None = None
    stage: str | None = None
    format: str | None = None
    size: tuple[int, int] | None = None
    frames: int = 0
    regions: tuple[MaskRegion, ...] = ()
    #: Videos: each face followed through the frames (``regions`` is then empty).
    tracks: tuple[TrackSummary, ...] = ()
    #: Regions left visible by a person's decision (a plan's ``keep``): not
    #: masked, not attacked; in a video, summed up per track.
    kept: tuple[MaskRegion, ...] = ()
    kept_tracks: tuple[TrackSummary, ...] = ()
    #: "group:name" of each metadata item and embedded image removed (never values).
    removed: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    #: The attacks run on the output before release (None: the file never got that far).
    verification: Verification | None = None
    audio: AudioSummary | None = None

    @property
    def faces(self) -> int:
        return len(self.regions) + len(self.tracks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "status": self.status,
            "error": self.error,
            "stage": self.stage,
            "format": self.format,
            "size": None if self.size is None else list(self.size),
            "frames": self.frames,
            "faces_masked": self.faces,
            "regions": [r.to_dict() for r in self.regions],
            "tracks": [t.to_dict() for t in self.tracks],
            "kept_regions": [r.to_dict() for r in self.kept],
            "kept_tracks": [t.to_dict() for t in self.kept_tracks],
            "metadata_removed": list(self.removed),
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
            "verification": None if self.verification is None else self.verification.to_dict(),
            "audio": None if self.audio is None else self.audio.to_dict(),
        }


@dataclass(frozen=True)
class RunReport:
    """Everything one ``anonymize`` call did."""

    version: str
    started: str
    options: dict[str, Any]
    files: tuple[FileResult, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when no file failed (skipped files are not failures)."""
        return all(f.status != "failed" for f in self.files)

    @property
    def failed(self) -> tuple[FileResult, ...]:
        return tuple(f for f in self.files if f.status == "failed")

    def to_dict(self) -> dict[str, Any]:
        done = [f for f in self.files if f.status == "ok"]
        skipped = sum(f.status == "skipped" for f in self.files)
        return {
            "schema": "unseen.report/2",
            "unseen_version": self.version,
            "started": self.started,
            "options": self.options,
            "summary": {
                "files": len(self.files),
                "processed": len(done),
                "skipped": skipped,
                "failed": len(self.files) - len(done) - skipped,
                "faces_masked": sum(f.faces for f in done),
                "verified": sum(
                    f.verification is not None and f.verification.complete for f in done
                ),
            },
            "files": [f.to_dict() for f in self.files],
        }


# --- verification -------------------------------------------------------------------------

#: What verification checks: the file itself (format, size, frames, decodes),
#: metadata and embedded images left in it, faces left visible outside every
#: mask, faces a recognizer still matches under a mask, and masked faces that
#: keep the original's coarse structure (blur, pixelation), and voices the
#: speaker attacker still matches to the original's.
Check = Literal["file", "metadata", "residual-face", "reidentification", "face-structure", "voice"]
CHECKS: tuple[Check, ...] = (
    "file",
    "metadata",
    "residual-face",
    "reidentification",
    "face-structure",
    "voice",
)
#: The checks that apply to pictures (photos, and videos without sound).
PICTURE_CHECKS: tuple[Check, ...] = CHECKS[:5]
#: The checks that apply to sound alone.
SOUND_CHECKS: tuple[Check, ...] = ("file", "metadata", "voice")


@dataclass(frozen=True)
class Finding:
    """One failed check: which, where (frame and box in output pixels, when it
    has a place) and why, in words a user can act on."""

    check: Check
    detail: str
    frame: int | None = None
    box: tuple[int, int, int, int] | None = None

    def __str__(self) -> str:
        where = "" if self.frame is None else f" in frame {self.frame}"
        if self.box is not None:
            where += " at box {},{}-{},{}".format(*self.box)
        return f"{self.check}{where}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "frame": self.frame,
            "box": None if self.box is None else list(self.box),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class FaceScore:
    """How one recognizer scored one face: the original against its mirror
    image (``before``: what an unprotected copy scores), against the
    protected output (``after``), and against the output with the mask
    area refilled with its own colour statistics there (``context``: what
    the surroundings alone give;
    computed only when ``after`` reaches the threshold, else None).

    A match is ``after`` at or above ``threshold`` and above ``context`` by
    more than ``margin``: a recognizer that matches a solid mask as well, on
    the hair and background around it, learns nothing from the mask area."""

    frame: int
    box: tuple[int, int, int, int]
    recognizer: str
    before: float
    after: float
    context: float | None
    threshold: float
    margin: float

    @property
    def matched(self) -> bool:
        if self.after < self.threshold:
            return False
        return self.context is None or self.after > self.context + self.margin

    def to_dict(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "box": list(self.box),
            "recognizer": self.recognizer,
            "before": round(self.before, 4),
            "after": round(self.after, 4),
            "context": None if self.context is None else round(self.context, 4),
            "threshold": self.threshold,
            "margin": self.margin,
            "matched": self.matched,
        }


@dataclass(frozen=True)
class Verification:
    """The checks run on one output (or one frame of it), and what they found.

    ``checks`` are those that apply to the file (a recording has no faces),
    ``skipped`` those of them that were not run (``--no-verify``, ``--voice
    keep``, or no original to compare with); a file passes when nothing was
    found.
    """

    findings: tuple[Finding, ...] = ()
    faces: tuple[FaceScore, ...] = ()
    skipped: tuple[Check, ...] = ()
    seconds: float = 0.0
    checks: tuple[Check, ...] = PICTURE_CHECKS

    @property
    def passed(self) -> bool:
        return not self.findings

    @property
    def complete(self) -> bool:
        """Passed with every check run."""
        return self.passed and not self.skipped

    @classmethod
    def combine(cls, parts: list[Verification], seconds: float = 0.0) -> Verification:
        skipped = tuple(c for c in CHECKS if any(c in p.skipped for p in parts))
        return cls(
            tuple(f for p in parts for f in p.findings),
            tuple(s for p in parts for s in p.faces),
            skipped,
            seconds,
            tuple(c for c in CHECKS if any(c in p.checks for p in parts)),
        )

    def summary(self) -> str:
        """One line: the first findings, and how many more."""
        shown = "; ".join(str(f) for f in self.findings[:3])
        more = len(self.findings) - 3
        return shown + (f" (and {more} more)" if more > 0 else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "checks": [c for c in self.checks if c not in self.skipped],
            "skipped": list(self.skipped),
            "findings": [f.to_dict() for f in self.findings],
            "faces": [s.to_dict() for s in self.faces],
            "seconds": round(self.seconds, 3),
        }
