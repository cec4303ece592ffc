"""``unseen`` commands.

Exit codes (documented in the README):
  0  every file was processed
  1  at least one file failed (its output was not written)
  2  the command line was wrong
  3  unseen could not start (a model missing, the output folder unusable)
  130 interrupted (no partial output is left behind)
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

import click

from unseen import __version__
from unseen.api import anonymize as run_anonymize
from unseen.api import inspect as run_inspect
from unseen.api import verify_file
from unseen.config import (
    AUDIO,
    FILLS,
    PROFILES,
    SHAPES,
    VERIFY_RECOGNIZERS,
    VOICES,
    WEAK_FILLS,
    Options,
    ProfileName,
)
from unseen.errors import ModelMissing, UnseenError
from unseen.media.image import FORMATS
from unseen.output import write_atomic
from unseen.paths import collect, display
from unseen.report import render_html
from unseen.types import FileResult, Inspection, Verification

EXIT_FAILED, EXIT_USAGE, EXIT_START, EXIT_INTERRUPTED = 1, 2, 3, 130
_DEFAULTS = Options()


def _error(path: str | None, reason: str) -> None:
    where = f"{display(path)}: " if path else ""
    click.echo(f"error: {where}{display(reason)}", err=True)


def _json(value: object) -> str:
    """JSON that any UTF-8 stream accepts. File names that are not valid UTF-8
    hold lone surrogates in Python; they are written as ``\\udcXX`` escapes,
    which ``json.loads`` turns back into the same names."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _free_report_path(out_dir: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"unseen-report-{stamp}.json"
    number = 2
    while os.path.lexists(path) or os.path.lexists(_html_path(path)):
        path = out_dir / f"unseen-report-{stamp}-{number}.json"
        number += 1
    return path


def _write(content: bytes, stream: BinaryIO) -> None:
    stream.write(content)


def _html_path(report_path: Path) -> Path:
    """The HTML report next to the JSON one: same name, ``.html``."""
    if report_path.suffix == ".html":
        return report_path.with_name(report_path.name + ".html")
    return report_path.with_suffix(".html")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="unseen")
def main() -> None:
    """Protect the people in photos before they are shared.

    unseen masks every face its detectors find, irreversibly, rebuilds each
    file from its pixels so that no metadata survives, and checks the result.
    It works offline and never modifies the originals.
    """


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "--out",
    "-o",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for the protected copies (created if missing).",
)
@click.option("--force", is_flag=True, help="Replace outputs that already exist.")
@click.option(
    "--skip-existing",
    is_flag=True,
    help="Leave outputs that already exist alone and report them as skipped "
    "(to finish an interrupted run).",
)
@click.option(
    "--fill",
    type=click.Choice(FILLS),
    default=_DEFAULTS.fill,
    show_default=True,
    help="How faces are covered. 'pixelate' and 'blur' are WEAKER: published "
    "attacks can recognize faces through them.",
)
@click.option(
    "--shape",
    type=click.Choice(SHAPES),
    default=_DEFAULTS.shape,
    show_default=True,
    help="Mask outline.",
)
@click.option(
    "--profile",
    type=click.Choice(list(PROFILES)),
    default=_DEFAULTS.profile,
    show_default=True,
    help="Detection effort: 'fast' is quicker, 'thorough' finds more small faces "
    "(measured figures in the README).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.01, 0.99),
    default=None,
    help="Detector score above which a face is masked, for every detector. Lower masks "
    "more. [default: each detector's threshold in the profile]",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.lower() for f in FORMATS] + ["jpg", "heic"], case_sensitive=False),
    help="Write this format instead of the input's.",
)
@click.option(
    "--frames",
    type=click.Choice(["all", "first"]),
    default=_DEFAULTS.frames,
    show_default=True,
    help="Animated images: protect all frames or keep the first.",
)
@click.option(
    "--audio",
    type=click.Choice(AUDIO),
    default=_DEFAULTS.audio,
    show_default=True,
    help="Videos: keep the sound (re-encoded, through the --voice stage) or drop it.",
)
@click.option(
    "--voice",
    type=click.Choice(VOICES),
    default=_DEFAULTS.voice,
    show_default=True,
    help="Audio: 'transform' gives each voice a new pseudo-voice (a fresh one per file); "
    "'replace' re-speaks the words with a synthetic voice and drops all other sound; "
    "'keep' leaves voices IDENTIFIABLE and only removes metadata.",
)
@click.option(
    "--voice-seed",
    type=click.IntRange(0, 2**63 - 1),
    default=None,
    help="Audio: the same pseudo-voice in every file for this number. Files that share "
    "a seed can be LINKED to each other; keep the number secret.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    help="Where to write the JSON report [default: OUT/unseen-report-TIME.json]; "
    "the HTML report goes next to it, with the suffix .html.",
)
@click.option(
    "--no-verify",
    is_flag=True,
    help="Do not attack the outputs before releasing them (residual faces, "
    "re-identification). NOT RECOMMENDED: recorded in the report.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print errors and the summary only.")
