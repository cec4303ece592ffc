"""Walkers over the container structure of JPEG, PNG and WebP files.

They read the file's own structure rather than what Pillow chooses to
expose, so that unknown segments, chunks and data appended after the end
of the image (phones append videos and previews there) are seen too.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    """One segment or chunk: its name, where its payload starts, and its bytes."""

    name: str
    offset: int
    data: bytes


_JPEG_NAMES = {0xFE: "COM", 0xDD: "DRI", 0xDB: "DQT", 0xC4: "DHT", 0xDA: "SOS"}


def jpeg_segments(data: bytes) -> Iterator[Block]:
    """Marker segments of a JPEG, then a ``TRAILER`` block for anything after EOI."""
    pos = 2
    end = len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            yield Block("GARBAGE", pos, data[pos:])
            return
        marker = data[pos + 1]
        if marker == 0xFF:  # fill bytes
            pos += 1
            continue
        if marker == 0xD9:
            if pos + 2 < end:
                yield Block("TRAILER", pos + 2, data[pos + 2 :])
            return
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        payload = data[pos + 4 : pos + 2 + length]
        if 0xE0 <= marker <= 0xEF:
            name = f"APP{marker - 0xE0}"
        elif 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            name = "SOF"
        else:
            name = _JPEG_NAMES.get(marker, f"M{marker:02X}")
        yield Block(name, pos + 4, payload)
        pos += 2 + length
        if marker == 0xDA:
            pos = _skip_entropy(data, pos)


def _skip_entropy(data: bytes, pos: int) -> int:
    """Position of the next marker after entropy-coded data."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return len(data)
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1 if following == 0xFF else 2
            continue
        return pos


def png_chunks(data: bytes) -> Iterator[Block]:
    """Chunks of a PNG, then a ``TRAILER`` block for anything after IEND."""
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        name = kind.decode("latin-1")
        yield Block(name, pos + 8, data[pos + 8 : pos + 8 + length])
        pos += 12 + length
        if name == "IEND":
            if pos < len(data):
                yield Block("TRAILER", pos, data[pos:])
            return


def webp_chunks(data: bytes) -> Iterator[Block]:
    """Chunks of a WebP (RIFF) file, then a ``TRAILER`` block past the RIFF size."""
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = min(len(data), 8 + riff_size)
    pos = 12
    while pos + 8 <= end:
        kind, length = struct.unpack("<4sI", data[pos : pos + 8])
        yield Block(kind.decode("latin-1"), pos + 8, data[pos + 8 : pos + 8 + length])
        pos += 8 + length + (length & 1)
    if 8 + riff_size < len(data):
        yield Block("TRAILER", 8 + riff_size, data[8 + riff_size :])
