"""Video files through PyAV (FFmpeg's libraries): streamed decode, frame
stages in between, encode, and a check of the result.

Only pixels and samples cross from the input to the output: the output is a
new container holding one video stream and, unless dropped, one audio stream,
with no container or stream tags, chapters, cover art, subtitles, data or
attachment streams. Frames are taken as FFmpeg presents them to a player:
in display order, each with its presentation timestamp (variable frame
rates survive); timestamps that do not increase (duplicated or missing)
are resolved between their neighbours rather than refused. Frames are
turned upright (rotation applied to the pixels, so detectors see faces
upright too) and the pixel aspect ratio is kept.

The sound is not decoded here alongside the pictures: the voice stage
settles it first (:mod:`unseen.audio.pipeline`), and :func:`transcode`
takes the settled samples and interleaves them with the frames.

Threads overlap the work, joined by bounded queues so that memory stays
flat however long the video: decoding, one thread per frame stage, and
encoding with muxing (the calling thread). FFmpeg and the detectors release
the GIL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO, cast

import av
import av.container
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

from unseen.config import Options
from unseen.errors import CorruptMedia, LimitExceeded, UnsupportedFormat, VerificationFailed
from unseen.media.ffmpeg import OPUS_RATE, reason, structural

RGB = npt.NDArray[np.uint8]
Samples = npt.NDArray[np.float32]


#: Frames waiting between stages; with the tracker's look-ahead this bounds
#: how many frames are in memory at once.
QUEUE_FRAMES = 4
#: A video whose frames stop this much before the duration its container
#: declares is taken as truncated (Matroska and WebM declare no frame count).
TRUNCATED_SECONDS = 0.5
#: Frames whose timestamps do not increase, held until one that does tells
#: where they belong (then spread evenly before it); beyond this many, they
#: are placed one nominal frame apart.
HELD_FRAMES = 8
#: Seconds of settled sound queued ahead of the last frame decoded (the
#: muxer interleaves the two; this bounds what it holds).
SOUND_LEAD = 1.0
#: By output container: (video codec, its options, audio codec).
_X264 = {"preset": "veryfast", "crf": "20"}
_CONTAINERS: dict[str, tuple[str, dict[str, str], str]] = {
    "mp4": ("libx264", _X264, "aac"),
    "mov": ("libx264", _X264, "aac"),
    "3gp": ("libx264", _X264, "aac"),
    "matroska": ("libx264", _X264, "aac"),
    "avi": ("libx264", {**_X264, "x264-params": "bframes=0"}, "aac"),
    "mpegts": ("libx264", _X264, "aac"),
    # MPEG-PS carries no timestamp for most H.264 frames (PES packets hold
    # several): players and decoders could not place 71 of 75 frames. MPEG-2
    # video, the format MPEG-PS was made for, has every frame timed; at fixed
    # quantizer 3 (about DVD quality), at the nearest rate MPEG-2 declares.
    "mpeg": (
        "mpeg2video",
        {"flags": "+qscale", "global_quality": str(3 * 118)},
        "mp2",
    ),
    "webm": (
        "libvpx-vp9",
        {"deadline": "realtime", "cpu-used": "8", "row-mt": "1", "crf": "32", "b": "0"},
        "libopus",
    ),
}
#: Options of every muxer (no version of FFmpeg written into the file), and of
#: MPEG-PS: no half-second delay before the first frame, which would shift
#: every frame's time.
_BITEXACT = {"fflags": "+bitexact"}
_MUXER_OPTIONS = {"mpeg": {**_BITEXACT, "preload": "0"}}
#: Sample rates each audio encoder takes (None: any); another rate is
#: resampled to the highest of them, and the report says so.
_AUDIO_RATES: dict[str, frozenset[int] | None] = {
    "aac": None,
    "mp2": frozenset({16000, 22050, 24000, 32000, 44100, 48000}),
    "libopus": frozenset({OPUS_RATE}),
}
#: Transfer characteristics of HDR video (PQ and HLG), as FFmpeg numbers them.
_HDR_TRANSFERS = {16: "PQ", 18: "HLG"}


@dataclass(frozen=True)
class Picture:
    """One decoded frame, upright, with its place in the video."""

    index: int
    pts: int
    rgb: RGB


#: One step of the frame pipeline, run in a thread of its own. The first
#: stage takes :class:`Picture` objects and the last yields them, in order;
#: what passes between two stages is theirs to agree on.
FrameStage = Callable[[Iterator[Any]], Iterator[Any]]


@dataclass(frozen=True)
class Plan:
    """What an input holds, and how its output will be written."""

    muxer: str
    #: Upright size of the output, in pixels.
    size: tuple[int, int]
    #: Quarter turns counterclockwise that make a decoded frame upright.
    turns: int
    #: Frames the container declares (0 when it does not say).
    declared_frames: int
    #: Frames expected, for progress: declared, or estimated from the duration.
    expected_frames: int
    #: Seconds the container says the video lasts (0 when it does not say).
    declared_seconds: float
    audio: bool
    #: "group:name" of every tag, stream and chapter that will not be copied.
    removed: tuple[str, ...]
    #: The kept sound's sample rate and channels (0 when the sound is not kept).
    sample_rate: int = 0
    channels: int = 0
    #: Where the kept sound starts on the video's clock, in seconds.
    sound_start: float = 0.0
    #: The sound's rate in the output (another when its encoder cannot keep it).
    output_rate: int = 0
    #: Columns and rows of black added at the right and bottom of each upright
    #: frame: H.264 and VP9 in 4:2:0 need even sizes.
    padding: tuple[int, int] = (0, 0)
    #: What a user should know about how the video was written.
    notes: tuple[str, ...] = ()


def muxer_for(fmt: str, head: bytes, suffix: str) -> str:
    """The output container for an input sniffed as ``fmt``: the input's own."""
    if fmt == "MP4":
        if suffix.lower() in (".3gp", ".3g2") or head[8:11] == b"3gp" or head[8:11] == b"3g2":
            return "3gp"
        return "mov" if suffix.lower() == ".mov" else "mp4"
    if fmt == "MKV":
        return "webm" if b"webm" in head else "matroska"
    simple = {"AVI": "avi", "MPEG-TS": "mpegts", "MPEG-PS": "mpeg"}
    if fmt in simple:
        return simple[fmt]
    raise UnsupportedFormat(f"video ({fmt}) is not supported; nothing was written", stage="read")


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), "r", metadata_errors="replace")
    except av.FFmpegError as exc:
        raise CorruptMedia(f"cannot read the video: {reason(exc)}", stage="decode") from None


