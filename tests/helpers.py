"""Test media built from what installed packages ship, and small tools to check outputs.

Nothing here reads ../shared/data: every image is made from scikit-image's
sample photos (real faces) or generated, and every piece of metadata is
written byte by byte, so each test knows exactly what went in.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

from unseen.media.image import FORMATS

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EXIFTOOL = shutil.which("exiftool")

# Strings planted in metadata. None of them may appear in any output.
SECRETS = (
    b"UnseenTestCam",
    b"Model X-1",
    b"Jane Doe",
    b"SERIAL-4242",
    b"Secretville",
    b"2021:06:01 12:34:56",
    b"TRAILER-SECRET",
    b"COMMENT-SECRET",
    b"MAKERNOTE-SECRET",
)


# --- real faces ---------------------------------------------------------------------------

#: The astronaut's face in skimage.data.astronaut() (512 x 512): the detected box,
#: shrunk a little, so that any mask that protects her must cover all of it.
_ASTRONAUT_FACE = (180, 55, 270, 180)


@cache
def _astronaut_array() -> np.ndarray:
    from skimage import data

    return np.asarray(data.astronaut(), np.uint8)


def astronaut(width: int = 256, height: int | None = None) -> Image.Image:
    """skimage's astronaut photo (a real face), scaled to ``width``; with a
    ``height`` below the width, the bottom is cropped off (the face stays)."""
    image = Image.fromarray(_astronaut_array())
    if height is not None and height < width:
        image = image.crop((0, 0, 512, round(512 * height / width)))
    return image.resize((width, height or width), Image.Resampling.LANCZOS)


def astronaut_face(width: int = 256) -> tuple[int, int, int, int]:
    """Where the face is in :func:`astronaut` output of that width."""
    f = width / 512
    x1, y1, x2, y2 = _ASTRONAUT_FACE
    return round(x1 * f), round(y1 * f), round(x2 * f), round(y2 * f)


@cache
def _lfw() -> np.ndarray:
    from skimage import data

    return np.asarray(data.lfw_subset()[:100] * 255, np.uint8)


def crowd(count: int = 4, face: int = 64, gap: int = 40) -> tuple[Image.Image, list[tuple]]:
    """A group photo: ``count`` real faces (LFW) of ``face`` pixels in a row on a
    plain background. Returns the image and each face's box."""
    faces = _lfw()
    width = count * (face + gap) + gap
    canvas = Image.new("RGB", (width, face + 2 * gap), (110, 130, 150))
    boxes = []
    for i in range(count):
        tile = Image.fromarray(faces[i * 7 % len(faces)]).convert("RGB")
        tile = tile.resize((face, face), Image.Resampling.BICUBIC)
        x = gap + i * (face + gap)
        canvas.paste(tile, (x, gap))
        boxes.append((x, gap, x + face, gap + face))
    return canvas, boxes


def encoded(image: Image.Image, fmt: str, **params: Any) -> bytes:
    """``image`` saved as ``fmt`` with Pillow."""
    register_heif()
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def register_heif() -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()


def pixels(path: Path | bytes, mode: str = "RGB") -> np.ndarray:
    """The decoded pixels of a file (first frame), as int16 for safe differences."""
    register_heif()
    source = io.BytesIO(path) if isinstance(path, bytes) else path
    with Image.open(source) as image:
        return np.asarray(image.convert(mode), np.int16)


# --- metadata, written by hand ------------------------------------------------------------

BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED = 1, 2, 3, 4, 5, 7
_FORMATS = {BYTE: "B", SHORT: "H", LONG: "I", RATIONAL: "I"}


def _raw(kind: int, value: Any, order: str) -> tuple[int, bytes]:
    if kind == ASCII:
        data = value.encode() + b"\x00"
        return len(data), data
    if kind == UNDEFINED:
        return len(value), bytes(value)
    if kind == RATIONAL:
        flat = [n for pair in value for n in pair]
        return len(value), struct.pack(f"{order}{len(flat)}I", *flat)
    return len(value), struct.pack(f"{order}{len(value)}{_FORMATS[kind]}", *value)


def _ifd_size(entries: list[tuple[int, int, Any]], order: str) -> int:
    extra = 0
    for _, kind, value in entries:
        raw = _raw(kind, value, order)[1]
        extra += 0 if len(raw) <= 4 else len(raw) + len(raw) % 2
    return 2 + 12 * len(entries) + 4 + extra


