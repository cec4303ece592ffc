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


@dataclass(frozen=True, eq=False)
class Detections:
    """Faces found in one image: parallel arrays, checked on construction.

    ``boxes`` are ``(x1, y1, x2, y2)`` in pixels of the image searched,
    ``scores`` in [0, 1], ``sources`` the name of the detector of each box.
    The arrays are read-only; operations return new objects.
    """

    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    sources: tuple[str, ...]

    def __post_init__(self) -> None:
        boxes = _frozen(self.boxes, np.float32, (4,))
        scores = _frozen(self.scores, np.float32, ()).reshape(-1)
        if len(boxes) != len(scores) or len(scores) != len(self.sources):
            raise ValueError(
                f"detections need as many boxes ({len(boxes)}), scores ({len(scores)}) "
                f"and sources ({len(self.sources)})"
            )
        if len(boxes) and not np.all(np.isfinite(boxes)):
            raise ValueError("detection boxes must be finite")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "sources", tuple(self.sources))

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
        )

    def __len__(self) -> int:
        return len(self.scores)

    def __iter__(self) -> Iterator[tuple[tuple[float, float, float, float], float, str]]:
        for box, score, source in zip(self.boxes, self.scores, self.sources, strict=True):
            x1, y1, x2, y2 = (float(v) for v in box)
            yield (x1, y1, x2, y2), float(score), source

    def select(self, keep: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Detections:
        return Detections(
            self.boxes[keep], self.scores[keep], tuple(np.asarray(self.sources, object)[keep])
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "shape": self.shape,
            "box": list(self.box),
            "face": [round(v, 1) for v in self.face],
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
    faces: tuple[MaskRegion, ...] | None = None

    @property
    def identifying(self) -> tuple[MetadataItem, ...]:
        return tuple(m for m in self.metadata if m.identifying)

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
                }
                for f in self.faces
            ],
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

    def to_dict(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {
            "voice": self.voice,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "seconds": round(self.seconds, 3),
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
    #: "group:name" of each metadata item and embedded image removed (never values).
    removed: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    audio: AudioSummary | None = None

    @property
    def faces(self) -> int:
        return len(self.regions)

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
            "metadata_removed": list(self.removed),
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
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
            "schema": "unseen.report/1",
            "unseen_version": self.version,
            "started": self.started,
            "options": self.options,
            "summary": {
                "files": len(self.files),
                "processed": len(done),
                "skipped": skipped,
                "failed": len(self.files) - len(done) - skipped,
                "faces_masked": sum(f.faces for f in done),
            },
            "files": [f.to_dict() for f in self.files],
        }
