"""Video files through PyAV (FFmpeg's libraries): streamed decode, a frame
stage and an audio stage in between, encode, and a check of the result.

Only pixels and samples cross from the input to the output: the output is a
new container holding one video stream and, unless dropped, one audio stream,
with no container or stream tags, chapters, cover art, subtitles, data or
attachment streams. Each frame keeps its timestamp (variable frame rates
survive), frames are turned upright (rotation applied to the pixels, so
detectors see faces upright too) and the pixel aspect ratio is kept.

Threads overlap the work, joined by bounded queues so that memory stays
flat however long the video: decoding (and the audio stage), one thread per
frame stage, and encoding with muxing (the calling thread). FFmpeg and the
detectors release the GIL.
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
from typing import Any, BinaryIO, Protocol, cast

import av
import av.container
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

from unseen.config import Options
from unseen.errors import CorruptMedia, LimitExceeded, UnsupportedFormat, VerificationFailed
from unseen.media.ffmpeg import OPUS_RATES, reason, structural

RGB = npt.NDArray[np.uint8]
Samples = npt.NDArray[np.float32]


class AudioStage(Protocol):
    """The sound's stage (a voice stream of :mod:`unseen.audio`): float32
    samples shaped (channels, n) in, whatever is ready out; once the input
    has ended, ``flush`` returns the rest. The output is as long as the input."""

    def process(self, samples: Samples) -> Samples: ...

    def flush(self) -> Samples: ...


class Unchanged:
    """The sound kept as it is (``--voice keep``): re-encoded, not anonymized."""

    def process(self, samples: Samples) -> Samples:
        return samples

    def flush(self) -> Samples:
        return np.zeros((0, 0), np.float32)


#: Frames waiting between stages; with the tracker's look-ahead this bounds
#: how many frames are in memory at once.
QUEUE_FRAMES = 4
#: A video whose frames stop this much before the duration its container
#: declares is taken as truncated (Matroska and WebM declare no frame count).
TRUNCATED_SECONDS = 0.5
#: By output container: (video codec, its options, audio codec).
_X264 = {"preset": "veryfast", "crf": "20"}
_CONTAINERS: dict[str, tuple[str, dict[str, str], str]] = {
    "mp4": ("libx264", _X264, "aac"),
    "mov": ("libx264", _X264, "aac"),
    "matroska": ("libx264", _X264, "aac"),
    "avi": ("libx264", {**_X264, "x264-params": "bframes=0"}, "aac"),
    "webm": (
        "libvpx-vp9",
        {"deadline": "realtime", "cpu-used": "8", "row-mt": "1", "crf": "32", "b": "0"},
        "libopus",
    ),
}


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


def muxer_for(fmt: str, head: bytes, suffix: str) -> str:
    """The output container for an input sniffed as ``fmt``: the input's own."""
    if fmt == "MP4":
        return "mov" if suffix.lower() == ".mov" else "mp4"
    if fmt == "MKV":
        return "webm" if b"webm" in head else "matroska"
    if fmt == "AVI":
        return "avi"
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
    turns = _turns(container)
    if turns % 2:
        width, height = height, width
    if width % 2 or height % 2:
        raise UnsupportedFormat(
            f"video frames of odd size ({width} x {height}) are not supported", stage="read"
        )
    audio = bool(container.streams.audio) and keep_audio
    if audio and muxer == "webm":
        rate = container.streams.audio[0].codec_context.sample_rate
        if rate not in OPUS_RATES:
            raise UnsupportedFormat(
                f"WebM sound at {rate} Hz cannot be kept (Opus takes "
                f"{', '.join(map(str, sorted(OPUS_RATES)))} Hz); use --audio drop",
                stage="read",
            )
    kept = [video, container.streams.audio[0]] if audio else [video]
    removed = leftovers(container, kept)
    sound = container.streams.audio[0].codec_context if audio else None
    declared = max(video.frames, 0)
    seconds = float(video.duration * video.time_base) if video.duration and video.time_base else 0.0
    if not seconds and container.duration:
        seconds = container.duration / av.time_base
    estimate = round(seconds * float(video.guessed_rate or video.average_rate or 30))
    return Plan(
        muxer,
        (width, height),
        turns,
        declared,
        declared or max(estimate, 1),
        seconds,
        audio,
        tuple(dict.fromkeys(removed)),
        sound.sample_rate if sound else 0,
        sound.layout.nb_channels if sound else 0,
    )