def _ifd_bytes(entries: list[tuple[int, int, Any]], start: int, next_ifd: int, order: str) -> bytes:
    entries = sorted(entries, key=lambda e: e[0])
    table = struct.pack(f"{order}H", len(entries))
    data = b""
    data_start = start + 2 + 12 * len(entries) + 4
    for tag, kind, value in entries:
        count, raw = _raw(kind, value, order)
        if len(raw) <= 4:
            table += struct.pack(f"{order}HHI", tag, kind, count) + raw.ljust(4, b"\x00")
        else:
            table += struct.pack(f"{order}HHII", tag, kind, count, data_start + len(data))
            data += raw + b"\x00" * (len(raw) % 2)
    return table + struct.pack(f"{order}I", next_ifd) + data


def exif_tiff(
    *,
    orientation: int | None = None,
    identifying: bool = True,
    thumbnail: bytes | None = None,
    big_endian: bool = False,
) -> bytes:
    """A TIFF-structured EXIF block (without the ``Exif\\0\\0`` prefix): camera
    make, model, serial, owner, capture time, GPS position, a maker note and,
    if given, a JPEG thumbnail in IFD1."""
    order = ">" if big_endian else "<"
    ifd0: list[tuple[int, int, Any]] = []
    exif: list[tuple[int, int, Any]] = []
    gps: list[tuple[int, int, Any]] = []
    if orientation is not None:
        ifd0.append((0x0112, SHORT, [orientation]))
    if identifying:
        ifd0 += [
            (0x010F, ASCII, "UnseenTestCam"),
            (0x0110, ASCII, "Model X-1"),
            (0x0131, ASCII, "EditorSoft 9"),
            (0x0132, ASCII, "2021:06:01 12:34:56"),
            (0x013B, ASCII, "Jane Doe"),
            (0x8298, ASCII, "(c) Jane Doe"),
        ]
        exif += [
            (0x9003, ASCII, "2021:06:01 12:34:56"),
            (0x9004, ASCII, "2021:06:01 12:34:56"),
            (0x927C, UNDEFINED, b"MAKERNOTE-SECRET\x00" + b"SERIAL-4242\x00" * 3),
            (0xA430, ASCII, "Jane Doe"),
            (0xA431, ASCII, "SERIAL-4242"),
            (0xA420, ASCII, "0123456789abcdef0123456789abcdef"),
        ]
        gps += [
            (0x0000, BYTE, [2, 3, 0, 0]),
            (0x0001, ASCII, "N"),
            (0x0002, RATIONAL, [(52, 1), (31, 1), (1234, 100)]),
            (0x0003, ASCII, "E"),
            (0x0004, RATIONAL, [(13, 1), (24, 1), (5678, 100)]),
        ]
    # Layout: header, IFD0, Exif IFD, GPS IFD, IFD1, thumbnail.
    if exif:
        ifd0.append((0x8769, LONG, [0]))
    if gps:
        ifd0.append((0x8825, LONG, [0]))
    ifd1: list[tuple[int, int, Any]] = []
    if thumbnail is not None:
        ifd1 = [(0x0103, SHORT, [6]), (0x0201, LONG, [0]), (0x0202, LONG, [len(thumbnail)])]
    at_ifd0 = 8
    at_exif = at_ifd0 + _ifd_size(ifd0, order)
    at_gps = at_exif + (_ifd_size(exif, order) if exif else 0)
    at_ifd1 = at_gps + (_ifd_size(gps, order) if gps else 0)
    at_thumb = at_ifd1 + (_ifd_size(ifd1, order) if ifd1 else 0)

    def point(entries: list[tuple[int, int, Any]], tag: int, offset: int) -> None:
        for i, (t, kind, _) in enumerate(entries):
            if t == tag:
                entries[i] = (t, kind, [offset])

    point(ifd0, 0x8769, at_exif)
    point(ifd0, 0x8825, at_gps)
    point(ifd1, 0x0201, at_thumb)
    header = (b"MM\x00\x2a" if big_endian else b"II\x2a\x00") + struct.pack(f"{order}I", 8)
    out = header + _ifd_bytes(ifd0, at_ifd0, at_ifd1 if ifd1 else 0, order)
    if exif:
        out += _ifd_bytes(exif, at_exif, 0, order)
    if gps:
        out += _ifd_bytes(gps, at_gps, 0, order)
    if ifd1:
        out += _ifd_bytes(ifd1, at_ifd1, 0, order)
    if thumbnail is not None:
        out += thumbnail
    return out


