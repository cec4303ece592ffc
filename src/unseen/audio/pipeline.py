"""The voice stage: a sound track in, protected samples out, or nothing.

The same stage serves audio files and the sound tracks of videos (which it
settles before the first frame is encoded, so a voice that needs another
draw costs no re-encode of the pictures):

1. **listen**: where the track holds speech (:func:`~unseen.audio.vad.find_speech`);
2. a track without speech, or ``--voice keep``, is kept as it is;
3. a track with speech goes through the voice stream (``transform`` or
   ``replace``) whole, and the speaker attacker compares the original and
   the output where people speak. While it still matches, a new
   pseudo-voice is drawn, up to ``ATTEMPTS`` in all; then the file fails.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unseen.audio.io import Mono16k, Samples, Sink, Source
from unseen.audio.replace import RedactingStream, ReplaceStream, Untranscribable
from unseen.audio.speaker import SpeakerCheck
from unseen.audio.vad import find_speech
from unseen.audio.voice import VoiceStream, VoiceTransform
from unseen.config import VOICE_SIMILARITY_LIMIT, Options
from unseen.errors import CorruptMedia, InputError, VerificationFailed
from unseen.types import SOUND_CHECKS, AudioSummary, Finding, Speech, Verification

#: Pseudo-voices drawn for one track before giving up, when the attacker still
#: matches the output to the original (fresh secrets only: a fixed seed
#: always gives the same voice). The first is drawn from the whole of the
#: tuned ranges; each redraw is strong (:meth:`VoiceParams.draw`) and goes
#: the other way (up or down) from the last. On the recording whose voice
#: the attacker matched most often (qwen-audio_example-chongqing.wav), it
#: matched 2 of 8 draws shifted up and 7 of 8 shifted down, 1 of 16 strong
#: ones up: a voice may have one way out only. Choosing the way by the
#: similarities seen instead refused that file in 1 of 60 runs: a weak draw
#: matched at 0.80 made its way look worse than it is. With four draws it
#: was refused in about 1 run of 30 (four matched, the last at 0.76); with
#: six, 30 of 30 runs released it, one at the fifth draw (bench/real.py
#: --repeat 30 on it).
ATTEMPTS = 6


@dataclass(frozen=True)
class Track:
    """A sound track to protect: its format, and its samples, decoded from the
    start on each call of ``chunks`` (float32, shape (channels, n))."""

    sample_rate: int
    channels: int
    chunks: Callable[[], Iterator[Samples]]

    def heard(self) -> Iterator[Samples]:
        """The track from the start as the attackers hear it: 16 kHz mono."""
        ears = Mono16k(self.sample_rate, self.channels)
        for chunk in self.chunks():
            yield ears(chunk)
        yield ears(None)


class _StillRecognizable(VerificationFailed):
    pass


#: What a user can do when every pseudo-voice was still recognized.
_SUGGESTION = " (--voice replace re-speaks the words instead; --audio drop removes the sound)"


def protect_sound(
    track: Track,
    options: Options,
    write: Callable[[Iterator[Samples]], None],
    *,
    heard: Speech | None = None,
) -> AudioSummary:
    """Run the voice stage over ``track``: ``write`` receives the protected
    samples of one draw, and must consume them all (the release check runs
    when they end, and raises out of the iteration). ``heard`` is where the
    track holds speech when that is known already (a plan's); else the track
    is listened to. Returns what was done; raises
    :class:`~unseen.errors.VerificationFailed` when every draw still matched."""
    speech = None
    if options.voice != "keep":
        speech = heard if heard is not None else listen(track)
    try:
        return _protect(track, options, write, speech)
    except Untranscribable as exc:
        if options.redact_words:
            raise InputError(
                f"{exc}, so the words to remove (--redact-words) cannot be found: nothing "
                "was written (--audio drop removes the sound)",
                stage="voice",
            ) from None
        # Guessed words would be worse than a transformed voice, and
        # re-speaking only part of the file would leave the rest unprotected.
        transformed = _protect(
            track, dataclasses.replace(options, voice="transform"), write, speech
        )
        return dataclasses.replace(transformed, fallback=str(exc))


def _protect(
    track: Track,
    options: Options,
    write: Callable[[Iterator[Samples]], None],
    speech: Speech | None,
) -> AudioSummary:
    voiced = speech is not None and speech.found
    redraw = voiced and options.voice == "transform" and options.voice_seed is None
    draws = ATTEMPTS if redraw else 1
    up = None
    for draw in range(1, draws + 1):
        stream = transform = None
        if voiced:
            transform = voice_stream(track.sample_rate, track.channels, options, up)
            stream = None if transform is None else Attacked(transform, speech)
            voice = transform.stream if isinstance(transform, RedactingStream) else transform
            if isinstance(voice, VoiceStream):
                up = voice.params.pitch_shift < 0
        counted = _Count()
        try:
            write(_protected(track, stream, counted))
        except _StillRecognizable as exc:
            if draw < draws:
                continue
            tries = f" after {draws} pseudo-voices" if draws > 1 else ""
            sung = ""
            if speech is not None and speech.heard_by == "words":
                sung = (
                    " in the words the recognizer heard over other sound (singing over "
                    "music?), where it may be matching the music as much as the voice"
                )
            raise VerificationFailed(
                f"{exc.reason}{sung}{tries}; nothing was written{_SUGGESTION}",
                stage="verify",
                verification=exc.verification,
            ) from None
        before, after = (None, None) if stream is None else stream.similarity()
        return AudioSummary(
            voice=options.voice,
            sample_rate=track.sample_rate,
            channels=track.channels,
            seconds=counted.samples / track.sample_rate,
            similarity_before=before,
            similarity_after=after,
            speech=speech,
            draws=draw if stream is not None else 0,
            languages=tuple(transform.languages) if isinstance(transform, ReplaceStream) else (),
            redacted=(
                transform.redacted if isinstance(transform, ReplaceStream | RedactingStream) else 0
            ),
        )
    raise AssertionError("unreachable")


class Attacked:
    """A voice stream with the speaker attacker listening to both sides, where
    ``speech`` says people speak (everywhere when None): the verification
    stage of a sound track, beside the transform rather than inside it."""

    def __init__(self, stream: VoiceTransform, speech: Speech | None = None) -> None:
        self.stream = stream
        self._check = SpeakerCheck(speech)
        rate, channels = stream.sample_rate, stream.channels
        self._ears = (Mono16k(rate, channels), Mono16k(rate, channels))

    def process(self, samples: Samples) -> Samples:
        out = self.stream.process(samples)
        self._check.feed(self._ears[0](samples), self._ears[1](out))
        return out

    def flush(self) -> Samples:
        rest = self.stream.flush()
        original, protected = self._ears
        self._check.feed(original(None), np.concatenate([protected(rest), protected(None)]))
        return rest

    def similarity(self) -> tuple[float | None, float | None]:
        """What the speaker attacker made of the stream: ``(before, after)``
        as :class:`~unseen.audio.speaker.SpeakerCheck` defines them."""
        return self._check.result()


def listen(track: Track) -> Speech:
    """Where ``track`` holds speech."""
    return find_speech(track.heard)


def settle_sound(
    track: Track, options: Options, scratch: Path, *, heard: Speech | None = None
) -> AudioSummary:
    """The voice stage for a video's sound track, before its frames are
    encoded: the protected samples are written losslessly (FLAC, 16 bits)
    to ``scratch``, a file in the output's private folder, where
    :func:`settled` reads them back. Raises as :func:`protect_sound`."""

    def write(samples: Iterator[Samples]) -> None:
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            sink = Sink(out, "FLAC", track.sample_rate, track.channels)
            for chunk in samples:
                sink.write(chunk)
            sink.close()

    return protect_sound(track, options, write, heard=heard)


def settled(scratch: Path, options: Options) -> Iterator[Samples]:
    """The samples :func:`settle_sound` wrote to ``scratch``, as they are decoded."""
    with Source(scratch, "FLAC", max_seconds=options.max_audio_seconds) as source:
        yield from source.chunks()


class _Count:
    samples = 0


def _protected(track: Track, stream: Attacked | None, counted: _Count) -> Iterator[Samples]:
    """The track through ``stream`` (as it is when None), then the release check."""
    for chunk in track.chunks():
        counted.samples += chunk.shape[1]
        yield chunk if stream is None else stream.process(chunk)
    if counted.samples == 0:
        raise CorruptMedia("the sound track holds no audio samples", stage="decode")
    if stream is not None:
        yield stream.flush()
        release_check(stream)


def voice_stream(
    rate: int, channels: int, options: Options, up: bool | None = None
) -> VoiceTransform | None:
    """The transform that protects voices as ``options.voice`` says (None for
    "keep"); a redraw of the transform goes ``up`` or down, strong."""
    if options.voice == "transform":
        voice = VoiceStream(rate, channels, seed=options.voice_seed, up=up, strong=up is not None)
        if not options.redact_words:
            return voice
        return RedactingStream(voice, options.redact_words, options.language)
    if options.voice == "replace":
        return ReplaceStream(rate, channels, options.language, options.redact_words)
    return None


def release_check(stream: Attacked) -> tuple[float | None, float | None]:
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


def sound_notes(summary: AudioSummary) -> tuple[str, ...]:
    """What a user should know about how a sound track was treated."""
    speech = summary.speech
    if speech is None:
        return ()
    if not speech.found:
        return (
            f"no speech found in the sound ({speech.seconds:.1f} s, all of it checked): "
            "it is kept as it was",
        )
    notes = []
    if speech.heard_by == "words":
        notes.append(
            f"the speech recognizer heard words (singing?) in {speech.speech_seconds:.1f} s "
            "where the voice-activity model heard no speech: treated as speech"
        )
    if summary.draws > 1:
        notes.append(
            f"the attacker matched the first pseudo-voice(s): released with draw {summary.draws}"
        )
    if summary.fallback is not None:
        notes.append(
            f"--voice replace was asked for, but {summary.fallback}: the voice was "
            "transformed instead (the words are kept, in a pseudo-voice)"
        )
    if summary.redacted:
        notes.append(
            f"{summary.redacted} spoken word(s) or phrase(s) of --redact-words removed "
            "(a tone marks each)"
        )
    if summary.languages:
        notes.append(f"the words were re-spoken in: {', '.join(summary.languages)}")
    return tuple(notes)