def plan(path: Path, muxer: str, options: Options, keep_audio: bool) -> Plan:
    """Check an input against the limits and decide its output. Decodes its
    first frame, which says how the video is rotated."""
    with _open(path) as container:
        return _plan(container, muxer, options, keep_audio)


def _plan(
    container: av.container.InputContainer, muxer: str, options: Options, keep_audio: bool
) -> Plan:
    video = _video(container)
    ctx = video.codec_context
    width, height = ctx.width, ctx.height
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"the video declares a size of {width} x {height}", stage="read")
    if width * height > options.max_video_pixels:
        raise LimitExceeded(
            f"{width} x {height} video frames, above the limit of "
            f"{options.max_video_pixels:,} pixels",
            stage="read",
        )
    first = _first_frame(container)
    turns = _turns(first)
    if turns % 2:
        width, height = height, width
    notes = list(_depth_notes(first))
    padding = (width % 2, height % 2)
    if any(padding):
        notes.append(
            f"frames of {width} x {height} written as {width + padding[0]} x "
            f"{height + padding[1]}: the video codec needs even sizes, so a line of black "
            "was added at the right or bottom"
        )
    audio = bool(container.streams.audio) and keep_audio
    kept = [video, container.streams.audio[0]] if audio else [video]
    removed = leftovers(container, kept)
    sound = container.streams.audio[0] if audio else None
    rate = sound.codec_context.sample_rate if sound else 0
    out_rate = _output_rate(_CONTAINERS[muxer][2], rate) if sound else 0
    if sound and out_rate != rate:
        notes.append(f"sound written at {out_rate} Hz: the output's codec cannot store {rate} Hz")
    start = 0.0
    if sound is not None and sound.start_time is not None and sound.time_base is not None:
        start = float(sound.start_time * sound.time_base)
    declared = max(video.frames, 0)
    seconds = float(video.duration * video.time_base) if video.duration and video.time_base else 0.0
    if not seconds and container.duration:
        seconds = container.duration / av.time_base
    estimate = round(seconds * float(video.guessed_rate or video.average_rate or 30))
    return Plan(
        muxer,
        (width + padding[0], height + padding[1]),
        turns,
        declared,
        declared or max(estimate, 1),
        seconds,
        audio,
        tuple(dict.fromkeys(removed)),
        rate,
        sound.codec_context.layout.nb_channels if sound else 0,
        start,
        out_rate,
        padding,
        tuple(notes),
    )


