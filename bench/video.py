"""Video: leaked face-frames and exposed tracks on clips with known ground
truth, and end-to-end speed and peak memory at 720p and 1080p, for unseen and
deface 1.5.0 on the same files in the same run.

Metric (../shared/docs/metrics.md section 2): a face *leaks* in a frame when
less than 80% of its visible box is masked in the output; a track is
*exposed* when its face leaks in at least one frame. Faces are counted where
at least half their box is visible (not behind an occluder, inside the
frame); the headline counts faces 24 px or taller.

Ground truth: real faces (../shared/data/faces/identity/lfw-10, their boxes
found once by unseen's ``thorough`` profile on the still photo) composited
with soft edges over real photographs without people (scikit-image's
``coffee``, ``rocket`` and ``chelsea``, panned slowly), moving along known
paths. Scenarios: a pan with two faces, a zoom from 24 to 220 px and back,
fast zigzag motion (45 px a frame, motion-blurred over 15 px), heads
rolling up to 40 degrees each way, dim faces (35-45% brightness), a face
passing behind a pole, a cut between two shots, and six small faces
(16-40 px). The faces are LFW photos, nearly frontal: turns away from the
camera (profiles) are not covered.

Masks are read from the outputs: unseen fills solid magenta, and a pixel is
masked when it is magenta in the output and not in the input; deface's exact
per-frame masks come from its own code (bench/deface_video_worker.py).

Speed: each tool's command line on the same 100-frame clip whose sound is a
real voice (vctk-4), in its own process (model loading included), wall clock
and peak resident memory; unseen keeps the sound (finding the speech,
transforming and attacking it), deface drops it (its default).

Command::

    make bench-video
    .venv/bin/python bench/video.py --frames 30        # quicker
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image
from skimage import data as skdata

import unseen
from unseen.config import PROFILES

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
FACES = SHARED / "faces" / "identity" / "lfw-10"
SPEECH = SHARED / "speech" / "vctk-4"
DEFACE_PYTHON = ROOT / "bench" / ".venv-deface" / "bin" / "python"
DEFACE_WORKER = ROOT / "bench" / "deface_video_worker.py"

PROTECTED = 0.8
MIN_HEIGHT = 24
RATE = 25
MAGENTA = (255, 0, 255)

Pixels = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]
#: Where a face is in frame i: (centre x, centre y, face height), or None when absent.
Path_ = Callable[[int], tuple[float, float, float] | None]


@dataclass
class Face:
    """A face photo, its face box, and a soft-edged head patch cut around it."""

    patch: Pixels
    alpha: npt.NDArray[np.float32]
    #: The face box inside the patch.
    box: Box


@dataclass
class Actor:
    face: Face
    path: Path_
    #: In-plane head rotation in frame i, degrees counterclockwise.
    roll: Callable[[int], float] = lambda i: 0.0
    #: Horizontal motion blur, in pixels of the frame.
    blur: int = 0
    #: Brightness factor of the face (dim light below 1).
    light: float = 1.0


@dataclass
class Scene:
    name: str
    frames: int
    #: Background name and pan speed (px a frame) for each frame.
    background: Callable[[int], tuple[str, float]]
    actors: list[Actor]
    #: Opaque occluders: (x1, y1, x2, y2) drawn over everything.
    occluders: list[tuple[int, int, int, int]] = field(default_factory=list)


def load_faces(count: int) -> list[Face]:
    """Faces from distinct people, each photo's face found by the thorough profile."""
    faces = []
    options = unseen.Options(profile="thorough")
    for person in sorted(p for p in FACES.iterdir() if p.is_dir())[:count]:
        photo = sorted(person.glob("*.jpg"))[0]
        found = unseen.inspect(photo, options=options).faces or ()
        best = max(found, key=lambda f: f.score)
        x1, y1, x2, y2 = best.face
        rgb = np.asarray(Image.open(photo).convert("RGB"))
        w, h = x2 - x1, y2 - y1
        cx1, cy1 = max(0, int(x1 - 0.45 * w)), max(0, int(y1 - 0.55 * h))
        cx2 = min(rgb.shape[1], int(x2 + 0.45 * w))
        cy2 = min(rgb.shape[0], int(y2 + 0.45 * h))
        patch = rgb[cy1:cy2, cx1:cx2]
        ph, pw = patch.shape[:2]
        ys, xs = np.mgrid[0:ph, 0:pw]
        r = ((xs + 0.5 - pw / 2) / (pw / 2)) ** 2 + ((ys + 0.5 - ph / 2) / (ph / 2)) ** 2
        alpha = np.clip((1.0 - r) / 0.25, 0, 1).astype(np.float32)
        faces.append(Face(patch, alpha, (x1 - cx1, y1 - cy1, x2 - cx1, y2 - cy1)))
    return faces


