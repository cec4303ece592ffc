"""Reading and writing audio files with PyAV (FFmpeg inside the wheel).

An output is a new file that holds one audio stream and nothing else: no
tags (ID3, Vorbis comments, RIFF INFO and BWF chunks, iTunes atoms), no
cover art, no chapters, and no encoder signature (FFmpeg's ``bitexact``
flag). Samples flow through in pieces, so memory does not grow with the
length of a recording.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import av
import numpy as np
import numpy.typing as npt

from unseen.errors import CorruptMedia, LimitExceeded, VerificationFailed
from unseen.media.ffmpeg import OPUS_RATE, reason, structural

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Writer:
    """How one format is written: FFmpeg muxer, encoder and its options."""

    muxer: str
    codec: str
    lossless: bool
    options: tuple[tuple[str, str], ...] = ()


#: Output per input format (sniffed from the content). Lossy formats are
#: re-encoded with the same codec family; Vorbis in Ogg becomes Opus in Ogg
#: (FFmpeg has no production Vorbis encoder).
WRITERS: dict[str, Writer] = {
    "WAV": Writer("wav", "pcm_s16le", lossless=True),
    "AIFF": Writer("aiff", "pcm_s16be", lossless=True),
    "FLAC": Writer("flac", "flac", lossless=True),
    "MP3": Writer(
        "mp3", "libmp3lame", lossless=False, options=(("id3v2_version", "0"), ("write_xing", "0"))
    ),
    "OGG": Writer("ogg", "libopus", lossless=False),
    "M4A": Writer("ipod", "aac", lossless=False),
}

#: Lossy codecs add priming and padding: the decoded length may differ by this much.
_LOSSY_SLACK_SECONDS = 0.1


@dataclass(frozen=True)
class AudioInfo:
    """What a decoded audio file holds."""

    format: str
    codec: str
    sample_rate: int
    channels: int
    #: Seconds, as the container declares it (None when unknown).
    duration: float | None
    #: "group:name" of each tag and embedded picture found (never values).
    metadata: tuple[str, ...]


class Source:
    """An audio file opened for decoding (use as a context manager)."""

    def __init__(self, path: Path, fmt: str, *, max_seconds: float) -> None:
        try:
            self._container: Any = av.open(str(path), "r", metadata_errors="ignore")
        except av.FFmpegError as exc:
            raise CorruptMedia(
                f"cannot read the {fmt} audio ({reason(exc)})", stage="decode"
            ) from None
        try:
            self.info, self._stream = self._probe(fmt, max_seconds)
        except BaseException:
            self._container.close()
            raise
        self._max_samples = int(max_seconds * self.info.sample_rate)

    def _probe(self, fmt: str, max_seconds: float) -> tuple[AudioInfo, Any]:
        container = self._container
        audio = list(container.streams.audio)
        if not audio:
            raise CorruptMedia(f"the {fmt} file holds no audio stream", stage="decode")
        stream = audio[0]
        rate = int(stream.codec_context.sample_rate or 0)
        channels = int(stream.codec_context.channels or 0)
        if not 1_000 <= rate <= 384_000 or not 1 <= channels <= 8:
            raise CorruptMedia(
                f"unusable audio stream ({rate} Hz, {channels} channels)", stage="decode"
            )
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        if duration is not None and duration > max_seconds:
            raise LimitExceeded(
                f"{duration:,.0f} seconds of audio, above the limit of {max_seconds:,.0f}",
                stage="read",
            )
        found = [f"tags:{k}" for k, v in container.metadata.items() if not structural(k, v)]
        for other in container.streams:
            found += [f"stream tags:{k}" for k, v in other.metadata.items() if not structural(k, v)]
            if other.type == "video":
                found.append("embedded:cover art")
            elif other is not stream:
                found.append(f"stream:{other.type}")
        found += ["container:chapters"] * bool(container.chapters())
        codec = stream.codec_context.name
        info = AudioInfo(fmt, codec, rate, channels, duration, tuple(dict.fromkeys(found)))
        return info, stream

    def chunks(self) -> Iterator[Samples]:
        """Decoded samples, float32, shape (channels, n), in the file's order."""
        info = self.info
        resampler = av.AudioResampler(
            format="fltp", layout=layout_name(info.channels), rate=info.sample_rate
        )
        total = 0
        try:
            for frame in self._container.decode(self._stream):
                for out in resampler.resample(frame):
                    samples: Samples = np.asarray(out.to_ndarray(), np.float32).reshape(
                        info.channels, -1
                    )
                    total += samples.shape[1]
                    if total > self._max_samples:
                        raise LimitExceeded(
                            f"more than {self._max_samples / info.sample_rate:,.0f} seconds "
                            "of audio, above the limit",
                            stage="decode",
                        )
                    if not np.all(np.isfinite(samples)):
                        samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
                    yield samples
        except av.FFmpegError as exc:
            raise CorruptMedia(
                f"cannot decode the {info.format} audio ({reason(exc)})", stage="decode"
            ) from None

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class Sink:
    """A new audio file holding one stream and no metadata, written to ``stream``."""

    def __init__(self, stream: BinaryIO, fmt: str, sample_rate: int, channels: int) -> None:
        writer = WRITERS[fmt]
        self._rate = sample_rate
        self._layout = layout_name(channels)
        self._container: Any = av.open(
            stream,
            "w",
            format=writer.muxer,
            options=dict(writer.options),
            container_options={"fflags": "+bitexact"},
        )
        self._stream: Any = self._container.add_stream(
            writer.codec, rate=output_rate(fmt, sample_rate), layout=self._layout
        )
        self._stream.codec_context.flags |= av.codec.context.Flags.bitexact  # no encoder name
        self._pts = 0

    def write(self, samples: Samples) -> None:
        """Encode float32 samples of shape (channels, n)."""
        if samples.shape[1] == 0:
            return
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(np.clip(samples, -1.0, 1.0), np.float32),
            format="fltp",
            layout=self._layout,
        )
        frame.sample_rate = self._rate
        frame.pts = self._pts
        self._pts += samples.shape[1]
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()


