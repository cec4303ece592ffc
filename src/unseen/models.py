"""One place for the models: files inside installed packages (never
downloaded), onnxruntime sessions made one way, and a registry of parts by
name (detectors, recognizers).

onnxruntime (1.32 on Linux) writes a persistent device id under ~/.cache
and a session file in the temporary folder as soon as it is imported, then
sends usage telemetry (DNS lookups seconds later), unless
``ORT_DISABLE_TELEMETRY`` is set before its first import, which happens
lazily when a model is loaded. unseen must never touch the network nor
leave identifiers on the user's disk: this module sets it on import, and
every session is made here.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from unseen.errors import ModelMissing

os.environ["ORT_DISABLE_TELEMETRY"] = "1"

T = TypeVar("T")


def package_file(package: str, relative: str, install: str) -> Path:
    """A model file shipped inside an installed package, found without importing it.

    ``install`` is the command that installs the package, for the error message.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(f"a model is missing: install it with '{install}'", stage="model")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise ModelMissing(
            f"a model is missing at {path}: reinstall with '{install}'", stage="model"
        )
    return path


def onnx_session(model: Path | bytes, *, threads: int = 1) -> Any:
    """An onnxruntime session on the CPU for ``model`` (a file, or the bytes of
    one): quiet, and with no thread spinning while it waits (spinning threads
    took a core from the decoder and the encoder of a video)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(model)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


class Registry(Generic[T]):
    """Parts of one kind by name: a module registers a factory, and the part
    is made once per name and role (a model is not safe to share between the
    threads of a video: masking and verification each have their own)."""

    def __init__(self, kind: str, stage: str, load: Callable[[], None]) -> None:
        self.kind, self.stage, self._load = kind, stage, load
        self._factories: dict[str, Callable[[], T]] = {}
        self._made: dict[tuple[str, str], T] = {}
        self._lock = threading.Lock()

    def register(self, name: str, factory: Callable[[], T]) -> None:
        """Make a part available under ``name``."""
        self._factories[name] = factory

    def get(self, name: str, role: str = "") -> T:
        """The part registered as ``name``, made on first use for ``role``."""
        key = (name, role)
        with self._lock:
            return self._made[key] if key in self._made else self._make(key)

    def clear(self) -> None:
        """Forget the parts made (the next ``get`` makes them again)."""
        with self._lock:
            self._made.clear()

    def _make(self, key: tuple[str, str]) -> T:
        name = key[0]
        if name not in self._factories:
            self._load()
        try:
            factory = self._factories[name]
        except KeyError:
            raise ModelMissing(
                f"no {self.kind} named {name!r} (available: {', '.join(sorted(self._factories))})",
                stage=self.stage,
            ) from None
        self._made[key] = factory()
        return self._made[key]
