"""Where people speak: Silero VAD (models.md), from the ONNX file inside the
``silero-vad`` wheel (MIT), run through onnxruntime without torch.

The voice stage changes speech and the speaker attacker scores speech only:
a sound track of digital silence, music or street noise carries no voice to
protect, and comparing it with itself told the attacker nothing but
"identical" (silence scored 1.00, music 0.87, README: Audio).

The model reads 16 kHz mono in windows of 512 samples (32 ms), each with
the 64 samples before it, and keeps a recurrent state from window to
window; it gives each window a probability of speech. Windows are turned
into segments as Silero's own ``get_speech_timestamps`` does: a segment
starts at a window at or above ``THRESHOLD``, goes on while windows stay
above ``THRESHOLD - 0.15``, ends after ``MIN_SILENCE`` seconds below it,
is kept when it lasts ``MIN_SPEECH`` seconds or more, and is widened by
``PAD`` seconds on each side. Memory is bounded: only the open segment and
the list of segments (two numbers each) are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from unseen.models import onnx_session, package_file
from unseen.types import Speech

#: The model's input: sample rate, samples per window, samples of context before it.
RATE = 16_000
WINDOW = 512
_CONTEXT = 64
#: A window at or above this probability starts speech (Silero's default);
#: speech goes on while windows stay above ``THRESHOLD - _HYSTERESIS``.
THRESHOLD = 0.5
_HYSTERESIS = 0.15
#: Seconds: shortest speech kept, silence that ends a segment, padding added on each side.
MIN_SPEECH = 0.25
MIN_SILENCE = 0.1
PAD = 0.03
#: A track whose samples all stay under this (about -60 dBFS: digital silence,
#: a muted phone's dither) is silent; anything louder that the voice-activity
#: model hears no speech in is given to the speech recognizer (find_speech).
SILENT_PEAK = 1e-3
#: Seconds the speech recognizer hears at a time (Whisper's own window).
WORDS_WINDOW = 30.0
#: Words count as speech when Whisper gives its segment a probability of
#: holding no speech below this (Whisper's own threshold). Sung lyrics
#: scored 0.25 and 0.53; words it made up in a 2-second buzz 0.68.
NO_SPEECH = 0.6
Floats = npt.NDArray[np.float32]


@cache
def _session() -> Any:
    return onnx_session(
        package_file(
            "silero_vad", "data/silero_vad.onnx", "pip install --no-deps silero-vad==6.2.3"
        )
    )


class SpeechFinder:
    """Finds speech in 16 kHz mono audio fed in pieces of any length.

    Example::

        finder = SpeechFinder()
        for piece in pieces:          # float32, 16 kHz, mono
            finder.feed(piece)
        speech = finder.result()      # Speech(segments=((1.2, 3.4), ...), seconds=...)
    """

    def __init__(self) -> None:
        self._session = _session()
        self._state = np.zeros((2, 1, 128), np.float32)
        self._context = np.zeros(_CONTEXT, np.float32)
        self._pending = np.zeros(0, np.float32)
        self._windows = 0
        self._samples = 0
        self._segments: list[tuple[float, float]] = []
        #: The open segment's first window, and the window where silence began in it.
        self._start: int | None = None
        self._quiet_from: int | None = None

    def feed(self, mono16k: Floats) -> None:
        """Add audio (float32, 16 kHz, mono)."""
        self._samples += len(mono16k)
        self._pending = np.concatenate([self._pending, np.asarray(mono16k, np.float32)])
        whole = len(self._pending) // WINDOW * WINDOW
        self._run(self._pending[:whole])
        self._pending = self._pending[whole:]

    def result(self) -> Speech:
        """The speech found in everything fed (the last partial window is padded with silence)."""
        if len(self._pending):
            tail = np.zeros(WINDOW, np.float32)
            tail[: len(self._pending)] = self._pending
            self._pending = np.zeros(0, np.float32)
            self._run(tail)
        if self._start is not None:
            self._close(self._windows)
        seconds = self._samples / RATE
        merged: list[tuple[float, float]] = []
        for start, end in self._segments:
            start, end = max(0.0, start - PAD), min(seconds, end + PAD)
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return Speech(tuple(merged), seconds)

    def _run(self, samples: Floats) -> None:
        for window in samples.reshape(-1, WINDOW):
            framed = np.concatenate([self._context, window])[None, :]
            self._context = window[-_CONTEXT:]
            out, self._state = self._session.run(
                None, {"input": framed, "state": self._state, "sr": np.array(RATE, np.int64)}
            )
            self._step(float(out[0, 0]))

    def _step(self, probability: float) -> None:
        index = self._windows
        self._windows += 1
        if probability >= THRESHOLD:
            self._quiet_from = None
            if self._start is None:
                self._start = index
            return
        if self._start is None or probability >= THRESHOLD - _HYSTERESIS:
            return
        if self._quiet_from is None:
            self._quiet_from = index
        if (index + 1 - self._quiet_from) * WINDOW >= MIN_SILENCE * RATE:
            self._close(self._quiet_from)

    def _close(self, end: int) -> None:
        assert self._start is not None
        if (end - self._start) * WINDOW >= MIN_SPEECH * RATE:
            self._segments.append((self._start * WINDOW / RATE, end * WINDOW / RATE))
        self._start = self._quiet_from = None


def find_speech(pieces: Callable[[], Iterable[Floats]]) -> Speech:
    """Where the sound that ``pieces`` yields (16 kHz mono, each call from the
    start) holds speech.

    The voice-activity model listens first. It takes singing over music for
    music (its highest probability was 0.19 on a song whose lyrics Whisper
    transcribed), so where it hears nothing in a track that is not silent,
    the speech recognizer (Whisper tiny.en, the model of ``--voice
    replace``) listens too, and the segments where it hears words (and
    does not itself doubt that there is speech, ``NO_SPEECH``) are speech.
    On street sound, music without voice and silence it heard nothing
    (README: Audio).
    """
    finder = SpeechFinder()
    peak = 0.0
    for piece in pieces():
        finder.feed(piece)
        peak = max(peak, float(np.abs(piece).max(initial=0.0)))
    speech = finder.result()
    if speech.found or peak < SILENT_PEAK:
        return speech
    return _words(pieces(), speech.seconds)


def _words(pieces: Iterable[Floats], seconds: float) -> Speech:
    from unseen.audio.replace import transcribe  # loads Whisper: only when needed

    window = int(WORDS_WINDOW * RATE)
    pending = np.zeros(0, np.float32)
    done = 0.0
    segments: list[tuple[float, float]] = []

    def listen(audio: Floats) -> None:
        # English words, as before Whisper base came: sung words in another
        # language are heard less well (a music track is not a language test).
        for segment in transcribe(audio, "en").segments:
            if segment.no_speech < NO_SPEECH and re.search(r"\w", segment.text):
                end = min(done + segment.end, seconds)
                if end > done + segment.start:
                    segments.append((done + segment.start, end))

    for piece in pieces:
        pending = np.concatenate([pending, piece])
        while len(pending) >= window:
            listen(pending[:window])
            pending, done = pending[window:], done + WORDS_WINDOW
    if len(pending):
        listen(pending)
    return Speech(tuple(segments), seconds, "words")
