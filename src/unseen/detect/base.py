"""The detector interface and the registry of detectors.

A detector is anything with a ``name`` and a ``detect(rgb, threshold)``
method returning :class:`~unseen.types.Detections` in the pixel coordinates
of the array it was given. Adding one means writing a module with a class
and one ``register`` call; the pipeline does not change.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from unseen.errors import ModelMissing
from unseen.types import Detections

RGB = npt.NDArray[np.uint8]


class Detector(Protocol):
    """Finds faces in one RGB image (H x W x 3, uint8)."""

    name: str

    def detect(self, rgb: RGB, threshold: float) -> Detections: ...


_FACTORIES: dict[str, Callable[[], Detector]] = {}


def register(name: str, factory: Callable[[], Detector]) -> None:
    """Make a detector available under ``name`` (e.g. for ``Options.detectors``)."""
    _FACTORIES[name] = factory


@cache
def get_detector(name: str, role: str = "mask") -> Detector:
    """The detector registered as ``name``, loaded once per process and ``role``.

    Masking and verification run in threads of their own, and a detector is
    not safe to share between threads (OpenCV's YuNet keeps the input size
    it was last given), so each role has its own instance.
    """
    _load_builtin()
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ModelMissing(
            f"no detector named {name!r} (available: {', '.join(sorted(_FACTORIES))})",
            stage="detect",
        ) from None
    return factory()


def package_file(package: str, relative: str, install: str) -> Path:
    """A model file shipped inside an installed package, found without importing it.

    ``install`` is the command that installs the package, for the error message.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(f"a model is missing: install it with '{install}'", stage="detect")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise ModelMissing(
            f"a model is missing at {path}: reinstall with '{install}'", stage="detect"
        )
    return path


def _load_builtin() -> None:
    # Imported here so that the registry exists before the built-in modules
    # register themselves, and so that no model loads before it is asked for.
    from unseen.detect import centerface, yunet  # noqa: F401
