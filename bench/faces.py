"""Face coverage on WIDER FACE: unseen and deface 1.5.0 side by side, in one run.

The metric is docs/metrics.md section 1 (in ../shared/docs):

- A ground-truth face is *protected* when at least 80% of the pixels of its
  box lie under the masks actually applied. Boxes marked invalid are skipped;
  faces are counted by box height: 10-15, 16-31, 32-63 and 64+ px, plus all
  faces of 16 px and up (boxes under 10 px count nowhere).
- *Collateral* is the share of the pixels outside every ground-truth box
  (invalid ones included: they are faces too) that were masked, pooled over
  all images.
- The applied masks come from the outputs, never from what the code meant
  to do. unseen writes PNG with its noise fill (same geometry as the default
  solid fill), so every pixel that differs from the input was masked. deface
  (blur fill, which leaves flat areas unchanged) exports its exact mask from
  its own code, and its output is checked against that mask
  (bench/deface_worker.py says how).
- images/s: wall clock of each tool's whole per-image work (decode, detect,
  mask, encode to PNG), models loaded and warmed up beforehand. The tools
  take turns on each image, so machine noise hits both alike.

deface runs in its own virtualenv (bench/.venv-deface, from
bench/requirements-deface.lock), so its dependencies stay out of unseen's.

Command (make creates both virtualenvs if needed; without --limit, all images)::

    make bench-faces
    make bench-faces BENCH_ARGS="--limit 20"
    .venv/bin/python bench/faces.py --limit 20 --options threshold=0.1
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

import unseen
from unseen.config import PROFILES

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "faces" / "widerface-dev"
DEFACE_PYTHON = ROOT / "bench" / ".venv-deface" / "bin" / "python"
DEFACE_WORKER = ROOT / "bench" / "deface_worker.py"

#: Share of a face box that must be masked for the face to count as protected.
PROTECTED = 0.8
#: Height buckets (px, inclusive); None is open-ended.
BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("10-15", 10, 15),
    ("16-31", 16, 31),
    ("32-63", 32, 63),
    ("64+", 64, None),
)
ALL16 = "all>=16"
COLUMNS = (*(name for name, _, _ in BUCKETS), ALL16)
#: Options unseen needs to make its masks measurable; profiles cannot change them.
MEASURED = {"fill": "noise", "format": "png"}
#: The options of the extra row measured with the fast profile.
UNVERIFIED_FAST = {"profile": "fast", "verify": False}

Mask = npt.NDArray[np.bool_]
Pixels = npt.NDArray[np.uint8]


# --- ground truth -----------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """A ground-truth face box, in pixels (x, y: top left corner)."""

    x: int
    y: int
    w: int
    h: int
    invalid: bool


def parse_gt(path: Path) -> dict[str, list[Box]]:
    """WIDER FACE ``bbx_gt`` file: name, count, then ``x y w h blur expression
    illumination invalid occlusion pose`` per box (one line of zeros when the
    count is 0). Boxes of zero width or height are dropped."""
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    images: dict[str, list[Box]] = {}
    at = 0
    while at < len(lines):
        name, count = lines[at], int(lines[at + 1])
        rows = lines[at + 2 : at + 2 + max(count, 1)]
        at += 2 + max(count, 1)
        boxes = [_box(row) for row in rows[:count]]
        images[name] = [b for b in boxes if b.w > 0 and b.h > 0]
    return images


def _box(row: str) -> Box:
    values = [int(float(v)) for v in row.split()]
    return Box(values[0], values[1], values[2], values[3], invalid=values[7] == 1)


def buckets_of(height: int) -> list[str]:
    """The table columns a face of this box height counts in."""
    names = [
        name for name, low, high in BUCKETS if low <= height and (high is None or height <= high)
    ]
    return [*names, ALL16] if height >= 16 else names


# --- geometry ---------------------------------------------------------------


def box_region(box: Box, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """Rows and columns of ``box`` clipped to an image of ``shape``."""
    height, width = shape[:2]
    rows = slice(min(max(box.y, 0), height), min(max(box.y + box.h, 0), height))
    cols = slice(min(max(box.x, 0), width), min(max(box.x + box.w, 0), width))
    return rows, cols


def coverage(mask: Mask, box: Box) -> float | None:
    """Share of the box's pixels under the mask (None if it lies off the image)."""
    region = mask[box_region(box, mask.shape)]
    return float(region.mean()) if region.size else None


def outside_faces(shape: tuple[int, ...], boxes: Sequence[Box]) -> Mask:
    """Pixels outside every ground-truth box."""
    outside = np.ones(shape[:2], bool)
    for box in boxes:
        outside[box_region(box, shape)] = False
    return outside


def changed(before: Pixels, after: Pixels) -> Mask:
    """Pixels that differ in any channel."""
    if before.shape != after.shape:
        raise ValueError(f"output is {after.shape}, input {before.shape}")
    result: Mask = (before != after).any(axis=2)
    return result


def decode_rgb(path: Path) -> Pixels:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


# --- tallies ----------------------------------------------------------------