def backgrounds(size: tuple[int, int]) -> dict[str, Pixels]:
    """Real photographs without people, enlarged to 1.5x the frame for panning."""
    width, height = size
    return {
        name: np.asarray(
            Image.fromarray(getattr(skdata, name)()).resize(
                (int(width * 1.5), int(height * 1.5)), Image.Resampling.BICUBIC
            )
        )
        for name in ("coffee", "rocket", "chelsea")
    }


def render(
    scene: Scene, index: int, size: tuple[int, int], bgs: dict[str, Pixels]
) -> tuple[Pixels, list[Box | None]]:
    """Frame ``index`` of a scene and the box of each actor's face in it."""
    width, height = size
    name, speed = scene.background(index)
    bg = bgs[name]
    x0 = int(index * speed) % (bg.shape[1] - width)
    frame = bg[:height, x0 : x0 + width].astype(np.float32)
    boxes: list[Box | None] = []
    for actor in scene.actors:
        where = actor.path(index)
        if where is None:
            boxes.append(None)
            continue
        cx, cy, face_h = where
        fx1, fy1, fx2, fy2 = actor.face.box
        scale = face_h / (fy2 - fy1)
        ph, pw = actor.face.patch.shape[:2]
        sw, sh = max(2, round(pw * scale)), max(2, round(ph * scale))
        angle = actor.roll(index)
        centre = ((fx1 + fx2) / 2 * scale, (fy1 + fy2) / 2 * scale)
        patch = np.asarray(
            Image.fromarray(actor.face.patch).resize((sw, sh)).rotate(angle, center=centre),
            np.float32,
        )
        alpha = np.asarray(
            Image.fromarray(actor.face.alpha).resize((sw, sh)).rotate(angle, center=centre),
            np.float32,
        )
        patch = smear(patch * actor.light, actor.blur)
        alpha = smear(alpha, actor.blur)
        left = round(cx - (fx1 + fx2) / 2 * scale)
        top = round(cy - (fy1 + fy2) / 2 * scale)
        x1, y1 = max(0, left), max(0, top)
        x2, y2 = min(width, left + sw), min(height, top + sh)
        if x2 > x1 and y2 > y1:
            a = alpha[y1 - top : y2 - top, x1 - left : x2 - left, None]
            p = patch[y1 - top : y2 - top, x1 - left : x2 - left]
            frame[y1:y2, x1:x2] = frame[y1:y2, x1:x2] * (1 - a) + p * a
        # The box of the face ellipse, turned with the head.
        a, b = (fx2 - fx1) * scale / 2, (fy2 - fy1) * scale / 2
        t = math.radians(angle)
        hw = math.hypot(a * math.cos(t), b * math.sin(t))
        hh = math.hypot(a * math.sin(t), b * math.cos(t))
        mx, my = left + centre[0], top + centre[1]
        boxes.append((mx - hw, my - hh, mx + hw, my + hh))
    for ox1, oy1, ox2, oy2 in scene.occluders:
        frame[oy1:oy2, ox1:ox2] = (70, 60, 50)
    return frame.astype(np.uint8), boxes