XMP = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"'
    b' xmlns:dc="http://purl.org/dc/elements/1.1/" photoshop:City="Secretville"'
    b' photoshop:Credit="Jane Doe">'
    b"<dc:creator><rdf:Seq><rdf:li>Jane Doe</rdf:li></rdf:Seq></dc:creator>"
    b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    b'<?xpacket end="w"?>'
)


def iptc() -> bytes:
    """IPTC-IIM records: by-line, city, copyright."""

    def record(number: int, dataset: int, value: bytes) -> bytes:
        return b"\x1c" + bytes([number, dataset]) + struct.pack(">H", len(value)) + value

    return (
        record(2, 0, b"\x00\x04")
        + record(2, 80, b"Jane Doe")
        + record(2, 90, b"Secretville")
        + record(2, 116, b"(c) Jane Doe")
    )


def photoshop_irb(data: bytes) -> bytes:
    """A Photoshop image resource block holding IPTC data (as in JPEG APP13)."""
    block = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(data)) + data
    return b"Photoshop 3.0\x00" + block + b"\x00" * (len(data) % 2)


@cache
def icc_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def exif_segment(tiff: bytes) -> bytes:
    """A JPEG APP1 segment holding EXIF."""
    return _segment(0xE1, b"Exif\x00\x00" + tiff)


def thumbnail_of(image: Image.Image) -> bytes:
    """The small JPEG a camera would embed: it shows the unmasked face."""
    small = image.copy()
    small.thumbnail((64, 64))
    return encoded(small.convert("RGB"), "JPEG", quality=80)


def jpeg_with_metadata(image: Image.Image, *, orientation: int | None = None) -> bytes:
    """A JPEG carrying EXIF (GPS, maker note, thumbnail), XMP, IPTC, an ICC
    profile, a comment, an unknown APP segment and data after the end of image."""
    base = encoded(image.convert("RGB"), "JPEG", quality=92)
    thumb = thumbnail_of(image)
    segments = [
        _segment(0xE1, b"Exif\x00\x00" + exif_tiff(orientation=orientation, thumbnail=thumb)),
        _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP),
        _segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + icc_profile()),
        _segment(0xED, photoshop_irb(iptc())),
        _segment(0xEA, b"AROT\x00SERIAL-4242"),
        _segment(0xFE, b"COMMENT-SECRET by Jane Doe"),
    ]
    # Phones append previews and videos after the end of the image.
    trailer = b"TRAILER-SECRET" + thumb
    return base[:2] + b"".join(segments) + base[2:] + trailer


def with_orientation(image: Image.Image, orientation: int, fmt: str = "JPEG") -> bytes:
    """The file a camera writes for an ``image`` seen upright: pixels stored
    rotated/flipped, and an EXIF orientation tag telling viewers how to undo it."""
    inverse = {
        1: [],
        2: [Image.Transpose.FLIP_LEFT_RIGHT],
        3: [Image.Transpose.ROTATE_180],
        4: [Image.Transpose.FLIP_TOP_BOTTOM],
        5: [Image.Transpose.TRANSPOSE],
        6: [Image.Transpose.ROTATE_90],
        7: [Image.Transpose.TRANSVERSE],
        8: [Image.Transpose.ROTATE_270],
    }[orientation]
    stored = image
    for step in inverse:
        stored = stored.transpose(step)
    exif = b"Exif\x00\x00" + exif_tiff(orientation=orientation, identifying=False)
    if fmt == "JPEG":
        base = encoded(stored, "JPEG", quality=95)
        return base[:2] + _segment(0xE1, exif) + base[2:]
    return encoded(stored, fmt, exif=exif[6:])


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_metadata(image: Image.Image) -> bytes:
    """A PNG with tEXt, zTXt, iTXt (and XMP in iTXt), tIME, eXIf, iCCP, a private
    chunk and data after IEND."""
    info = PngInfo()
    info.add_text("Author", "Jane Doe")
    info.add_text("Comment", "COMMENT-SECRET", zip=True)
    info.add_itxt("Description", "Taken in Secretville", lang="en", tkey="Description")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    info.add(b"tIME", struct.pack(">HBBBBB", 2021, 6, 1, 12, 34, 56))
    info.add(b"prVt", b"SERIAL-4242")
    data = encoded(
        image,
        "PNG",
        pnginfo=info,
        exif=exif_tiff(thumbnail=thumbnail_of(image)),
        icc_profile=icc_profile(),
    )
    return data + b"TRAILER-SECRET"