@dataclass
class Tally:
    """One table row: faces protected per bucket, collateral, speed."""

    name: str
    protected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0))
    total: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0))
    masked_outside: int = 0
    outside: int = 0
    seconds: float = 0.0
    images: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, mask: Mask | None, boxes: Sequence[Box], shape: tuple[int, ...]) -> None:
        """Count one image; ``mask`` None means the tool produced no output."""
        self.images += 1
        applied = np.zeros(shape[:2], bool) if mask is None else mask
        for box in boxes:
            share = None if box.invalid else coverage(applied, box)
            if share is None:
                continue
            for column in buckets_of(box.h):
                self.total[column] += 1
                self.protected[column] += share >= PROTECTED
        if mask is not None:
            outside = outside_faces(shape, boxes)
            self.outside += int(outside.sum())
            self.masked_outside += int((mask & outside).sum())

    def row(self) -> list[str]:
        cells = [_percent(self.protected[c], self.total[c]) for c in COLUMNS]
        speed = f"{self.images / self.seconds:.2f}" if self.seconds else "-"
        return [self.name, *cells, _percent(self.masked_outside, self.outside, 2), speed]


def _percent(part: int, whole: int, digits: int = 1) -> str:
    return f"{100 * part / whole:.{digits}f}%" if whole else "-"


# --- the tools --------------------------------------------------------------


@dataclass
class Outcome:
    """What one tool did to one image: the applied mask (None if no output)."""

    mask: Mask | None
    seconds: float
    error: str | None = None


class Tool(Protocol):
    name: str

    def run(self, image: Path, reference: Pixels, work: Path) -> Outcome: ...


class Unseen:
    """unseen through its public API, with noise fill and PNG output."""

    def __init__(self, name: str, options: unseen.Options) -> None:
        self.name = name
        self.options = options

    def run(self, image: Path, reference: Pixels, work: Path) -> Outcome:
        out_dir = work / "unseen"
        start = time.perf_counter()
        report = unseen.anonymize([image], out_dir, options=self.options, force=True)
        seconds = time.perf_counter() - start
        result = report.files[0]
        if result.status != "ok" or result.output is None:
            return Outcome(None, seconds, result.error)
        output = Path(result.output)
        mask = changed(reference, decode_rgb(output))
        output.unlink()
        return Outcome(mask, seconds)


