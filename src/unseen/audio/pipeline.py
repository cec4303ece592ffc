"""One audio file in, one protected audio file out, or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from unseen.audio.io import Sink, Source, check_output, output_rate
from unseen.audio.voice import CheckedStream, VoiceStream
from unseen.config import VOICE_SIMILARITY_LIMIT, Options
from unseen.errors import CorruptMedia, VerificationFailed
from unseen.output import write_atomic
from unseen.types import SOUND_CHECKS, AudioSummary, Finding, Verification

#: Pseudo-voices drawn for one file before giving up, when the attacker still
#: matches the output to the original (fresh secrets only: a fixed seed
#: always gives the same voice).
ATTEMPTS = 3


class _StillRecognizable(VerificationFailed):
    pass


def protect_audio(
    source: Path, target: Path, fmt: str, options: Options, *, force: bool = False
) -> tuple[AudioSummary, tuple[str, ...], tuple[str, ...]]:
    """Write a protected copy of the audio file ``source`` at ``target``.

    Returns what was done, the "group:name" of each metadata item removed,
    and notes worth knowing (a sample rate the format forced).
    Raises :class:`~unseen.errors.UnseenError` and writes nothing when any
    stage fails, including when the speaker attacker still matches the
    transformed voice to the original.
    """
    retry = options.voice == "transform" and options.voice_seed is None
    for attempt in range(ATTEMPTS if retry else 1):
        try:
            return _attempt(source, target, fmt, options, force)
        except _StillRecognizable as exc:
            if attempt == (ATTEMPTS if retry else 1) - 1:
                tries = f" after {ATTEMPTS} pseudo-voices" if retry else ""
                raise VerificationFailed(
                    f"{exc.reason}{tries}; nothing was written",
                    stage="verify",
                    verification=exc.verification,
                ) from None
    raise AssertionError("unreachable")


def voice_stream(rate: int, channels: int, options: Options) -> CheckedStream | None:
    """The stream that protects voices as ``options.voice`` says (None for
    "keep"): for audio files and for the sound tracks of videos alike."""
    if options.voice == "transform":
        return VoiceStream(rate, channels, seed=options.voice_seed)
    if options.voice == "replace":
        from unseen.audio.replace import ReplaceStream  # loads Whisper: only when asked

        return ReplaceStream(rate, channels)
    return None


def release_check(stream: CheckedStream) -> tuple[float | None, float | None]:
    """The attacker's ``(before, after)`` once a stream was flushed; raises
    :class:`~unseen.errors.VerificationFailed` when the output's voice is
    still too close to the original's (then nothing may be released)."""
    before, after = stream.similarity()
    finding = voice_finding(after)
    if finding is not None:
        found = Verification((finding,), checks=SOUND_CHECKS)
        raise _StillRecognizable(finding.detail, stage="verify", verification=found)
    return before, after


def voice_finding(after: float | None) -> Finding | None:
    """The "voice" finding when the attacker's similarity between the original
    and the output (None: too little audio) is above the limit."""
    if after is None or after <= VOICE_SIMILARITY_LIMIT:
        return None
    return Finding(
        "voice",
        f"the speaker attacker still matches the voice to the original "
        f"(similarity {after:.2f}, limit {VOICE_SIMILARITY_LIMIT})",
    )


def _attempt(
    path: Path, target: Path, fmt: str, options: Options, force: bool
) -> tuple[AudioSummary, tuple[str, ...], tuple[str, ...]]:
    with Source(path, fmt, max_seconds=options.max_audio_seconds) as source:
        info = source.info
        stream = voice_stream(info.sample_rate, info.channels, options)
        counted = 0

        def write(out: BinaryIO) -> None:
            nonlocal counted
            sink = Sink(out, fmt, info.sample_rate, info.channels)
            for chunk in source.chunks():
                counted += chunk.shape[1]
                sink.write(chunk if stream is None else stream.process(chunk))
            if counted == 0:
                raise CorruptMedia("the file holds no audio samples", stage="decode")
            if stream is not None:
                sink.write(stream.flush())
                release_check(stream)
            sink.close()

        write_atomic(target, write, lambda p: check_output(p, info, counted), force=force)
    before, after = (None, None) if stream is None else stream.similarity()
    summary = AudioSummary(
        voice=options.voice,
        sample_rate=info.sample_rate,
        channels=info.channels,
        seconds=counted / info.sample_rate,
        similarity_before=before,
        similarity_after=after,
    )
    notes: tuple[str, ...] = ()
    if output_rate(fmt, info.sample_rate) != info.sample_rate:
        rate = output_rate(fmt, info.sample_rate)
        notes = (f"written as Opus at {rate} Hz: Opus cannot store {info.sample_rate} Hz",)
    return summary, info.metadata, notes
