"""The review page's speed, as a person feels it: how long the page takes to
list a 300-photo folder, to open a photo and to go to the next one, and how
long it takes to scrub through a one-minute 1080p video, in Debian's
Chromium (driven by Playwright) against a real review server on 127.0.0.1.

- **Photos**: the first ``--photos`` (300) images of
  ../shared/data/faces/widerface-dev/images in sorted order, planned once
  (``unseen.plan``, default profile). Page load: from ``page.goto`` to every
  row of the overview in the table (a fresh tab each time, ``--loads``
  times, median). Open: a click on the first row until its picture is shown.
  Next photo: the key ``]`` until the next file's picture is shown,
  ``--steps`` times (median and p95); between two presses the page is left
  alone for ``--settle`` s, as a person looks at a photo before moving on.
- **Video**: a ``--seconds`` (60) s 1920x1080 H.264 MP4 at 30 fps, made by
  decoding ../shared/data/video-real/icpr2020dfdc_lynaeydofd.mp4 (a real 10 s
  1080p clip) over and over and encoding it again with libx264 (preset
  veryfast, a keyframe every ``--gop`` frames, 60 = 2 s, no scene-cut
  keyframes), planned once. Scrub: the slider set to ``--positions`` (60)
  frames spread evenly over the video (the middle of each 60th), one after
  the other from the start, each time waiting until that frame is shown
  (median, p95, and the sum: the whole-video sweep). Step: ``ArrowRight``
  ``--steps`` times from the middle of the video, each until the next frame
  is shown (median); ``ArrowLeft`` likewise, backwards. Each of scrub, step
  forward and step back runs against a fresh review (frames already served
  are cached by the server).
- **Server alone**: ``Review.picture(index, frame, "original")`` (decode and
  JPEG encode, no HTTP, no browser) for the same positions, after the same
  first frame.

"Shown" is the page's own signal: ``#stage[data-shown='<frame>-<view>']``,
set once the picture has loaded; it is removed before a next photo or a
scrub (where its value could stay the same), with Playwright's ``evaluate``,
which the page's Content-Security-Policy does not block.
Plans and the video are cached under ``--work`` (default
/tmp/unseen-bench-review) and reused when they name the same files, so only
the first run plans (about 1-2 s a photo and several minutes for the video
on 2 cores; the time it took is printed from the cache). Prints a markdown
table, with the machine.

Command::

    make bench-review
    .venv/bin/python bench/review.py --photos 20 --seconds 10   # quicker
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

import unseen
from unseen.plans import Plan, load
from unseen.review.server import ReviewServer
from unseen.review.session import Review

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
PHOTOS = SHARED / "faces" / "widerface-dev" / "images"
SOURCE = SHARED / "video-real" / "icpr2020dfdc_lynaeydofd.mp4"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
RATE = 30
SIZE = (1920, 1080)
#: Milliseconds Playwright waits for any one thing before the bench fails.
TIMEOUT_MS = 120_000
#: Sets the slider as a person's drag does: a value, then an ``input`` event.
SLIDE = "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }"
#: Forgets which picture is shown.
FORGET = "el => { delete el.dataset.shown; }"


@dataclass
class Figures:
    """What was measured, in seconds."""

    photos: int = 0
    loads: list[float] = field(default_factory=list)
    open_photo: float = 0.0
    next_photo: list[float] = field(default_factory=list)
    video: str = ""
    open_video: float = 0.0
    scrub: list[float] = field(default_factory=list)
    forward: list[float] = field(default_factory=list)
    backward: list[float] = field(default_factory=list)
    server_first: float = 0.0
    server: list[float] = field(default_factory=list)
    change: list[float] = field(default_factory=list)
    saved: float = 0.0
    planned: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


# -- inputs -------------------------------------------------------------------


def photos(count: int) -> list[Path]:
    found = sorted(PHOTOS.rglob("*.jpg"))
    if len(found) < count:
        print(f"{PHOTOS} holds {len(found)} photos, not {count}", file=sys.stderr)
        sys.exit(2)
    return found[:count]


def build_video(work: Path, seconds: int, gop: int) -> Path:
    """``SOURCE`` decoded again and again into ``seconds`` s of 1080p H.264 (cached)."""
    path = work / f"scrub-{seconds}s-1080p-g{gop}.mp4"
    if path.exists():
        return path
    total = seconds * RATE
    print(f"making {path.name} ({total} frames)...", file=sys.stderr)
    began = time.perf_counter()
    partial = path.with_suffix(".partial.mp4")
    with av.open(str(partial), "w") as out:
        stream = out.add_stream("libx264", rate=RATE)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        stream.options = {
            "preset": "veryfast",
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0",
        }
        written = 0
        while written < total:
            with av.open(str(SOURCE)) as source:
                for frame in source.decode(video=0):
                    if written == total:
                        break
                    if (frame.width, frame.height) != SIZE or frame.format.name != "yuv420p":
                        frame = frame.reformat(*SIZE, format="yuv420p")
                    frame.pts, frame.time_base = written, Fraction(1, RATE)
                    out.mux(stream.encode(frame))
                    written += 1
        out.mux(stream.encode(None))
    partial.replace(path)
    print(f"  made in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return path


def keyframes(path: Path) -> tuple[int, int]:
    """The video's packets and keyframes."""
    with av.open(str(path)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    return len(packets), sum(p.is_keyframe for p in packets)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def cached_plan(paths: Sequence[Path], cache: Path) -> tuple[Plan, str]:
    """The plan of ``paths``, from ``cache`` when it names the same files (and
    the same contents) and reads back, else made and cached; and how long
    planning took, as a text. The plan is always the one read back from the
    cache, so that a first run and a rerun measure the same plan."""
    wanted = sorted(str(p.resolve()) for p in paths)
    took = cache.with_suffix(".seconds")
    if cache.exists():
        try:
            planned = load(cache)
        except (unseen.UnseenError, LookupError, TypeError, ValueError) as exc:
            print(f"{cache.name} cannot be read ({exc}): planning again", file=sys.stderr)
        else:
            named = sorted([f.path for f in planned.files] + [f.input for f in planned.failed])
            same = named == wanted and all(
                f.bytes == Path(f.path).stat().st_size for f in planned.files
            )
            if same and len(paths) == 1:
                same = planned.files[0].sha256 == sha256(paths[0])
            if same:
                seconds = float(took.read_text()) if took.exists() else math.nan
                return planned, f"{seconds:.0f} s (cached in {cache})"
    print(f"planning {len(paths)} file(s), for {cache.name}...", file=sys.stderr)
    began = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % 25 == 0 or done == total:
            elapsed = time.perf_counter() - began
            print(f"  planned {done}/{total} ({elapsed:.0f} s)", file=sys.stderr)

    made = unseen.plan(paths, progress=progress)
    seconds = time.perf_counter() - began
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(made.dumps(), "utf-8")
    took.write_text(f"{seconds:.1f}\n")
    return load(cache), f"{seconds:.0f} s (now cached in {cache})"


# -- the server and the page ----------------------------------------------------


class Tab:
    """A tab on the review page, with its own browser context, counting the
    requests it has in flight (the crops of the regions listed, above all)."""

    def __init__(self, browser: Any, figures: Figures) -> None:
        self.page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.pending = 0
        self.page.on("request", lambda _: self._count(1))
        self.page.on("requestfinished", lambda _: self._count(-1))
        self.page.on("requestfailed", lambda _: self._count(-1))
        self.page.on("pageerror", lambda error: figures.errors.append(str(error)))
        self.page.on(
            "console",
            lambda m: figures.errors.append(m.text) if m.type == "error" else None,
        )

    def _count(self, change: int) -> None:
        self.pending += change

    def idle(self, quiet: float = 0.1, limit: float = 60.0) -> None:
        """Wait until the page has had no request in flight for ``quiet`` s."""
        deadline = time.monotonic() + limit
        calm: float | None = None
        while time.monotonic() < deadline:
            self.page.wait_for_timeout(20)  # Playwright delivers the events meanwhile
            if self.pending > 0:
                calm = None
            elif calm is None:
                calm = time.monotonic()
            elif time.monotonic() - calm >= quiet:
                return

    def shown(self, frame: int | None) -> None:
        """Wait until the page shows ``frame`` (any frame: None) of the file open."""
        wanted = "^='0-'" if frame is None else f"='{frame}-original'"
        self.page.wait_for_selector(f"#stage[data-shown{wanted}]")

    def forget(self) -> None:
        """Forget which picture is shown, so that the next one can be waited for."""
        self.page.locator("#stage").evaluate(FORGET)

    def close(self) -> None:
        self.page.context.close()  # without unloading: the page does not say goodbye


class Stopwatch:
    """``with Stopwatch() as clock: ...``, then ``clock.seconds``."""

    seconds = math.nan

    def __enter__(self) -> Stopwatch:
        self.began = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.began


def bench_photos(browser: Any, planned: Plan, out: Path, args: argparse.Namespace) -> Figures:
    figures = Figures(photos=len(planned.files))
    rows = len(planned.files) + len(planned.failed)
    last = f"#files tr:nth-child({rows})"
    with ReviewServer(Review(planned, out)).serving() as server:
        tab: Tab | None = None
        for n in range(args.loads):
            if tab is not None:
                tab.close()
            tab = Tab(browser, figures)
            page = tab.page
            with Stopwatch() as clock:
                page.goto(server.url)
                page.wait_for_selector(last)
            figures.loads.append(clock.seconds)
            assert page.locator("#files tr").count() == rows
            print(f"  page load {n + 1}: {figures.loads[-1]:.3f} s", file=sys.stderr)
        assert tab is not None
        tab.idle()
        first = page.locator("#files tr").first
        index = int(first.get_attribute("data-index") or 0)
        with Stopwatch() as clock:
            first.click()
            tab.shown(None)
        figures.open_photo = clock.seconds
        total = len(planned.files)
        for _ in range(args.steps):
            tab.idle()
            time.sleep(args.settle)
            tab.forget()
            index = (index + 1) % total
            with Stopwatch() as clock:
                page.keyboard.press("]")
                tab.shown(None)
            figures.next_photo.append(clock.seconds)
            where = page.inner_text("#where")
            assert f"({index + 1} of {total})" in where, where
        tab.close()
    return figures


def open_video(browser: Any, server: ReviewServer, figures: Figures, name: str) -> Tab:
    """A new tab on ``server``'s page, with the video open at its first frame."""
    tab = Tab(browser, figures)
    tab.page.goto(server.url)
    row = tab.page.locator("#files tr", has_text=name)
    with Stopwatch() as clock:
        row.click()
        tab.shown(0)
    figures.open_video = figures.open_video or clock.seconds  # the first, of three alike
    tab.idle()
    return tab


def bench_video(
    browser: Any, planned: Plan, out: Path, args: argparse.Namespace, figures: Figures
) -> None:
    index = next(i for i, f in enumerate(planned.files) if f.kind == "video")
    frames = planned.files[index].frames
    name = Path(planned.files[index].path).name
    positions = spread(frames, args.positions)

    with ReviewServer(Review(planned, out / "scrub")).serving() as server:
        tab = open_video(browser, server, figures, name)
        slider = tab.page.locator("#frame")
        for n, frame in enumerate(positions):
            tab.forget()
            with Stopwatch() as clock:
                slider.evaluate(SLIDE, frame)
                tab.shown(frame)
            figures.scrub.append(clock.seconds)
            tab.idle()
            if (n + 1) % 10 == 0:
                print(f"  scrubbed {n + 1}/{len(positions)}", file=sys.stderr)
        tab.close()

    middle = frames // 2
    for key, delta, times in (
        ("ArrowRight", 1, figures.forward),
        ("ArrowLeft", -1, figures.backward),
    ):
        with ReviewServer(Review(planned, out / key)).serving() as server:
            tab = open_video(browser, server, figures, name)
            slider = tab.page.locator("#frame")
            slider.evaluate(SLIDE, middle)
            tab.shown(middle)
            tab.idle()
            slider.focus()  # the page takes the arrows from the slider
            at = middle
            for _ in range(args.steps):
                at = min(frames - 1, max(0, at + delta))
                with Stopwatch() as clock:
                    tab.page.keyboard.press(key)
                    tab.shown(at)
                times.append(clock.seconds)
                tab.idle()
            tab.close()
        print(f"  {key}: {args.steps} frames", file=sys.stderr)


def bench_server(planned: Plan, out: Path, positions: Sequence[int], figures: Figures) -> None:
    index = next(i for i, f in enumerate(planned.files) if f.kind == "video")
    review = Review(planned, out)
    try:
        with Stopwatch() as clock:
            review.picture(index, 0, "original")
        figures.server_first = clock.seconds
        for frame in positions:
            with Stopwatch() as clock:
                review.picture(index, frame, "original")
            figures.server.append(clock.seconds)
    finally:
        review.close()


def bench_changes(planned: Plan, out: Path, count: int, figures: Figures) -> None:
    """A decision on the busiest photo's regions, one at a time (keep, then
    mask again), as the page's API makes it: until ``decide`` returns, and
    until every change is on disk."""
    index = max(range(len(planned.files)), key=lambda i: len(planned.files[i].regions))
    review = Review(planned, out)
    try:
        ids = [r.id for r in planned.files[index].regions][:count]
        with Stopwatch() as saved:
            for number, region in enumerate(ids):
                with Stopwatch() as clock:
                    review.decide(index, "keep" if number % 2 == 0 else "mask", ids=[region])
                figures.change.append(clock.seconds)
            review.flush()
        figures.saved = saved.seconds
    finally:
        review.close()


def spread(frames: int, count: int) -> list[int]:
    """``count`` frames spread evenly: the middle of each ``count``-th of the video."""
    count = min(count, frames)
    return sorted({min(frames - 1, int((i + 0.5) * frames / count)) for i in range(count)})


# -- the table ------------------------------------------------------------------


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.0f} ms"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def p95(values: Sequence[float]) -> float:
    return float(np.percentile(values, 95)) if values else math.nan