def with_metadata(image: Image.Image, fmt: str) -> bytes:
    """``image`` as ``fmt`` carrying as much metadata as that format can hold."""
    if fmt == "JPEG":
        return jpeg_with_metadata(image)
    if fmt == "PNG":
        return png_with_metadata(image)
    exif = exif_tiff()
    if fmt == "WEBP":
        return encoded(image, "WEBP", exif=exif, xmp=XMP, icc_profile=icc_profile(), quality=90)
    if fmt == "TIFF":
        loaded = Image.Exif()
        loaded.load(exif)
        loaded[0x010E] = "taken in Secretville"  # ImageDescription
        loaded[700] = XMP
        loaded[33723] = iptc()
        return encoded(image, "TIFF", exif=loaded, icc_profile=icc_profile())
    if fmt in ("HEIF", "AVIF"):
        return encoded(image, fmt, exif=b"Exif\x00\x00" + exif, xmp=XMP, quality=90)
    if fmt == "GIF":
        return encoded(image, "GIF", comment=b"COMMENT-SECRET by Jane Doe")
    if fmt == "BMP":
        return encoded(image, "BMP")
    raise ValueError(fmt)


# --- hand-built hostile files -------------------------------------------------------------


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that declares ``width`` x ``height`` (a decompression bomb when large)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


# --- running and checking -----------------------------------------------------------------