def transcode(
    path: Path,
    target: BinaryIO,
    plan: Plan,
    stages: Sequence[FrameStage],
    audio: AudioStage | None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Decode the video at ``path``, pass its frames through ``stages`` and its sound
    through ``audio`` (when the plan keeps it), and write the result to
    ``target``. Returns the number of frames written.

    Any error in any thread stops them all and is raised here; nothing is
    promised about what ``target`` holds then.
    """
    with _open(path) as container:
        return _transcode(container, target, plan, stages, audio, progress)


def _transcode(
    container: av.container.InputContainer,
    target: BinaryIO,
    plan: Plan,
    stages: Sequence[FrameStage],
    audio: AudioStage | None,
    progress: Callable[[int], None] | None,
) -> int:
    if not stages:
        raise ValueError("a video needs at least one frame stage")
    pipe = _Pipe()
    vin = _video(container)
    ain = container.streams.audio[0] if plan.audio else None
    vin.thread_type = "AUTO"
    if vin.time_base is None:
        raise CorruptMedia("broken timestamps: the video has no time base", stage="decode")
    time_base = vin.time_base
    output = av.open(target, "w", format=plan.muxer, container_options={"fflags": "+bitexact"})
    try:
        codec, codec_options, audio_codec = _CONTAINERS[plan.muxer]
        rate = vin.guessed_rate or vin.average_rate or Fraction(30)
        vout = cast(VideoStream, output.add_stream(codec, rate=rate, options=codec_options))
        vout.width, vout.height = plan.size
        vout.pix_fmt = "yuv420p"
        vout.codec_context.time_base = vout.time_base = time_base
        sar = vin.sample_aspect_ratio
        if sar:
            vout.codec_context.sample_aspect_ratio = 1 / sar if plan.turns % 2 else sar
        vout.codec_context.flags |= av.codec.context.Flags.bitexact
        aout: AudioStream | None = None
        if ain is not None:
            layout = ain.codec_context.layout.name
            added = output.add_stream(
                audio_codec, rate=ain.codec_context.sample_rate, layout=layout
            )
            aout = cast(AudioStream, added)
            aout.codec_context.flags |= av.codec.context.Flags.bitexact
        for stream in output.streams:
            stream.metadata.clear()
        output.metadata.clear()

        pipe.spawn(_decode, container, plan, audio, pipe)
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
    return frames


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


def sound(path: Path, rate: int) -> Iterator[Samples]:
    """The first sound track of the video at ``path``, mono at ``rate`` Hz,
    in pieces as it is decoded."""
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
    with _open(path) as container:
        try:
            for frame in container.decode(container.streams.audio[0]):
                for part in resampler.resample(frame):
                    yield part.to_ndarray()[0].astype(np.float32)
            for part in resampler.resample(None):
                yield part.to_ndarray()[0].astype(np.float32)
        except av.FFmpegError as exc:
            raise CorruptMedia(f"cannot decode the sound: {reason(exc)}", stage="decode") from None


def _video(container: av.container.InputContainer) -> VideoStream:
    """The first video stream that is not a cover picture."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise CorruptMedia("the file holds no video stream", stage="read")


def _turns(container: av.container.InputContainer) -> int:
    """Quarter turns counterclockwise that make the first frame upright."""
    try:
        first = next(container.decode(_video(container)), None)
    except av.FFmpegError as exc:
        raise CorruptMedia(f"cannot decode the video: {reason(exc)}", stage="decode") from None
    if first is None:
        raise CorruptMedia("the video holds no frames", stage="decode")
    if first.rotation % 90:
        raise UnsupportedFormat(f"video rotated by {first.rotation} degrees", stage="read")
    return round(first.rotation / 90) % 4


def _decode(
    container: av.container.InputContainer,
    plan: Plan,
    audio: AudioStage | None,
    pipe: _Pipe,
) -> None:
    video = _video(container)
    sound = container.streams.audio[0] if plan.audio else None
    resampler = None
    timed: _Timed | None = None
    if sound is not None and audio is not None:
        ctx = sound.codec_context
        resampler = av.AudioResampler(format="fltp", layout=ctx.layout.name, rate=ctx.sample_rate)
        timed = _Timed(audio, ctx.layout.name, ctx.sample_rate, ctx.layout.nb_channels, pipe)
    index = 0
    first_pts: int | None = None
    last_pts: int | None = None
    try:
        for packet in container.demux([s for s in (video, sound) if s is not None]):
            if packet.is_corrupt:
                raise CorruptMedia(
                    f"damaged {packet.stream.type} data at {_at(packet.pts, packet.time_base)}",
                    stage="decode",
                )
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    # AVI stores frames at a constant rate without presentation
                    # times (decoders report decoding order): frames are numbered.
                    pts = index if plan.muxer == "avi" else frame.pts
                    if pts is None:
                        raise CorruptMedia(
                            f"broken timestamps: frame {index} has none", stage="decode"
                        )
                    if last_pts is not None and pts <= last_pts:
                        raise CorruptMedia(
                            f"broken timestamps: frame {index} does not come after frame "
                            f"{index - 1}",
                            stage="decode",
                        )
                    rgb = np.rot90(frame.to_ndarray(format="rgb24"), plan.turns)
                    pipe.put(pipe.decoded, Picture(index, pts, np.ascontiguousarray(rgb)))
                    if first_pts is None:
                        first_pts = pts
                    last_pts = pts
                    index += 1
                elif isinstance(frame, av.AudioFrame) and resampler and timed:
                    for part in resampler.resample(frame):
                        timed.feed(part)
        if resampler is not None and timed is not None:
            for part in resampler.resample(None):
                timed.feed(part)
            timed.end()
    except av.FFmpegError as exc:
        raise CorruptMedia(f"cannot decode the video: {reason(exc)}", stage="decode") from None
    if index == 0 or first_pts is None or last_pts is None or video.time_base is None:
        raise CorruptMedia("the video holds no frames", stage="decode")
    lasted = float((last_pts - first_pts) * video.time_base)
    if plan.declared_seconds and lasted < plan.declared_seconds - TRUNCATED_SECONDS:
        raise CorruptMedia(
            f"truncated or damaged: frames stop at {lasted:.2f} s of {plan.declared_seconds:.2f} s",
            stage="decode",
        )
    if plan.declared_frames and index != plan.declared_frames:
        raise CorruptMedia(
            f"truncated or damaged: {index} frames decoded, the file declares "
            f"{plan.declared_frames}",
            stage="decode",
        )
    pipe.put(pipe.decoded, None)
    pipe.put(pipe.encoded, None)


class _Timed:
    """Sound through the audio stage, queued as frames timed from where the
    input's sound starts (the stage may return more or fewer samples than
    it was given at each step, never in all)."""

    def __init__(self, stage: AudioStage, layout: str, rate: int, channels: int, pipe: _Pipe):
        self.stage, self.layout, self.rate, self.channels = stage, layout, rate, channels
        self.pipe = pipe
        self.pts: int | None = None

    def feed(self, frame: av.AudioFrame) -> None:
        if self.pts is None:
            start = frame.pts * frame.time_base if frame.pts and frame.time_base else 0
            self.pts = round(start * self.rate)
        self._queue(self.stage.process(frame.to_ndarray().astype(np.float32, copy=False)))

    def end(self) -> None:
        self._queue(self.stage.flush())

    def _queue(self, samples: Samples) -> None:
        if samples.size == 0:
            return
        if samples.ndim != 2 or samples.shape[0] != self.channels:
            raise CorruptMedia(
                f"the audio stage returned samples shaped {samples.shape} for "
                f"{self.channels} channels",
                stage="audio",
            )
        out = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32), format="fltp", layout=self.layout
        )
        out.sample_rate = self.rate
        out.pts, out.time_base = self.pts or 0, Fraction(1, self.rate)
        self.pts = (self.pts or 0) + samples.shape[1]
        self.pipe.put(self.pipe.encoded, out)


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
