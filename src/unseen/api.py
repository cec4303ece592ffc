"""The library's entry points: a thin batch facade over the media handlers
(:mod:`unseen.handlers`). The CLI, and any other front end, call these.

- :func:`plan`: find what to protect in every file, write nothing;
- :func:`apply`: render, verify and publish the files as a plan says;
- :func:`iter_anonymize`: plan and apply each file in one run, yielding
  each file's result as it is done; :func:`anonymize` collects them;
- :func:`inspect` and :func:`verify_file`: read one file, write nothing.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from unseen import __version__
from unseen.config import VERIFY_RECOGNIZERS, Options
from unseen.errors import (
    InputError,
    OutputError,
    UnseenError,
    VerificationFailed,
)
from unseen.handlers import FrameProgress, Run, Work, handler_for, sniff_file
from unseen.media.image import FORMATS
from unseen.paths import Job, claim_outputs, collect
from unseen.plans import Failure, FilePlan, Plan, PlanError, options_dict
from unseen.types import FileResult, Inspection, RunReport, Verification
from unseen.verify import load_attackers

Progress = Callable[[int, int, FileResult], None]


def anonymize(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    options: Options | None = None,
    force: bool = False,
    skip_existing: bool = False,
    progress: Progress | None = None,
    frame_progress: FrameProgress | None = None,
) -> RunReport:
    """Protect every image, video and recording in ``inputs`` (files or
    folders, recursively), writing clean copies under ``out_dir`` with the
    same relative names: each file is planned and the plan applied, in one
    run. ``progress`` is called after each file with the files done, the
    files in all and the file's result; ``frame_progress`` after each video
    frame written, with the input as shown, frames done and frames expected.

    Never raises for a bad input file: each file's outcome, error included,
    is in the returned report. Inputs are never modified, and an output
    exists only if every stage succeeded for it.

    With ``skip_existing``, a file whose output already exists is left alone
    and reported as ``"skipped"``: outputs appear atomically, so an existing
    one is complete, and rerunning an interrupted batch finishes it.

    Example::

        report = anonymize(["photos/"], "safe/")
        assert report.ok, [f.error for f in report.failed]
    """
    options = options or Options()
    started = _now()
    batch = _Batch(inputs, out_dir, options, force, skip_existing)
    return batch.report(started, progress, frame_progress)


def iter_anonymize(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    options: Options | None = None,
    force: bool = False,
    skip_existing: bool = False,
    frame_progress: FrameProgress | None = None,
) -> Iterator[FileResult]:
    """:func:`anonymize`, yielding each file's result as soon as the file is
    done (its output published, or nothing written), so that a caller can
    stream them.

    Example::

        for result in iter_anonymize(["photos/"], "safe/"):
            print(result.input, result.status)
    """
    batch = _Batch(inputs, out_dir, options or Options(), force, skip_existing)
    yield from batch.results(frame_progress)


def plan(
    inputs: Sequence[str | os.PathLike[str]],
    *,
    options: Options | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Plan:
    """What :func:`anonymize` would do to every file in ``inputs``, as a
    :class:`~unseen.plans.Plan` that can be saved (``Plan.dumps``), edited
    and applied later (:func:`apply`). Writes nothing. ``out_dir``, if the
    outputs' folder is known, keeps it from being walked as an input;
    ``progress`` is called after each file with the files done and in all.

    Example::

        planned = plan(["photos/"])
        Path("plan.json").write_text(planned.dumps())
    """
    options = options or Options()
    run = Run.resolve(options)
    started = _now()
    files: list[FilePlan] = []
    failed: list[Failure] = []
    out = None if out_dir is None else Path(out_dir)
    jobs = claim_outputs(collect(list(inputs), out), _renamer(run.out_format))
    for done, job in enumerate(jobs, 1):
        try:
            if job.problem is not None:
                raise InputError(job.problem, stage="read")
            kind, fmt = sniff_file(job.source)
            files.append(handler_for(kind, fmt).plan(job, fmt, run))
        except UnseenError as exc:
            failed.append(Failure(job.shown, exc.reason, exc.stage))
        except OSError as exc:
            failed.append(Failure(job.shown, exc.strerror or str(exc), "io"))
        if progress is not None:
            progress(done, len(jobs))
    return Plan(__version__, started, options, tuple(files), tuple(failed))


def apply(
    planned: Plan,
    out_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    skip_existing: bool = False,
    progress: Progress | None = None,
    frame_progress: FrameProgress | None = None,
) -> RunReport:
    """Render every file of ``planned`` under ``out_dir`` as the plan says,
    with the plan's options: regions decided ``mask`` (or added by a person)
    are masked, regions decided ``keep`` are left visible and not attacked,
    each output is verified and published or nothing is written, as in
    :func:`anonymize`. An input that changed since it was planned fails.

    Example::

        report = apply(unseen.plans.load("plan.json"), "safe/")
    """
    started = _now()
    batch = _Batch([], out_dir, planned.options, force, skip_existing, planned)
    return batch.report(started, progress, frame_progress)


class _Batch:
    """The jobs of one run, checked against the output folder, and how each is done."""

    def __init__(
        self,
        inputs: Sequence[str | os.PathLike[str]],
        out_dir: str | os.PathLike[str],
        options: Options,
        force: bool,
        skip_existing: bool,
        planned: Plan | None = None,
    ) -> None:
        if force and skip_existing:
            raise ValueError("force and skip_existing exclude each other")
        self.out = Path(out_dir)
        self.force, self.skip_existing = force, skip_existing
        if self.out.exists() and not self.out.is_dir():
            raise OutputError(
                "the output path exists and is not a folder", path=self.out, stage="write"
            )
        check_out_dir(inputs, self.out)
        self.options = options
        self.run = Run.resolve(options)
        self.plans: tuple[FilePlan, ...] = ()
        #: The files that failed when they were planned: reported as failed.
        self.failures: tuple[Failure, ...] = ()
        if planned is None:
            self.jobs = claim_outputs(
                collect(list(inputs), self.out), _renamer(self.run.out_format)
            )
        else:
            self.jobs = claim_outputs(
                [Job(Path(f.path), f.input, Path(f.output)) for f in planned.files],
                lambda job: job.relative,
            )
            self.plans, self.failures = planned.files, planned.failed
        self.total = len(self.jobs) + len(self.failures)
        #: Every input, resolved: no output may replace one (a plan may name any output).
        self.sources = {os.path.realpath(job.source) for job in self.jobs}

    def results(self, frame_progress: FrameProgress | None) -> Iterator[FileResult]:
        for index, job in enumerate(self.jobs):
            planned = self.plans[index] if self.plans else None
            yield self._one(job, planned, frame_progress)
        for failure in self.failures:
            yield _failed(failure.input, failure.error, failure.stage, time.monotonic())

    def report(
        self, started: str, progress: Progress | None, frame_progress: FrameProgress | None
    ) -> RunReport:
        """Every file done in turn, ``progress`` told after each, as a report."""
        files = []
        for index, result in enumerate(self.results(frame_progress)):
            files.append(result)
            if progress is not None:
                progress(index + 1, self.total, result)
        return RunReport(__version__, started, _jsonable(self.options), tuple(files))

    def _one(
        self, job: Job, planned: FilePlan | None, frame_progress: FrameProgress | None
    ) -> FileResult:
        began = time.monotonic()
        target = self.out / job.relative
        try:
            if job.problem is not None:
                raise InputError(job.problem, stage="read")
            if os.path.realpath(target) in self.sources:
                raise OutputError("the output would replace an input", stage="write")
            if self.skip_existing and _is_plain_file(target):
                return FileResult(
                    input=job.shown,
                    output=os.fspath(target),
                    status="skipped",
                    seconds=time.monotonic() - began,
                )
            kind, fmt = sniff_file(job.source)
            if planned is not None and planned.kind != kind:
                raise PlanError(f"the input is no longer a {planned.kind} file", stage="plan")
            work = Work(job, fmt, planned, target, self.force, frame_progress)
            result = handler_for(kind, fmt).apply(work, self.run)
            return dataclasses.replace(result, seconds=time.monotonic() - began)
        except VerificationFailed as exc:
            return _failed(job.shown, exc.reason, exc.stage, began, exc.verification)
        except UnseenError as exc:
            return _failed(job.shown, exc.reason, exc.stage, began)
        except OSError as exc:
            return _failed(job.shown, exc.strerror or str(exc), "io", began)
        except Exception as exc:  # fail closed on anything unforeseen
            return _failed(job.shown, f"unexpected error: {type(exc).__name__}: {exc}", None, began)


def check_out_dir(
    inputs: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str]
) -> None:
    """Refuse an output folder that is one of the input folders: outputs (and
    reports, and a review's plan) would land next to the originals."""
    for given in inputs:
        if os.path.isdir(given) and os.path.realpath(given) == os.path.realpath(out_dir):
            raise OutputError(
                "the output folder is an input folder: outputs would land next to the "
                "originals; choose another --out",
                path=out_dir,
                stage="write",
            )


def _renamer(out_format: str | None) -> Callable[[Job], Path]:
    def rename(job: Job) -> Path:
        """``--format`` converts images only: videos and sound keep their names."""
        if out_format is None or job.problem is not None:
            return job.relative
        try:
            kind, _ = sniff_file(job.source)
        except (OSError, UnseenError):
            return job.relative  # the job fails later, with the reason
        if kind in ("video", "audio"):
            return job.relative
        return job.relative.with_suffix(FORMATS[out_format][0])

    return rename


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _jsonable(options: Options) -> dict[str, object]:
    out = options_dict(options)
    if options.voice_seed is not None:
        out["voice_seed"] = "hidden"  # it would let a reader re-create the pseudo-voice
    # The words someone wanted gone are never written where the output goes.
    out["redact_words"] = len(options.redact_words)
    return out


def _failed(
    shown: str,
    reason: str,
    stage: str | None,
    began: float,
    verification: Verification | None = None,
) -> FileResult:
    return FileResult(
        input=shown,
        output=None,
        status="failed",
        error=reason,
        stage=stage,
        seconds=time.monotonic() - began,
        verification=verification,
    )


def _is_plain_file(path: Path) -> bool:
    """A regular file, not a link to one: only such a file can be a published output."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def verify_file(
    protected: str | os.PathLike[str],
    original: str | os.PathLike[str] | None = None,
    *,
    options: Options | None = None,
    recognizers: Sequence[str] = VERIFY_RECOGNIZERS,
) -> Verification:
    """Attack ``protected``, whichever tool made it, and return what was found.

    With ``original``, every face the detection profile finds in it is
    attacked at the same place in ``protected`` (re-identification), and
    any face visible elsewhere in ``protected`` fails (residual faces); the
    two must have the same size. Alone, ``protected`` gets the checks that
    need no original: residual faces and metadata. ``recognizers`` names the
    attackers (``"sface"``, ``"dlib"``). Raises
    :class:`~unseen.errors.UnseenError` for files it cannot read.

    Example::

        found = verify_file("safe/IMG_0042.jpg", "photos/IMG_0042.jpg")
        print("pass" if found.passed else found.summary())
    """
    options = options or Options()
    run = dataclasses.replace(
        Run.resolve(options, attack=False), attackers=load_attackers(recognizers=recognizers)
    )
    kind, fmt = sniff_file(Path(protected))
    source = None if original is None else Path(original)
    return handler_for(kind, fmt).verify(Path(protected), fmt, source, run)


def inspect(
    path: str | os.PathLike[str], *, options: Options | None = None, faces: bool = True
) -> Inspection:
    """What identifying content one file carries: metadata by group, embedded
    images and, unless ``faces`` is false, the faces a detector finds.

    Faces are searched with a threshold below the masking one, so that the
    caller can see what a lower threshold would add; ``masked`` holds what
    anonymizing with ``options`` would paint. Raises
    :class:`~unseen.errors.UnseenError` for files it cannot read.
    """
    run = Run.resolve(options or Options(), attack=False)
    kind, fmt = sniff_file(Path(path))
    return handler_for(kind, fmt).inspect(Path(path), fmt, run, faces)
