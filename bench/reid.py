"""Re-identification after anonymization, and what verification costs.

The metric is docs/metrics.md section 3 (in ../shared/docs), on the identity
sets of ../shared/data/faces/identity (lfw-10, tv-8, orl-40, examples-6),
pooled: one gallery of all identities, so chance is 1 / identities.

- Each image's face is the largest one unseen's default profile finds in the
  clean image (images where it finds none are skipped and counted). The
  first image of each identity is its gallery photo, the others are probes.
- Each row anonymizes every image: ``none`` (unchanged), unseen's
  ``--fill blur`` and ``--fill pixelate`` (plain Gaussian blur and
  pixelation over unseen's masks), deface 1.5.0 with its defaults (blur,
  in bench/.venv-deface), and unseen's default (solid fill).
- The attacker knows where the face was: each recognizer aligns on the clean
  image and embeds the same patch of the anonymized one. **Naive**: each
  anonymized probe is ranked against the clean gallery. **Parrot**: against
  the gallery anonymized the same way. Top-1 is the share of probes whose
  best-scoring gallery identity is their own; where several identities tie
  for best (masks that hide the whole aligned patch make every face alike),
  the attacker picks one of them at random, and the probe counts as that
  pick's expected hit.
- ``verify catches``: the share of images whose output unseen's face checks
  (``verify_frame``: residual faces, SFace re-identification, face
  structure; regions where unseen finds faces in the clean image) fail,
  i.e. that ``unseen verify ORIGINAL OUTPUT`` refuses.
- Cost: ``unseen.anonymize`` on every image, and on ``--wider`` photos of
  ../shared/data/faces/widerface-dev spread over its events (default
  profile, verification on); the time its checks took against the rest of
  the work.

Command (make creates both virtualenvs if needed)::

    make bench-reid
    .venv/bin/python bench/reid.py --per-identity 4 --recognizers sface
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from faces import DEFACE_PYTHON, Deface, decode_rgb
from PIL import Image

import unseen
from unseen.detect import detect_faces
from unseen.handlers import Run
from unseen.mask import apply_masks, plan_masks
from unseen.types import Detections
from unseen.verify import Attackers, load_attackers, verify_frame
from unseen.verify.recognize import Recognizer, get_recognizer

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "faces" / "identity"
Pixels = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Photo:
    identity: str
    path: Path


def photos(root: Path, per_identity: int) -> list[Photo]:
    """Labelled single-face photos of the four identity sets, at most
    ``per_identity`` per identity (gallery first)."""
    found: list[Photo] = []
    for name in ("lfw-10", "tv-8", "orl-40"):
        for folder in sorted(p for p in (root / name).iterdir() if p.is_dir()):
            files = sorted(f for f in folder.iterdir() if f.suffix in (".jpg", ".png", ".pgm"))
            found += [Photo(f"{name}/{folder.name}", f) for f in files]
    examples = root / "examples-6"
    with open(examples / "labels.csv", newline="") as table:
        for row in csv.DictReader(table):
            if row["num_faces"] == "1" and "," not in row["identities"]:
                found.append(Photo(f"examples-6/{row['identities']}", examples / row["file"]))
    kept: dict[str, list[Photo]] = {}
    for photo in found:
        kept.setdefault(photo.identity, [])
        if len(kept[photo.identity]) < per_identity:
            kept[photo.identity].append(photo)
    return [p for group in kept.values() if len(group) >= 2 for p in group]


def largest(dets: Detections) -> Box | None:
    if not len(dets):
        return None
    areas = (dets.boxes[:, 2] - dets.boxes[:, 0]) * (dets.boxes[:, 3] - dets.boxes[:, 1])
    x1, y1, x2, y2 = (float(v) for v in dets.boxes[int(np.argmax(areas))])
    return x1, y1, x2, y2


@dataclass
class Sample:
    photo: Photo
    clean: Pixels
    face: Box
    dets: Detections


Anonymizer = Callable[[Sample], Pixels | None]


def unseen_fill(fill: str) -> Anonymizer:
    options = unseen.Options(fill=fill)  # type: ignore[arg-type]

    def run(sample: Sample) -> Pixels:
        return apply_masks(sample.clean, sample.dets, options)[0]

    return run


class DefacePixels(Deface):
    """deface's output pixels for one image (bench/faces.py runs the worker)."""

    def __init__(self, python: Path, work: Path) -> None:
        super().__init__(python)
        self.work = work

    def __call__(self, sample: Sample) -> Pixels | None:
        source, output = self.work / "in.png", self.work / "deface.png"
        Image.fromarray(sample.clean).save(source)
        mask = self.work / "mask.npy"
        self._send({"input": str(source), "output": str(output), "mask": str(mask)})
        if "error" in self._receive():
            return None
        return decode_rgb(output)


