"""Defaults and bounds: the one table that the library and the CLI both read.

Every limit here is documented in docs/limits.md; a test checks that the two
agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Fill = Literal["solid", "noise", "pixelate", "blur"]
Shape = Literal["ellipse", "box"]
Frames = Literal["all", "first"]

FILLS: tuple[Fill, ...] = ("solid", "noise", "pixelate", "blur")
#: Fills that leave information a published attack can recover. Never the default.
WEAK_FILLS: frozenset[str] = frozenset({"pixelate", "blur"})
SHAPES: tuple[Shape, ...] = ("ellipse", "box")

#: Largest image accepted, in pixels per frame (decompression-bomb guard).
MAX_PIXELS = 120_000_000
#: Largest animation accepted: frames, and pixels over all frames together.
MAX_FRAMES = 2_000
MAX_TOTAL_PIXELS = 600_000_000
#: Largest input file accepted, in bytes.
MAX_FILE_BYTES = 1 << 30

#: Largest tile the detector sees at once, in pixels per side. Larger images
#: are cut into overlapping tiles at full resolution, so memory stays bounded
#: and small faces are seen at their own size.
TILE_SIZE = 1536
TILE_OVERLAP = 256


@dataclass(frozen=True)
class Options:
    """How files are protected. Every field has a safe default.

    Example::

        Options(fill="noise", shape="box")
    """

    #: How masked pixels are replaced. "solid" and "noise" destroy the face;
    #: "pixelate" and "blur" are weaker and reversible by published attacks.
    fill: Fill = "solid"
    #: Mask outline around each face.
    shape: Shape = "ellipse"
    #: Colour of the solid fill, RGB.
    color: tuple[int, int, int] = (0, 0, 0)
    #: Detector score above which a candidate is masked. Low on purpose: a
    #: false mask costs a little, a missed face can cost a life.
    threshold: float = 0.2
    #: Extra room around each detected face, as fractions of the face box:
    #: (left/right, top, bottom). The top margin covers hair, the sides ears.
    margin: tuple[float, float, float] = (0.25, 0.35, 0.2)
    #: Output format name ("jpeg", "png", ...); None keeps the input's format.
    format: str | None = None
    #: Animated images: protect every frame ("all") or keep only the first.
    frames: Frames = "all"
    #: Resource limits (see docs/limits.md).
    max_pixels: int = MAX_PIXELS
    max_frames: int = MAX_FRAMES
    max_total_pixels: int = MAX_TOTAL_PIXELS
    max_file_bytes: int = MAX_FILE_BYTES
    #: Detectors to run, by registry name.
    detectors: tuple[str, ...] = field(default=("centerface",))

    def __post_init__(self) -> None:
        if self.fill not in FILLS:
            raise ValueError(f"fill must be one of {', '.join(FILLS)}, not {self.fill!r}")
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}, not {self.shape!r}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must lie between 0 and 1, not {self.threshold}")
        if any(not 0.0 <= m <= 2.0 for m in self.margin):
            raise ValueError(f"margins must lie between 0 and 2, not {self.margin}")
        if any(not 0 <= c <= 255 for c in self.color):
            raise ValueError(f"colour components must lie between 0 and 255, not {self.color}")
        for name in ("max_pixels", "max_frames", "max_total_pixels", "max_file_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if not self.detectors:
            raise ValueError("at least one detector is needed")