class Deface:
    """deface 1.5.0 with its defaults, in a worker process of its own virtualenv."""

    name = "deface 1.5.0 (defaults)"

    def __init__(self, python: Path) -> None:
        self.process = subprocess.Popen(
            [str(python), str(DEFACE_WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.providers = self._receive()["providers"]
        #: Output pixels deface changed outside the mask it exported (should stay 0).
        self.stray = 0

    def run(self, image: Path, reference: Pixels, work: Path) -> Outcome:
        output, mask_file = work / "deface.png", work / "deface-mask.npy"
        request = {"input": str(image), "output": str(output), "mask": str(mask_file)}
        self._send(request)
        reply = self._receive()
        if "error" in reply:
            return Outcome(None, 0.0, reply["error"])
        mask: Mask = np.load(mask_file)
        self.stray += int((changed(reference, decode_rgb(output)) & ~mask).sum())
        output.unlink()
        mask_file.unlink()
        return Outcome(mask, reply["seconds"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)

    def _send(self, request: dict[str, str]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def _receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the deface worker stopped (exit code {self.process.wait()})")
        reply: dict[str, Any] = json.loads(line)
        return reply


# --- the run ----------------------------------------------------------------


def measured_options(settings: dict[str, object]) -> unseen.Options:
    """unseen's options with ``settings``, and the fill and format the bench needs."""
    if overridden := set(settings) & set(MEASURED):
        raise ValueError(f"{', '.join(sorted(overridden))} is fixed by the bench")
    return unseen.Options(**settings, **MEASURED)  # type: ignore[arg-type]


def parse_options(text: str) -> tuple[str, unseen.Options]:
    """``key=value,key=value`` (values in JSON, lists become tuples) as extra
    unseen options, e.g. ``threshold=0.1`` or ``margin=[0.3,0.4,0.25]``."""
    settings: dict[str, object] = {}
    for item in re.split(r",(?=\s*\w+=)", text):
        key, _, raw = item.partition("=")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        settings[key.strip()] = tuple(value) if isinstance(value, list) else value
    try:
        return f"unseen ({text})", measured_options(settings)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a positive number of images, not {text!r}")
    return int(text)


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=DATA / "images", help="image folder")
    parser.add_argument("--gt", type=Path, default=DATA / "wider_face_bbx_gt.txt", help="bbx_gt")
    parser.add_argument("--limit", type=positive, default=None, help="only the first N images")
    parser.add_argument(
        "--profiles",
        default=",".join(PROFILES),
        help="unseen's profiles to measure, comma-separated (default: all)",
    )
    parser.add_argument(
        "--options",
        type=parse_options,
        action="append",
        default=[],
        help="an extra unseen row with these options, e.g. threshold=0.1 (repeatable)",
    )
    parser.add_argument(
        "--deface-python",
        type=Path,
        default=DEFACE_PYTHON,
        help="python of the deface virtualenv (make bench-faces creates it)",
    )
    return parser.parse_args(argv)


def check_inputs(args: argparse.Namespace) -> str | None:
    """Why the bench cannot run, if it cannot."""
    if not args.images.is_dir() or not args.gt.is_file():
        return (
            f"WIDER FACE data not found (images: {args.images}, ground truth: {args.gt}); "
            "pass --images and --gt, or lay out ../shared/data/faces/widerface-dev"
        )
    if not args.deface_python.is_file():
        return (
            f"no deface virtualenv at {args.deface_python}: run 'make bench-faces' "
            "(it creates bench/.venv-deface from bench/requirements-deface.lock)"
        )
    return None


def select_images(args: argparse.Namespace) -> list[tuple[Path, list[Box]]]:
    """Images named in the ground truth and present on disk, in file order."""
    found = [(args.images / name, boxes) for name, boxes in parse_gt(args.gt).items()]
    present = [(path, boxes) for path, boxes in found if path.is_file()]
    if len(present) < len(found):
        print(f"note: {len(found) - len(present)} ground-truth images missing", file=sys.stderr)
    return present[: args.limit] if args.limit is not None else present


def run_all(
    tools: Sequence[Tool], images: Sequence[tuple[Path, list[Box]]], work: Path
) -> list[Tally]:
    """Every tool on every image, taking turns image by image."""
    tallies = [Tally(tool.name) for tool in tools]
    for tool in tools:  # warm-up: models loaded, first-run allocations done
        tool.run(images[0][0], decode_rgb(images[0][0]), work)
    began = time.monotonic()
    for index, (path, boxes) in enumerate(images, 1):
        reference = decode_rgb(path)
        for tool, tally in zip(tools, tallies, strict=True):
            outcome = tool.run(path, reference, work)
            tally.seconds += outcome.seconds
            if outcome.error is not None:
                tally.failures.append(f"{path.name}: {outcome.error}")
            tally.add(outcome.mask, boxes, reference.shape)
        if index % 25 == 0 or index == len(images):
            elapsed = time.monotonic() - began
            print(f"{index}/{len(images)} images, {elapsed:.0f} s", file=sys.stderr)
    return tallies


def table(tallies: Sequence[Tally]) -> str:
    """The results as a markdown table; bucket headers carry the face counts."""
    totals = tallies[0].total
    header = ["tool / profile", *(f"{c} (n={totals[c]})" for c in COLUMNS)]
    header += ["collateral", "images/s"]
    rows = [header, ["---"] * len(header), *(t.row() for t in tallies)]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def unseen_revision() -> str:
    """Which unseen was measured: version, and the git commit of the checkout it
    was imported from, flagging uncommitted changes under its src/."""
    source = Path(unseen.__file__).resolve().parent.parent

    def git(*command: str) -> str:
        done = subprocess.run(["git", *command], cwd=source, capture_output=True, text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "no git commit"
    dirty = " + uncommitted changes" if git("status", "--porcelain", ".") else ""
    return f"unseen {unseen.__version__} from {source} at {commit}{dirty}"


def report(tallies: Sequence[Tally], deface: Deface, count: int, wall: float) -> None:
    python = os.path.relpath(sys.executable)
    command = shlex.join([python if not python.startswith("..") else sys.executable, *sys.argv])
    print(table(tallies))
    print()
    print(f"{count} images; command: {command}; wall time {wall:.0f} s")
    print(f"{unseen_revision()}; deface on {', '.join(map(str, deface.providers))}")
    deface_rate = tallies[-1].images / tallies[-1].seconds
    for tally in tallies[:-1]:
        ratio = tally.images / tally.seconds / deface_rate
        print(f"speed ratio {tally.name} / deface: {ratio:.2f}")
    if deface.stray:
        print(f"WARNING: deface changed {deface.stray} pixels outside its exported mask")
    for tally in tallies:
        for failure in tally.failures:
            print(f"failed ({tally.name}): {failure}")


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    if problem := check_inputs(args):
        print(f"bench/faces.py: {problem}", file=sys.stderr)
        return 2
    images = select_images(args)
    if not images:
        print("bench/faces.py: no images to measure", file=sys.stderr)
        return 2
    started = time.monotonic()
    profiles = [
        (f"unseen --profile {name}", measured_options({"profile": name}))
        for name in args.profiles.split(",")
    ]
    if "fast" in args.profiles.split(","):
        # deface attacks nothing it writes: this row is the like-for-like speed.
        profiles.append(
            ("unseen --profile fast, no verification", measured_options(UNVERIFIED_FAST))
        )
    profiles += args.options
    deface = Deface(args.deface_python)
    try:
        tools: list[Tool] = [Unseen(name, options) for name, options in profiles]
        with tempfile.TemporaryDirectory(prefix="unseen-bench-") as work:
            tallies = run_all([*tools, deface], images, Path(work))
    finally:
        deface.close()
    report(tallies, deface, len(images), time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