#: The frame rates MPEG-2 video declares.
_MPEG_RATES = (
    Fraction(24000, 1001),
    Fraction(24),
    Fraction(25),
    Fraction(30000, 1001),
    Fraction(30),
    Fraction(50),
    Fraction(60000, 1001),
    Fraction(60),
)


def _mpeg_rate(rate: Fraction) -> Fraction:
    """The MPEG-2 frame rate nearest ``rate``."""
    return min(_MPEG_RATES, key=lambda r: abs(float(r) - float(rate)))


def _output_rate(codec: str, rate: int) -> int:
    allowed = _AUDIO_RATES[codec]
    if allowed is None or rate in allowed:
        return rate
    higher = [r for r in sorted(allowed) if r >= rate]
    return higher[0] if higher else max(allowed)


def _depth_notes(first: av.VideoFrame) -> list[str]:
    """Notes on a video with more than 8 bits or HDR: it is written as 8-bit SDR."""
    notes = []
    if first.format.components and first.format.components[0].bits > 8:
        notes.append(f"{first.format.components[0].bits}-bit video written with 8 bits per colour")
    hdr = _HDR_TRANSFERS.get(int(first.color_trc))
    if hdr is not None:
        notes.append(
            f"HDR video ({hdr}) written as SDR without tone mapping: its colours look "
            "flatter than on an HDR screen"
        )
    return notes


@dataclass(frozen=True)
class Written:
    """What :func:`transcode` wrote: frames, and notes for the user."""

    frames: int
    notes: tuple[str, ...] = ()


def transcode(
    path: Path,
    target: BinaryIO,
    plan: Plan,
    stages: Sequence[FrameStage],
    sound: Iterator[Samples] | None,
    progress: Callable[[int], None] | None = None,
) -> Written:
    """Decode the video at ``path``, pass its frames through ``stages``, and
    write them, with ``sound`` (the settled sound track, float32 pieces of
    shape (channels, n) at the plan's rate, when the plan keeps it), to
    ``target``.

    Any error in any thread stops them all and is raised here; nothing is
    promised about what ``target`` holds then.
    """
    with _open(path) as container:
        return _transcode(container, target, plan, stages, sound, progress)


