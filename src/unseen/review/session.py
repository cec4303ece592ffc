"""One review: a plan being checked and corrected by a person, the pictures
it is about, and its export. Knows nothing of HTTP (:mod:`unseen.review.server`
serves it); every change is checked, applied to the plan and saved at once.

What a person may change is what a careful tool lets them change: the
decision on any region (``keep`` or ``mask``), regions of their own (added,
followed through a video, cut short or removed), a file's voice mode and the
fill. A region unseen found is never removed: keeping it visible is a
decision the plan and the report record.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast, get_args

import cv2
import numpy as np
import numpy.typing as npt

from unseen.api import apply as run_apply
from unseen.config import FILLS, VOICES, Fill
from unseen.errors import InputError, UnseenError
from unseen.handlers.base import read_file, sniff_file
from unseen.handlers.video import video_plan
from unseen.media import video
from unseen.media.image import Decoded, decode
from unseen.output import write_document
from unseen.plans import DECISIONS, FilePlan, Plan, Region, by_frame, check_file, paint
from unseen.report import write_reports
from unseen.track import follow
from unseen.types import FileResult

Pixels = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]

#: Where a review keeps its plan, in the output folder: resumed from there,
#: and applied again with ``unseen apply``.
SAVED_PLAN = "unseen-review-plan.json"
#: Regions found with a lower score than this are shown first.
LOW_SCORE = 0.5
#: Frames a box drawn on a video is followed, each way.
FOLLOW_FRAMES = 90
#: Frames are followed at this width at most (the tracker needs no more).
FOLLOW_WIDTH = 640
#: Pictures served as JPEG at this quality; decoded files and videos kept open.
JPEG_QUALITY = 90
OPEN_FILES = 3
SERVED_FRAMES = 64


class ReviewError(InputError):
    """A change the review refuses: malformed, or not allowed."""


@dataclass
class Export:
    """The state of an export, as the page polls it."""

    running: bool = False
    done: int = 0
    total: int = 0
    frame: tuple[str, int, int] | None = None
    results: list[FileResult] = field(default_factory=list)
    report: Path | None = None
    error: str | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    def to_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "done": self.done,
            "total": self.total,
            "frame": None if self.frame is None else list(self.frame),
            "results": [r.to_dict() for r in self.results],
            "report": None if self.report is None else self.report.name,
            "error": self.error,
        }


class Cancelled(Exception):
    """The review was closed while its export ran: the file being written is dropped."""


class Review:
    """The plan under review, saved to ``out/SAVED_PLAN`` after every change."""

    def __init__(self, planned: Plan, out: Path) -> None:
        self.plan = planned
        self.out = out
        self.saved = out / SAVED_PLAN
        self.export = Export()
        self._lock = threading.RLock()
        self._open: OrderedDict[int, Decoded | video.Frames] = OrderedDict()
        self._served: OrderedDict[tuple[int, int, str], bytes] = OrderedDict()
        self._thread: threading.Thread | None = None
        self.save()
        #: Why the last change could not be saved (None: every change is on disk).
        self.unsaved_reason: str | None = None
        self._saving = threading.Condition()
        self._unsaved = self._busy = self._closing = False
        self._writer = threading.Thread(target=self._write, daemon=True, name="unseen-save")
        self._writer.start()

    # -- what the page shows --------------------------------------------

    def overview(self) -> dict[str, Any]:
        """Every file with its verdict and what needs attention, the fill, the export."""
        files = [_summary(index, f) for index, f in enumerate(self.plan.files)]
        failed = [{"input": f.input, "error": f.error, "stage": f.stage} for f in self.plan.failed]
        return {
            "fill": self.plan.options.fill,
            "fills": list(FILLS),
            "voices": list(VOICES),
            "files": files,
            "failed": failed,
            "saved": str(self.saved),
        }

    def file(self, index: int) -> dict[str, Any]:
        """One file's plan, with the boxes between a person's keyframes filled
        in (``"between": true``) and its tracks."""
        plan = self._file(index)
        regions = []
        for _, here in sorted(by_frame(plan).items()):
            for region in here:
                shown = region.to_dict()
                shown["between"] = "@" in region.id
                regions.append(shown)
        return {
            **plan.to_dict(),
            "index": index,
            "regions": regions,
            "tracks": _tracks(plan),
            "summary": _summary(index, plan),
        }

    def picture(self, index: int, frame: int, view: str) -> bytes:
        """Frame ``frame`` of file ``index`` as JPEG: the original, or the
        ``preview`` painted as ``apply`` paints it (before the residual check,
        which runs on export)."""
        if view not in ("original", "preview"):
            raise ReviewError(f"unknown view {view!r}")
        key = (index, frame, view)
        with self._lock:
            if view == "original" and key in self._served:
                self._served.move_to_end(key)
                return self._served[key]
            pixels = self._pixels(index, frame)
            if view == "preview":
                here = by_frame(self._file(index)).get(frame, [])
                pixels, _ = paint(pixels, here, self.plan.options, frame)
            data = _jpeg(pixels)
            if view == "original":
                self._served[key] = data
                while len(self._served) > SERVED_FRAMES:
                    self._served.popitem(last=False)
            return data

    def crop(self, index: int, region_id: str) -> bytes:
        """The original pixels of one region (and some context around it), as JPEG."""
        plan = self._file(index)
        region = next((r for r in plan.regions if r.id == region_id), None)
        if region is None:
            raise ReviewError(f"file {index} has no region {region_id!r}")
        with self._lock:
            pixels = self._pixels(index, region.frame)
        height, width = pixels.shape[:2]
        x1, y1, x2, y2 = region.box
        pad = 0.25 * max(x2 - x1, y2 - y1)
        left, top = max(0, math.floor(x1 - pad)), max(0, math.floor(y1 - pad))
        right, bottom = min(width, math.ceil(x2 + pad)), min(height, math.ceil(y2 + pad))
        if right <= left or bottom <= top:
            raise ReviewError(f"region {region_id!r} lies outside the picture")
        return _jpeg(pixels[top:bottom, left:right])

    # -- what the page changes ------------------------------------------

    def decide(
        self,
        index: int,
        decision: str,
        ids: Sequence[str] = (),
        tracks: Sequence[int | str] = (),
    ) -> None:
        """Set ``decision`` on the regions ``ids`` and every region of ``tracks``."""
        if decision not in DECISIONS:
            raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}")
        plan = self._file(index)
        wanted, wanted_tracks = set(_texts(ids, "ids")), set(_tracks_given(tracks))
        known = {r.id for r in plan.regions}
        if wanted - known:
            raise ReviewError(f"file {index} has no region {sorted(wanted - known)[0]!r}")
        if wanted_tracks - {r.track for r in plan.regions}:
            raise ReviewError(f"file {index} has no track {sorted(map(str, wanted_tracks))[0]}")
        self._regions(
            index,
            [
                dataclasses.replace(r, decision=cast(Any, decision))
                if r.id in wanted or r.track in wanted_tracks
                else r
                for r in plan.regions
            ],
        )

    def add(self, index: int, frame: int, box: Any, track: str | None = None) -> str:
        """A region a person drew (to be masked), on ``frame``; in a video,
        regions drawn into one ``track`` are joined frame to frame. Returns its id."""
        plan = self._file(index)
        drawn = self._box(plan, frame, box)
        if track is not None and (not isinstance(track, str) or not track.startswith("u")):
            raise ReviewError("track must name a track drawn by hand (u1, u2, ...)")
        if track is None and plan.kind == "video":
            track = self._new_track(plan)
        region = self._mine(plan, frame, drawn, track)
        self._regions(index, [*plan.regions, region])
        return region.id

    def follow(self, index: int, frame: int, box: Any) -> str:
        """A region a person drew on a video frame, followed by the tracker
        through up to ``FOLLOW_FRAMES`` frames each way: one track, every
        region to be masked. Returns the track's name."""
        plan = self._file(index)
        if plan.kind != "video":
            raise ReviewError("only a video's regions are followed through frames")
        drawn = self._box(plan, frame, box)
        track = self._new_track(plan)
        with self._lock:
            reader = self._reader(index)
            scale = min(1.0, FOLLOW_WIDTH / max(1, plan.size[0] if plan.size else 1))
            x1, y1, x2, y2 = drawn
            small = (x1 * scale, y1 * scale, x2 * scale, y2 * scale)
            after = range(frame, min(reader.count, frame + FOLLOW_FRAMES + 1))
            before = range(frame, max(-1, frame - FOLLOW_FRAMES - 1), -1)
            forward = list(follow((_shrunk(reader[i], scale) for i in after), small))
            back = [_shrunk(reader[i], scale) for i in reversed(before)]
            backward = list(follow(reversed(back), small))
        regions = [self._mine(plan, frame, drawn, track)]
        numbered = itertools.count(1)
        for step, found in itertools.chain(
            zip(after[1:], forward, strict=False), zip(before[1:], backward, strict=False)
        ):
            full = [v / scale for v in found]
            region = self._mine(plan, step, self._box(plan, step, full), track)
            regions.append(dataclasses.replace(region, id=f"{region.id}.{next(numbered)}"))
        self._regions(index, [*plan.regions, *regions])
        return track

    def remove(self, index: int, ids: Sequence[str]) -> None:
        """Remove regions a person added (unseen's own are kept or masked, never removed)."""
        plan = self._file(index)
        wanted = set(_texts(ids, "ids"))
        regions = {r.id: r for r in plan.regions}
        for name in wanted:
            if name not in regions:
                raise ReviewError(f"file {index} has no region {name!r}")
            if regions[name].source != "user":
                raise ReviewError(
                    f"region {name!r} was found by unseen: keep it visible instead of removing it"
                )
        self._regions(index, [r for r in plan.regions if r.id not in wanted])

    def cut(self, index: int, track: str, frame: int, side: str) -> None:
        """Cut a track drawn by hand short: drop its regions ``after`` (or
        ``before``) ``frame``, where the tracker went astray."""
        plan = self._file(index)
        if side not in ("after", "before"):
            raise ReviewError("side must be after or before")
        mine = [r for r in plan.regions if r.track == track and r.source == "user"]
        if not mine:
            raise ReviewError(f"file {index} has no track {track!r} drawn by hand")
        gone = {r.id for r in mine if (r.frame > frame if side == "after" else r.frame < frame)}
        self._regions(index, [r for r in plan.regions if r.id not in gone])

    def set_voice(self, index: int, mode: str) -> None:
        """How the file's sound is protected: ``transform``, ``replace`` or ``keep``."""
        plan = self._file(index)
        if mode not in VOICES:
            raise ReviewError(f"voice must be one of {', '.join(VOICES)}")
        if plan.voice is None:
            raise ReviewError(f"file {index} has no sound to protect")
        if mode != "keep" and plan.voice.speech is None:
            raise ReviewError(
                "this file was planned with --voice keep, so its speech was not "
                "listened for: plan it again with another voice mode"
            )
        voice = dataclasses.replace(plan.voice, mode=mode)
        self._replace(index, dataclasses.replace(plan, voice=voice))

    def set_fill(self, fill: str) -> None:
        """What masks are painted with, for every file."""
        if fill not in get_args(Fill):
            raise ReviewError(f"fill must be one of {', '.join(FILLS)}")
        with self._lock:
            options = dataclasses.replace(self.plan.options, fill=cast(Fill, fill))
            self._commit(dataclasses.replace(self.plan, options=options))

    # -- export -----------------------------------------------------------

    def start_export(self, replace: bool) -> None:
        """Apply the plan as it stands, in the background, through the same
        verified, fail-closed path as ``unseen apply``; then write the reports."""
        with self._lock:
            if self.export.running:
                raise ReviewError("an export is already running")
            snapshot = self.plan
            self.export = Export(running=True, total=len(snapshot.files) + len(snapshot.failed))
            state = self.export
        self._thread = threading.Thread(
            target=self._export, args=(snapshot, replace, state), name="unseen-export"
        )
        self._thread.start()

    def close(self) -> None:
        """Stop an export that is running (the file being made is dropped) and
        close every file."""
        self.export.cancelled.set()
        if self._thread is not None:
            self._thread.join()
        with self._saving:
            self._closing = True
            self._saving.notify_all()
        self._writer.join()
        with self._lock:
            for opened in self._open.values():
                if isinstance(opened, video.Frames):
                    opened.close()
            self._open.clear()
            self._served.clear()

    def flush(self) -> None:
        """Return once every change so far is saved (raises :class:`ReviewError`
        when the last one could not be)."""
        with self._saving:
            while self._unsaved or self._busy:
                self._saving.wait()
        if self.unsaved_reason is not None:
            raise ReviewError(self.unsaved_reason)

    def _export(self, snapshot: Plan, replace: bool, state: Export) -> None:
        def progress(done: int, total: int, result: FileResult) -> None:
            state.done, state.total, state.frame = done, total, None
            state.results.append(result)
            if state.cancelled.is_set():
                raise Cancelled

        def frames(shown: str, done: int, total: int) -> None:
            state.frame = (shown, done, total)
            if state.cancelled.is_set():
                raise Cancelled

        try:
            report = run_apply(
                snapshot, self.out, force=replace, progress=progress, frame_progress=frames
            )
            state.report = write_reports(report, self.out)[1]
        except Cancelled:
            state.error = "the review was closed during the export: no partial output was left"
        except (UnseenError, OSError) as exc:
            state.error = str(exc)
        finally:
            state.running = False

    # -- inside -----------------------------------------------------------

    def _file(self, index: int) -> FilePlan:
        if not isinstance(index, int) or not 0 <= index < len(self.plan.files):
            raise ReviewError(f"there is no file {index}")
        return self.plan.files[index]

    def _box(self, plan: FilePlan, frame: Any, box: Any) -> Box:
        """A box a person drew, checked, and clipped to the picture."""
        if not isinstance(frame, int) or isinstance(frame, bool):
            raise ReviewError("frame must be a whole number")
        if not 0 <= frame < max(plan.frames, 1) or plan.size is None:
            raise ReviewError(f"file {plan.input!r} has no frame {frame}")
        if not (
            isinstance(box, list | tuple)
            and len(box) == 4
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)
            and all(math.isfinite(v) for v in box)
        ):
            raise ReviewError("box must be four numbers: x1, y1, x2, y2")
        width, height = plan.size
        x1, y1 = max(0.0, float(box[0])), max(0.0, float(box[1]))
        x2, y2 = min(float(width), float(box[2])), min(float(height), float(box[3]))
        if x2 - x1 < 2 or y2 - y1 < 2:
            raise ReviewError("the box must be at least 2 pixels wide and high, in the picture")
        return (x1, y1, x2, y2)

    def _mine(self, plan: FilePlan, frame: int, box: Box, track: str | None) -> Region:
        used = {r.id for r in plan.regions}
        number = next(n for n in itertools.count(1) if f"u{n}" not in used)
        return Region(
            id=f"u{number}",
            frame=frame,
            box=box,
            detector="user",
            track=track,
            source="user",
        )

    def _new_track(self, plan: FilePlan) -> str:
        used = {r.track for r in plan.regions} | {r.id for r in plan.regions}
        return next(f"u{n}" for n in itertools.count(1) if f"u{n}" not in used)

    def _regions(self, index: int, regions: list[Region]) -> None:
        self._replace(index, dataclasses.replace(self._file(index), regions=tuple(regions)))

    def _replace(self, index: int, plan: FilePlan) -> None:
        try:
            check_file(plan, index)
        except UnseenError as exc:
            raise ReviewError(f"the change would make the plan invalid: {exc.reason}") from None
        with self._lock:
            files = list(self.plan.files)
            files[index] = plan
            self._commit(dataclasses.replace(self.plan, files=tuple(files)))

    def _commit(self, planned: Plan) -> None:
        """Take ``planned`` and have it saved (the writer keeps up, one write at a time)."""
        self.plan = planned
        with self._saving:
            self._unsaved = True
            self._saving.notify_all()

    def save(self) -> None:
        """Write the plan to the output folder now (atomically), for resuming
        and ``unseen apply``."""
        self.out.mkdir(parents=True, exist_ok=True)
        planned = self.plan
        inputs = [f.path for f in planned.files]
        write_document(self.saved, planned.dumps().encode("utf-8"), force=True, inputs=inputs)

    def _write(self) -> None:
        """The writer: saves the plan after each change, the latest one only
        when changes come faster than it writes (a plan of 300 busy photos
        takes a third of a second to write)."""
        while True:
            with self._saving:
                while not self._unsaved and not self._closing:
                    self._saving.wait()
                if not self._unsaved:
                    return
                self._unsaved, self._busy = False, True
            try:
                self.save()
                self.unsaved_reason = None
            except (UnseenError, OSError) as exc:
                self.unsaved_reason = f"the review could not be saved: {exc}"
            finally:
                with self._saving:
                    self._busy = False
                    self._saving.notify_all()

    def _pixels(self, index: int, frame: int) -> Pixels:
        """Frame ``frame`` of file ``index``, upright RGB (the caller holds the lock)."""
        plan = self._file(index)
        if plan.kind == "audio":
            raise ReviewError("a sound file has no pictures")
        if not isinstance(frame, int) or not 0 <= frame < max(plan.frames, 1):
            raise ReviewError(f"file {index} has no frame {frame}")
        if plan.kind == "video":
            try:
                return self._reader(index)[frame]
            except IndexError:
                raise ReviewError(f"file {index} has no frame {frame} to show") from None
        decoded = self._opened(index, lambda: self._decoded(plan))
        assert isinstance(decoded, Decoded)
        return np.ascontiguousarray(decoded.frames[frame][..., :3])

    def _reader(self, index: int) -> video.Frames:
        plan = self._file(index)

        def opened() -> video.Frames:
            path = Path(plan.path)
            _, fmt = sniff_file(path)
            return video.Frames(path, video_plan(path, fmt, self.plan.options, False))

        reader = self._opened(index, opened)
        assert isinstance(reader, video.Frames)
        return reader

    def _decoded(self, plan: FilePlan) -> Decoded:
        path = Path(plan.path)
        _, fmt = sniff_file(path)
        return decode(read_file(path, self.plan.options), fmt, self.plan.options)

    def _opened(
        self, index: int, open_it: Callable[[], Decoded | video.Frames]
    ) -> Decoded | video.Frames:
        if index in self._open:
            self._open.move_to_end(index)
            return self._open[index]
        opened = open_it()
        self._open[index] = opened
        while len(self._open) > OPEN_FILES:
            _, old = self._open.popitem(last=False)
            if isinstance(old, video.Frames):
                old.close()
        return opened


