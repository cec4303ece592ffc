"""The voice transform, as a stream: audio in, audio out, same length.

Each block of a few seconds is analysed with the WORLD vocoder (F0,
spectral envelope, aperiodicity), its parameters are changed, and it is
synthesised again. Several things change at once, because models.md
measured that no single knob (pitch, formants, McAdams) defeats a
speaker-verification model:

- **pitch**: the speaker's mean pitch (running mean) is moved 4 to 7
  semitones up or down and the contour's excursions are flattened, with a
  slow random drift;
- **formants**: the spectral envelope's frequency axis is warped by a
  drawn, non-uniform curve (vocal-tract length and shape), in the same
  direction as the pitch;
- **timbre**: the envelope's fine detail is smoothed away (cepstral
  liftering), the speaker's average envelope shape (running mean over
  voiced frames) is taken out, and a drawn spectral colouring is added;
- **breathiness**: aperiodicity is raised.

The ranges were tuned by hand on vctk-4 and fsdd-6 (bench/voice.py), once,
not per file; each file draws its own values from them.

The loudness contour of the input is put back on the output in 50 ms
frames, so pauses and silence stay as they were and non-speech sounds keep
their level. Finer frames (5 ms) cost intelligibility for nothing: Whisper
misheard 6.3% of words against 4.9%, at the same speaker EER (vctk-4).

Blocks are analysed with a margin on both sides and joined with a short
cross-fade, so there are no clicks at block borders, and the output does
not depend on how the caller cuts its input into pieces.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pyworld

Samples = npt.NDArray[np.float32]
_F64 = npt.NDArray[np.float64]

#: Seconds per block, analysis margin on each side, and cross-fade length.
BLOCK_SECONDS = 4.0
MARGIN_SECONDS = 0.3
FADE_SECONDS = 0.03
_FRAME_MS = 5.0
#: Frame of the loudness contour put back on the output, and the highest
#: peak it may give the output.
_LOUDNESS_MS = 50.0
_PEAK = 0.98
#: Cepstral coefficients of the average envelope that are kept (overall level and tilt).
_KEEP_TILT = 3


@dataclass(frozen=True)
class VoiceParams:
    """One pseudo-voice: the transform's settings, drawn once per file."""

    #: Shift of the speaker's mean pitch in semitones (away from it, up or
    #: down, kept within 75-320 Hz), and how much of the contour's
    #: excursions around the mean is kept (in log-frequency).
    pitch_shift: float
    pitch_range: float
    #: Frequency warp of the spectral envelope: output frequency (fraction of
    #: Nyquist) at evenly spaced input frequencies, monotonic, 0 and 1 fixed.
    warp: tuple[float, ...]
    #: Cepstral coefficients kept from the envelope (lower: smoother timbre).
    lifter: int
    #: A fixed spectral colouring: amplitudes (dB) of cosines over log-frequency.
    ripple_db: tuple[float, ...]
    #: Aperiodicity raised to this power (below 1: breathier).
    breath: float
    #: Standard deviation of the slow pitch drift, in semitones.
    drift: float
    #: How much of the speaker's average envelope shape is taken out (0 to 1).
    ltas: float

    @classmethod
    def draw(
        cls, rng: np.random.Generator, *, up: bool | None = None, strong: bool = False
    ) -> VoiceParams:
        """A pseudo-voice drawn at random from the tuned ranges; ``up`` fixes
        the direction of the pitch and formant shift (drawn when None);
        ``strong`` draws the formant warp and the removal of the speaker's
        average timbre from the stronger half of their ranges, the two that
        move the attacker most (on the voices it matched, its similarity
        fell with both)."""
        coin = bool(rng.random() < 0.5)
        up = coin if up is None else up
        lo, hi = (0.5, 1.0) if strong else (0.0, 1.0)
        share = rng.uniform(lo, hi)
        scale = 1.18 + 0.10 * share if up else 0.84 - 0.07 * share
        knots = 6
        steps = rng.uniform(0.6, 1.4, knots)
        base = np.linspace(0.0, 1.0, knots + 1)
        bent = np.concatenate([[0.0], np.cumsum(steps) / steps.sum()])
        warp = np.minimum(1.0, (0.7 * base + 0.3 * bent) * scale)
        warp[-1] = 1.0
        warp = np.maximum.accumulate(warp)
        return cls(
            pitch_shift=float(rng.uniform(4.0, 7.0) * (1 if up else -1)),
            pitch_range=float(rng.uniform(0.5, 0.8)),
            warp=tuple(float(v) for v in warp),
            lifter=int(rng.integers(26, 36)),
            ripple_db=tuple(float(v) for v in rng.uniform(-6.0, 6.0, 4)),
            breath=float(rng.uniform(0.6, 0.85)),
            drift=float(rng.uniform(0.3, 0.8)),
            ltas=0.7 + 0.3 * float(rng.uniform(lo, hi)),
        )


