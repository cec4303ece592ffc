"""Still and animated images: decode to upright sRGB pixels, and rebuild
files from those pixels alone, so that no metadata can survive."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageCms

from unseen.config import Options
from unseen.errors import CorruptMedia, LimitExceeded, UnsupportedFormat

Pixels = npt.NDArray[np.uint8]

#: Formats unseen reads and writes, by Pillow name, with their file suffixes.
FORMATS: dict[str, tuple[str, ...]] = {
    "JPEG": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "PNG": (".png",),
    "WEBP": (".webp",),
    "TIFF": (".tif", ".tiff"),
    "BMP": (".bmp",),
    "GIF": (".gif",),
    "HEIF": (".heic", ".heif"),
    "AVIF": (".avif",),
}
#: Formats whose frames are an animation (all frames are protected).
ANIMATED = frozenset({"GIF", "WEBP", "PNG"})
#: Formats that can store an alpha channel.
ALPHA = frozenset({"PNG", "WEBP", "TIFF", "GIF", "HEIF", "AVIF", "BMP"})

_TRANSPOSE = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}
#: The largest side each format can store; beyond it the encoder fails or overflows.
_MAX_SIDE = {"JPEG": 65_500, "GIF": 65_535, "WEBP": 16_383}
_SRGB = ImageCms.createProfile("sRGB")
_registered = False


def register_plugins() -> None:
    """Let Pillow open HEIC/HEIF (through pillow-heif)."""
    global _registered
    if not _registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _registered = True


@dataclass(frozen=True)
class Decoded:
    """An image as pixels only: upright, sRGB, 8 bits per channel."""

    format: str
    #: Each frame H x W x 3 (RGB) or H x W x 4 (RGBA), uint8, read-only.
    frames: tuple[Pixels, ...]
    grey: bool
    #: Per-frame display time in milliseconds, for animations.
    durations: tuple[int, ...]
    loop: int | None
    #: Frames in the file (more than ``frames`` when only the first was kept).
    total_frames: int
    notes: tuple[str, ...]

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.frames[0].shape[:2]
        return w, h


def decode(data: bytes, fmt: str, options: Options) -> Decoded:
    """Decode a file's bytes, already sniffed as ``fmt``, checking every
    limit before pixels are decoded.

    Bytes, not a path: the pixels come from exactly the bytes whose format
    and metadata were read, even if the file changes on disk meanwhile."""
    # Pillow warns on stderr about malformed tags ("Corrupt EXIF data"): the
    # file is either decoded or refused with one clear error, never both, and
    # unseen checks sizes itself against its own, documented limit.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _decode(data, fmt, options)


def _decode(data: bytes, fmt: str, options: Options) -> Decoded:
    register_plugins()
    pillow_format = "MPO" if fmt == "JPEG" else fmt
    try:
        image = Image.open(io.BytesIO(data), formats=[fmt, pillow_format])
    except Image.DecompressionBombError:
        raise LimitExceeded(
            "the header declares an image too large to decode safely (decompression bomb)",
            stage="decode",
        ) from None
    except Exception as exc:
        reason = _why(exc)
        if reason.startswith("cannot identify image file"):
            # Pillow's own wording repeats the path, which the caller already names.
            raise CorruptMedia(f"not a valid {fmt} file", stage="decode") from None
        raise CorruptMedia(f"cannot read the {fmt} header ({reason})", stage="decode") from None
    with image:
        width, height = image.size
        if width <= 0 or height <= 0:
            raise CorruptMedia(f"image has zero size ({width}x{height})", stage="decode")
        if width * height > options.max_pixels:
            raise LimitExceeded(
                f"{width}x{height} is {width * height:,} pixels, above the limit of "
                f"{options.max_pixels:,}",
                stage="decode",
            )
        total = _frame_count(image, fmt)
        count = total if fmt in ANIMATED and options.frames == "all" else 1
        if count > options.max_frames:
            raise LimitExceeded(
                f"{count} frames, above the limit of {options.max_frames}", stage="decode"
            )
        if count * width * height > options.max_total_pixels:
            raise LimitExceeded(
                f"{count} frames of {width}x{height} exceed the limit of "
                f"{options.max_total_pixels:,} pixels in all",
                stage="decode",
            )
        orientation = 1
        icc = image.info.get("icc_profile")
        notes: list[str] = []
        frames, durations = [], []
        grey = image.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
        try:
            for index in range(count):
                image.seek(index)
                image.load()
                if index == 0:
                    # Read after loading: some plugins (TIFF) turn the pixels upright
                    # themselves while loading and drop the tag; honouring it again
                    # would rotate twice.
                    orientation = _orientation(image)
                frame = _to_rgb(image, icc, notes)
                for step in _TRANSPOSE.get(orientation, ()):
                    frame = frame.transpose(step)
                array = np.array(frame, np.uint8)
                array.flags.writeable = False
                frames.append(array)
                durations.append(int(image.info.get("duration", 0) or 0))
        except MemoryError:
            raise LimitExceeded("not enough memory to decode the image", stage="decode") from None
        except Exception as exc:
            raise CorruptMedia(
                f"cannot decode the image data ({_why(exc)})", stage="decode"
            ) from None
        loop = image.info.get("loop")
    return Decoded(
        fmt,
        tuple(frames),
        grey,
        tuple(durations),
        None if loop is None else int(loop),
        total,
        tuple(dict.fromkeys(notes)),
    )


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]


def _frame_count(image: Image.Image, fmt: str) -> int:
    try:
        return max(1, int(getattr(image, "n_frames", 1)))
    except Exception as exc:
        raise CorruptMedia(f"cannot count the {fmt} frames ({_why(exc)})", stage="decode") from None


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:
        # Unreadable EXIF: there is no orientation to honour, and the EXIF is dropped anyway.
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _to_rgb(image: Image.Image, icc: Any, notes: list[str]) -> Image.Image:
    """The current frame as RGB or RGBA, converted to sRGB if it has a profile."""
    mode = image.mode
    if mode.startswith("I;16"):
        frame = Image.fromarray((np.asarray(image, np.uint16) >> 8).astype(np.uint8), "L")
    elif mode in ("I", "F"):
        data = np.asarray(image, np.float64)
        top = float(data.max()) if data.size else 0.0
        scaled = data * (255.0 / top) if top > 255 else data
        frame = Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")
    else:
        frame = image
    has_alpha = frame.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        frame.mode == "P" and "transparency" in frame.info
    )
    target = "RGBA" if has_alpha else "RGB"
    if isinstance(icc, bytes) and icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            colour = frame if frame.mode in ("RGB", "RGBA", "CMYK", "L") else frame.convert(target)
            if colour.mode == "L" and target == "RGB":
                colour = colour.convert("RGB")
            converted = ImageCms.profileToProfile(colour, source, _SRGB, outputMode=target)
            if converted is not None:
                return converted
        except Exception:
            notes.append("colour profile could not be applied; colours kept as decoded")
    return frame.convert(target)


def encode(decoded: Decoded, frames: list[Pixels], fmt: str, fileobj: Any) -> None:
    """Write ``frames`` as a new ``fmt`` file holding pixels and nothing else."""
    register_plugins()
    # A decoder may grow the canvas to hold a frame placed far off it (GIF),
    # beyond what the output format can declare.
    width, height = decoded.size
    if max(width, height) > _MAX_SIDE.get(fmt, 2**31 - 1):
        raise LimitExceeded(
            f"{width}x{height} is too large for {fmt} (at most {_MAX_SIDE[fmt]:,} pixels a side)",
            stage="encode",
        )
    images = [_rebuild(frame, decoded.grey, fmt) for frame in frames]
    params: dict[str, Any] = {}
    if fmt == "JPEG":
        params = {"quality": 92, "optimize": True}
    elif fmt == "WEBP":
        params = {"quality": 90, "method": 4}
    elif fmt == "PNG":
        # zlib level 3, not Pillow's 6: photos are written 2.3x quicker for
        # files 1.7% larger (20 WIDER FACE photos; screenshots grow ~20%, from
        # a tenth of the size). Lossless either way.
        params = {"compress_level": 3}
    elif fmt == "TIFF":
        params = {"compression": "tiff_deflate"}
    elif fmt == "HEIF":
        # x265's "fast" preset: 2.4x quicker than its default on a 3 MP photo
        # for a file about 4% larger (a phone photo otherwise takes ~30 s here).
        params = {"quality": 90, "enc_params": {"preset": "fast"}}
    elif fmt == "AVIF":
        params = {"quality": 90}
    if len(images) > 1:
        params.update(
            save_all=True, append_images=images[1:], duration=list(decoded.durations[: len(images)])
        )
        if decoded.loop is not None:
            params["loop"] = decoded.loop
    elif fmt == "GIF" and decoded.durations and decoded.durations[0]:
        params["duration"] = decoded.durations[0]
    images[0].save(fileobj, format=fmt, **params)


def _rebuild(frame: Pixels, grey: bool, fmt: str) -> Image.Image:
    """A brand-new Pillow image from pixels: it carries no info of the source."""
    if frame.shape[2] == 4 and fmt not in ALPHA:
        # Flatten onto white: dropping alpha would reveal what transparency hid.
        rgb = frame[..., :3].astype(np.float32)
        alpha = frame[..., 3:4].astype(np.float32) / 255.0
        frame = np.round(rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(frame), "RGBA" if frame.shape[2] == 4 else "RGB")
    if grey and frame.shape[2] == 3:
        image = image.convert("L")
    return image


def check_format(name: str) -> str:
    """Normalize a user-given output format name (``jpg``, ``heic``...)."""
    upper = name.strip().upper()
    aliases = {"JPG": "JPEG", "TIF": "TIFF", "HEIC": "HEIF"}
    upper = aliases.get(upper, upper)
    if upper not in FORMATS:
        raise UnsupportedFormat(
            f"unknown output format {name!r} (choose from {', '.join(f.lower() for f in FORMATS)})",
            stage="encode",
        )
    return upper
