"""Writing outputs atomically, and only where nothing would be overwritten.

An output appears in its final place only once it is complete and checked:
it is written to a file inside a private temporary folder (mode 0700) made
next to the target, so on the same file system, flushed, checked, then
linked (or, with ``force``, renamed) into place. The private folder is
removed in every case: success, failure or interruption.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
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
    try:
        _write_atomic(target, write, check, force)
    except OSError as exc:
        raise OutputError(f"cannot write the output: {exc.strerror or exc}", stage="write") from exc


def _write_atomic(
    target: Path, write: Callable[[BinaryIO], object], check: Callable[[Path], None], force: bool
) -> None:
    if not force and os.path.lexists(target):
        raise OutputError("output already exists (use --force to replace it)", stage="write")
    created = _make_parents(target.parent)
    try:
        # mkdtemp makes the folder 0700: no other user can see or swap the
        # file before it is checked and published.
        private = Path(tempfile.mkdtemp(prefix=".unseen-", dir=target.parent))
    except BaseException:
        _remove_folders(created)
        raise
    temporary = private / "output"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        check(temporary)
        os.chmod(temporary, 0o666 & ~_UMASK)
        _publish(temporary, target, force)
    except BaseException:
        shutil.rmtree(private, ignore_errors=True)
        _remove_folders(created)
        raise
    shutil.rmtree(private, ignore_errors=True)


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