def _summary(index: int, plan: FilePlan) -> dict[str, Any]:
    """What the overview lists for one file, and what needs a look first."""
    found = [r for r in plan.regions if r.source == "detector"]
    low = [r for r in found if r.detector != "track" and r.score < LOW_SCORE]
    bridged = sorted({r.frame for r in found if r.detector == "track"})
    tracks = {r.track for r in plan.regions if r.track is not None}
    voice = plan.voice
    return {
        "index": index,
        "input": plan.input,
        "output": plan.output,
        "kind": plan.kind,
        "format": plan.format,
        "size": None if plan.size is None else list(plan.size),
        "frames": plan.frames,
        "regions": len(plan.regions),
        "masked": sum(r.decision == "mask" for r in plan.regions),
        "kept": sum(r.decision == "keep" for r in plan.regions),
        "added": sum(r.source == "user" for r in plan.regions),
        "tracks": len(tracks),
        "low_score": [r.id for r in low],
        "tracker_frames": len(bridged),
        "first_tracker_frame": bridged[0] if bridged else None,
        "voice": None if voice is None else voice.mode,
        "speech_seconds": None
        if voice is None or voice.speech is None
        else round(voice.speech.speech_seconds, 1),
        "notes": list(plan.notes),
        "attention": len(low) + len(bridged) + len(plan.notes),
    }


