"""What video and audio files written through FFmpeg (PyAV) share: the tags
FFmpeg's muxers write into every file, Opus's sample rate, and its errors
in words."""

from __future__ import annotations

import av

#: The rate every Opus stream plays at: decoders give 48 kHz whatever rate it
#: was encoded from, so a file encoded at 16 kHz reads back at 48 kHz. Opus is
#: written at this rate, and a file reads back as it was written.
OPUS_RATE = 48_000
#: Tags that FFmpeg's muxers write into every file, with no information about
#: the input or its author: (key, allowed values; None for any value).
STRUCTURAL: dict[str, frozenset[str] | None] = {
    "major_brand": None,
    "minor_version": None,
    "compatible_brands": None,
    "language": frozenset({"und"}),
    "handler_name": frozenset({"VideoHandler", "SoundHandler"}),
    "vendor_id": frozenset({"[0][0][0][0]", "FFMP"}),
    "encoder": frozenset({"Lavf"}),  # FFmpeg names itself, without a version
    "duration": None,  # Matroska's per-stream duration
}


def structural(key: str, value: str) -> bool:
    """Whether a container or stream tag says nothing about the file's origin."""
    allowed = STRUCTURAL.get(key.lower(), frozenset())
    return allowed is None or value in allowed


def reason(exc: av.FFmpegError | OSError) -> str:
    """An FFmpeg (or file) error in words."""
    return str(exc.strerror or exc).strip()
