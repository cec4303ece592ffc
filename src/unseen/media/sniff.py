"""What a file is, from its first bytes, never from its name."""

from __future__ import annotations

from typing import Literal

Kind = Literal["image", "video", "audio", "unknown"]

#: The bytes needed to tell every supported type apart (an MPEG transport
#: stream shows itself by a sync byte every 188 or 192 bytes).
HEAD_BYTES = 512

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}


def sniff(head: bytes) -> tuple[Kind, str]:
    """``(kind, format)`` of a file from its first bytes.

    ``format`` is the Pillow format name for images, a short name for other
    media, or ``""`` when unknown.

    >>> sniff(b"\\x89PNG\\r\\n\\x1a\\n")
    ('image', 'PNG')
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "GIF"
    if head.startswith(b"BM") and len(head) >= 26:
        return "image", "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "image", "TIFF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image", "WEBP"
    if head.startswith(b"RIFF") and head[8:12] in (b"WAVE", b"AVI "):
        return ("audio", "WAV") if head[8:12] == b"WAVE" else ("video", "AVI")
    if head[4:8] == b"ftyp":
        brands = {head[i : i + 4] for i in range(8, min(len(head), 40), 4)}
        brands.discard(b"\x00\x00\x00\x00")
        if brands & _AVIF_BRANDS:
            return "image", "AVIF"
        if brands & _HEIF_BRANDS:
            return "image", "HEIF"
        if brands & {b"M4A ", b"M4B "}:
            return "audio", "M4A"
        return "video", "MP4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "MKV"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "video", "MPEG-PS"
    if _transport_stream(head):
        return "video", "MPEG-TS"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "video", "ASF"
    if head.startswith((b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")):
        return "audio", "MP3"
    if head.startswith((b"fLaC", b"OggS")):
        return "audio", "FLAC" if head.startswith(b"fLaC") else "OGG"
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio", "AIFF"
    return "unknown", ""


def _transport_stream(head: bytes) -> bool:
    """MPEG-TS (188-byte packets) or M2TS (192 bytes, camcorders' .MTS): a
    sync byte at the start of three packets in a row."""
    for size, first in ((188, 0), (192, 4)):
        if len(head) > first + 2 * size and all(head[first + k * size] == 0x47 for k in range(3)):
            return True
    return False