def _transcode(
    container: av.container.InputContainer,
    target: BinaryIO,
    plan: Plan,
    stages: Sequence[FrameStage],
    sound: Iterator[Samples] | None,
    progress: Callable[[int], None] | None,
) -> Written:
    if not stages:
        raise ValueError("a video needs at least one frame stage")
    if plan.audio != (sound is not None):
        raise ValueError("the sound must be given exactly when the plan keeps it")
    pipe = _Pipe()
    vin = _video(container)
    vin.thread_type = "AUTO"
    if vin.time_base is None:
        raise CorruptMedia("broken timestamps: the video has no time base", stage="decode")
    time_base = vin.time_base
    output = av.open(
        target, "w", format=plan.muxer, container_options=_MUXER_OPTIONS.get(plan.muxer, _BITEXACT)
    )
    try:
        codec, codec_options, audio_codec = _CONTAINERS[plan.muxer]
        rate = vin.guessed_rate or vin.average_rate or Fraction(30)
        if codec == "mpeg2video":
            rate = _mpeg_rate(vin.average_rate or rate)
        vout = cast(VideoStream, output.add_stream(codec, rate=rate, options=codec_options))
        vout.width, vout.height = plan.size
        vout.pix_fmt = "yuv420p"
        vout.codec_context.time_base = vout.time_base = time_base
        if codec == "mpeg2video":  # MPEG-2 counts time in frames
            vout.codec_context.time_base = 1 / Fraction(rate)
        sar = vin.sample_aspect_ratio
        if sar:
            vout.codec_context.sample_aspect_ratio = 1 / sar if plan.turns % 2 else sar
        vout.codec_context.flags |= av.codec.context.Flags.bitexact
        aout: AudioStream | None = None
        if sound is not None:
            layout = _layout(plan.channels)
            added = output.add_stream(audio_codec, rate=plan.output_rate, layout=layout)
            aout = cast(AudioStream, added)
            aout.codec_context.flags |= av.codec.context.Flags.bitexact
        for stream in output.streams:
            stream.metadata.clear()
        output.metadata.clear()

        frames_in = _Sound(sound, plan, pipe) if sound is not None else None
        pipe.spawn(_decode, container, plan, frames_in, pipe)
        source = pipe.decoded
        for number, stage in enumerate(stages, 1):
            into = pipe.encoded if number == len(stages) else pipe.between()
            pipe.spawn(_stage, stage, source, into, pipe)
            source = into
        frames = 0
        ends = 0
        while ends < 2:
            item = pipe.get(pipe.encoded)
            if item is None:
                ends += 1
            elif isinstance(item, Picture):
                frame = av.VideoFrame.from_ndarray(item.rgb, format="rgb24")
                frame.pts, frame.time_base = item.pts, time_base
                output.mux(vout.encode(frame))
                frames += 1
                if progress is not None:
                    progress(frames)
            elif aout is not None:
                output.mux(aout.encode(item))
        output.mux(vout.encode(None))
        if aout is not None:
            output.mux(aout.encode(None))
        pipe.join()
        output.close()
    except av.FFmpegError as exc:
        raise CorruptMedia(f"cannot encode the video: {reason(exc)}", stage="encode") from None
    finally:
        pipe.stop.set()
        pipe.wait()  # no thread outlives the call, whatever happened
        with contextlib.suppress(av.FFmpegError, OSError):
            output.close()  # a second close does nothing
    return Written(frames, tuple(pipe.notes))


def check_output(path: Path, plan: Plan, frames: int) -> None:
    """Read the written file back: one video stream with ``frames`` frames,
    audio only if kept, and no tag beyond the structural ones."""
    try:
        with av.open(str(path), "r") as written:
            kinds = [s.type for s in written.streams]
            expected = ["video", "audio"] if plan.audio else ["video"]
            if sorted(kinds) != sorted(expected):
                raise VerificationFailed(
                    f"the output holds {', '.join(kinds)} streams, not {', '.join(expected)}",
                    stage="verify",
                )
            left = leftovers(written, list(written.streams))
            if left:
                raise VerificationFailed(
                    f"metadata survived in the output: {', '.join(left)}", stage="verify"
                )
            video = written.streams.video[0]
            if (video.width, video.height) != plan.size:
                raise VerificationFailed(
                    f"the output is {video.width} x {video.height}, not {plan.size}", stage="verify"
                )
            count = sum(1 for p in written.demux(video) if p.size)
    except av.FFmpegError as exc:
        raise VerificationFailed(
            f"the output does not read back: {reason(exc)}", stage="verify"
        ) from None
    if count != frames:
        raise VerificationFailed(f"the output holds {count} frames, not {frames}", stage="verify")