def smear(image: npt.NDArray[np.float32], length: int) -> npt.NDArray[np.float32]:
    """Horizontal motion blur over ``length`` pixels."""
    if length <= 1:
        return image
    out = np.zeros_like(image)
    for shift in range(length):
        out += np.roll(image, shift - length // 2, axis=1)
    return out / length


def scenes(faces: list[Face], frames: int, size: tuple[int, int]) -> list[Scene]:
    w, h = size
    n = frames

    def still(name: str) -> Callable[[int], tuple[str, float]]:
        return lambda i: (name, 1.5)

    def bounce(x: float, lo: float, hi: float) -> float:
        span = hi - lo
        x = (x - lo) % (2 * span)
        return lo + (x if x < span else 2 * span - x)

    def drift(x: float, y: float, px: float) -> Path_:
        return lambda i: (x + i, y, px)

    half = n // 2
    pole = (w // 2 - 70, 0, w // 2 + 70, h)
    return [
        Scene(
            "pan",
            n,
            still("coffee"),
            [
                Actor(faces[0], lambda i: (100 + i * 12, h * 0.4, 90)),
                Actor(faces[1], lambda i: (w - 100 - i * 8, h * 0.65, 50)),
            ],
        ),
        Scene(
            "zoom",
            n,
            still("rocket"),
            [
                Actor(
                    faces[2],
                    lambda i: (w * 0.4 + i * 3, h * 0.5, 24 + 196 * math.sin(math.pi * i / n)),
                )
            ],
        ),
        Scene(
            "fast",
            n,
            still("chelsea"),
            [
                Actor(
                    faces[3],
                    lambda i: (
                        bounce(80 + 45 * i, 60, w - 60),
                        bounce(90 + 29 * i, 60, h - 60),
                        70,
                    ),
                    blur=15,
                )
            ],
        ),
        Scene(
            "turn",
            n,
            still("rocket"),
            [
                Actor(
                    faces[9],
                    lambda i: (w * 0.3 + 6 * i, h * 0.5, 70),
                    roll=lambda i: 40 * math.sin(2 * math.pi * i / 30),
                ),
                Actor(
                    faces[0],
                    lambda i: (w * 0.7, h * 0.4 + 2 * i, 40),
                    roll=lambda i: -35 * math.sin(2 * math.pi * i / 24),
                ),
            ],
        ),
        Scene(
            "dark",
            n,
            still("coffee"),
            [
                Actor(faces[1], lambda i: (w * 0.2 + 5 * i, h * 0.3, 50), light=0.35),
                Actor(faces[2], lambda i: (w * 0.8 - 7 * i, h * 0.6, 32), light=0.45),
            ],
        ),
        Scene(
            "occlusion",
            n,
            still("coffee"),
            [Actor(faces[4], lambda i: (w / 2 - 20 * (n / 2) + 20 * i, h * 0.45, 80))],
            [pole],
        ),
        Scene(
            "cut",
            n,
            lambda i: ("rocket", 1.0) if i < half else ("chelsea", 1.0),
            [
                Actor(faces[5], lambda i: (w * 0.3 + 2 * i, h * 0.5, 100) if i < half else None),
                Actor(faces[6], lambda i: (w * 0.7 - 3 * i, h * 0.4, 60) if i >= half else None),
                Actor(faces[7], lambda i: (w * 0.2, h * 0.7, 40) if i >= half else None),
            ],
        ),
        Scene(
            "small",
            n,
            still("coffee"),
            [
                Actor(faces[(8 + k) % len(faces)], drift(150 + k * 190, h * (0.3 + 0.08 * k), px))
                for k, px in enumerate((16, 20, 24, 28, 32, 40))
            ],
        ),
    ]


def write_scene(
    scene: Scene, path: Path, size: tuple[int, int], bgs: dict[str, Pixels], sound: bool
) -> list[list[Box | None]]:
    """Encode a scene (H.264, CRF 16, optionally with a voice) and return its boxes."""
    truth = []
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=RATE, options={"crf": "16", "preset": "veryfast"})
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        audio = out.add_stream("aac", rate=48000, layout="mono") if sound else None
        for i in range(scene.frames):
            frame, boxes = render(scene, i, size, bgs)
            truth.append(boxes)
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = i
            out.mux(video.encode(picture))
        out.mux(video.encode(None))
        if audio is not None:
            n = scene.frames * 48000 // RATE
            said = speech(n)
            for start in range(0, n, 4800):
                block = av.AudioFrame.from_ndarray(said[None, start : start + 4800], "fltp", "mono")
                block.sample_rate, block.pts, block.time_base = 48000, start, Fraction(1, 48000)
                out.mux(audio.encode(block))
            out.mux(audio.encode(None))
    return truth


@functools.cache
def _sentences() -> npt.NDArray[np.float32]:
    """One real speaker's ten sentences (vctk-4, p226), at 48 kHz mono."""
    parts = []
    for path in sorted((SPEECH / "p226").glob("*.wav")):
        with av.open(str(path)) as container:
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=48000)
            for frame in container.decode(audio=0):
                parts += [p.to_ndarray()[0] for p in resampler.resample(frame)]
            parts += [p.to_ndarray()[0] for p in resampler.resample(None)]
    return np.concatenate(parts).astype(np.float32)


