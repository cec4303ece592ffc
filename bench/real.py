"""Real clips: is every video FFmpeg plays released, with its frames, timing,
size and sound kept and no face leaked? unseen and deface 1.5.0 on the same
files in the same run.

For each clip of the folders given (default ../shared/data/video-real; see
its SOURCE.md for the properties each clip has: silent and music-only sound,
camera timestamps, HEVC, VFR, rotation, odd containers and sizes):

- **released**: the tool wrote an output (unseen: ``status == "ok"``; a
  refusal is printed with its reason, to be judged true or not);
- **kept**: the output holds the frames FFmpeg presents for the input (same
  count), the same frame size, and the video and the sound last as long as
  the input's, each within one frame (sound: within 0.1 s; deface drops the
  sound by default, which is reported, not counted against it);
- **leaked face-frames** (../shared/docs/metrics.md section 2) against a
  slow, high-recall reference: unseen's ``thorough`` profile (both
  detectors, enlarged views) on every N-th input frame; a reference face 24
  px or taller leaks in a frame when less than 80% of its box is masked.
  The count is given for every reference face and for those scored 0.5 or
  more (the thorough profile's low thresholds also return hands and dark
  patches); each leak is printed, to be checked by eye.

Masks are read from the outputs: unseen fills solid magenta (a pixel is
masked when it is magenta in the output and not in the input); deface's
exact per-frame masks come from its own code (bench/deface_video_worker.py).

``--repeat N CLIP`` runs unseen N times on one clip instead, and counts the
runs released (each draws new pseudo-voices: a random draw must never
refuse a video).

Commands::

    make bench-real
    .venv/bin/python bench/real.py --every 15 --no-deface ../shared/data/video
    .venv/bin/python bench/real.py --repeat 10 ../shared/data/video-real/video-retalking_2.mp4
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from video import CONFIDENT, DEFACE_PYTHON, DEFACE_WORKER, MAGENTA, MIN_HEIGHT, PROTECTED, magenta

import unseen
from unseen.detect import Detector, detect_faces, get_detector

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "data" / "video-real"

Pixels = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]
Passes = list[tuple[Detector, float, float]]


@dataclass(frozen=True)
class Media:
    """What FFmpeg presents of a file: frames, size, and how long its streams last."""

    frames: int
    size: tuple[int, int]
    video_seconds: float
    sound_seconds: float | None
    frame_seconds: float


def probe(path: Path) -> Media:
    times: list[float] = []
    size = (0, 0)
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if not times:
                turned = abs(round(frame.rotation)) % 180 == 90
                size = (frame.height, frame.width) if turned else (frame.width, frame.height)
            if frame.time is not None:
                times.append(frame.time)
    sound = None
    with av.open(str(path)) as container:
        if container.streams.audio:
            parts = [(f.time or 0.0, f.samples / f.sample_rate) for f in container.decode(audio=0)]
            if parts:
                sound = parts[-1][0] + parts[-1][1] - parts[0][0]
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    return Media(len(times), size, times[-1] - times[0] + step, sound, step)


def frames(path: Path) -> Iterator[Pixels]:
    """The frames as FFmpeg presents them, upright, one at a time."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            yield np.ascontiguousarray(np.rot90(rgb, round(frame.rotation / 90) % 4))


@dataclass
class Row:
    name: str
    released: bool = False
    reason: str = ""
    kept: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: [face-frames, leaked] for every reference face and for confident ones.
    leaks: list[list[int]] = field(default_factory=lambda: [[0, 0], [0, 0]])


def kept(before: Media, after: Media, sound_expected: bool) -> list[str]:
    """What the output failed to keep, in words (empty: everything)."""
    lost = []
    if after.frames != before.frames:
        lost.append(f"{after.frames} frames of {before.frames}")
    if after.size != before.size and after.size != tuple(v + v % 2 for v in before.size):
        lost.append(f"size {after.size} for {before.size}")
    if abs(after.video_seconds - before.video_seconds) > max(before.frame_seconds, 0.001) + 1e-3:
        lost.append(f"video {after.video_seconds:.2f} s for {before.video_seconds:.2f} s")
    if sound_expected and before.sound_seconds is not None:
        if after.sound_seconds is None:
            lost.append("sound dropped")
        elif abs(after.sound_seconds - before.sound_seconds) > 0.1:
            lost.append(f"sound {after.sound_seconds:.2f} s for {before.sound_seconds:.2f} s")
    return lost