def leftovers(
    container: av.container.InputContainer, kept: Sequence[av.stream.Stream]
) -> list[str]:
    """ "group:name" of everything in ``container`` beyond pixels and sound:
    each tag that is not structural (``STRUCTURAL``), each stream not in
    ``kept`` (cover art, subtitles, data, attachments, other tracks) and
    chapters."""
    found = [f"container:{k}" for k, v in container.metadata.items() if not structural(k, v)]
    for stream in container.streams:
        if not any(stream is k for k in kept):
            found.append(f"stream:{stream.type}")
        found += [f"{stream.type}:{k}" for k, v in stream.metadata.items() if not structural(k, v)]
    if container.chapters():
        found.append("container:chapters")
    return list(dict.fromkeys(found))


def pictures(path: Path, plan: Plan) -> Iterator[Picture]:
    """The frames of the video at ``path`` (as planned by :func:`plan`), upright,
    decoded in a thread as they are taken, with the checks :func:`transcode`
    makes (damage, timestamps, truncation): a few frames in memory at once."""
    with _open(path) as container:
        pipe = _Pipe()
        pipe.spawn(_decode, container, dataclasses.replace(plan, audio=False), None, pipe)
        try:
            while (item := pipe.get(pipe.decoded)) is not None:
                yield item
            pipe.join()
        finally:
            pipe.stop.set()
            pipe.wait()


def sound(path: Path, plan: Plan) -> Iterator[Samples]:
    """The first sound track of the video at ``path``, float32 pieces of shape
    (channels, n) at the plan's rate and channels, as it is decoded. Damaged
    sound data raises :class:`~unseen.errors.CorruptMedia`."""
    with _open(path) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(
            format="fltp", layout=_layout(plan.channels), rate=plan.sample_rate
        )
        try:
            for packet in container.demux(stream):
                if packet.is_corrupt:
                    raise CorruptMedia(
                        f"damaged sound data at {_at(packet.pts, packet.time_base)}",
                        stage="decode",
                    )
                for frame in packet.decode():
                    for part in resampler.resample(frame):
                        yield part.to_ndarray().reshape(plan.channels, -1).astype(np.float32)
            for part in resampler.resample(None):
                yield part.to_ndarray().reshape(plan.channels, -1).astype(np.float32)
        except av.FFmpegError as exc:
            raise CorruptMedia(f"cannot decode the sound: {reason(exc)}", stage="decode") from None


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