def run_cli(
    *args: str | os.PathLike[str] | bytes,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``unseen ARGS`` in a fresh process, as a user runs it."""
    full_env = {**os.environ, **(env or {})}
    full_env.setdefault("PYTHONIOENCODING", "utf-8")
    return subprocess.run(
        [sys.executable, "-m", "unseen", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=timeout,
        check=False,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def report_of(out: Path) -> dict[str, Any]:
    """The one JSON report a run wrote into ``out``."""
    reports = sorted(out.glob("unseen-report-*.json"))
    assert len(reports) == 1, reports
    return json.loads(reports[0].read_text("utf-8"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root``: relative name -> content hash, link target or kind."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder, name)
            key = os.fsdecode(path.relative_to(root))
            if path.is_symlink():
                found[key] = "link:" + os.readlink(path)
            elif path.is_file():
                found[key] = sha256(path)
            elif path.is_dir():
                found[key] = "dir"
            else:
                found[key] = "special"
    return found


def exiftool_tags(path: Path) -> dict[str, Any]:
    """Every tag exiftool reads in ``path``, as ``Group:Name`` -> value."""
    [tags] = exiftool_all([path]).values()
    return tags


def exiftool_all(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """:func:`exiftool_tags` for many files in one exiftool run, by path."""
    assert EXIFTOOL is not None
    proc = subprocess.run(
        [
            EXIFTOOL,
            "-a",
            "-G1",
            "-s",
            "-j",
            "-u",
            "-charset",
            "filename=utf8",
            "--",
            *(os.fspath(p) for p in paths),
        ],
        capture_output=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return {found["SourceFile"]: found for found in json.loads(proc.stdout)}


def inner_ellipse(shape: tuple[int, ...], box: tuple[int, ...], scale: float = 0.8) -> np.ndarray:
    """Pixels well inside the ellipse inscribed in ``box`` (away from its blurred edge)."""
    height, width = shape[:2]
    x1, y1, x2, y2 = box
    ys, xs = np.mgrid[0:height, 0:width]
    rx, ry = (x2 - x1) / 2 * scale, (y2 - y1) / 2 * scale
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    inside: np.ndarray = ((xs + 0.5 - cx) / rx) ** 2 + ((ys + 0.5 - cy) / ry) ** 2 <= 1.0
    return inside


def outside_boxes(shape: tuple[int, ...], boxes: list[Any], pad: int = 0) -> np.ndarray:
    """Pixels outside every box (grown by ``pad`` to skip compression ringing)."""
    keep = np.ones(shape[:2], bool)
    for x1, y1, x2, y2 in boxes:
        keep[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad] = False
    return keep


def contains(outer: Any, inner: Any) -> bool:
    return bool(
        outer[0] <= inner[0]
        and outer[1] <= inner[1]
        and outer[2] >= inner[2]
        and outer[3] >= inner[3]
    )


def core(box: Any, keep: float = 0.6) -> tuple[int, int, int, int]:
    """The central part of a face box: what any mask over that face must cover."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * (1 - keep) / 2, (y2 - y1) * (1 - keep) / 2
    return round(x1 + dx), round(y1 + dy), round(x2 - dx), round(y2 - dy)


def _tags(group: str, names: str) -> set[str]:
    return {f"{group}:{name}" for name in names.split()}


# Tags exiftool may report in an output: the file system's own (System), what
# the format needs to display the pixels, and what exiftool derives from those.
# Everything else (EXIF, XMP, IPTC, ICC, comments, text chunks...) must be absent.
STRUCTURAL = {
    "SourceFile",
    "ExifTool:ExifToolVersion",
    "Composite:ImageSize",
    "Composite:Megapixels",
    "Meta:PrimaryItemReference",
    *_tags(
        "File",
        "FileType FileTypeExtension MIMEType ImageWidth ImageHeight EncodingProcess "
        "BitsPerSample ColorComponents YCbCrSubSampling BMPVersion BitDepth Compression "
        "ImageLength NumColors NumImportantColors PixelsPerMeterX PixelsPerMeterY Planes",
    ),
    *_tags("JFIF", "JFIFVersion ResolutionUnit XResolution YResolution"),
    *_tags(
        "PNG",
        "ImageWidth ImageHeight BitDepth ColorType Compression Filter Interlace "
        "AnimationFrames AnimationPlays Transparency Palette",
    ),
    *_tags(
        "GIF",
        "GIFVersion ImageWidth ImageHeight HasColorMap ColorResolutionDepth BitsPerPixel "
        "BackgroundColor AnimationIterations FrameCount Duration TransparentColor",
    ),
    *_tags(
        "RIFF",
        "VP8Version ImageWidth ImageHeight HorizontalScale VerticalScale WebP_Flags "
        "AnimationLoopCount BackgroundColor Duration AlphaPreprocessing AlphaFiltering "
        "AlphaCompression",
    ),
    *_tags(
        "IFD0",
        "ImageWidth ImageHeight BitsPerSample Compression PhotometricInterpretation "
        "PlanarConfiguration RowsPerStrip SamplesPerPixel StripByteCounts StripOffsets "
        "ExtraSamples Predictor",
    ),
    *_tags(
        "QuickTime",
        "MajorBrand MinorVersion CompatibleBrands HandlerType HEVCConfigurationVersion "
        "GeneralProfileSpace GeneralTierFlag GeneralProfileIDC GenProfileCompatibilityFlags "
        "ConstraintIndicatorFlags GeneralLevelIDC MinSpatialSegmentationIDC ParallelismType "
        "ChromaFormat BitDepthLuma BitDepthChroma AverageFrameRate ConstantFrameRate "
        "NumTemporalLayers TemporalIDNested ColorProfiles ColorPrimaries "
        "TransferCharacteristics MatrixCoefficients VideoFullRangeFlag ImageSpatialExtent "
        "ImagePixelDepth MediaDataSize MediaDataOffset MediaData AV1ConfigurationVersion "
        "SeqProfile SeqLevelIdx0 SeqTier0 HighBitDepth TwelveBit ChromaSamplePosition "
        "InitialDelaySamples CleanAperture",
    ),
}


def unexpected_tags(tags: dict[str, Any]) -> dict[str, Any]:
    """Tags exiftool found that are neither the file system's nor structural."""
    allowed = set(STRUCTURAL)
    if tags.get("File:FileType") == "TIFF":
        allowed.add("File:ExifByteOrder")  # the TIFF header's own byte order
    return {k: v for k, v in tags.items() if not k.startswith("System:") and k not in allowed}


#: The usual file suffix of each format unseen writes, without the dot.
SUFFIX = {fmt: suffixes[0].lstrip(".") for fmt, suffixes in FORMATS.items()}