def output_rate(fmt: str, rate: int) -> int:
    """The sample rate ``fmt`` is written at: the input's, except for Opus
    (Ogg), which plays at 48 kHz whatever rate it is given (Vorbis at 44.1
    or 16 kHz is written as Opus at 48 kHz, and the report says so)."""
    return OPUS_RATE if WRITERS[fmt].codec == "libopus" else rate


def check_output(path: Path, info: AudioInfo, samples: int) -> None:
    """Read a written file back: one audio stream, no tags, no picture, the
    same sample rate and channels, and the same length (within the priming
    and padding of lossy codecs)."""
    writer = WRITERS[info.format]
    with contextlib.ExitStack() as stack:
        try:
            container: Any = stack.enter_context(av.open(str(path), "r"))
        except av.FFmpegError as exc:
            raise VerificationFailed(
                f"the output does not open ({reason(exc)})", stage="verify"
            ) from None
        if len(container.streams) != 1 or len(container.streams.audio) != 1:
            raise VerificationFailed("the output holds more than one audio stream", stage="verify")
        stream = container.streams.audio[0]
        tags = [k for k, v in container.metadata.items() if not structural(k, v)]
        tags += [k for k, v in stream.metadata.items() if not structural(k, v)]
        if tags:
            raise VerificationFailed(
                f"metadata survived in the output: {', '.join(sorted(tags))}", stage="verify"
            )
        rate = output_rate(info.format, info.sample_rate)
        if stream.codec_context.sample_rate != rate:
            raise VerificationFailed(
                f"the output is at {stream.codec_context.sample_rate} Hz, not {rate} Hz",
                stage="verify",
            )
        if stream.codec_context.channels != info.channels:
            raise VerificationFailed("the output has a different channel count", stage="verify")
        try:
            decoded = sum(frame.samples for frame in container.decode(stream))
        except av.FFmpegError as exc:
            raise VerificationFailed(
                f"the output does not decode ({reason(exc)})", stage="verify"
            ) from None
    slack = 0 if writer.lossless else int(_LOSSY_SLACK_SECONDS * rate)
    samples = round(samples * rate / info.sample_rate)
    if abs(decoded - samples) > slack:
        raise VerificationFailed(
            f"the output holds {decoded:,} samples, not {samples:,}", stage="verify"
        )


def layout_name(channels: int) -> str:
    """FFmpeg's name for a plain layout of ``channels`` channels."""
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


class Mono16k:
    """Streaming conversion to the attacker's input: 16 kHz, mono, float32."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        self._rate = sample_rate
        self._layout = layout_name(channels)
        self._resampler = av.AudioResampler(format="fltp", layout="mono", rate=16_000)

    def __call__(self, samples: Samples | None) -> Samples:
        """Convert (channels, n) samples; ``None`` flushes what is left."""
        frame = None
        if samples is not None:
            if samples.shape[1] == 0:
                return np.zeros(0, np.float32)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples, np.float32), format="fltp", layout=self._layout
            )
            frame.sample_rate = self._rate
        parts = [out.to_ndarray()[0] for out in self._resampler.resample(frame)]
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def resample_mono(samples: Samples, rate: int, to_rate: int) -> Samples:
    """One whole mono clip at another sample rate."""
    if rate == to_rate or len(samples) == 0:
        return samples.astype(np.float32)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples[None], np.float32), format="fltp", layout="mono"
    )
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=to_rate)
    parts = [out.to_ndarray()[0] for out in resampler.resample(frame)]
    parts += [out.to_ndarray()[0] for out in resampler.resample(None)]
    return np.concatenate(parts).astype(np.float32)