def _video(container: av.container.InputContainer) -> VideoStream:
    """The first video stream that is not a cover picture."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise CorruptMedia("the file holds no video stream", stage="read")


def _first_frame(container: av.container.InputContainer) -> av.VideoFrame:
    try:
        first = next(container.decode(_video(container)), None)
    except av.FFmpegError as exc:
        raise CorruptMedia(f"cannot decode the video: {reason(exc)}", stage="decode") from None
    if first is None:
        raise CorruptMedia("the video holds no frames", stage="decode")
    return first


def _turns(first: av.VideoFrame) -> int:
    """Quarter turns counterclockwise that make the first frame upright."""
    if first.rotation % 90:
        raise UnsupportedFormat(f"video rotated by {first.rotation} degrees", stage="read")
    return round(first.rotation / 90) % 4


class _Clock:
    """Presentation timestamps as a player shows the frames: in the order the
    decoder gives them, each at its own timestamp, strictly increasing.

    A frame without a timestamp, or with one that does not come after the
    last (a duplicate, or a muxer's mistake), is held until a frame with a
    timestamp that does; the held frames are then spread evenly between
    the two. Held too long (``HELD_FRAMES``), or at the end, they are placed
    one nominal frame apart. ``resolved`` counts the frames placed so.
    """

    def __init__(self, step: int) -> None:
        self.step = max(step, 1)
        self.first: int | None = None
        self.last: int | None = None
        self.held: list[Picture] = []
        self.resolved = 0

    def add(self, picture: Picture, pts: int | None) -> list[Picture]:
        """The frames that are timed once ``picture`` (with ``pts``) is added."""
        if pts is None or (self.last is not None and pts <= self.last + len(self.held)):
            self.held.append(picture)
            return self._release(None) if len(self.held) > HELD_FRAMES else []
        return [*self._release(pts), self._timed(picture, pts)]

    def finish(self) -> list[Picture]:
        return self._release(None)

    def _release(self, before: int | None) -> list[Picture]:
        held, self.held = self.held, []
        count = len(held)
        self.resolved += count
        if before is not None and self.last is not None:
            span = (before - self.last) / (count + 1)
            times = [self.last + round(span * (k + 1)) for k in range(count)]
        elif before is not None:  # frames before the first with a timestamp
            times = [max(0, before - self.step * (count - k)) for k in range(count)]
        else:
            first = 0 if self.last is None else self.last + self.step
            times = [first + self.step * k for k in range(count)]
        return [self._timed(p, t) for p, t in zip(held, times, strict=True)]

    def _timed(self, picture: Picture, pts: int) -> Picture:
        if self.last is not None and pts <= self.last:
            pts = self.last + 1
        if self.first is None:
            self.first = pts
        self.last = pts
        return Picture(picture.index, pts, picture.rgb)


class _Sound:
    """The settled sound, queued as frames in step with the pictures decoded."""

    def __init__(self, samples: Iterator[Samples], plan: Plan, pipe: _Pipe) -> None:
        self.samples, self.plan, self.pipe = samples, plan, pipe
        self.layout = _layout(plan.channels)
        # Sound before the video's zero (a negative start) is cut: muxers take
        # no negative timestamps.
        self.skip = max(0, round(-plan.sound_start * plan.sample_rate))
        self.pts = max(0, round(plan.sound_start * plan.sample_rate))

    def until(self, seconds: float | None) -> None:
        """Queue the sound up to ``seconds`` on the video's clock (None: all of it)."""
        rate = self.plan.sample_rate
        while seconds is None or self.pts < seconds * rate:
            piece = next(self.samples, None)
            if piece is None:
                return
            if self.skip:
                cut = min(self.skip, piece.shape[1])
                piece, self.skip = piece[:, cut:], self.skip - cut
            if piece.shape[1] == 0:
                continue
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(piece, np.float32), format="fltp", layout=self.layout
            )
            frame.sample_rate = rate
            frame.pts, frame.time_base = self.pts, Fraction(1, rate)
            self.pts += piece.shape[1]
            self.pipe.put(self.pipe.encoded, frame)


def _decode(
    container: av.container.InputContainer,
    plan: Plan,
    sound: _Sound | None,
    pipe: _Pipe,
) -> None:
    video = _video(container)
    if video.time_base is None:
        raise CorruptMedia("broken timestamps: the video has no time base", stage="decode")
    time_base = video.time_base
    # A frame without a timestamp is placed one average frame after the last.
    rate = video.average_rate or video.guessed_rate or Fraction(30)
    clock = _Clock(round(1 / (rate * time_base)))
    index = 0
    packets = 0

    def emit(timed: list[Picture]) -> None:
        for picture in timed:
            pipe.put(pipe.decoded, picture)
            if sound is not None:
                sound.until(float(picture.pts * time_base) + SOUND_LEAD)

    try:
        for packet in container.demux(video):
            if packet.is_corrupt:
                raise CorruptMedia(
                    f"damaged video data at {_at(packet.pts, packet.time_base)}",
                    stage="decode",
                )
            packets += packet.size > 0
            for frame in packet.decode():
                picture = Picture(index, 0, _upright(frame, plan))
                # AVI stores frames at a constant rate without presentation
                # times (decoders report decoding order): frames are numbered.
                pts = index if plan.muxer == "avi" else frame.pts
                emit(clock.add(picture, pts))
                index += 1
        emit(clock.finish())
        if sound is not None:
            sound.until(None)
    except av.FFmpegError as exc:
        raise CorruptMedia(f"cannot decode the video: {reason(exc)}", stage="decode") from None
    if index == 0 or clock.first is None or clock.last is None:
        raise CorruptMedia("the video holds no frames", stage="decode")
    # Containers disagree on whether a duration counts from zero or from the
    # first frame: the video is short only if it is short either way.
    lasted = float(max(clock.last - clock.first, clock.last) * time_base)
    _check_complete(plan, packets, lasted)
    if clock.resolved:
        pipe.notes.append(
            f"{clock.resolved} frame(s) had no timestamp, or one that did not come after the "
            "frame before: shown in the order decoded, between their neighbours"
        )
    pipe.put(pipe.decoded, None)
    pipe.put(pipe.encoded, None)


