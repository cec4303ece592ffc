"""The plan: what unseen decided to do with each file, as a value that can be
saved, read by a person, edited and applied later (``unseen plan`` then
``unseen apply``; ``unseen anonymize`` does both in one run).

A plan lists, per file, its kind, format, size, frames, byte size and
SHA-256 (an input that changed since is refused), every region found (id,
frame, box, label, detector, score, track in a video, and the decision:
``mask`` or ``keep``), where its sound holds speech and how the voice is
protected, and the names of the metadata that will be removed. It never
holds pixels or metadata values. Its JSON form is documented in
docs/plan.md and versioned (``SCHEMA``); a plan that does not follow it is
refused with the place and the reason, since plans are edited by hand and
by the review page.

Regions added by a person have ``"source": "user"``; in a video, user
regions that share a ``track`` are interpolated between their frames.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from unseen.config import VOICES, Options
from unseen.config import Voice as VoiceMode
from unseen.errors import InputError
from unseen.mask import apply_masks
from unseen.output import json_text
from unseen.paths import Job
from unseen.types import FACE, Detections, MaskRegion, Speech

#: The plan's JSON schema, and its version: a reader refuses any other.
SCHEMA = "unseen.plan/1"

Decision = Literal["mask", "keep"]
DECISIONS: tuple[Decision, ...] = ("mask", "keep")
Origin = Literal["detector", "user"]
ORIGINS: tuple[Origin, ...] = ("detector", "user")
KINDS = ("image", "video", "audio")


class PlanError(InputError):
    """A plan that cannot be used: not unseen's, another version, malformed,
    or made for an input that has changed since."""


@dataclass(frozen=True)
class Region:
    """Something to protect in one frame: its box (x1, y1, x2, y2 in the
    upright output's pixels, before the mask's margins) and what to do."""

    id: str
    frame: int
    box: tuple[float, float, float, float]
    label: str = FACE
    detector: str = ""
    score: float = 1.0
    #: The track it belongs to in a video: a number from the tracker, or a
    #: name a person gave to boxes that are interpolated between their frames.
    track: int | str | None = None
    decision: Decision = "mask"
    source: Origin = "detector"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "frame": self.frame,
            # Full precision: a plan applied later paints exactly what a run does.
            "box": [float(v) for v in self.box],
            "label": self.label,
            "detector": self.detector,
            "score": float(self.score),
            "track": self.track,
            "decision": self.decision,
            "source": self.source,
        }


@dataclass(frozen=True)
class Voice:
    """How a file's sound is protected: the mode, and where it holds speech
    (None: not listened for, as under ``keep``)."""

    mode: VoiceMode
    speech: Speech | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "speech": None if self.speech is None else self.speech.to_dict()}


@dataclass(frozen=True)
class FilePlan:
    """What will be done to one input file."""

    #: The input as the user gave it, and its absolute path when planned.
    input: str
    path: str
    #: Where the output goes, relative to the output folder.
    output: str
    kind: str
    format: str
    #: Upright size in pixels (None for sound), and frames (0 for sound).
    size: tuple[int, int] | None
    frames: int
    bytes: int
    sha256: str
    regions: tuple[Region, ...] = ()
    voice: Voice | None = None
    #: "group:name" of each metadata item that will not be copied (never values).
    metadata: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "path": self.path,
            "output": self.output,
            "kind": self.kind,
            "format": self.format,
            "size": None if self.size is None else list(self.size),
            "frames": self.frames,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "regions": [r.to_dict() for r in self.regions],
            "voice": None if self.voice is None else self.voice.to_dict(),
            "metadata": list(self.metadata),
            "notes": list(self.notes),
        }

    @classmethod
    def of(cls, job: Job, kind: str, **found: Any) -> FilePlan:
        """The plan of ``job``'s file: where it is and goes, and what was ``found``."""
        return cls(
            input=job.shown,
            path=os.path.abspath(job.source),
            output=job.relative.as_posix(),
            kind=kind,
            **found,
        )


@dataclass(frozen=True)
class Failure:
    """An input that could not be planned, and why (it is reported again by ``apply``)."""

    input: str
    error: str
    stage: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, "error": self.error, "stage": self.stage}


@dataclass(frozen=True)
class Plan:
    """Every file of one run, planned with one set of options."""

    version: str
    created: str
    options: Options
    files: tuple[FilePlan, ...] = ()
    failed: tuple[Failure, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "unseen_version": self.version,
            "created": self.created,
            "options": options_dict(self.options),
            "files": [f.to_dict() for f in self.files],
            "failed": [f.to_dict() for f in self.failed],
        }

    def dumps(self) -> str:
        """The plan as JSON text (file names that are not UTF-8 as ``\\udcXX`` escapes)."""
        return json_text(self.to_dict(), indent=1) + "\n"


def options_dict(options: Options) -> dict[str, Any]:
    """``options`` as JSON values (tuples as lists)."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(options).items()
    }


def load(path: str | os.PathLike[str]) -> Plan:
    """Read a plan file; raises :class:`PlanError` saying where it is wrong."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PlanError(f"not a readable plan: {exc}", path=path, stage="plan") from None
    try:
        return from_dict(data)
    except PlanError as exc:
        raise PlanError(exc.reason, path=path, stage="plan") from None


