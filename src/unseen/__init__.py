"""unseen: protect the people in photos before they are shared.

>>> import unseen
>>> report = unseen.anonymize(["photos/"], "safe/")  # doctest: +SKIP
"""

__version__ = "0.1.0"

from unseen.api import anonymize, apply, inspect, iter_anonymize, plan, verify_file
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
from unseen.plans import Plan
from unseen.types import FileResult, Finding, Inspection, MaskRegion, RunReport, Verification

__all__ = [
    "CorruptMedia",
    "FileResult",
    "Finding",
    "InputError",
    "Inspection",
    "LimitExceeded",
    "MaskRegion",
    "ModelMissing",
    "Options",
    "OutputError",
    "Plan",
    "RunReport",
    "UnseenError",
    "UnsupportedFormat",
    "Verification",
    "VerificationFailed",
    "__version__",
    "anonymize",
    "apply",
    "inspect",
    "iter_anonymize",
    "plan",
    "verify_file",
]