def speech(n: int) -> npt.NDArray[np.float32]:
    """``n`` samples (48 kHz) of a real voice: the sound track of every clip
    with sound, so that the speed runs include finding speech and changing it."""
    said = _sentences()
    return np.ascontiguousarray(np.tile(said, n // len(said) + 1)[:n])


def decoded(path: Path) -> list[Pixels]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def magenta(rgb: Pixels) -> npt.NDArray[np.bool_]:
    r, g, b = (rgb[..., c].astype(np.int16) for c in range(3))
    return (r > 180) & (b > 180) & (g < 100)


@dataclass
class Tally:
    face_frames: int = 0
    leaked: int = 0
    tracks: int = 0
    exposed: int = 0
    small_frames: int = 0
    small_leaked: int = 0


def score(
    masks: list[npt.NDArray[np.bool_]], truth: list[list[Box | None]], scene: Scene, tally: Tally
) -> None:
    if len(masks) != len(truth):
        raise SystemExit(f"{scene.name}: {len(masks)} output frames for {len(truth)}")
    height, width = masks[0].shape
    hidden = np.zeros((height, width), bool)
    for ox1, oy1, ox2, oy2 in scene.occluders:
        hidden[oy1:oy2, ox1:ox2] = True
    for actor in range(len(scene.actors)):
        counted = leaked = 0
        for mask, boxes in zip(masks, truth, strict=True):
            box = boxes[actor]
            if box is None:
                continue
            x1, y1 = max(0, round(box[0])), max(0, round(box[1]))
            x2, y2 = min(width, round(box[2])), min(height, round(box[3]))
            area = (box[2] - box[0]) * (box[3] - box[1])
            visible = ~hidden[y1:y2, x1:x2]
            if x2 <= x1 or y2 <= y1 or visible.sum() < 0.5 * area:
                continue
            share = float(mask[y1:y2, x1:x2][visible].mean())
            big = box[3] - box[1] >= MIN_HEIGHT
            if big:
                counted += 1
                leaked += share < PROTECTED
            else:
                tally.small_frames += 1
                tally.small_leaked += share < PROTECTED
        if counted:
            tally.tracks += 1
            tally.exposed += leaked > 0
            tally.face_frames += counted
            tally.leaked += leaked


def use_passes(spec: str) -> None:
    """Replace the default profile's video passes: 'yunet:1:0.3,centerface:0.5:0.1'."""
    passes = tuple(
        (name, float(scale), float(threshold))
        for name, scale, threshold in (item.split(":") for item in spec.split(","))
    )
    PROFILES["default"] = dataclasses.replace(PROFILES["default"], video=passes)


#: Reference faces at least this confident are counted apart: the thorough
#: profile's low thresholds also return hands, ears and dark patches
#: (bench/real.py scores real clips against it).
CONFIDENT = 0.5


def long_run(minutes: float, faces: list[Face], passes: str, extra: list[str]) -> list[float]:
    """unseen's peak resident memory (MiB) in each quarter of its run on a
    ``minutes``-long 320x240 clip with sound: flat when the pipeline streams."""
    size = (320, 240)
    frames = round(minutes * 60 * RATE)
    scene = Scene(
        "long",
        frames,
        lambda i: ("coffee", 0.5),
        [Actor(faces[0], lambda i: (60 + (i * 3) % 200, 120, 60))],
    )
    samples: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-video-long-") as work:
        clip = Path(work) / "long.mp4"
        write_scene(scene, clip, size, backgrounds(size), sound=True)
        command = unseen_command(clip, Path(work) / "out", passes, extra)
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None:
            samples.append(tree_rss(proc.pid) / 1024)
            time.sleep(1)
        if proc.returncode != 0:
            raise SystemExit("unseen failed on the long clip")
    if not samples:
        return []
    n = len(samples)
    return [max(samples[q * n // 4 : (q + 1) * n // 4], default=0.0) for q in range(4)]


def unseen_command(source: Path, out: Path, passes: str, extra: list[str]) -> list[str]:
    """unseen's command line, in a process of its own (with the same video passes)."""
    code = (
        "import sys, runpy\n"
        f"sys.path.insert(0, {str(ROOT / 'bench')!r})\n"
        f"import video\nvideo.use_passes({passes!r}) if {passes!r} else None\n"
        "from unseen.cli.main import main\n"
        "sys.argv = ['unseen', *sys.argv[1:]]\nmain()\n"
    )
    return [sys.executable, "-c", code, "anonymize", str(source), "--out", str(out), "-q", *extra]


def deface_command(source: Path, out: Path) -> list[str]:
    deface = DEFACE_PYTHON.parent / "deface"
    return [str(deface), str(source), "-o", str(out / source.name)]


def tree_rss(pid: int) -> int:
    """Resident kB of a process and all its descendants (deface runs ffmpeg
    in child processes), 0 once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0
    rss = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:")), 0)
    return rss + sum(tree_rss(int(child)) for child in children)


def measured(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MiB, the process and its
    children together, sampled every 0.1 s) of one command.

    ``wait4``'s peak is not used: a child forked from this process starts
    with this process's memory counted in its peak."""
    peak = 0
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        while proc.poll() is None:
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.1)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"failed: {' '.join(command)}\n{errors.read().decode()}")
    return seconds, peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=50, help="frames per ground-truth clip")
    parser.add_argument("--speed-frames", type=int, default=100, help="frames per speed clip")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed runs")
    parser.add_argument("--no-truth", action="store_true", help="skip the ground-truth clips")
    parser.add_argument("--no-deface", action="store_true")
    parser.add_argument("--profile", default="default", help="unseen's profile")
    parser.add_argument(
        "--video-passes",
        default="",
        help="try other video passes: 'yunet:1:0.3,centerface:0.5:0.1'",
    )
    parser.add_argument(
        "--long",
        type=float,
        default=0,
        metavar="MINUTES",
        help="also protect a clip this long and sample unseen's memory",
    )
    args = parser.parse_args()
    if args.video_passes:
        use_passes(args.video_passes)
    options = {"profile": args.profile}
    extra = ["--profile", args.profile]
    if not FACES.is_dir():
        print(f"evaluation media not found at {FACES}", file=sys.stderr)
        sys.exit(2)
    deface = not args.no_deface
    if deface and not DEFACE_PYTHON.exists():
        print(
            f"deface's virtualenv is missing ({DEFACE_PYTHON}): run make bench-video",
            file=sys.stderr,
        )
        sys.exit(2)
    size = (1280, 720)
    started = time.monotonic()
    faces = load_faces(10)
    bgs = backgrounds(size)
    tallies = {"unseen": Tally(), "deface": Tally()}
    with tempfile.TemporaryDirectory(prefix="bench-video-") as work:
        root = Path(work)
        for scene in [] if args.no_truth else scenes(faces, args.frames, size):
            clip = root / f"{scene.name}.mp4"
            truth = write_scene(scene, clip, size, bgs, sound=False)
            inputs = decoded(clip)
            out = root / f"unseen-{scene.name}"
            run = unseen.anonymize([clip], out, options=unseen.Options(color=MAGENTA, **options))
            if not run.ok:
                raise SystemExit(f"unseen failed on {scene.name}: {run.failed[0].error}")
            masks = [
                magenta(o) & ~magenta(i)
                for o, i in zip(decoded(out / clip.name), inputs, strict=True)
            ]
            score(masks, truth, scene, tallies["unseen"])
            if deface:
                packed = root / f"{scene.name}-deface.npy"
                subprocess.run(
                    [
                        str(DEFACE_PYTHON),
                        str(DEFACE_WORKER),
                        str(clip),
                        str(root / f"deface-{scene.name}.mp4"),
                        str(packed),
                    ],
                    check=True,
                    capture_output=True,
                )
                bits = np.load(packed)
                dmasks = [
                    np.unpackbits(b)[: size[0] * size[1]].reshape(size[1], size[0]).astype(bool)
                    for b in bits
                ]
                score(dmasks, truth, scene, tallies["deface"])
            print(f"  {scene.name}: done ({time.monotonic() - started:.0f} s)", file=sys.stderr)
        speed: dict[str, dict[str, tuple[float, float]]] = {}
        if not args.no_speed:
            for label, dims in (("720p", (1280, 720)), ("1080p", (1920, 1080))):
                scene = scenes(faces, args.speed_frames, dims)[0]
                clip = root / f"speed-{label}.mp4"
                write_scene(scene, clip, dims, backgrounds(dims), sound=True)
                speed[label] = {
                    "unseen": measured(
                        unseen_command(clip, root / f"su-{label}", args.video_passes, extra)
                    )
                }
                if deface:
                    (root / f"sd-{label}").mkdir()
                    speed[label]["deface"] = measured(deface_command(clip, root / f"sd-{label}"))
    if args.long:
        quarters = long_run(args.long, faces, args.video_passes, extra)
        shown = ", ".join(f"{mib:.0f}" for mib in quarters)
        print(f"\n{args.long:g}-minute 320x240 clip: peak MiB in each quarter of the run: {shown}")
    report(tallies, speed, args, time.monotonic() - started)


def report(
    tallies: dict[str, Tally],
    speed: dict[str, dict[str, tuple[float, float]]],
    args: argparse.Namespace,
    seconds: float,
) -> None:
    passes = unseen.Options(profile=args.profile).passes(video=True)
    print(f"\nunseen --profile {args.profile}, video passes {passes}")
    if any(t.face_frames for t in tallies.values()):
        print(f"Ground truth: 8 clips x {args.frames} frames, 1280x720, faces >= {MIN_HEIGHT} px")
        print("| tool | leaked face-frames | exposed tracks | leaked face-frames < 24 px |")
        print("|---|---|---|---|")
        for tool, t in tallies.items():
            if not t.face_frames:
                continue
            print(
                f"| {tool} | {t.leaked}/{t.face_frames} ({100 * t.leaked / t.face_frames:.2f}%) "
                f"| {t.exposed}/{t.tracks} | {t.small_leaked}/{t.small_frames} |"
            )
    if speed:
        print(
            f"\nSpeed: {args.speed_frames}-frame clip with sound, "
            "whole command, model loading included"
        )
        print("| size | tool | fps | peak memory | ratio |")
        print("|---|---|---|---|---|")
        for label, tools in speed.items():
            base = tools.get("deface")
            for tool, (wall, rss) in tools.items():
                ratio = f"{base[0] / wall:.2f}x" if base else "-"
                fps = args.speed_frames / wall
                print(f"| {label} | {tool} | {fps:.2f} | {rss:.0f} MiB | {ratio} |")
    print(f"\n{seconds:.0f} s in all")


if __name__ == "__main__":
    main()