def score_leaks(
    name: str,
    source: Path,
    tools: dict[str, tuple[Iterator[Mask], Row]],
    every: int,
    reference: Passes,
) -> None:
    """Find the reference faces of every ``every``-th frame once, and add to
    each tool's row the faces it left less than 80% masked; print each leak."""
    masks = {tool: iter(found) for tool, (found, _) in tools.items()}
    for index, before in enumerate(frames(source)):
        shown = {tool: next(found, None) for tool, found in masks.items()}
        if index % every:
            continue
        faces = [f for f in detect_faces(before, reference) if f[0][3] - f[0][1] >= MIN_HEIGHT]
        for tool, mask in shown.items():
            if mask is None:
                continue
            height, width = mask.shape
            for (x1, y1, x2, y2), found, detector in faces:
                top, bottom = max(0, round(y1)), min(height, round(y2))
                box = mask[top:bottom, max(0, round(x1)) : min(width, round(x2))]
                leak = box.size > 0 and float(box.mean()) < PROTECTED
                for tier, count in enumerate(tools[tool][1].leaks):
                    if tier == 0 or found >= CONFIDENT:
                        count[0] += 1
                        count[1] += leak
                if leak:
                    print(
                        f"    leak? {tool} {name} frame {index} box {x1:.0f},{y1:.0f}-"
                        f"{x2:.0f},{y2:.0f} {detector} {found:.2f} masked {float(box.mean()):.0%}",
                        file=sys.stderr,
                    )


def run_unseen(clip: Path, work: Path, row: Row) -> Iterator[Mask] | None:
    """unseen on ``clip``: fills ``row``, returns the masks it applied (None if refused)."""
    began = time.perf_counter()
    report = unseen.anonymize([clip], work / "unseen", options=unseen.Options(color=MAGENTA))
    row.seconds = time.perf_counter() - began
    (result,) = report.files
    row.released = result.status == "ok"
    row.reason = result.error or "; ".join(result.notes)
    if not row.released or result.output is None:
        return None
    output = Path(result.output)
    row.kept = kept(probe(clip), probe(output), sound_expected=True)
    pairs = zip(frames(output), frames(clip), strict=False)
    # An odd-sized input is written one pixel larger: compare the common part.
    return (magenta(a)[: b.shape[0], : b.shape[1]] & ~magenta(b) for a, b in pairs)


def run_deface(clip: Path, work: Path, row: Row) -> Iterator[Mask] | None:
    """deface on ``clip``: fills ``row``, returns its exact masks (None if it failed)."""
    output, packed = work / f"deface-{clip.stem}.mp4", work / f"deface-{clip.stem}.npy"
    began = time.perf_counter()
    done = subprocess.run(
        [str(DEFACE_PYTHON), str(DEFACE_WORKER), str(clip), str(output), str(packed)],
        capture_output=True,
        text=True,
    )
    row.seconds = time.perf_counter() - began
    row.released = done.returncode == 0 and output.exists() and packed.exists()
    if not row.released:
        row.reason = (done.stderr.strip().splitlines() or ["failed"])[-1]
        return None
    row.kept = kept(probe(clip), probe(output), sound_expected=False)
    bits = np.load(packed)
    # deface's masks are at the input's size (it rounds its output's up to 16).
    width, height = probe(clip).size
    masks = (np.unpackbits(b)[: width * height].reshape(height, width).astype(bool) for b in bits)
    if len(bits) != probe(clip).frames:
        row.kept.append(f"masks for {len(bits)} frames: leaks not scored")
        return None
    return masks