def anonymize(
    paths: tuple[str, ...],
    out_dir: Path,
    force: bool,
    skip_existing: bool,
    fill: str,
    shape: str,
    profile: str,
    threshold: float | None,
    fmt: str | None,
    frames: str,
    audio: str,
    voice: str,
    voice_seed: int | None,
    report_path: Path | None,
    no_verify: bool,
    quiet: bool,
) -> None:
    """Write protected copies of PATHS (files or folders) under --out.

    Every face found is masked, every file is rebuilt from its pixels alone, and
    nothing is ever written next to or over an input.
    """
    if force and skip_existing:
        raise click.UsageError("--force and --skip-existing exclude each other")
    # click has checked every choice against the same tables Options checks.
    settings: dict[str, Any] = {
        "fill": fill,
        "shape": shape,
        "profile": profile,
        "threshold": threshold,
        "format": fmt,
        "frames": frames,
        "audio": audio,
        "verify": not no_verify,
        "voice": voice,
        "voice_seed": voice_seed,
    }
    options = Options(**settings)
    if no_verify:
        click.echo(
            "WARNING: --no-verify: outputs will be released WITHOUT being attacked; a face "
            "left visible or recognizable will not be caught. The report records this.",
            err=True,
        )
    if fill in WEAK_FILLS:
        click.echo(
            f"warning: --fill {fill} is reversible by published attacks; "
            "use solid or noise to protect people",
            err=True,
        )
    if voice == "keep":
        click.echo(
            "warning: --voice keep leaves voices as they are: speaker recognition "
            "can identify the people speaking",
            err=True,
        )
    bar = (
        None
        if quiet or not sys.stderr.isatty()
        else click.progressbar(length=1, label="protecting", file=sys.stderr, show_pos=True)
    )

    videos = None if bar is None else _VideoProgress()

    def progress(done: int, total: int, result: FileResult) -> None:
        if videos is not None:
            videos.end()
        if result.status == "failed":
            _error(result.input, result.error or "failed")
        if bar is not None:
            bar.length = total
            bar.update(1)

    try:
        report = run_anonymize(
            list(paths),
            out_dir,
            options=options,
            force=force,
            skip_existing=skip_existing,
            progress=progress,
            frame_progress=videos,
        )
    except KeyboardInterrupt:
        click.echo("\ninterrupted: no partial output was left behind", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except UnseenError as exc:
        _error(exc.path, str(exc))
        sys.exit(EXIT_START)
    finally:
        if bar is not None:
            bar.render_finish()
    if not report.files:
        _error(None, "no files found in the given paths")
        sys.exit(EXIT_FAILED)
    # A default report never replaces another run's, even one from the same second.
    replace = force and report_path is not None
    report_path = report_path or _free_report_path(out_dir)
    html_path = _html_path(report_path)
    pages = (
        (report_path, (_json(report.to_dict()) + "\n").encode("utf-8")),
        # Names that are not valid UTF-8 become \udcXX escapes, as in the JSON.
        (html_path, render_html(report).encode("utf-8", "backslashreplace")),
    )
    for path, content in pages:
        try:
            write_atomic(path, functools.partial(_write, content), lambda p: None, force=replace)
        except (UnseenError, OSError) as exc:
            cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
            reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
            _error(str(path), f"cannot write the report: {reason}")
            sys.exit(EXIT_FAILED)
    summary = report.to_dict()["summary"]
    skipped = f"{summary['skipped']} skipped, " if skip_existing else ""
    click.echo(
        f"{summary['processed']} processed, {skipped}{summary['failed']} failed, "
        f"{summary['faces_masked']} faces masked",
        err=False,
    )
    transformed = sum(
        f.status == "ok" and f.audio is not None and f.audio.voice == "transform"
        for f in report.files
    )
    if transformed:
        click.echo(
            f"note: {transformed} file(s) with transformed voices: this resists comparison "
            "with other recordings, not an attacker who runs unseen on another recording of "
            "the speaker; --voice replace resists that (README: Audio)",
            err=True,
        )
    if not quiet:
        click.echo(f"outputs: {display(str(out_dir))}")
        click.echo(f"report:  {display(str(report_path))}")
        click.echo(f"         {display(str(html_path))}")
    sys.exit(0 if report.ok else EXIT_FAILED)


class _VideoProgress:
    """One line on stderr for the video being protected: frames done and time left."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.open = False

    def __call__(self, shown: str, done: int, total: int) -> None:
        now = time.monotonic()
        began = self.started.setdefault(shown, now)
        left = (now - began) / done * (total - done) if done else 0.0
        minutes, seconds = divmod(round(left), 60)
        line = f"{display(shown)}: frame {done}/{total}, {minutes}:{seconds:02d} left"
        click.echo(f"\r\x1b[K{line}", nl=False, err=True)
        self.open = True

    def end(self) -> None:
        """End the line once the video is done (its frame count was an estimate)."""
        if self.open:
            click.echo(err=True)
            self.open = False


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--no-faces", is_flag=True, help="Skip face detection (metadata only).")
@click.option(
    "--profile",
    type=click.Choice(list(PROFILES)),
    default=_DEFAULTS.profile,
    show_default=True,
    help="Detection profile whose thresholds decide what would be masked.",
)
def inspect(paths: tuple[str, ...], as_json: bool, no_faces: bool, profile: str) -> None:
    """Show what identifying content PATHS carry. Writes nothing.

    Lists faces found (with scores, including some below the masking
    threshold), every metadata field by group, and embedded images such as
    EXIF thumbnails.
    """
    options = Options(profile=cast(ProfileName, profile))
    failed = False
    results = []
    jobs = collect(list(paths))
    for job in jobs:
        if job.problem is not None:
            _error(job.shown, job.problem)
            failed = True
            continue
        try:
            found = run_inspect(job.source, options=options, faces=not no_faces)
        except UnseenError as exc:
            _error(job.shown, str(exc))
            failed = True
            continue
        results.append(found)
        if not as_json:
            _print_inspection(job.shown, found, options)
    if as_json:
        click.echo(_json([r.to_dict() for r in results]))
    if not jobs:
        _error(None, "no files found in the given paths")
    sys.exit(EXIT_FAILED if failed or not jobs else 0)


def _print_inspection(shown: str, found: Inspection, options: Options) -> None:
    w, h = found.size
    click.echo(f"{display(shown)}: {found.format} {w}x{h}, {found.frames} frame(s)")
    if found.faces is not None:
        above = [f for f in found.faces if found.would_mask(f)]
        click.echo(
            f"  faces: {len(above)} would be masked ({options.profile} profile), "
            f"{len(found.faces) - len(above)} weaker candidates would not"
        )
        for face in sorted(found.faces, key=lambda f: -f.score):
            x1, y1, x2, y2 = (round(v) for v in face.face)
            mark = "mask" if found.would_mask(face) else "below"
            click.echo(
                f"    [{mark}] score {face.score:.2f} frame {face.frame} "
                f"box {x1},{y1}-{x2},{y2} ({face.detector})"
            )
    groups: dict[str, list[str]] = {}
    for item in found.metadata:
        tag = "" if item.identifying else " (structural)"
        groups.setdefault(item.group, []).append(f"{item.name} = {item.value}{tag}")
    ident = len(found.identifying)
    click.echo(f"  metadata: {ident} identifying field(s)" + ("" if ident else " — none"))
    for group, lines in groups.items():
        click.echo(f"    {group}")
        for line in lines:
            click.echo(f"      {display(line)}")
    if found.embedded:
        click.echo(f"  embedded images: {len(found.embedded)}")
        for image in found.embedded:
            size = f" {image.size[0]}x{image.size[1]}" if image.size else ""
            nbytes = f", {image.nbytes:,} bytes" if image.nbytes else ""
            click.echo(f"    {image.kind}{size}{nbytes}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "--recognizer",
    "recognizers",
    multiple=True,
    type=click.Choice(["sface", "dlib"]),
    default=VERIFY_RECOGNIZERS,
    show_default=True,
    help="Face recognizer to attack with (repeat for several).",
)
@click.option(
    "--profile",
    type=click.Choice(list(PROFILES)),
    default=_DEFAULTS.profile,
    show_default=True,
    help="Detection profile that finds the faces in ORIGINAL.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def verify(
    files: tuple[str, ...], recognizers: tuple[str, ...], profile: str, as_json: bool
) -> None:
    """Attack a protected image or video, whichever tool made it. Writes nothing.

    \b
    unseen verify ORIGINAL PROTECTED
    unseen verify PROTECTED

    With ORIGINAL, every face found in it is attacked at the same place in
    PROTECTED: a face recognizer must no longer match it. Either way, a face
    visible outside those places, or identifying metadata, fails. A video is
    attacked frame by frame and, with ORIGINAL, its voice by the speaker
    attacker. Exits 0 only when every check run passes.
    """
    if len(files) > 2:
        raise click.UsageError("give ORIGINAL PROTECTED, or PROTECTED alone")
    protected = files[-1]
    original = files[0] if len(files) == 2 else None
    options = Options(profile=cast(ProfileName, profile))
    try:
        found = verify_file(protected, original, options=options, recognizers=recognizers)
    except ModelMissing as exc:
        _error(None, str(exc))
        sys.exit(EXIT_START)
    except UnseenError as exc:
        _error(exc.path or protected, str(exc))
        sys.exit(EXIT_FAILED)
    except OSError as exc:
        _error(exc.filename or protected, exc.strerror or str(exc))
        sys.exit(EXIT_FAILED)
    if as_json:
        click.echo(_json({"original": original, "protected": protected, **found.to_dict()}))
    else:
        _print_verification(protected, found)
    sys.exit(0 if found.passed else EXIT_FAILED)


def _print_verification(shown: str, found: Verification) -> None:
    verdict = "PASS" if found.passed else f"FAIL ({len(found.findings)} finding(s))"
    click.echo(f"{display(shown)}: {verdict}")
    for finding in found.findings:
        click.echo(f"  {display(str(finding))}")
    for score in found.faces:
        x1, y1, x2, y2 = score.box
        click.echo(
            f"  face at {x1},{y1}-{x2},{y2} frame {score.frame}: {score.recognizer} similarity "
            f"{score.before:.2f} unprotected, {score.after:.2f} here (match at {score.threshold:g})"
        )
    for check in found.skipped:
        reason = (
            "no original given" if check in ("reidentification", "face-structure") else "not run"
        )
        click.echo(f"  {check}: {reason}")
