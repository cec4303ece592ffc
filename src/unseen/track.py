"""Following faces across video frames, so that no frame between two
detections goes unmasked.

A detector misses a face now and then: for a frame or two while it turns,
blurs or passes behind something. One such frame is enough to identify
someone, so detections are linked into tracks and each track is masked:

- across a **gap**: a face found before and after up to ``MAX_GAP`` frames
  without detection is masked in every frame between, on the straight path
  between its two boxes;
- **before** its first and **after** its last detection: for ``EXTEND``
  frames, moving at its last measured speed, and grown as it goes.

Gaps and the frames before a first detection lie in the past, so frames are
held in a look-ahead buffer of ``LOOKAHEAD`` frames (bounded memory) and
released only once nothing more can be added to them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from unseen.config import Options
from unseen.detect import Detector, detect_faces
from unseen.mask import apply_masks, plan_masks
from unseen.media.video import Picture
from unseen.types import Detections, MaskRegion, TrackSummary

#: Longest run of frames without detection that a track bridges.
MAX_GAP = 10
#: Frames masked before a track's first and after its last detection.
EXTEND = 4
#: Frames held back: enough for the longest gap and the backward extension.
LOOKAHEAD = max(MAX_GAP, EXTEND)
#: Extra size of a predicted box for each frame away from a detection, as a
#: fraction of the face size on each side: the face may speed up or turn.
GROWTH = 0.1
#: A detection continues a track when its box overlaps the track's predicted
#: box by this IoU, or its centre lies within this many face sizes of it.
MATCH_IOU = 0.1
MATCH_DISTANCE = 1.0
#: Label of boxes that come from the tracker rather than a detector.
TRACKED = "track"

Box = npt.NDArray[np.float64]
T = TypeVar("T")


@dataclass
class _Track:
    id: int
    last: int
    box: Box
    velocity: Box
    detected: int = 1

    def predict(self, frame: int) -> Box:
        """Where the face is ``frame`` frames on: the last box moved at its
        centre's speed, grown as it goes. Its size is not extrapolated: a box
        clipped by the picture's edge changes size as it leaves, and its
        edges, extrapolated one by one, crossed (a box with no area)."""
        steps = frame - self.last
        centre = (self.velocity[:2] + self.velocity[2:]) / 2
        return _grow(self.box + np.tile(centre * steps, 2), GROWTH * abs(steps))


@dataclass
class _Held(Generic[T]):
    index: int
    payload: T
    #: Face box, score and source for each track present in this frame.
    faces: dict[int, tuple[Box, float, str]] = field(default_factory=dict)


class Tracker(Generic[T]):
    """Link per-frame detections into tracks and decide what to mask in each frame.

    Feed frames in order with :meth:`push`; it yields the frames that are
    final (``LOOKAHEAD`` frames behind), each with the faces to mask as
    :class:`Detections` (with the id of the track of each). Call
    :meth:`finish` at the end for the rest.

    Example::

        tracker = Tracker[int]()
        for index, frame in enumerate(frames):
            for payload, faces in tracker.push(index, detect(frame), index):
                ...
    """

    def __init__(self) -> None:
        self._held: deque[_Held[T]] = deque()
        self._alive: list[_Track] = []
        self._next_id = 0

    def push(self, index: int, dets: Detections, payload: T) -> Iterator[tuple[T, Detections]]:
        """Add frame ``index`` (one more than the previous) and its detections."""
        if self._held and index != self._held[-1].index + 1:
            raise ValueError(f"frame {index} after frame {self._held[-1].index}")
        held = _Held(index, payload)
        self._held.append(held)
        boxes = dets.boxes.astype(np.float64)
        matched = self._match(index, boxes)
        for det, (box, score, source) in enumerate(
            zip(boxes, dets.scores, dets.sources, strict=True)
        ):
            track = matched.get(det)
            if track is None:
                track = self._start(index, box)
            else:
                self._continue(track, index, box)
            self._add(held, track, box, float(score), source)
        for track in list(self._alive):
            if track.last == index:
                continue
            if index - track.last <= EXTEND:
                self._add(held, track, track.predict(index), 0.0, TRACKED)
            if index - track.last > MAX_GAP:
                self._alive.remove(track)
        while self._held and self._held[0].index <= index - LOOKAHEAD:
            yield self._release()

    def finish(self) -> Iterator[tuple[T, Detections]]:
        """Release every frame still held, and close every track."""
        while self._held:
            yield self._release()
        self._alive.clear()

    def _match(self, index: int, boxes: Box) -> dict[int, _Track]:
        """Greedy assignment of detections to live tracks, best overlap first."""
        pairs = []
        for t, track in enumerate(self._alive):
            predicted = track.predict(index)
            size = max(predicted[2] - predicted[0], predicted[3] - predicted[1], 1.0)
            for d, box in enumerate(boxes):
                iou = _iou(predicted, box)
                distance = float(np.hypot(*(_centre(predicted) - _centre(box)))) / size
                if iou >= MATCH_IOU or distance <= MATCH_DISTANCE:
                    pairs.append((-iou, distance, t, d))
        matched: dict[int, _Track] = {}
        used: set[int] = set()
        for _, _, t, d in sorted(pairs):
            if t not in used and d not in matched:
                used.add(t)
                matched[d] = self._alive[t]
        return matched

    def _start(self, index: int, box: Box) -> _Track:
        track = _Track(self._next_id, index, box, np.zeros(4))
        self._next_id += 1
        self._alive.append(track)
        # The face was probably there already: mask it in the held frames before.
        for held in self._held:
            if index - EXTEND <= held.index < index:
                self._add(held, track, _grow(box, GROWTH * (index - held.index)), 0.0, TRACKED)
        return track

    def _continue(self, track: _Track, index: int, box: Box) -> None:
        steps = index - track.last
        # Bridge the gap on the straight path between the two detections.
        for held in self._held:
            if track.last < held.index < index:
                k = (held.index - track.last) / steps
                between = track.box + (box - track.box) * k
                self._add(held, track, _grow(between, GROWTH), 0.0, TRACKED)
        velocity = (box - track.box) / steps
        track.velocity = velocity if track.detected == 1 else (track.velocity + velocity) / 2
        track.box, track.last = box, index
        track.detected += 1

    def _add(self, held: _Held[T], track: _Track, box: Box, score: float, source: str) -> None:
        previous = held.faces.get(track.id)
        if previous is not None:
            box = _union(box, previous[0])
            if previous[1] >= score:
                score, source = previous[1], previous[2]
        held.faces[track.id] = (box, score, source)

    def _release(self) -> tuple[T, Detections]:
        held = self._held.popleft()
        faces = list(held.faces.values())
        dets = Detections(
            np.array([f[0] for f in faces], np.float32).reshape(-1, 4),
            np.array([f[1] for f in faces], np.float32),
            tuple(f[2] for f in faces),
            tracks=np.array(list(held.faces), np.int64),
        )
        return held.payload, dets


def _union(a: Box, b: Box) -> Box:
    return np.concatenate([np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])])


def _grow(box: Box, fraction: float) -> Box:
    w, h = box[2] - box[0], box[3] - box[1]
    return box + np.array([-w, -h, w, h]) * fraction


def _centre(box: Box) -> Box:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def _iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


#: Called with each frame's index, original and masked pixels, the regions
#: masked and those kept visible by decision; returns the frame to encode
#: (more faces may be masked in it), or raises to stop the video (the
#: verification stage).
Audit = Callable[
    [
        int,
        npt.NDArray[np.uint8],
        npt.NDArray[np.uint8],
        Sequence[MaskRegion],
        Sequence[MaskRegion],
    ],
    npt.NDArray[np.uint8],
]


@dataclass(frozen=True)
class Planned:
    """A frame with what to do in it: the regions to mask, and those a
    person chose to keep visible."""

    picture: Picture
    masks: Detections
    kept: Detections = field(default_factory=Detections.empty)


@dataclass(frozen=True)
class Masked:
    """A frame as it leaves the masking stage."""

    picture: Picture  #: the frame as decoded
    pixels: npt.NDArray[np.uint8]  #: the frame masked
    regions: Sequence[MaskRegion]  #: what was masked in it
    kept: Sequence[MaskRegion] = ()  #: what was left visible by decision


def tracked(
    pictures: Iterator[Picture],
    passes: Sequence[tuple[Detector, float, float]],
    tracker: Tracker[Picture],
) -> Iterator[Planned]:
    """Detect faces in each frame and follow them with ``tracker``: each frame,
    in order, once final, with every face to mask (``unseen anonymize`` plans
    a video this way as it goes, and ``unseen plan`` records it)."""
    for picture in pictures:
        found = detect_faces(picture.rgb, passes)
        for held, faces in tracker.push(picture.index, found, picture):
            yield Planned(held, faces)
    for held, faces in tracker.finish():
        yield Planned(held, faces)


def mask_video(frames: Iterator[Planned], options: Options) -> Iterator[Masked]:
    """The first frame stage of a video: each frame masked as planned."""
    for frame in frames:
        picture = frame.picture
        pixels, regions = apply_masks(picture.rgb, frame.masks, options, picture.index)
        height, width = picture.rgb.shape[:2]
        kept = plan_masks(frame.kept, options, width, height, picture.index)
        yield Masked(picture, pixels, regions, kept)


def audit_video(frames: Iterator[Masked], audit: Audit | None) -> Iterator[Picture]:
    """The second frame stage, in a thread of its own so that attacking one
    frame overlaps detecting the next: each masked frame through ``audit``
    (the verification stage), ready to encode."""
    for frame in frames:
        picture, pixels = frame.picture, frame.pixels
        if audit is not None:
            pixels = audit(picture.index, picture.rgb, pixels, frame.regions, frame.kept)
        yield Picture(picture.index, picture.pts, pixels)


@dataclass
class _Tally:
    """One track's sums: frames are added in order, so counters and the last
    frame seen are all it keeps, however long the video."""

    first: int
    last: int
    extent: tuple[float, float, float, float]
    best: MaskRegion
    frames: int = 1
    detected: int = 0
    last_detected: int = -1


class TrackTally:
    """The tracks of a video's masked (or kept) regions, summed up as the
    frames pass: frames, frames where a detector (not the tracker) found the
    face, the extent of its boxes and its best score. One entry per track,
    however long the video; regions without a track count as track -1.
    Regions come frame by frame, in order."""

    def __init__(self) -> None:
        self._tracks: dict[int, _Tally] = {}

    def add(self, regions: Iterable[MaskRegion]) -> None:
        for region in regions:
            number = -1 if region.track is None else region.track
            tally = self._tracks.get(number)
            if tally is None:
                tally = self._tracks[number] = _Tally(
                    region.frame, region.frame, region.face, region
                )
            elif region.frame != tally.last:
                tally.frames += 1
                tally.last = region.frame
            if region.detector != TRACKED and region.frame != tally.last_detected:
                tally.detected += 1
                tally.last_detected = region.frame
            x1, y1, x2, y2 = tally.extent
            a1, b1, a2, b2 = region.face
            tally.extent = (min(x1, a1), min(y1, b1), max(x2, a2), max(y2, b2))
            if region.score > tally.best.score:
                tally.best = region

    def summaries(self) -> tuple[TrackSummary, ...]:
        out = []
        for number, tally in sorted(self._tracks.items()):
            x1, y1, x2, y2 = (round(float(v), 1) for v in tally.extent)
            out.append(
                TrackSummary(
                    id=number,
                    first_frame=tally.first,
                    last_frame=tally.last,
                    frames_masked=tally.frames,
                    frames_detected=tally.detected,
                    face_extent=(x1, y1, x2, y2),
                    score=tally.best.score,
                    detector=tally.best.detector,
                )
            )
        return tuple(out)


def follow(
    frames: Iterable[npt.NDArray[np.uint8]], box: tuple[float, float, float, float]
) -> Iterator[tuple[float, float, float, float]]:
    """Follow what ``box`` (x1, y1, x2, y2) holds on the first of ``frames``
    through the rest, with OpenCV's MIL tracker (for a face a person marked
    by hand, which the detectors missed): its box in each later frame, until
    the tracker loses it or it leaves the picture."""
    tracker = cv2.TrackerMIL.create()
    started = False
    for pixels in frames:
        height, width = pixels.shape[:2]
        if not started:
            x1, y1, x2, y2 = (round(v) for v in box)
            tracker.init(pixels, (x1, y1, max(1, x2 - x1), max(1, y2 - y1)))
            started = True
            continue
        ok, (x, y, w, h) = tracker.update(pixels)
        inside = max(0, min(x + w, width) - max(x, 0)) * max(0, min(y + h, height) - max(y, 0))
        if not ok or inside < 0.5 * w * h:
            return
        yield (float(x), float(y), float(x + w), float(y + h))
