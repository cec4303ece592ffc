"""unseen: protect the people in photos before they are shared.

>>> import unseen
>>> report = unseen.anonymize(["photos/"], "safe/")  # doctest: +SKIP
"""

__version__ = "0.1.0"

from unseen.api import anonymize, inspect
from unseen.config import Options
from unseen.errors import (
    CorruptMedia,
    InputError,
    LimitExceeded,
    ModelMissing,
    OutputError,
    UnseenError,
    UnsupportedFormat,
    VerificationFailed,
)
from unseen.types import FileResult, Inspection, MaskRegion, RunReport

__all__ = [
    "CorruptMedia",
    "FileResult",
    "InputError",
    "Inspection",
    "LimitExceeded",
    "MaskRegion",
    "ModelMissing",
    "Options",
    "OutputError",
    "RunReport",
    "UnseenError",
    "UnsupportedFormat",
    "VerificationFailed",
    "__version__",
    "anonymize",
    "inspect",
]