def _upright(frame: av.VideoFrame, plan: Plan) -> RGB:
    """The frame's pixels as RGB, turned upright and padded to the planned size."""
    rgb: RGB = np.rot90(frame.to_ndarray(format="rgb24"), plan.turns)
    right, bottom = plan.padding
    if right or bottom:
        rgb = np.pad(rgb, ((0, bottom), (0, right), (0, 0))).astype(np.uint8, copy=False)
    return np.ascontiguousarray(rgb)


def _check_complete(plan: Plan, packets: int, lasted: float) -> None:
    """Refuse a video that stops before what its container declares: its
    frames (counted as packets: an edit list hides some frames from the
    decoder, never from the demuxer) and its duration."""
    if plan.declared_frames and packets < plan.declared_frames:
        raise CorruptMedia(
            f"truncated or damaged: {packets} frames read, the file declares "
            f"{plan.declared_frames}",
            stage="decode",
        )
    if plan.declared_seconds and lasted < plan.declared_seconds - TRUNCATED_SECONDS:
        raise CorruptMedia(
            f"truncated or damaged: frames stop at {lasted:.2f} s of {plan.declared_seconds:.2f} s",
            stage="decode",
        )


def _stage(
    stage: FrameStage, source: queue.Queue[Any], into: queue.Queue[Any], pipe: _Pipe
) -> None:
    def items() -> Iterator[Any]:
        while (item := pipe.get(source)) is not None:
            yield item

    for item in stage(items()):
        pipe.put(into, item)
    pipe.put(into, None)


class _Stopped(Exception):
    """Another thread failed or the caller was interrupted: stop quietly."""


