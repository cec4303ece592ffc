"""Verification of one image file: read it back as a stranger would, then
attack every frame."""

from __future__ import annotations

import time
from collections.abc import Sequence

from unseen.config import WEAK_FILLS, Options
from unseen.errors import UnseenError
from unseen.media.image import Decoded, decode
from unseen.media.sniff import HEAD_BYTES, sniff
from unseen.metadata.read import open_image, read_metadata
from unseen.types import Check, Finding, MaskRegion, Verification
from unseen.verify.faces import Attackers, verify_frame

#: The checks that attack faces, skipped with ``--no-verify``.
FACE_CHECKS: tuple[Check, ...] = ("residual-face", "reidentification", "face-structure")


def read_back(data: bytes, fmt: str, size: tuple[int, int] | None) -> list[Finding]:
    """What is wrong with a written image file as a file: not the ``fmt``
    its name promises, the wrong ``size``, metadata or an embedded image
    left in it, or pixels that do not decode."""
    kind, found = sniff(data[:HEAD_BYTES])
    if (kind, found) != ("image", fmt):
        return [Finding("file", f"the output is not a {fmt} file")]
    image = open_image(data, fmt)
    items, embedded = read_metadata(data, image, fmt)
    leftovers = [f"{m.group}:{m.name}" for m in items if m.identifying]
    leftovers += [e.kind for e in embedded]
    findings = []
    if leftovers:
        findings.append(Finding("metadata", f"metadata survived: {', '.join(leftovers)}"))
    if size is not None and image.size != size:
        findings.append(Finding("file", f"the output is {image.size}, not {size}"))
    try:
        image.load()
    except Exception as exc:
        findings.append(Finding("file", f"the output does not decode ({exc})"))
    return findings


def verify_image(
    data: bytes,
    fmt: str,
    original: Decoded | None,
    regions: Sequence[MaskRegion],
    options: Options,
    attackers: Attackers | None,
    kept: Sequence[MaskRegion] = (),
) -> Verification:
    """Every check on one image file's bytes (``fmt`` as sniffed or intended).

    ``original`` (decoded, upright) enables re-identification and the size
    and frame checks; ``regions`` are where faces were masked (or where they
    are in the original), ``kept`` where faces were left visible by decision
    (never attacked). Without ``attackers`` only the file and metadata
    are checked, and the face checks are reported as skipped. With a weak
    fill (``--fill blur`` or ``pixelate``, chosen despite the warning) the
    face-structure check, which such fills fail by design, is skipped.
    """
    began = time.monotonic()
    findings = read_back(data, fmt, None if original is None else original.size)
    if attackers is None or any(f.check == "file" for f in findings):
        return Verification(tuple(findings), skipped=FACE_CHECKS, seconds=time.monotonic() - began)
    try:
        written = decode(data, fmt, options)
    except UnseenError as exc:
        findings.append(Finding("file", f"the output does not decode ({exc.reason})"))
        return Verification(tuple(findings), skipped=FACE_CHECKS, seconds=time.monotonic() - began)
    parts = [Verification(tuple(findings))]
    if original is not None and len(original.frames) != len(written.frames):
        parts.append(
            Verification(
                (
                    Finding(
                        "file",
                        f"the output has {len(written.frames)} frame(s), "
                        f"the original {len(original.frames)}",
                    ),
                )
            )
        )
    for index, frame in enumerate(written.frames):
        source = None
        if original is not None and index < len(original.frames):
            source = original.frames[index]
        here = [r for r in regions if r.frame == index]
        parts.append(
            verify_frame(
                source,
                frame,
                here,
                index,
                attackers=attackers,
                structure_check=options.fill not in WEAK_FILLS,
                kept=[r for r in kept if r.frame == index],
            )
        )
    return Verification.combine(parts, time.monotonic() - began)
