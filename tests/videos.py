"""Generated videos for the tests: a real face (scikit-image's astronaut)
moving over a plain background, with known ground truth, optional sound
(a tone, speech or digital silence), metadata and extra streams."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
import numpy.typing as npt
from PIL import Image
from skimage import data

#: The astronaut's face in her 512 x 512 photo, (x1, y1, x2, y2).
FACE = (180, 50, 280, 180)
#: The part of the photo pasted into frames: her head and some margin.
CROP = (140, 0, 330, 240)


@dataclass(frozen=True)
class Clip:
    path: Path
    frames: int
    #: Face box in each frame, (x1, y1, x2, y2), upright output coordinates.
    faces: tuple[tuple[int, int, int, int], ...]


def _head(scale: float) -> npt.NDArray[np.uint8]:
    photo = Image.fromarray(data.astronaut()).crop(CROP)
    w, h = photo.size
    return np.asarray(photo.resize((round(w * scale), round(h * scale)), Image.Resampling.BILINEAR))


def make_clip(
    path: Path,
    *,
    size: tuple[int, int] = (320, 240),
    frames: int = 24,
    rate: int = 24,
    fmt: str = "mp4",
    scale: float = 0.5,
    audio: bool = True,
    tags: dict[str, str] | None = None,
    data_stream: bool = False,
    rotation: int = 0,
    vfr: bool = False,
    start: float = 0.0,
    sound: Literal["tone", "voice", "silence"] = "tone",
    codec: str | None = None,
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
) -> Clip:
    """Write a clip where the head slides left to right across the frame.

        ``rotation`` is stored in the display matrix (counterclockwise degrees);
        ground truth is then given for the upright picture. With ``vfr`` every
        third frame lasts twice as long. ``start``: seconds before the first
    frame and the first sound, on the container's clock. ``sound`` (with ``audio``): a 440 Hz
        tone (music without a voice), speech (eSpeak NG) or digital silence.
        ``codec``, ``pix_fmt`` and ``options`` choose the video encoding.
    """
    width, height = size
    head = _head(scale)
    hh, hw = head.shape[:2]
    face = tuple(round((v - o) * scale) for v, o in zip(FACE, CROP[:2] * 2, strict=True))
    # AVI and MPEG-2 count time in frames; the others get a finer clock, for ``vfr``.
    codec = codec or {"webm": "libvpx-vp9", "mpeg": "mpeg2video"}.get(fmt, "libx264")
    ticks = 1 if fmt == "avi" or codec == "mpeg2video" else 2
    time_base = Fraction(1, rate * ticks)
    faces = []
    with av.open(str(path), "w", format=fmt) as out:
        if tags:
            out.metadata.update(tags)
        video = out.add_stream(codec, rate=rate, options=options or {})
        video.width, video.height = (height, width) if rotation % 180 else (width, height)
        video.pix_fmt = pix_fmt
        video.codec_context.time_base = time_base
        if rotation:
            video.set_display_rotation(rotation)
        if tags:
            video.metadata.update(tags)
        track = None
        if audio:
            sound_codec = {"webm": "libopus", "mpeg": "mp2"}.get(fmt, "aac")
            track = out.add_stream(sound_codec, rate=48000, layout="stereo")
        extra = out.add_data_stream("bin_data") if data_stream else None
        first = round(start / time_base)
        pts = first
        for i in range(frames):
            x = round((width - hw) * i / max(frames - 1, 1))
            y = (height - hh) // 2
            picture = np.full((height, width, 3), 90, np.uint8)
            picture[y : y + hh, x : x + hw] = head
            faces.append((x + face[0], y + face[1], x + face[2], y + face[3]))
            stored = np.rot90(picture, -round(rotation / 90))
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(stored), format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            pts += 2 * ticks if vfr and i % 3 == 2 else ticks
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if track is not None:
            seconds = float((pts - first) * time_base)
            mono = _sound(sound, round(seconds * 48000))
            samples = np.stack([mono, mono])
            offset = round(start * 48000)
            for at in range(0, mono.shape[0], 4800):
                block = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(samples[:, at : at + 4800]),
                    format="fltp",
                    layout="stereo",
                )
                block.sample_rate, block.time_base = 48000, Fraction(1, 48000)
                block.pts = offset + at
                out.mux(track.encode(block))
            out.mux(track.encode(None))
        if extra is not None:
            packet = av.Packet(b"$GPRMC,123519,A,4807.038,N,01131.000,E")
            packet.stream, packet.pts, packet.dts, packet.time_base = extra, 0, 0, time_base
            out.mux(packet)
    return Clip(path, frames, tuple(faces))


def _sound(kind: str, n: int) -> npt.NDArray[np.float32]:
    """``n`` samples at 48 kHz of a tone, speech or silence."""
    if kind == "voice":
        from audio_media import spoken

        return spoken(n / 48000 + 0.001, 48000)[:n]
    if kind == "silence":
        return np.zeros(n, np.float32)
    return (0.2 * np.sin(np.arange(n) / 48000 * 2 * np.pi * 440)).astype(np.float32)
