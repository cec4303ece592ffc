"""What every media handler shares: the settings of a run, resolved once, the
handler protocol, and reading input files safely.

A handler knows one kind of media (images, video, sound). It plans a file
(finds what to protect, writes nothing), applies a plan (renders the output,
verifies it, publishes it or nothing) and verifies a file made by any tool.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from unseen.config import Options
from unseen.config import Voice as VoiceMode
from unseen.detect import get_detector
from unseen.detect.base import Pass
from unseen.errors import CorruptMedia, InputError, LimitExceeded, UnsupportedFormat
from unseen.media.image import check_format
from unseen.media.sniff import HEAD_BYTES, Kind, sniff
from unseen.paths import Job
from unseen.plans import FilePlan, PlanError
from unseen.types import FileResult, Inspection, Speech, Verification
from unseen.verify import Attackers, load_attackers

#: Progress within one video: the input as shown, frames done, frames expected.
FrameProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Run:
    """The options of one run resolved into what the stages need: the models
    loaded, the passes of each kind of media, the attackers (None without
    verification). Made once per run by :meth:`resolve`; stages take their
    slice and never read the options again for it."""

    options: Options
    passes: tuple[Pass, ...]
    video_passes: tuple[Pass, ...]
    additions: tuple[Pass, ...]
    #: Weaker thresholds of the passes that take second opinions, by label.
    seconded: dict[str, float]
    attackers: Attackers | None
    #: The image format to write (None: each input's own).
    out_format: str | None

    @classmethod
    def resolve(cls, options: Options, *, attack: bool | None = None) -> Run:
        """Load what ``options`` asks for. ``attack`` overrides ``options.verify``
        (``unseen verify`` attacks whatever the options say)."""

        def loaded(specs: tuple[tuple[str, float, float], ...]) -> tuple[Pass, ...]:
            return tuple(Pass(get_detector(name), scale, t) for name, scale, t in specs)

        verify = options.verify if attack is None else attack
        return cls(
            options=options,
            passes=loaded(options.passes()),
            video_passes=loaded(options.passes(video=True)),
            additions=loaded(options.additions()),
            seconded=options.seconded(),
            attackers=load_attackers() if verify else None,
            out_format=None if options.format is None else check_format(options.format),
        )


@dataclass(frozen=True)
class Work:
    """One file to protect: its job, its sniffed format, its plan (None: plan
    it on the way, as ``unseen anonymize`` does), where its output goes, and
    whether that may replace a file."""

    job: Job
    fmt: str
    plan: FilePlan | None
    target: Path
    force: bool = False
    progress: FrameProgress | None = None


class Handler(Protocol):
    """One kind of media."""

    kind: Kind

    def plan(self, job: Job, fmt: str, run: Run) -> FilePlan:
        """What will be done to ``job``'s file (sniffed as ``fmt``); writes nothing."""
        ...

    def apply(self, work: Work, run: Run) -> FileResult:
        """Render the output as the plan says, verify it and publish it, or
        raise and leave nothing."""
        ...

    def verify(self, protected: Path, fmt: str, original: Path | None, run: Run) -> Verification:
        """Attack ``protected`` (with ``original``, where its faces were)."""
        ...

    def inspect(self, path: Path, fmt: str, run: Run, faces: bool) -> Inspection:
        """What identifying content the file carries."""
        ...


def open_regular(path: Path) -> BinaryIO:
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


def open_sized(path: Path, options: Options) -> BinaryIO:
    """:func:`open_regular`, after checking the file against ``options.max_file_bytes``."""
    stream = open_regular(path)
    size = os.fstat(stream.fileno()).st_size
    if size > options.max_file_bytes:
        stream.close()
        raise LimitExceeded(
            f"{size:,} bytes, above the limit of {options.max_file_bytes:,}", stage="read"
        )
    return stream


def read_file(path: Path, options: Options) -> bytes:
    """The whole file, after checking that it is a regular file of sane size."""
    with open_sized(path, options) as stream:
        return stream.read(options.max_file_bytes + 1)


def sniff_file(path: Path) -> tuple[Kind, str]:
    """What the file is, from its first bytes (never from its name)."""
    with open_regular(path) as stream:
        return sniff(stream.read(HEAD_BYTES))


def fingerprint(path: Path) -> tuple[int, str]:
    """The file's size and SHA-256, read in pieces."""
    digest = hashlib.sha256()
    size = 0
    with open_regular(path) as stream:
        while piece := stream.read(1 << 20):
            digest.update(piece)
            size += len(piece)
    return size, digest.hexdigest()


def check_unchanged(plan: FilePlan, path: Path, data: bytes | None = None) -> None:
    """Refuse an input that is not the file that was planned (size and SHA-256)."""
    if data is not None:
        size, digest = len(data), hashlib.sha256(data).hexdigest()
    else:
        size, digest = fingerprint(path)
    if (size, digest) != (plan.bytes, plan.sha256):
        raise PlanError(
            "the input changed since it was planned (its size or SHA-256 differs): plan it again",
            stage="plan",
        )


def planned_voice(plan: FilePlan | None, mode: VoiceMode) -> tuple[VoiceMode, Speech | None]:
    """The voice mode (``mode`` unless the plan decided one) and, when the plan
    knows it, where the sound holds speech."""
    if plan is None or plan.voice is None:
        return mode, None
    return plan.voice.mode, plan.voice.speech


def unsupported(kind: Kind, fmt: str) -> str:
    """Why a file of ``kind`` cannot be handled by a command that takes images only."""
    if kind == "audio":
        return (
            f"audio ({fmt}): inspect and verify read images only; anonymize protects "
            "audio files and verifies them as it does"
        )
    if kind == "video":
        return (
            f"video ({fmt}): inspect reads images only; anonymize protects video files "
            "and verify attacks them"
        )
    return "not a supported image, video or audio file (its content matches no known format)"


def not_for(kind: Kind, fmt: str) -> UnsupportedFormat:
    return UnsupportedFormat(unsupported(kind, fmt), stage="read")