def embeddings(
    recognizer: Recognizer, samples: list[Sample], outputs: list[Pixels | None]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Each sample's clean embedding, and that of the same aligned patch of its output."""
    clean, attacked = [], []
    for sample, output in zip(samples, outputs, strict=True):
        seen = sample.clean if output is None else output
        chip, cut = recognizer.chips(sample.clean, [seen], sample.face)
        a, b = recognizer.embed([chip, cut])
        clean.append(a)
        attacked.append(b)
    return np.array(clean), np.array(attacked)


def cosine_rows(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return np.asarray(an @ bn.T, np.float64)


def similarities(
    recognizer: Recognizer, a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]
) -> npt.NDArray[np.float64]:
    """All pairwise similarities, in the recognizer's own measure."""
    if recognizer.name == "sface":
        return cosine_rows(a, b)
    return np.array([[recognizer.similarity(x, y) for y in b] for x in a], np.float64)


#: Scores this close count as a tie.
TIED = 1e-6


def top1(scores: npt.NDArray[np.float64], probe_ids: list[str], gallery_ids: list[str]) -> float:
    """The share of probes whose best-scoring gallery identity is their own.
    A tie counts as the attacker's random pick among the tied identities:
    masks that make every face alike score chance, not zero."""
    hits = []
    for row, probe in zip(scores, probe_ids, strict=True):
        tied = np.flatnonzero(row >= row.max() - TIED)
        hits.append(sum(gallery_ids[i] == probe for i in tied) / len(tied))
    return float(np.mean(hits))


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the identity sets")
    parser.add_argument("--per-identity", type=int, default=5, help="photos per identity")
    parser.add_argument("--recognizers", default="sface,dlib", help="comma-separated")
    parser.add_argument("--deface-python", type=Path, default=DEFACE_PYTHON)
    parser.add_argument(
        "--wider", type=int, default=20, help="widerface-dev photos (crowds) to time too"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    if not args.data.is_dir():
        print(f"bench/reid.py: no identity sets at {args.data}", file=sys.stderr)
        return 2
    started = time.monotonic()
    passes = Run.resolve(unseen.Options(), attack=False).passes
    samples, skipped = [], 0
    for photo in photos(args.data, args.per_identity):
        with Image.open(photo.path) as image:
            clean = np.asarray(image.convert("RGB"))
        dets = detect_faces(clean, passes)
        face = largest(dets)
        if face is None:
            skipped += 1
            continue
        samples.append(Sample(photo, clean, face, dets))
    first: dict[str, int] = {}
    for index, sample in enumerate(samples):
        first.setdefault(sample.photo.identity, index)
    gallery = sorted(first.values())
    probes = [i for i in range(len(samples)) if i not in set(gallery)]
    gallery_ids = [samples[i].photo.identity for i in gallery]
    probe_ids = [samples[i].photo.identity for i in probes]
    identities = len(gallery)
    per_set: dict[str, int] = {}
    for name in gallery_ids:
        per_set[name.split("/")[0]] = per_set.get(name.split("/")[0], 0) + 1
    within = np.mean([1 / per_set[p.split("/")[0]] for p in probe_ids])
    print(
        f"{len(samples)} photos ({skipped} without a face found, skipped), "
        f"{identities} identities, {len(probes)} probes; chance {1 / identities:.1%}; "
        f"chance for an attacker who can tell which set a photo comes from {within:.1%}"
    )
    recognizers = [get_recognizer(name) for name in args.recognizers.split(",")]
    attackers = load_attackers()
    with tempfile.TemporaryDirectory(prefix="unseen-reid-") as work:
        deface = DefacePixels(args.deface_python, Path(work))
        try:
            rows: list[tuple[str, Anonymizer]] = [
                ("none", lambda s: s.clean),
                ("unseen --fill blur", unseen_fill("blur")),
                ("unseen --fill pixelate", unseen_fill("pixelate")),
                ("deface 1.5.0 (defaults)", deface),
                ("unseen default (solid)", unseen_fill("solid")),
            ]
            outputs = {name: [run(s) for s in samples] for name, run in rows}
        finally:
            deface.close()
    header = ["row", *(f"{r.name} {a}" for r in recognizers for a in ("naive", "parrot"))]
    header += ["sface after (median)", "verify catches", "chance"]
    table = []
    sface = get_recognizer("sface")
    for name, _ in rows:
        cells = [name]
        for recognizer in recognizers:
            clean, attacked = embeddings(recognizer, samples, outputs[name])
            naive = similarities(recognizer, attacked[probes], clean[gallery])
            parrot = similarities(recognizer, attacked[probes], attacked[gallery])
            cells += [f"{top1(naive, probe_ids, gallery_ids):.1%}"]
            cells += [f"{top1(parrot, probe_ids, gallery_ids):.1%}"]
            if recognizer is sface:
                own = np.array(
                    [recognizer.similarity(c, a) for c, a in zip(clean, attacked, strict=True)]
                )
                median = f"{np.median(own):.2f}"
                if name == "none":
                    strangers(recognizer, clean, [s.photo.identity for s in samples])
        if sface not in recognizers:
            median = "-"
        cells += [
            median,
            caught_by_verify(samples, outputs[name], attackers),
            f"{1 / identities:.1%}",
        ]
        table.append(cells)
    print_table(header, table)
    wider = sorted((args.data.parent / "widerface-dev" / "images").rglob("*.jpg"))
    step = max(1, len(wider) // args.wider) if args.wider else 0
    cost(
        [(s.photo.identity.split("/")[0], s.photo.path) for s in samples]
        + [("widerface-dev", p) for p in (wider[::step][: args.wider] if step else [])]
    )
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


def caught_by_verify(
    samples: list[Sample], outputs: list[Pixels | None], attackers: Attackers
) -> str:
    failed = 0
    for sample, output in zip(samples, outputs, strict=True):
        height, width = sample.clean.shape[:2]
        regions = plan_masks(sample.dets, unseen.Options(), width, height)
        seen = sample.clean if output is None else output
        failed += not verify_frame(sample.clean, seen, regions, attackers=attackers).passed
    return f"{failed / len(samples):.1%}"


def strangers(recognizer: Recognizer, clean: npt.NDArray[np.float32], ids: list[str]) -> None:
    """How similar clean faces of different people are: what "no one" scores."""
    scores = similarities(recognizer, clean, clean)
    other = np.array([[a != b for b in ids] for a in ids])
    values = scores[other]
    print(
        f"{recognizer.name}, clean faces of different people: median {np.median(values):.2f}, "
        f"99th percentile {np.percentile(values, 99):.2f}, max {values.max():.2f}; "
        f"same person, median {np.median(scores[~other & ~np.eye(len(ids), dtype=bool)]):.2f}"
    )


def cost(images: list[tuple[str, Path]]) -> None:
    """Verification time against the rest of ``unseen.anonymize``, per image
    (``images`` as (set name, path))."""
    by_set: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="unseen-reid-cost-") as work:
        for index, (name, path) in enumerate(images):
            report = unseen.anonymize([path], Path(work) / str(index))
            [result] = report.files
            if result.verification is None:
                continue
            checks = result.verification.seconds
            by_set.setdefault(name, []).append((result.seconds - checks, checks))
    rows = []
    for name, times in sorted(by_set.items()):
        work_s = sum(t for t, _ in times) / len(times)
        checks_s = sum(c for _, c in times) / len(times)
        rows.append(
            [
                name,
                str(len(times)),
                f"{work_s * 1000:.0f}",
                f"{checks_s * 1000:.0f}",
                f"{checks_s / work_s:.0%}",
            ]
        )
    print_table(["set", "images", "anonymize ms", "verify ms", "verify / anonymize"], rows)


def print_table(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    sys.exit(main())