def new_secret() -> int:
    """A fresh random seed, never derived from the input."""
    return secrets.randbits(128)


class VoiceTransform(Protocol):
    """A voice stage as a stream: float32 samples of shape (channels, n) in,
    whatever output is ready out; ``flush`` returns the rest once the input
    has ended. Over a whole stream the output is exactly as long as the input.
    The speaker attacker listens beside it (:class:`~unseen.audio.pipeline.Attacked`)."""

    sample_rate: int
    channels: int

    def process(self, samples: Samples) -> Samples: ...

    def flush(self) -> Samples: ...


class VoiceStream:
    """Transforms the voices in a stream of audio, block by block.

    ``process`` takes float32 samples of shape (channels, n) and returns
    whatever output is ready (possibly none yet); ``flush`` returns the
    rest. Over a whole stream, the output has exactly as many samples as
    the input. Memory is bounded by one block, whatever the length.

    ``seed`` fixes the pseudo-voice (linkable across files); without it a
    fresh secret is drawn for this stream. ``up`` and ``strong`` are as in
    :meth:`VoiceParams.draw`.

    Example::

        stream = VoiceStream(48_000, 2)
        for chunk in chunks:            # float32, shape (2, n)
            sink.write(stream.process(chunk))
        sink.write(stream.flush())
    """

    def __init__(
        self,
        sample_rate: int,
        channels: int,
        *,
        seed: int | None = None,
        up: bool | None = None,
        strong: bool = False,
    ) -> None:
        if sample_rate < 4000 or channels < 1:
            raise ValueError(f"unusable audio: {sample_rate} Hz, {channels} channels")
        self.sample_rate, self.channels = sample_rate, channels
        self._seed = new_secret() if seed is None else seed
        self.params = VoiceParams.draw(np.random.default_rng([self._seed, 0]), up=up, strong=strong)
        self._block = int(BLOCK_SECONDS * sample_rate)
        self._margin = int(MARGIN_SECONDS * sample_rate)
        self._fade = int(FADE_SECONDS * sample_rate)
        self._ramp = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, self._fade))).astype(np.float32)
        self._world = _World(sample_rate, self.params)
        # Input from _start - margin (or 0) on; _start is the next block's first sample.
        self._pending = np.zeros((channels, 0), np.float32)
        self._pending_from = 0
        self._start = 0
        self._index = 0
        self._tail = np.zeros((channels, 0), np.float32)
        self._log_pitch: list[float] = []

    def process(self, samples: Samples) -> Samples:
        """Add input; return the output that is ready."""
        samples = np.asarray(samples, np.float32)
        if samples.ndim != 2 or samples.shape[0] != self.channels:
            raise ValueError(f"expected shape ({self.channels}, n), got {samples.shape}")
        self._pending = np.concatenate([self._pending, samples], axis=1)
        parts = []
        while self._available() >= self._start + self._block + self._margin:
            parts.append(self._run(self._start + self._block, final=False))
        return _join(parts, self.channels)

    def flush(self) -> Samples:
        """Return the rest of the output once the input has ended."""
        end = self._available()
        if end <= self._start:
            rest, self._tail = self._tail, np.zeros((self.channels, 0), np.float32)
        else:
            rest = self._run(end, final=True)
        return rest

    def _available(self) -> int:
        return self._pending_from + self._pending.shape[1]

    def _run(self, end: int, *, final: bool) -> Samples:
        """Transform the block [_start, end) and return finished output."""
        lo = max(0, self._start - self._margin - self._fade)
        hi = min(self._available(), end + self._margin)
        segment = self._pending[:, lo - self._pending_from : hi - self._pending_from]
        rng = np.random.default_rng([self._seed, 1, self._index])
        drift = rng.standard_normal(4)
        voiced = np.stack(
            [self._world.transform(channel, drift, self._log_pitch) for channel in segment]
        )
        head = self._start - self._fade if self._start else 0
        body = voiced[:, head - lo : end - lo]
        if self._tail.shape[1]:
            body[:, : self._fade] = (
                self._tail * (1 - self._ramp) + body[:, : self._fade] * self._ramp
            )
        if final:
            out, self._tail = body, np.zeros((self.channels, 0), np.float32)
        else:
            out, self._tail = body[:, : -self._fade], body[:, -self._fade :].copy()
        self._start = end
        self._index += 1
        keep_from = max(0, end - self._margin - self._fade)
        self._pending = self._pending[:, keep_from - self._pending_from :]
        self._pending_from = keep_from
        return out


