"""Writing outputs atomically, and only where nothing would be overwritten.

An output appears in its final place only once it is complete and checked:
it is written to a private temporary file in the output folder, flushed,
checked, then linked (or, with ``force``, renamed) into place. Any failure or
interruption removes the temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import os
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
    """Create ``target`` from ``write``, after ``check`` accepted the written file."""
    if not force and os.path.lexists(target):
        raise OutputError("output already exists (use --force to replace it)", stage="write")
    created = _make_parents(target.parent)
    fd, name = tempfile.mkstemp(prefix=".unseen-", suffix=".tmp", dir=target.parent)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        check(temporary)
        os.chmod(temporary, 0o666 & ~_UMASK)
        _publish(temporary, target, force)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


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
        return
    temporary.unlink()


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