class _Pipe:
    """Bounded queues between the threads, and the first error any of them raised."""

    def __init__(self) -> None:
        self.decoded: queue.Queue[Picture | None] = queue.Queue(QUEUE_FRAMES)
        self.encoded: queue.Queue[Any] = queue.Queue(QUEUE_FRAMES * 4)
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        #: What a thread found worth telling the user.
        self.notes: list[str] = []
        self.threads: list[threading.Thread] = []
        self.caller = threading.get_ident()

    def between(self) -> queue.Queue[Any]:
        """A queue between two frame stages."""
        return queue.Queue(QUEUE_FRAMES)

    def spawn(self, target: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            try:
                target(*args)
            except _Stopped:
                pass
            except BaseException as exc:  # handed to the calling thread
                self.errors.append(exc)
                self.stop.set()

        thread = threading.Thread(target=run, daemon=True, name=f"unseen-{target.__name__}")
        thread.start()
        self.threads.append(thread)

    def put(self, into: queue.Queue[Any], item: Any) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(queue.Full):
                into.put(item, timeout=0.1)
                return
        raise _Stopped

    def get(self, source: queue.Queue[Any]) -> Any:
        while True:
            if self.errors and threading.get_ident() == self.caller:
                raise self.errors[0]  # the first error, raised once, in the calling thread
            if self.stop.is_set():
                raise _Stopped
            with contextlib.suppress(queue.Empty):
                return source.get(timeout=0.1)

    def wait(self) -> None:
        for thread in self.threads:
            thread.join()

    def join(self) -> None:
        """Wait for every thread, then raise the first error any of them raised."""
        self.wait()
        if self.errors:
            raise self.errors[0]


def _at(pts: int | None, time_base: Fraction | None) -> str:
    if pts is None or time_base is None:
        return "an unknown time"
    return f"{float(pts * time_base):.2f} s"


class Frames:
    """Any frame of a video by its index (as :func:`pictures` numbers them),
    upright, for a person stepping through it: frames are decoded forward
    from the nearest keyframe before the one asked for, and a decoder that
    is already there goes on from where it is. Holds no frames in memory.

    Frames are placed by their presentation timestamps, so that a seek lands
    on the same index as a decode from the start; a video whose timestamps
    cannot place every frame (missing or repeated, or AVI's) is decoded from
    its start instead, which is slow but exact. Not thread-safe: one user at
    a time. Use as a context manager, or :meth:`close` it.
    """

    def __init__(self, path: Path, plan: Plan) -> None:
        self.plan = plan
        self.container = _open(path)
        self.stream = _video(self.container)
        stamps: list[int | None] = []
        keys: list[int] = []
        try:
            for packet in self.container.demux(self.stream):
                if packet.size:
                    stamps.append(packet.pts)
                    if packet.is_keyframe and packet.pts is not None:
                        keys.append(packet.pts)
        except av.FFmpegError as exc:
            raise CorruptMedia(f"cannot read the video: {reason(exc)}", stage="decode") from None
        placed = [s for s in stamps if s is not None]
        seekable = plan.muxer != "avi" and len(placed) == len(stamps) == len(set(placed))
        #: Index of each presentation timestamp, when seeking is exact.
        self.order = {pts: i for i, pts in enumerate(sorted(placed))} if seekable else None
        self.keys = sorted(keys)
        self.count = len(stamps)
        self._decoded: Iterator[av.VideoFrame] | None = None
        self._next = 0

    def __enter__(self) -> Frames:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.container.close()

    def __getitem__(self, index: int) -> RGB:
        """Frame ``index``, upright (``IndexError`` past the last)."""
        if not 0 <= index < self.count:
            raise IndexError(f"frame {index} of {self.count}")
        if self._decoded is None or index < self._next or self._key_between(index):
            self._seek(index)
        assert self._decoded is not None
        try:
            for frame in self._decoded:
                at = self._index_of(frame)
                if at is None or at < index:
                    continue
                self._next = at + 1
                if at == index:
                    return _upright(frame, self.plan)
                break  # the frame asked for is not in the stream as decoded
        except av.FFmpegError as exc:
            raise CorruptMedia(f"cannot decode the video: {reason(exc)}", stage="decode") from None
        self._decoded = None
        raise CorruptMedia(f"frame {index} cannot be decoded", stage="decode")

    def _index_of(self, frame: av.VideoFrame) -> int | None:
        if self.order is None:
            self._next += 1
            return self._next - 1
        return None if frame.pts is None else self.order.get(frame.pts)

    def _key_between(self, index: int) -> bool:
        """Whether a keyframe lies after the decoder's place and before ``index``:
        seeking there is cheaper than decoding on."""
        if self.order is None:
            return False
        return any(self._next < self.order[k] <= index for k in self.keys)

    def _seek(self, index: int) -> None:
        start = 0
        if self.order is not None:
            before = [k for k in self.keys if self.order[k] <= index]
            start = before[-1] if before else (self.keys[0] if self.keys else 0)
        self.container.seek(start, stream=self.stream, backward=True)
        self._next = 0 if self.order is None else self.order.get(start, 0)
        self._decoded = self.container.decode(self.stream)