class _World:
    """WORLD analysis, parameter changes and synthesis at one sample rate."""

    def __init__(self, rate: int, params: VoiceParams) -> None:
        self.rate = rate
        self.params = params
        self.fft = pyworld.get_cheaptrick_fft_size(rate)
        bins = self.fft // 2 + 1
        grid = np.linspace(0.0, 1.0, bins)
        knots = np.linspace(0.0, 1.0, len(params.warp))
        # The output bin at frequency f reads the input envelope at warp^-1(f).
        source = np.interp(grid, np.asarray(params.warp), knots) * (bins - 1)
        self._index = np.minimum(source.astype(np.int64), bins - 2)
        self._weight = source - self._index
        log_f = np.log(np.maximum(grid * rate / 2, 50.0) / 50.0)
        log_f /= log_f[-1]
        self._colour = np.zeros(bins)
        for k, db in enumerate(params.ripple_db):
            self._colour += db / 20 * np.log(10) * np.cos(np.pi * (k + 1) * log_f)
        self._loudness_frame = int(rate * _LOUDNESS_MS / 1000)
        self._ltas_sum = np.zeros(self.fft)
        self._ltas_count = 0

    def transform(self, x: Samples, drift: _F64, log_pitch: list[float]) -> Samples:
        """One channel of one block, transformed, same length."""
        signal = x.astype(np.float64)
        if not np.any(signal):
            return np.zeros_like(x)
        f0, times = pyworld.dio(signal, self.rate, frame_period=_FRAME_MS)
        f0 = pyworld.stonemask(signal, f0, times, self.rate)
        sp = pyworld.cheaptrick(signal, f0, times, self.rate, fft_size=self.fft)
        ap = pyworld.d4c(signal, f0, times, self.rate, fft_size=self.fft)
        f0 = self._pitch(f0, drift, log_pitch)
        sp = self._envelope(sp, f0 > 0)
        ap = np.clip(ap, 1e-6, 1.0) ** self.params.breath
        y = pyworld.synthesize(
            f0, np.ascontiguousarray(sp), np.ascontiguousarray(ap), self.rate, _FRAME_MS
        )
        y = _match_loudness(signal, y[: len(signal)], self._loudness_frame)
        return y.astype(np.float32)

    def _pitch(self, f0: _F64, drift: _F64, log_pitch: list[float]) -> _F64:
        voiced = f0 > 0
        if not np.any(voiced):
            return f0
        logs = np.log(f0[voiced])
        # The speaker's mean log pitch, over everything heard so far (bounded list).
        log_pitch.extend(logs[:: max(1, len(logs) // 200)].tolist())
        del log_pitch[:-5000]
        mean = float(np.mean(log_pitch))
        t = np.linspace(0, 1, len(f0))
        wobble = sum(d * np.sin(np.pi * (k + 1) * t) for k, d in enumerate(drift)) / 2
        wobble = wobble * self.params.drift / 12 * np.log(2)
        target = mean + self.params.pitch_shift / 12 * np.log(2)
        if not np.log(75.0) <= target <= np.log(320.0):
            target = mean - self.params.pitch_shift / 12 * np.log(2)
        out = np.zeros_like(f0)
        out[voiced] = np.exp(target + self.params.pitch_range * (logs - mean) + wobble[voiced])
        return out

    def _envelope(self, sp: _F64, voiced: npt.NDArray[np.bool_]) -> _F64:
        log_sp = np.log(np.maximum(sp, 1e-16))
        warped = (
            log_sp[:, self._index] * (1 - self._weight) + log_sp[:, self._index + 1] * self._weight
        )
        cepstrum = np.fft.irfft(warped, axis=1)
        lifter = self.params.lifter
        cepstrum[:, lifter : -lifter + 1] = 0.0
        # The speaker's average vocal-tract shape (the mean of the voiced
        # frames' cepstra beyond the overall tilt, over everything heard so
        # far) is taken out: what stays is how each sound differs from it.
        if np.any(voiced):
            self._ltas_sum += cepstrum[voiced].sum(axis=0)
            self._ltas_count += int(voiced.sum())
        if self._ltas_count:
            mean = self._ltas_sum / self._ltas_count
            detail = np.zeros_like(mean)
            detail[_KEEP_TILT:lifter] = mean[_KEEP_TILT:lifter]
            detail[-lifter + 1 : -_KEEP_TILT + 1] = mean[-lifter + 1 : -_KEEP_TILT + 1]
            cepstrum -= self.params.ltas * detail
        smooth = np.fft.rfft(cepstrum, axis=1).real
        return np.exp(smooth + self._colour)


def _match_loudness(x: _F64, y: _F64, frame: int) -> _F64:
    """Give ``y`` the frame-by-frame loudness of ``x`` (silence stays silence),
    its peaks held under ``_PEAK``: the new voice's waveform is peakier than
    the original's, and a recording near full scale would clip."""
    if len(y) < len(x):
        y = np.concatenate([y, np.zeros(len(x) - len(y))])
    n = len(x) // frame + 1
    pad = n * frame - len(x)
    frames_y = np.pad(y, (0, pad)).reshape(n, frame)
    ex = np.sqrt(np.mean(np.pad(x, (0, pad)).reshape(n, frame) ** 2, axis=1))
    ey = np.sqrt(np.mean(frames_y**2, axis=1))
    gain = np.minimum(ex / np.maximum(ey, 1e-9), 8.0)
    # Each frame's gain also keeps the peaks of it and its neighbours in
    # range, since the gain is interpolated between frame centres.
    peaks = np.abs(frames_y).max(axis=1)
    padded = np.pad(peaks, 1, mode="edge")
    near = np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])
    gain = np.minimum(gain, _PEAK / np.maximum(near, 1e-9))
    gain[ex < 1e-6] = 0.0
    centres = np.arange(n) * frame + frame / 2
    smooth: _F64 = np.interp(np.arange(len(x)), centres, gain)
    return y * smooth


def _join(parts: list[Samples], channels: int) -> Samples:
    if not parts:
        return np.zeros((channels, 0), np.float32)
    return np.concatenate(parts, axis=1)