def _tracks(plan: FilePlan) -> list[dict[str, Any]]:
    """Each track of a video once: its frames, decisions and its best region."""
    grouped: dict[int | str, list[Region]] = {}
    for region in plan.regions:
        if region.track is not None:
            grouped.setdefault(region.track, []).append(region)
    tracks = []
    for track, regions in grouped.items():
        best = max(regions, key=lambda r: (r.score, -r.frame))
        tracks.append(
            {
                "track": track,
                "first": min(r.frame for r in regions),
                "last": max(r.frame for r in regions),
                "frames": len({r.frame for r in regions}),
                "masked": sum(r.decision == "mask" for r in regions),
                "kept": sum(r.decision == "keep" for r in regions),
                "source": best.source,
                "best": best.id,
                "best_frame": best.frame,
                "score": round(best.score, 3),
            }
        )
    return sorted(tracks, key=lambda t: (t["first"], str(t["track"])))


def _texts(values: Any, name: str) -> list[str]:
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise ReviewError(f"{name} must be a list of texts")
    return list(values)


def _tracks_given(values: Any) -> Iterator[int | str]:
    if not isinstance(values, list | tuple):
        raise ReviewError("tracks must be a list")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ReviewError("each track is a number or a name")
        yield value


def _shrunk(pixels: Pixels, scale: float) -> Pixels:
    if scale >= 1:
        return pixels
    height, width = pixels.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), np.uint8)


def _jpeg(pixels: Pixels) -> bytes:
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    if not ok:
        raise ReviewError("the picture could not be encoded")
    return bytes(data)
