"""The errors unseen raises.

Every error names the file it concerns and the stage that failed, so that a
caller can print one clear line without digging::

    UnseenError
    ├── InputError              the input cannot be used as it is
    │   ├── UnsupportedFormat   not a media type unseen handles
    │   ├── CorruptMedia        empty, truncated or undecodable
    │   └── LimitExceeded       above a documented resource limit
    ├── OutputError             the output cannot be written safely
    ├── ModelMissing            a model file is not installed
    └── VerificationFailed      the output did not pass a check

The library raises these and never prints or exits; the CLI maps them to
messages and exit codes.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from unseen.types import Verification


class UnseenError(Exception):
    """Base of every error unseen raises on purpose."""

    def __init__(
        self, reason: str, *, path: str | os.PathLike[str] | None = None, stage: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = None if path is None else os.fspath(path)
        self.stage = stage

    def __str__(self) -> str:
        where = f" [{self.stage}]" if self.stage else ""
        return f"{self.reason}{where}"


class InputError(UnseenError):
    """The input file cannot be used."""


class UnsupportedFormat(InputError):
    """The file is not a media type unseen can protect."""


class CorruptMedia(InputError):
    """The file is empty, truncated or cannot be decoded."""


class LimitExceeded(InputError):
    """The file is above a resource limit (pixels, frames, bytes)."""


class OutputError(UnseenError):
    """The output cannot be written safely (exists, unwritable, collides)."""


class ModelMissing(UnseenError):
    """A model file that unseen needs is not installed."""


class VerificationFailed(UnseenError):
    """The output was produced but failed a check, so it was not released.

    ``verification`` holds every finding, when the checks got that far."""

    def __init__(
        self,
        reason: str,
        *,
        path: str | os.PathLike[str] | None = None,
        stage: str | None = None,
        verification: Verification | None = None,
    ) -> None:
        super().__init__(reason, path=path, stage=stage)
        self.verification = verification
