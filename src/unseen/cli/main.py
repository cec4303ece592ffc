"""``unseen`` commands.

Exit codes (documented in the README):
  0  every file was processed
  1  at least one file failed (its output was not written)
  2  the command line was wrong
  3  unseen could not start (a model missing, the output folder unusable)
  130 interrupted (no partial output is left behind)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import click

from unseen import __version__
from unseen.api import anonymize as run_anonymize
from unseen.api import apply as run_apply
from unseen.api import check_out_dir, verify_file
from unseen.api import inspect as run_inspect
from unseen.api import plan as run_plan
from unseen.audio.redact import phrases
from unseen.config import PROFILES, SETTINGS, VERIFY_RECOGNIZERS, Options, ProfileName
from unseen.errors import ModelMissing, UnseenError
from unseen.output import json_text, write_document
from unseen.paths import collect, display
from unseen.plans import load as load_plan
from unseen.report import notices, warnings, write_reports
from unseen.review.server import ReviewServer
from unseen.review.session import SAVED_PLAN, Review
from unseen.types import FileResult, Inspection, RunReport, Verification

EXIT_FAILED, EXIT_USAGE, EXIT_START, EXIT_INTERRUPTED = 1, 2, 3, 130
_DEFAULTS = Options()


def _error(path: str | None, reason: str) -> None:
    where = f"{display(path)}: " if path else ""
    click.echo(f"error: {where}{display(reason)}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="unseen")
def main() -> None:
    """Protect the people in photos before they are shared.

    unseen masks every face its detectors find, irreversibly, rebuilds each
    file from its pixels so that no metadata survives, and checks the result.
    It works offline and never modifies the originals.
    """


def _settings(command: Callable[..., None]) -> Callable[..., None]:
    """The protection settings as options of ``command``, built from the one
    table that declares them (config.SETTINGS), and ``--redact-words``."""
    command = click.option(
        "--redact-words",
        "redact_file",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        help="Audio: a UTF-8 file of words and phrases (one a line: names, places, "
        "numbers) removed from what is said: not re-spoken, or covered by a tone. "
        "The report counts them, never says them.",
    )(command)
    for setting in reversed(SETTINGS):
        if setting.negates:
            command = click.option(
                setting.flag, setting.field, flag_value=False, default=True, help=setting.help
            )(command)
            continue
        kind: Any = setting.kind
        if setting.choices:
            kind = click.Choice(setting.choices + setting.aliases, case_sensitive=False)
        elif setting.bounds is not None:
            low, high = setting.bounds
            if setting.kind is float:
                kind = click.FloatRange(low, high)
            else:
                kind = click.IntRange(int(low), int(high))
        default = getattr(_DEFAULTS, setting.field)
        command = click.option(
            setting.flag,
            setting.field,
            type=kind,
            default=default,
            show_default=default is not None,
            help=setting.help,
        )(command)
    return command


def _options(settings: dict[str, Any]) -> Options:
    """The options the settings say (click has checked each against the table),
    with the phrases of ``--redact-words``."""
    redact: Path | None = settings.get("redact_file")
    words: tuple[str, ...] = ()
    if redact is not None:
        try:
            words = phrases(redact.read_text("utf-8").splitlines())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise click.BadParameter(str(exc), param_hint="--redact-words") from None
    try:
        return Options(**{s.field: settings[s.field] for s in SETTINGS}, redact_words=words)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


_OUTPUT_OPTIONS = (
    click.option(
        "--out",
        "-o",
        "out_dir",
        required=True,
        type=click.Path(path_type=Path),
        help="Folder for the protected copies (created if missing).",
    ),
    click.option("--force", is_flag=True, help="Replace outputs that already exist."),
    click.option(
        "--skip-existing",
        is_flag=True,
        help="Leave outputs that already exist alone and report them as skipped "
        "(to finish an interrupted run).",
    ),
    click.option(
        "--report",
        "report_path",
        type=click.Path(path_type=Path),
        help="Where to write the JSON report [default: OUT/unseen-report-TIME.json]; "
        "the HTML report goes next to it, with the suffix .html.",
    ),
    click.option("--quiet", "-q", is_flag=True, help="Print errors and the summary only."),
)


def _outputs(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_OUTPUT_OPTIONS):
        command = option(command)
    return command


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@_outputs
@_settings
def anonymize(
    paths: tuple[str, ...],
    out_dir: Path,
    force: bool,
    skip_existing: bool,
    report_path: Path | None,
    quiet: bool,
    **settings: Any,
) -> None:
    """Write protected copies of PATHS (files or folders) under --out.

    Every face found is masked, every file is rebuilt from its pixels alone, and
    nothing is ever written next to or over an input.
    """
    if force and skip_existing:
        raise click.UsageError("--force and --skip-existing exclude each other")
    options = _options(settings)
    _run(
        lambda progress, frames: run_anonymize(
            list(paths),
            out_dir,
            options=options,
            force=force,
            skip_existing=skip_existing,
            progress=progress,
            frame_progress=frames,
        ),
        options,
        out_dir,
        report_path,
        force,
        skip_existing,
        quiet,
    )


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "--out",
    "-o",
    "plan_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Where to write the plan (JSON, docs/plan.md).",
)
@click.option("--force", is_flag=True, help="Replace the plan file if it exists.")
@_settings
def plan(paths: tuple[str, ...], plan_path: Path, force: bool, **settings: Any) -> None:
    """Find what to protect in PATHS and write it as a plan. Writes nothing else.

    The plan lists every file with the regions found (each to be masked, or
    kept visible if you change its decision), where sound holds speech, and
    the metadata that will be removed; never pixels or metadata values. Edit
    it, then run `unseen apply PLAN --out DIR`.
    """
    options = _options(settings)
    for line in warnings(options):
        click.echo(line, err=True)
    try:
        planned = run_plan(list(paths), options=options)
        inputs = [f.path for f in planned.files] + [f.input for f in planned.failed]
        write_document(plan_path, planned.dumps().encode("utf-8"), force=force, inputs=inputs)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: no plan was written", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except UnseenError as exc:
        _error(exc.path or str(plan_path), str(exc))
        sys.exit(EXIT_START)
    for failure in planned.failed:
        _error(failure.input, failure.error)
    regions = sum(len(f.regions) for f in planned.files)
    click.echo(
        f"{len(planned.files)} planned, {len(planned.failed)} failed, {regions} regions to mask"
    )
    click.echo(f"plan: {display(str(plan_path))}")
    if not planned.files and not planned.failed:
        _error(None, "no files found in the given paths")
    sys.exit(EXIT_FAILED if planned.failed or not planned.files else 0)


@main.command()
@click.argument("plan_path", type=click.Path(path_type=Path, dir_okay=False))
@_outputs
def apply(
    plan_path: Path,
    out_dir: Path,
    force: bool,
    skip_existing: bool,
    report_path: Path | None,
    quiet: bool,
) -> None:
    """Render, verify and write the files of PLAN_PATH (from `unseen plan`)
    under --out, as the plan decides: regions marked "keep" stay visible, regions
    added with "source": "user" are masked. A file changed since it was planned
    is refused.
    """
    if force and skip_existing:
        raise click.UsageError("--force and --skip-existing exclude each other")
    try:
        planned = load_plan(plan_path)
    except UnseenError as exc:
        _error(str(plan_path), exc.reason)
        sys.exit(EXIT_USAGE)
    _run(
        lambda progress, frames: run_apply(
            planned,
            out_dir,
            force=force,
            skip_existing=skip_existing,
            progress=progress,
            frame_progress=frames,
        ),
        planned.options,
        out_dir,
        report_path,
        force,
        skip_existing,
        quiet,
    )


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--out",
    "-o",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the protected copies, the report and the review's plan.",
)
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Review this plan (from `unseen plan`) instead of planning PATHS.",
)
@click.option(
    "--restart",
    is_flag=True,
    help=f"Plan PATHS again, replacing a review saved in OUT/{SAVED_PLAN}.",
)
@click.option("--no-browser", is_flag=True, help="Print the page's address; open no browser.")
@_settings
def review(
    paths: tuple[str, ...],
    out_dir: Path,
    plan_path: Path | None,
    restart: bool,
    no_browser: bool,
    **settings: Any,
) -> None:
    """Check, correct and choose on a local page before anything is released.

    Plans PATHS (or takes --plan, or resumes the review saved in --out), then
    serves a page on 127.0.0.1 only, behind a random token: every file with
    its regions, to keep visible or mask, regions to add where a face was
    missed, a protected preview, and Export, which applies the plan through
    the same verified, fail-closed path as `unseen apply`. Every decision is
    saved in OUT/unseen-review-plan.json as it is made. Stops on Ctrl-C or
    when the page is closed.
    """
    saved = out_dir / SAVED_PLAN
    if plan_path is not None and paths:
        raise click.UsageError("give PATHS or --plan, not both")
    options = _options(settings)
    try:
        if plan_path is not None:
            planned = load_plan(plan_path)
        elif saved.exists() and not restart:
            planned = load_plan(saved)
            click.echo(
                f"resuming the review saved in {display(str(saved))} (--restart: plan again)"
            )
        elif not paths:
            raise click.UsageError("give PATHS to review (or --plan)")
        else:
            check_out_dir(paths, out_dir)
            for line in warnings(options):
                click.echo(line, err=True)
            planned = run_plan(
                list(paths), options=options, out_dir=out_dir, progress=_planning(len(paths))
            )
        session = Review(planned, out_dir)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: nothing was written", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except UnseenError as exc:
        _error(exc.path or str(plan_path or out_dir), exc.reason)
        sys.exit(EXIT_START)
    for failure in planned.failed:
        _error(failure.input, failure.error)
    server = ReviewServer(session)

    def ready(url: str) -> None:
        click.echo(f"review: {url}")
        click.echo("(the address holds a secret token: do not share it; Ctrl-C stops the review)")

    try:
        server.run(open_browser=not no_browser, ready=ready)
    except KeyboardInterrupt:  # Ctrl-C is how a review is stopped
        click.echo(err=True)
    click.echo(f"review closed; its decisions are in {display(str(saved))}")
    click.echo(f"apply them again with: unseen apply {display(str(saved))} --out DIR")


def _planning(given: int) -> Callable[[int, int], None] | None:
    """A line on stderr counting the files planned, when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None

    def progress(done: int, total: int) -> None:
        click.echo(f"\r\x1b[Kplanning: {done}/{total} files", nl=done == total, err=True)

    return progress