def from_dict(data: Any) -> Plan:
    """A plan from its JSON value, checked field by field."""
    top = _Reader(data, "the plan")
    schema = top.text("schema")
    if schema != SCHEMA:
        raise PlanError(f"the plan is {schema!r}, this unseen reads {SCHEMA!r}")
    return Plan(
        version=top.text("unseen_version"),
        created=top.text("created"),
        options=_options(top.get("options", dict)),
        files=tuple(_file(f, i) for i, f in enumerate(top.get("files", list))),
        failed=tuple(_failure(f, i) for i, f in enumerate(top.get("failed", list))),
    )


#: The types of the options whose default is None.
_OPTIONAL_TYPES: dict[str, tuple[type, ...]] = {
    "threshold": (int, float),
    "format": (str,),
    "voice_seed": (int,),
    "language": (str,),
}


def check_file(plan: FilePlan, index: int) -> None:
    """Raise :class:`PlanError` unless ``plan`` reads back as file ``index`` of
    a plan (for a change to one file, without reading the whole plan again)."""
    _file(json.loads(json_text(plan.to_dict(), indent=None)), index)


def _options(value: dict[str, Any]) -> Options:
    fields = {f.name: f for f in dataclasses.fields(Options)}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise PlanError(f"the plan's options hold unknown settings: {', '.join(unknown)}")
    given: dict[str, Any] = {}
    defaults = Options()
    for key, found in value.items():
        default = getattr(defaults, key)
        optional = fields[key].default is None
        if isinstance(found, list):
            found = tuple(found)
        kinds = _OPTIONAL_TYPES.get(key) or (
            (int, float) if isinstance(default, float) else (type(default),)
        )
        if not (found is None and optional) and (
            not isinstance(found, kinds) or isinstance(found, bool) != isinstance(default, bool)
        ):
            raise PlanError(f"the plan's option {key!r} has the wrong type")
        given[key] = found
    try:
        return Options(**given)
    except (TypeError, ValueError) as exc:
        raise PlanError(f"the plan's options: {exc}") from None


def _file(value: Any, index: int) -> FilePlan:
    f = _Reader(value, f"file {index}")
    kind = f.text("kind")
    if kind not in KINDS:
        raise PlanError(f"file {index}: kind {kind!r} is not one of {', '.join(KINDS)}")
    size = f.get("size", list, optional=True)
    if size is not None and (len(size) != 2 or not all(_whole(v) and v > 0 for v in size)):
        raise PlanError(f"file {index}: size must be two positive whole numbers")
    voice = f.get("voice", dict, optional=True)
    return FilePlan(
        input=f.text("input"),
        path=f.text("path"),
        output=_relative(f.text("output"), index),
        kind=kind,
        format=f.text("format"),
        size=None if size is None else (int(size[0]), int(size[1])),
        frames=f.whole("frames"),
        bytes=f.whole("bytes"),
        sha256=f.text("sha256"),
        regions=_regions(f.get("regions", list), index),
        voice=None if voice is None else _voice(voice, index),
        metadata=tuple(f.texts("metadata")),
        notes=tuple(f.texts("notes")),
    )


def _regions(values: list[Any], index: int) -> tuple[Region, ...]:
    regions = []
    seen: set[str] = set()
    for number, value in enumerate(values):
        r = _Reader(value, f"file {index}, region {number}")
        box = r.get("box", list)
        if len(box) != 4 or not all(_number(v) for v in box):
            raise PlanError(f"file {index}, region {number}: box must be four numbers")
        x1, y1, x2, y2 = (float(v) for v in box)
        if not (x2 > x1 and y2 > y1):
            raise PlanError(f"file {index}, region {number}: box must have x2 > x1 and y2 > y1")
        track = value.get("track")
        if track is not None and not isinstance(track, str) and not _whole(track):
            raise PlanError(f"file {index}, region {number}: track must be a number or a name")
        decision = r.text("decision")
        source = r.text("source")
        if decision not in DECISIONS or source not in ORIGINS:
            raise PlanError(
                f"file {index}, region {number}: decision must be mask or keep, "
                "source detector or user"
            )
        region = Region(
            id=r.text("id"),
            frame=r.whole("frame"),
            box=(x1, y1, x2, y2),
            label=r.text("label"),
            detector=r.text("detector"),
            score=float(r.get("score", (int, float))),
            track=track,
            decision=decision,
            source=source,
        )
        if region.id in seen:
            raise PlanError(f"file {index}: two regions are called {region.id!r}")
        seen.add(region.id)
        regions.append(region)
    return tuple(regions)


