"""Reading every piece of non-pixel content a file carries, by group.

This serves ``unseen inspect`` (what is in a file before protecting it) and
the check that every output holds nothing but pixels. Values are rendered
short and printable; reports list names only.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterable
from typing import Any, cast

from PIL import ExifTags, Image, ImageFile, IptcImagePlugin, TiffTags

from unseen.metadata.containers import jpeg_segments, png_chunks, webp_chunks
from unseen.types import EmbeddedImage, MetadataItem

# Tags that only describe how to lay out or display pixels. Everything else
# is treated as identifying: an allowlist fails closed on tags nobody foresaw.
_TIFF_STRUCTURAL = {
    254,
    255,
    256,
    257,
    258,
    259,
    262,
    266,
    273,
    274,
    277,
    278,
    279,
    282,
    283,
    284,
    290,
    291,
    296,
    317,
    320,
    322,
    323,
    324,
    325,
    332,
    338,
    339,
    340,
    341,
    347,
    529,
    530,
    531,
    532,
}
_EXIF_STRUCTURAL = {274, 282, 283, 296, 531, 40961, 40962, 40963, 36864, 40960, 37121}
_POINTERS = {34665, 34853, 40965, 330}
_INFO_STRUCTURAL = {
    "dpi",
    "jfif",
    "jfif_version",
    "jfif_unit",
    "jfif_density",
    "adobe",
    "adobe_transform",
    "progressive",
    "progression",
    "transparency",
    "duration",
    "loop",
    "background",
    "gamma",
    "compression",
    "aspect",
    "interlace",
    "version",
    "srgb",
    "chromaticity",
    "bbox",
    "disposal",
    "blend",
    "mode",
    "bit_depth",
    "chroma",
    "primary",
    "nclx_profile",
    "exif",
    "xmp",
    "icc_profile",
    "comment",
    "thumbnails",
    "depth_images",
    "mp",
    "mpoffset",
    "mpentry",
    "photoshop",
    "resolution",
    "background_color",
    "timestamp",
    "extension",
    "default_image",
    "transparency_index",
    "n_frames",
    "is_animated",
    "hdr_ratio",
    "quality",
    "subsampling",
    "quantization",
    "icc",
    "text",
    "tile",
    "aux",
    "image_count",
    "big_endian",
}
_PNG_STRUCTURAL = {
    "IHDR",
    "PLTE",
    "IDAT",
    "IEND",
    "tRNS",
    "gAMA",
    "cHRM",
    "sRGB",
    "pHYs",
    "sBIT",
    "bKGD",
    "acTL",
    "fcTL",
    "fdAT",
    "iCCP",
    "cICP",
    "mDCV",
    "cLLI",
    "sPLT",
    "hIST",
}
_WEBP_STRUCTURAL = {"VP8 ", "VP8L", "VP8X", "ALPH", "ANIM", "ANMF", "ICCP"}
_JPEG_STRUCTURAL = {"SOF", "DHT", "DQT", "SOS", "DRI", f"M{0xC8:02X}"}
_XMP_ATTR = re.compile(rb'\b([A-Za-z][\w.-]*):([A-Za-z][\w.-]*)="([^"]*)"')
_XMP_ELEM = re.compile(rb"<([A-Za-z][\w.-]*):([A-Za-z][\w.-]*)[\s>]")
_XMP_SKIP = {b"rdf", b"x", b"xml", b"xmlns", b"xmpmeta"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(value: Any, limit: int = 80) -> str:
    """A short rendering of a tag value that is safe to print on a terminal."""
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    text = value if isinstance(value, str) else repr(value)
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Findings:
    def __init__(self) -> None:
        self.items: list[MetadataItem] = []
        self.embedded: list[EmbeddedImage] = []

    def add(self, group: str, name: str, value: Any, identifying: bool = True) -> None:
        self.items.append(MetadataItem(group, name, printable(value), identifying))

    def embed(self, kind: str, nbytes: int, size: tuple[int, int] | None = None) -> None:
        self.embedded.append(EmbeddedImage(kind, size, nbytes))


def read_metadata(
    data: bytes, image: Image.Image, fmt: str
) -> tuple[tuple[MetadataItem, ...], tuple[EmbeddedImage, ...]]:
    """Every metadata item and embedded image in a file.

    ``data`` is the whole file, ``image`` the same file opened by Pillow
    (not necessarily decoded), ``fmt`` its sniffed format.
    """
    found = _Findings()
    walked = {"JPEG": _jpeg, "PNG": _png, "WEBP": _webp}.get(fmt)
    if walked is not None:
        walked(data, found)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _exif(image, found, tiff=fmt == "TIFF")
        if walked is None:
            _info(image, found)
        if fmt in ("JPEG", "TIFF"):
            _iptc(image, found)
        _extra_frames(image, fmt, found)
    return tuple(found.items), tuple(found.embedded)


def _jpeg(data: bytes, found: _Findings) -> None:
    exif_segments = 0
    for block in jpeg_segments(data):
        payload = block.data
        if block.name in _JPEG_STRUCTURAL:
            continue
        if block.name == "APP0" and payload.startswith(b"JFIF\x00"):
            found.add("JPEG", "JFIF", "version and density", identifying=False)
            if len(payload) >= 14 and payload[12] and payload[13]:
                found.embed("JFIF thumbnail", len(payload) - 14, (payload[12], payload[13]))
        elif block.name == "APP0" and payload.startswith(b"JFXX\x00"):
            found.embed("JFXX thumbnail", len(payload))
        elif block.name == "APP1" and payload.startswith(b"Exif\x00"):
            exif_segments += 1
            if exif_segments > 1:
                # Pillow reads only the first EXIF segment; any other one is
                # still in the file, with its own GPS position or serial number.
                found.add("EXIF", "additional EXIF segment", payload)
                _exif_block(payload[6:], found)
            # The first is parsed tag by tag from Pillow's EXIF reader.
        elif block.name == "APP1" and b"http://ns.adobe.com/x" in payload[:64]:
            _xmp(payload, found)
        elif block.name == "APP2" and payload.startswith(b"ICC_PROFILE\x00"):
            found.add("ICC", "profile segment", payload, identifying=False)
        elif block.name == "APP2" and payload.startswith(b"MPF\x00"):
            found.add("JPEG", "MPF (multi-picture index)", payload)
        elif block.name == "APP14" and payload.startswith(b"Adobe"):
            found.add("JPEG", "Adobe colour transform", "", identifying=False)
        elif block.name == "APP13":
            found.add("IPTC", "Photoshop IRB segment", payload)
        elif block.name == "COM":
            found.add("Comment", "JPEG comment", payload.decode("latin-1"))
        elif block.name == "TRAILER":
            _trailer(block.data, found)
        else:
            ident = payload[:16].split(b"\x00")[0].decode("latin-1", "replace")
            found.add("JPEG", f"{block.name} segment", f"{printable(ident)} <{len(payload)} bytes>")


def _png(data: bytes, found: _Findings) -> None:
    for block in png_chunks(data):
        name, payload = block.name, block.data
        if name in _PNG_STRUCTURAL:
            if name == "iCCP":
                found.add("ICC", "iCCP chunk", payload, identifying=False)
            continue
        if name in ("tEXt", "zTXt", "iTXt"):
            key = payload.split(b"\x00", 1)[0].decode("latin-1", "replace")
            if key == "XML:com.adobe.xmp":
                _xmp(payload, found)
            else:
                found.add("PNG:text", key, _png_text(name, payload))
        elif name == "eXIf":
            continue  # parsed from Pillow's EXIF reader
        elif name == "TRAILER":
            _trailer(payload, found)
        else:
            found.add("PNG:chunk", name, payload)


def _png_text(kind: str, payload: bytes) -> str:
    if kind == "tEXt":
        return payload.split(b"\x00", 1)[-1].decode("latin-1", "replace")
    if kind == "zTXt":
        return f"<compressed, {len(payload)} bytes>"
    parts = payload.split(b"\x00", 5)
    return parts[-1].decode("utf-8", "replace") if len(parts) == 6 else "<malformed>"


def _webp(data: bytes, found: _Findings) -> None:
    for block in webp_chunks(data):
        if block.name in _WEBP_STRUCTURAL:
            if block.name == "ICCP":
                found.add("ICC", "ICCP chunk", block.data, identifying=False)
        elif block.name == "XMP ":
            _xmp(block.data, found)
        elif block.name == "EXIF":
            continue  # parsed from Pillow's EXIF reader
        elif block.name == "TRAILER":
            _trailer(block.data, found)
        else:
            found.add("WEBP:chunk", block.name.strip(), block.data)


def _trailer(data: bytes, found: _Findings) -> None:
    if not data.strip(b"\x00\xff"):
        return  # padding only
    found.add("Container", "data after the end of the image", data)
    start = data.find(b"\xff\xd8\xff")
    while start >= 0:
        found.embed("JPEG appended after the image", len(data) - start)
        start = data.find(b"\xff\xd8\xff", start + 3)
    if b"ftyp" in data[:4096]:
        found.embed("video appended after the image (motion photo)", len(data))


def _xmp(packet: bytes, found: _Findings) -> None:
    found.add("XMP", "packet", packet)
    seen = set()
    for match in list(_XMP_ATTR.finditer(packet)) + list(_XMP_ELEM.finditer(packet)):
        prefix, name = match.group(1), match.group(2)
        if prefix in _XMP_SKIP or prefix.startswith(b"xmlns"):
            continue
        key = f"{prefix.decode('latin-1')}:{name.decode('latin-1')}"
        if key in seen:
            continue
        seen.add(key)
        value = match.group(3).decode("utf-8", "replace") if match.lastindex == 3 else ""
        found.add("XMP", key, value)


def _exif(image: Image.Image, found: _Findings, tiff: bool) -> None:
    try:
        exif = image.getexif()
    except Exception as exc:
        found.add("EXIF", "unreadable EXIF block", str(exc))
        return
    _exif_fields(exif, found, tiff)


def _exif_block(block: bytes, found: _Findings) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exif = Image.Exif()
            exif.load(block)
    except Exception as exc:
        found.add("EXIF", "unreadable EXIF block", str(exc))
        return
    _exif_fields(exif, found, tiff=False)


def _exif_fields(exif: Image.Exif, found: _Findings, tiff: bool) -> None:
    group = "TIFF" if tiff else "EXIF:IFD0"
    for tag in list(exif):
        if tag in _POINTERS:
            continue
        try:
            value = exif[tag]
        except Exception:
            # Listed but unloadable (a malformed entry): it is still reported.
            value = "unreadable value"
        name = TiffTags.lookup(tag).name if tiff else ExifTags.TAGS.get(tag, f"0x{tag:04x}")
        if tag == 700:
            _xmp(value if isinstance(value, bytes) else str(value).encode(), found)
        elif tiff:
            found.add(group, name, value, identifying=tag not in _TIFF_STRUCTURAL)
        else:
            found.add(group, name, value, identifying=tag not in _EXIF_STRUCTURAL)
    for ifd, ifd_group, names in (
        (ExifTags.IFD.Exif, "EXIF:Exif", ExifTags.TAGS),
        (ExifTags.IFD.GPSInfo, "EXIF:GPS", ExifTags.GPSTAGS),
        (ExifTags.IFD.Interop, "EXIF:Interop", ExifTags.TAGS),
    ):
        for tag, value in _ifd(exif, ifd):
            if tag in _POINTERS:
                continue
            found.add(
                ifd_group,
                names.get(tag, f"0x{tag:04x}"),
                value,
                identifying=ifd_group == "EXIF:GPS" or tag not in _EXIF_STRUCTURAL,
            )
    thumbnail = dict(_ifd(exif, ExifTags.IFD.IFD1))
    for tag, value in thumbnail.items():
        found.add("EXIF:IFD1", ExifTags.TAGS.get(tag, f"0x{tag:04x}"), value)
    if 0x0201 in thumbnail or 0x0111 in thumbnail:
        length = thumbnail.get(0x0202, 0)
        found.embed("EXIF thumbnail", length if isinstance(length, int) else 0)


def _ifd(exif: Image.Exif, ifd: int) -> Iterable[tuple[int, Any]]:
    try:
        return list(exif.get_ifd(ifd).items())
    except Exception:
        return [(0xFFFF, "<unreadable IFD>")]


def _info(image: Image.Image, found: _Findings) -> None:
    info = image.info
    if info.get("xmp"):
        xmp = info["xmp"]
        _xmp(xmp if isinstance(xmp, bytes) else str(xmp).encode(), found)
    if info.get("icc_profile"):
        found.add("ICC", "profile", info["icc_profile"], identifying=False)
    if info.get("comment"):
        found.add("Comment", "comment", info["comment"])
    for thumb in info.get("thumbnails") or ():
        size = thumb.get("size") if isinstance(thumb, dict) else None
        found.embed("HEIF thumbnail", 0, tuple(size) if size else None)
    for _ in info.get("depth_images") or ():
        found.embed("HEIF depth map", 0)
    for key, value in info.items():
        if key not in _INFO_STRUCTURAL and value not in (None, "", b"", [], {}, ()):
            found.add("Other", str(key), value)


def _iptc(image: Image.Image, found: _Findings) -> None:
    try:
        iptc = IptcImagePlugin.getiptcinfo(cast(ImageFile.ImageFile, image)) or {}
    except Exception:
        iptc = {(0, 0): b"<unreadable IPTC>"}
    for (record, dataset), value in iptc.items():
        found.add("IPTC", f"{record}:{dataset}", value)


def _extra_frames(image: Image.Image, fmt: str, found: _Findings) -> None:
    if fmt not in ("JPEG", "TIFF", "HEIF"):
        return
    try:
        frames = int(getattr(image, "n_frames", 1))
    except Exception:
        return
    kind = {"JPEG": "MPF image", "TIFF": "TIFF page", "HEIF": "HEIF image"}[fmt]
    for _ in range(1, frames):
        found.embed(f"{kind} beyond the first", 0)


def open_image(data: bytes, fmt: str) -> Image.Image:
    """Open ``data`` lazily with Pillow, restricted to the sniffed format."""
    from unseen.media.image import register_plugins

    register_plugins()
    # Pillow warns about malformed tags on stderr (a file's bytes must never
    # reach stderr); sizes are checked by unseen itself.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Image.open(io.BytesIO(data), formats=[fmt, "MPO"] if fmt == "JPEG" else [fmt])