def _run(
    start: Callable[[Any, Any], RunReport],
    options: Options,
    out_dir: Path,
    report_path: Path | None,
    force: bool,
    skip_existing: bool,
    quiet: bool,
) -> None:
    """Run a batch with a progress bar, write its reports, say what it did, exit."""
    for line in warnings(options):
        click.echo(line, err=True)
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
        report = start(progress, videos)
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
    try:
        written, html = write_reports(
            report, out_dir, report_path, force=force and report_path is not None
        )
    except (UnseenError, OSError) as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        _error(str(report_path or out_dir), f"cannot write the report: {reason}")
        sys.exit(EXIT_FAILED)
    summary = report.to_dict()["summary"]
    skipped = f"{summary['skipped']} skipped, " if skip_existing else ""
    click.echo(
        f"{summary['processed']} processed, {skipped}{summary['failed']} failed, "
        f"{summary['faces_masked']} faces masked",
        err=False,
    )
    for line in notices(report):
        click.echo(line, err=True)
    if not quiet:
        click.echo(f"outputs: {display(str(out_dir))}")
        click.echo(f"report:  {display(str(written))}")
        click.echo(f"         {display(str(html))}")
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
        click.echo(json_text([r.to_dict() for r in results]))
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
        click.echo(json_text({"original": original, "protected": protected, **found.to_dict()}))
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
