"""Writing outputs atomically, and only where nothing would be overwritten.

An output appears in its final place only once it is complete and checked:
it is written to a file inside a private temporary folder (mode 0700) made
next to the target, so on the same file system, flushed, checked, then
linked (or, with ``force``, renamed) into place. What the output is made
from (a video's settled sound track) is kept in the same folder. The
private folder is removed in every case: success, failure or interruption.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from unseen.errors import OutputError

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def write_atomic(
    target: Path,
    write: Callable[[BinaryIO], object],
    check: Callable[[Path], None],
    *,
    force: bool = False,
) -> None:
    """Create ``target`` from ``write``, after ``check`` accepted the written file.

    A file system error (read-only or full output folder, ...) is raised as
    :class:`OutputError` saying that the output could not be written.
    """
    with Staging(target, force=force) as stage:
        stage.publish(write, check)


def json_text(value: object, indent: int | None = 2) -> str:
    """JSON that any UTF-8 stream accepts. File names that are not valid UTF-8
    hold lone surrogates in Python; they are written as ``\\udcXX`` escapes,
    which ``json.loads`` turns back into the same names."""
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def write_document(
    target: Path,
    content: bytes,
    *,
    force: bool = False,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> None:
    """Write a document of unseen's own (a plan, a report) atomically. With
    ``force`` it may replace a file, but never one of the run's ``inputs``."""
    if force and os.path.lexists(target) and any(_same(target, i) for i in inputs):
        raise OutputError(
            "this is one of the inputs: unseen never replaces an input", path=target, stage="write"
        )
    write_atomic(target, lambda stream: stream.write(content), _whole, force=force)


def _whole(path: Path) -> None:
    """A document needs no check beyond being written whole."""


def _same(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


class Staging:
    """The private folder in which one output is made (use as a context
    manager): :meth:`scratch` names files for what the output is made from,
    :meth:`publish` writes, checks and publishes the output. On leaving, the
    folder is removed, and so are the folders made for the output unless it
    was published.

    Example::

        with Staging(target) as stage:
            sound = stage.scratch("sound.flac")
            ...
            stage.publish(write, check)
    """

    def __init__(self, target: Path, *, force: bool = False) -> None:
        self.target, self.force = target, force
        self._created: list[Path] = []
        self._folder: Path | None = None
        self._published = False

    def __enter__(self) -> Staging:
        if not self.force and os.path.lexists(self.target):
            raise OutputError("output already exists (use --force to replace it)", stage="write")
        try:
            self._created = _make_parents(self.target.parent)
            # mkdtemp makes the folder 0700: no other user can see or swap the
            # file before it is checked and published.
            self._folder = Path(tempfile.mkdtemp(prefix=".unseen-", dir=self.target.parent))
        except OSError as exc:
            _remove_folders(self._created)
            raise _output_error(exc) from exc
        except BaseException:
            _remove_folders(self._created)
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
        if not self._published:
            _remove_folders(self._created)

    def scratch(self, name: str) -> Path:
        """A path inside the private folder, for a file the output is made from."""
        assert self._folder is not None, "use Staging as a context manager"
        return self._folder / name

    def publish(self, write: Callable[[BinaryIO], object], check: Callable[[Path], None]) -> None:
        """Write the output with ``write``, check it with ``check``, and put it
        in place (never over an existing file unless ``force``)."""
        temporary = self.scratch("output")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as stream:
                write(stream)
                stream.flush()
                os.fsync(stream.fileno())
            check(temporary)
            os.chmod(temporary, 0o666 & ~_UMASK)
            _publish(temporary, self.target, self.force)
        except OSError as exc:
            raise _output_error(exc) from exc
        self._published = True


def _output_error(exc: OSError) -> OutputError:
    """A file system error, said as the output that could not be written."""
    return OutputError(f"cannot write the output: {exc.strerror or exc}", stage="write")


def _remove_folders(created: list[Path]) -> None:
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _publish(temporary: Path, target: Path, force: bool) -> None:
    if force:
        if target.is_dir() and not target.is_symlink():
            raise OutputError("a folder is in the way of the output", stage="write")
        os.replace(temporary, target)
        return
    try:
        # A hard link fails if the target appeared meanwhile: no overwrite race.
        os.link(temporary, target)
    except FileExistsError:
        raise OutputError(
            "output already exists (use --force to replace it)", stage="write"
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        # File systems without hard links (FAT, exFAT): check, then rename.
        if os.path.lexists(target):
            raise OutputError(
                "output already exists (use --force to replace it)", stage="write"
            ) from None
        os.rename(temporary, target)


def _make_parents(folder: Path) -> list[Path]:
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    created = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        created.append(path)
    return created