def repeat(clip: Path, times: int) -> None:
    released = 0
    with tempfile.TemporaryDirectory(prefix="bench-real-") as work:
        for run in range(times):
            out = Path(work) / str(run)
            (result,) = unseen.anonymize([clip], out).files
            released += result.status == "ok"
            audio = result.audio
            after = None if audio is None else audio.similarity_after
            draws = None if audio is None else audio.draws
            print(
                f"  run {run + 1}: {result.status} (voice similarity after {after}, "
                f"draws {draws}) {result.error or ''}",
                file=sys.stderr,
            )
    print(f"\n{clip.name}: released {released} of {times} runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[DEFAULT])
    parser.add_argument("--every", type=int, default=10, help="reference on every N-th frame")
    parser.add_argument("--no-deface", action="store_true")
    parser.add_argument("--repeat", type=int, default=0, metavar="N", help="runs of one clip")
    args = parser.parse_args()
    if args.repeat:
        for clip in args.paths:
            repeat(clip, args.repeat)
        return
    clips = sorted(
        p
        for folder in args.paths
        for p in (folder.iterdir() if folder.is_dir() else [folder])
        if p.suffix.lower() not in (".md", ".txt")
    )
    if not clips:
        print(f"no clips in {', '.join(map(str, args.paths))}", file=sys.stderr)
        sys.exit(2)
    deface = not args.no_deface
    if deface and not DEFACE_PYTHON.exists():
        print(f"deface's virtualenv is missing ({DEFACE_PYTHON}): make bench-real", file=sys.stderr)
        sys.exit(2)
    reference = [
        (get_detector(name), scale, threshold)
        for name, scale, threshold in unseen.Options(profile="thorough").passes()
    ]
    started = time.monotonic()
    rows: dict[str, list[Row]] = {"unseen": [], "deface": []}
    with tempfile.TemporaryDirectory(prefix="bench-real-") as work:
        for clip in clips:
            tools: dict[str, tuple[Iterator[Mask], Row]] = {}
            for tool, run in (("unseen", run_unseen), ("deface", run_deface)):
                if tool == "deface" and not deface:
                    continue
                row = Row(clip.name)
                rows[tool].append(row)
                masks = run(clip, Path(work), row)
                if masks is not None:
                    tools[tool] = (masks, row)
            score_leaks(clip.name, clip, tools, args.every, reference)
            print(f"  {clip.name}: done ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    report(rows, args.every, time.monotonic() - started)


def report(rows: dict[str, list[Row]], every: int, seconds: float) -> None:
    print(
        f"\nPer clip (reference: thorough profile on every {every}th frame, "
        f"faces >= {MIN_HEIGHT} px)"
    )
    print("| clip | tool | released | kept | leaked (all) | leaked (score >= 0.5) | s | note |")
    print("|---|---|---|---|---|---|---|---|")
    for tool, table in rows.items():
        for row in table:
            (total, leaked), (sure, sure_leaked) = row.leaks
            print(
                f"| {row.name} | {tool} | {'yes' if row.released else 'NO'} | "
                f"{'yes' if not row.kept else '; '.join(row.kept)} | {leaked}/{total} | "
                f"{sure_leaked}/{sure} | {row.seconds:.1f} | {row.reason[:120]} |"
            )
    print(
        "\n| tool | clips released | outputs that kept frames, timing, size and sound "
        "| leaked face-frames (all) | leaked (score >= 0.5) |"
    )
    print("|---|---|---|---|---|")
    for tool, table in rows.items():
        if not table:
            continue
        released = sum(r.released for r in table)
        whole = sum(r.released and not r.kept for r in table)
        total = sum(r.leaks[0][0] for r in table)
        leaked = sum(r.leaks[0][1] for r in table)
        sure = sum(r.leaks[1][0] for r in table)
        sure_leaked = sum(r.leaks[1][1] for r in table)
        print(
            f"| {tool} | {released}/{len(table)} | {whole}/{released} | {leaked}/{total} | "
            f"{sure_leaked}/{sure} |"
        )
    print(f"\n{seconds:.0f} s in all")


if __name__ == "__main__":
    main()
