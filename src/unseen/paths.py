"""Turning command-line paths into jobs: which files, and where each output goes.

Hostile names are normal names here: nothing is passed to a shell, and
:func:`display` makes any name safe to print.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}


def display(path: str | os.PathLike[str]) -> str:
    """A path as one printable line: control characters and undecodable bytes escaped."""
    text = os.fspath(path)
    # A lone surrogate that no file name byte maps to (from a Windows name or an
    # error message) cannot be encoded: it is escaped below, never an exception.
    with contextlib.suppress(UnicodeEncodeError):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    escaped = text.translate(_CONTROL)
    return "".join(c if c.isprintable() or c == " " else f"\\u{ord(c):04x}" for c in escaped)


@dataclass(frozen=True)
class Job:
    """One input file and the output path it maps to (relative to the output folder)."""

    source: Path
    #: What the user would recognize: the path as given, or joined below a given folder.
    shown: str
    relative: Path
    #: Set when the input cannot be processed; the reason is reported as its error.
    problem: str | None = None


def collect(inputs: list[str | os.PathLike[str]], out_dir: Path | None = None) -> list[Job]:
    """Expand files and folders (recursively) into jobs, in a stable order.

    Folders are walked without following links; a link inside a folder is
    processed only if it resolves to a regular file inside that same folder.
    The output folder is never walked as input.
    """
    skip = os.path.realpath(out_dir) if out_dir is not None else None
    jobs: list[Job] = []
    for given in inputs:
        path = Path(given)
        try:
            info = path.stat()
        except OSError as exc:
            jobs.append(Job(path, os.fspath(given), Path(path.name), _reason(exc, path)))
            continue
        if stat.S_ISDIR(info.st_mode):
            jobs.extend(_walk(path, skip))
        else:
            problem = None if stat.S_ISREG(info.st_mode) else "not a regular file"
            jobs.append(Job(path, os.fspath(given), Path(path.name), problem))
    return jobs


def _walk(root: Path, skip: str | None) -> list[Job]:
    real_root = os.path.realpath(root)
    jobs = []
    for folder, dirs, files in os.walk(root, followlinks=False, onerror=None):
        if skip is not None:
            dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(folder, d)) != skip]
        dirs.sort()
        for name in sorted(files) + sorted(d for d in dirs if Path(folder, d).is_symlink()):
            path = Path(folder, name)
            relative = path.relative_to(root)
            jobs.append(Job(path, os.fspath(path), relative, _check_entry(path, real_root)))
    return jobs


def _check_entry(path: Path, real_root: str) -> str | None:
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            target = os.path.realpath(path)
            if os.path.commonpath([target, real_root]) != real_root:
                return "symbolic link to a place outside the input folder; not followed"
            info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            return "symbolic link to a folder; not followed"
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"
    except OSError as exc:
        return _reason(exc, path)
    return None


def _reason(exc: OSError, path: Path) -> str:
    if path.is_symlink() and not path.exists():
        return "dangling or looping symbolic link"
    return exc.strerror.lower() if exc.strerror else str(exc)


def claim_outputs(jobs: list[Job], name: Callable[[Job], Path]) -> list[Job]:
    """Jobs with their final output names (``name`` gives a job's); a job whose
    name is already taken by an earlier one gets a problem instead of
    overwriting its output."""
    owners: dict[str, str] = {}
    out = []
    for job in jobs:
        job = Job(job.source, job.shown, name(job), job.problem)
        key = os.path.normcase(os.fspath(job.relative)).casefold()
        if job.problem is None and key in owners:
            job = Job(
                job.source,
                job.shown,
                job.relative,
                f"its output name is taken by {display(owners[key])}",
            )
        elif job.problem is None:
            owners[key] = job.shown
        out.append(job)
    return out