def report(figures: Figures, args: argparse.Namespace, seconds: float) -> None:
    loads = ", ".join(f"{v:.2f}" for v in figures.loads)
    n, p = len(figures.next_photo), len(figures.scrub)
    rows = [
        (
            f"Page load, {figures.photos} photos: goto to all rows listed "
            f"(median of {len(figures.loads)})",
            f"{median(figures.loads):.2f} s ({loads})",
        ),
        ("Open the first photo (click its row until shown)", ms(figures.open_photo)),
        (
            f"Next photo (`]` until shown), median / p95 of {n}",
            f"{ms(median(figures.next_photo))} / {ms(p95(figures.next_photo))}",
        ),
        (f"Open the video ({figures.video}) until frame 1 is shown", ms(figures.open_video)),
        (
            f"Scrub: slider to one of {p} positions until shown, median / p95",
            f"{ms(median(figures.scrub))} / {ms(p95(figures.scrub))}",
        ),
        (f"Whole-video sweep: the {p} positions in turn", f"{sum(figures.scrub):.1f} s"),
        (
            f"Step forward (ArrowRight) from the middle, median / p95 of {len(figures.forward)}",
            f"{ms(median(figures.forward))} / {ms(p95(figures.forward))}",
        ),
        (
            f"Step back (ArrowLeft) from the middle, median / p95 of {len(figures.backward)}",
            f"{ms(median(figures.backward))} / {ms(p95(figures.backward))}",
        ),
        (
            f"Server alone: `Review.picture` at the {p} positions, median / p95 (sum)",
            f"{ms(median(figures.server))} / {ms(p95(figures.server))} "
            f"({sum(figures.server):.1f} s)",
        ),
        ("Server alone: first frame (opens the video)", ms(figures.server_first)),
        (
            f"Server alone: a decision on one region of the busiest photo, median / p95 of "
            f"{len(figures.change)} (all of them, and saved)",
            f"{ms(median(figures.change))} / {ms(p95(figures.change))} ({figures.saved:.1f} s)",
        ),
    ]
    rows += [(f"Planning {what}", took) for what, took in figures.planned.items()]
    cores = os.cpu_count() or 0
    rows.append(("Machine", f"{cores} cores, {cpu()}, Chromium headless (Playwright)"))
    print()
    print("| figure | time |")
    print("|---|---|")
    for what, value in rows:
        print(f"| {what} | {value} |")
    if figures.errors:
        print(f"\nThe page reported {len(figures.errors)} error(s), first: {figures.errors[0]}")
    print(f"\n`{' '.join(sys.argv)}`: {seconds:.0f} s in all (settle {args.settle} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/unseen-bench-review"))
    parser.add_argument("--photos", type=int, default=300, help="photos in the folder")
    parser.add_argument("--loads", type=int, default=3, help="page loads (median)")
    parser.add_argument("--steps", type=int, default=30, help="next photos, frames stepped")
    parser.add_argument("--settle", type=float, default=0.5, help="s between two photos")
    parser.add_argument("--seconds", type=int, default=60, help="length of the video")
    parser.add_argument("--gop", type=int, default=60, help="frames between keyframes")
    parser.add_argument("--positions", type=int, default=60, help="scrubbing positions")
    args = parser.parse_args()
    if CHROMIUM is None:
        print("Chromium is missing (apt-get install chromium)", file=sys.stderr)
        sys.exit(2)
    if not PHOTOS.is_dir() or not SOURCE.exists():
        print(f"the shared data is missing ({PHOTOS}, {SOURCE})", file=sys.stderr)
        sys.exit(2)
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    folder = photos(args.photos)
    photo_plan, photo_took = cached_plan(folder, work / f"photos-{args.photos}.plan.json")
    clip = build_video(work, args.seconds, args.gop)
    video_plan, video_took = cached_plan([clip], clip.with_suffix(".plan.json"))
    packets, keys = keyframes(clip)
    out = work / "review-out"
    with sync_playwright() as playwright:
        # --no-sandbox: the bench may run as root, which Chromium's sandbox refuses.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            print("photos...", file=sys.stderr)
            figures = bench_photos(browser, photo_plan, out / "photos", args)
            figures.video = (
                f"{args.seconds} s, {SIZE[0]}x{SIZE[1]}, {packets} frames, {keys} keyframes"
            )
            print("video...", file=sys.stderr)
            bench_video(browser, video_plan, out / "video", args, figures)
        finally:
            browser.close()
    frames = video_plan.files[0].frames
    bench_server(video_plan, out / "server", spread(frames, args.positions), figures)
    bench_changes(photo_plan, out / "changes", args.steps, figures)
    figures.planned = {
        f"{len(folder)} photos (unseen.plan)": photo_took,
        f"the {args.seconds} s video (unseen.plan)": video_took,
    }
    report(figures, args, time.perf_counter() - started)


if __name__ == "__main__":
    main()
