"""Sound recordings: plan (where people speak, how their voices will be
protected), apply (the voice stage, then the file rebuilt from its samples
and read back)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from unseen.audio import Track, listen, protect_sound, sound_notes
from unseen.audio.io import AudioInfo, Samples, Sink, Source, check_output, output_rate
from unseen.handlers.base import (
    Run,
    Work,
    check_unchanged,
    fingerprint,
    not_for,
    open_sized,
    planned_voice,
)
from unseen.media.sniff import Kind
from unseen.output import write_atomic
from unseen.paths import Job
from unseen.plans import FilePlan, Voice
from unseen.types import SOUND_CHECKS, FileResult, Inspection, Verification


class AudioHandler:
    kind: Kind = "audio"

    def plan(self, job: Job, fmt: str, run: Run) -> FilePlan:
        info = _probe(job.source, fmt, run)
        size, digest = fingerprint(job.source)
        mode = run.options.voice
        speech = None if mode == "keep" else listen(_track(job.source, fmt, info, run))
        return FilePlan.of(
            job,
            self.kind,
            format=fmt,
            size=None,
            frames=0,
            bytes=size,
            sha256=digest,
            voice=Voice(mode, speech),
            metadata=info.metadata,
            notes=_rate_note(fmt, info),
        )

    def apply(self, work: Work, run: Run) -> FileResult:
        job, plan, target, force = work.job, work.plan, work.target, work.force
        info = _probe(job.source, work.fmt, run)
        if plan is not None:
            check_unchanged(plan, job.source)
        mode, heard = planned_voice(plan, run.options.voice)
        options = dataclasses.replace(run.options, voice=mode)

        def write(samples: Iterator[Samples]) -> None:
            written = [0]

            def encode(out: BinaryIO) -> None:
                sink = Sink(out, work.fmt, info.sample_rate, info.channels)
                for chunk in samples:
                    written[0] += chunk.shape[1]
                    sink.write(chunk)
                sink.close()

            write_atomic(target, encode, lambda p: check_output(p, info, written[0]), force=force)

        track = _track(job.source, work.fmt, info, run)
        summary = protect_sound(track, options, write, heard=heard)
        return FileResult(
            input=job.shown,
            output=os.fspath(target),
            status="ok",
            format=work.fmt,
            removed=info.metadata,
            notes=_rate_note(work.fmt, info) + sound_notes(summary),
            audio=summary,
            verification=Verification(
                skipped=("voice",) if options.voice == "keep" else (), checks=SOUND_CHECKS
            ),
        )

    def verify(self, protected: Path, fmt: str, original: Path | None, run: Run) -> Verification:
        raise not_for(self.kind, fmt)

    def inspect(self, path: Path, fmt: str, run: Run, faces: bool) -> Inspection:
        raise not_for(self.kind, fmt)


def _probe(path: Path, fmt: str, run: Run) -> AudioInfo:
    """What the recording holds, after checking it against the limits."""
    open_sized(path, run.options).close()
    with Source(path, fmt, max_seconds=run.options.max_audio_seconds) as source:
        return source.info


def _track(path: Path, fmt: str, info: AudioInfo, run: Run) -> Track:
    def chunks() -> Iterator[Samples]:
        with Source(path, fmt, max_seconds=run.options.max_audio_seconds) as source:
            yield from source.chunks()

    return Track(info.sample_rate, info.channels, chunks)


def _rate_note(fmt: str, info: AudioInfo) -> tuple[str, ...]:
    rate = output_rate(fmt, info.sample_rate)
    if rate == info.sample_rate:
        return ()
    return (f"written as Opus, which plays at {rate} Hz, from {info.sample_rate} Hz",)