def _voice(value: dict[str, Any], index: int) -> Voice:
    v = _Reader(value, f"file {index}, voice")
    mode = v.text("mode")
    if mode not in VOICES:
        raise PlanError(f"file {index}: voice mode must be one of {', '.join(VOICES)}")
    speech = v.get("speech", dict, optional=True)
    if speech is None:
        return Voice(mode)
    s = _Reader(speech, f"file {index}, voice speech")
    segments = []
    for pair in s.get("segments", list):
        if not (isinstance(pair, list) and len(pair) == 2 and all(_number(x) for x in pair)):
            raise PlanError(f"file {index}: each speech segment must be [start, end]")
        if pair[1] < pair[0]:
            raise PlanError(f"file {index}: a speech segment ends before it starts")
        segments.append((float(pair[0]), float(pair[1])))
    heard = s.text("heard_by")
    if heard != "vad" and heard != "words":
        raise PlanError(f"file {index}: speech heard_by must be vad or words")
    checked = s.get("seconds_checked", (int, float))
    heard_by: Literal["vad", "words"] = "vad" if heard == "vad" else "words"
    return Voice(mode, Speech(tuple(segments), float(checked), heard_by))


def _failure(value: Any, index: int) -> Failure:
    f = _Reader(value, f"failed input {index}")
    stage = value.get("stage")
    return Failure(f.text("input"), f.text("error"), stage if isinstance(stage, str) else None)


def _relative(output: str, index: int) -> str:
    """An output path that stays inside the output folder, whoever edited the plan."""
    parts = PurePosixPath(output).parts
    if not parts or output.startswith(("/", "\\")) or ".." in parts or "\x00" in output:
        raise PlanError(f"file {index}: output {output!r} must be a path inside the output folder")
    return output


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Reader:
    """Typed access to one JSON object, with errors that say where."""

    def __init__(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise PlanError(f"{where} must be an object")
        self.value, self.where = value, where

    def get(self, key: str, kind: Any, *, optional: bool = False) -> Any:
        if key not in self.value:
            if optional:
                return None
            raise PlanError(f"{self.where}: {key!r} is missing")
        found = self.value[key]
        if found is None and optional:
            return None
        if not isinstance(found, kind) or isinstance(found, bool):
            raise PlanError(f"{self.where}: {key!r} has the wrong type")
        return found

    def text(self, key: str) -> str:
        return cast(str, self.get(key, str))

    def whole(self, key: str) -> int:
        value = self.get(key, int)
        if value < 0:
            raise PlanError(f"{self.where}: {key!r} must not be negative")
        return cast(int, value)

    def texts(self, key: str) -> list[str]:
        values = self.get(key, list)
        if not all(isinstance(v, str) for v in values):
            raise PlanError(f"{self.where}: {key!r} must be a list of texts")
        return cast(list[str], values)


def found(dets: Detections, frame: int, start: int) -> list[Region]:
    """Regions for what the detectors (or the tracker) found in ``frame``,
    numbered ``r<start>`` on, each to be masked."""
    regions = []
    for number, ((box, score, source), label, track) in enumerate(
        zip(dets, dets.labels, dets.track_ids, strict=True), start
    ):
        regions.append(
            Region(
                id=f"r{number}",
                frame=frame,
                box=box,
                label=label,
                detector=source,
                score=score,
                track=None if track < 0 else int(track),
            )
        )
    return regions


def detections(regions: Sequence[Region]) -> Detections:
    """``regions`` as detections, in their order, to be painted."""
    return Detections(
        np.array([r.box for r in regions], np.float32).reshape(-1, 4),
        np.array([r.score for r in regions], np.float32),
        tuple(r.detector or r.source for r in regions),
        tuple(r.label for r in regions),
        np.array([r.track if isinstance(r.track, int) else -1 for r in regions], np.int64),
    )


def paint(
    pixels: npt.NDArray[np.uint8], here: Sequence[Region], options: Options, frame: int
) -> tuple[npt.NDArray[np.uint8], tuple[MaskRegion, ...]]:
    """A copy of one frame's ``pixels`` with its regions decided ``mask``
    painted as ``options`` say (those kept are left alone), and what was painted."""
    masks = detections([r for r in here if r.decision == "mask"])
    return apply_masks(pixels, masks, options, frame)


def by_frame(plan: FilePlan) -> dict[int, list[Region]]:
    """Every region of ``plan`` by frame, with the boxes a person drew on two
    or more frames of one track interpolated in the frames between."""
    frames: dict[int, list[Region]] = {}
    drawn: dict[int | str, list[Region]] = {}
    for region in plan.regions:
        frames.setdefault(region.frame, []).append(region)
        if region.source == "user" and region.track is not None:
            drawn.setdefault(region.track, []).append(region)
    for keys in drawn.values():
        keys.sort(key=lambda r: r.frame)
        for a, b in itertools.pairwise(keys):
            for frame in range(a.frame + 1, b.frame):
                k = (frame - a.frame) / (b.frame - a.frame)
                box = tuple(p + (q - p) * k for p, q in zip(a.box, b.box, strict=True))
                frames.setdefault(frame, []).append(
                    dataclasses.replace(a, id=f"{a.id}@{frame}", frame=frame, box=box)  # type: ignore[arg-type]
                )
    return frames
