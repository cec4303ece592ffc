"""Test audio made in the tests: speech, a speech-like signal, and files
carrying tags.

``spoken`` is real synthetic speech (eSpeak NG, which unseen ships for
``--voice replace``): the voice-activity model hears it as speech, so a
file holding it goes through the voice stage.

``speech`` is a source-filter imitation of speech: a glottal pulse train
with a moving pitch, shaped by the formants of a sequence of vowels, in
syllables separated by short pauses and noisy consonants. It is enough for
the vocoder and the speaker encoder to treat it as a voice, not for the
voice-activity model: a file holding only it counts as one without speech.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cache
from pathlib import Path

import av
import numpy as np
from scipy.signal import lfilter

#: (F1, F2, F3) in Hz: a, i, u, e, o.
VOWELS = (
    (730, 1090, 2440),
    (270, 2290, 3010),
    (300, 870, 2240),
    (530, 1840, 2480),
    (570, 840, 2410),
)

#: Planted in every tag; none may survive in an output.
TAG_SECRETS = {"title": "Testimony of Jane Doe", "artist": "Jane Doe", "comment": "SERIAL-4242"}

#: (muxer, codec, file suffix) per format, to write test inputs.
FORMATS = {
    "WAV": ("wav", "pcm_s16le", ".wav"),
    "AIFF": ("aiff", "pcm_s16be", ".aiff"),
    "FLAC": ("flac", "flac", ".flac"),
    "MP3": ("mp3", "libmp3lame", ".mp3"),
    "OGG": ("ogg", "libopus", ".ogg"),
    "M4A": ("ipod", "aac", ".m4a"),
}


#: What ``spoken`` says, over and over.
SENTENCES = (
    "The meeting at the old library starts at nine tomorrow morning.",
    "Bring the documents, and do not tell anyone where we are going.",
    "I saw the soldiers take my neighbour away in a grey van.",
)


@cache
def _said(rate: int) -> np.ndarray:
    from unseen.audio.io import resample_mono
    from unseen.audio.speak import engine

    pause = np.zeros(int(0.3 * rate), np.float32)
    parts = []
    for sentence in SENTENCES:
        parts += [resample_mono(engine().say(sentence, 160), engine().rate, rate), pause]
    said = np.concatenate(parts)
    return (0.5 * said / np.abs(said).max()).astype(np.float32)


def spoken(seconds: float, rate: int = 16_000) -> np.ndarray:
    """``seconds`` of real synthetic speech (eSpeak NG), mono float32."""
    said = _said(rate)
    n = int(seconds * rate)
    return np.tile(said, n // len(said) + 1)[:n].copy()


def speech(seconds: float, rate: int = 16_000, pitch: float = 120.0, seed: int = 0) -> np.ndarray:
    """Speech-like mono audio, float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    f0 = pitch * (1 + 0.12 * np.sin(2 * np.pi * 0.7 * t) + 0.04 * np.sin(2 * np.pi * 3.1 * t))
    phase = np.cumsum(f0 / rate)
    pulses = np.diff(np.floor(phase), prepend=0.0)
    source = lfilter([1.0], [1.0, -0.95], pulses)  # glottal roll-off
    out = np.zeros(n)
    syllable = int(0.22 * rate)
    for start in range(0, n, int(0.3 * rate)):
        stop = min(n, start + syllable)
        piece = source[start:stop]
        for formant, width in zip(VOWELS[rng.integers(len(VOWELS))], (80, 100, 140), strict=True):
            r = np.exp(-np.pi * width / rate)
            theta = 2 * np.pi * formant / rate
            piece = lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], piece)
        out[start:stop] += piece * np.hanning(stop - start)
        hiss = min(n, stop + int(0.04 * rate))
        out[stop:hiss] += 0.02 * rng.standard_normal(hiss - stop)
    return (0.5 * out / np.max(np.abs(out))).astype(np.float32)


def write_audio(
    path: Path, fmt: str, samples: np.ndarray, rate: int, *, tags: dict[str, str] | None = None
) -> Path:
    """Write (channels, n) float samples as ``fmt``, with ``tags`` in the container."""
    muxer, codec, _ = FORMATS[fmt]
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    with av.open(str(path), "w", format=muxer) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        target = stream.metadata if fmt == "OGG" else container.metadata
        for key, value in (tags or {}).items():
            target[key] = value
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, np.float32), format="fltp", layout=layout
        )
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def with_id3_cover(mp3: bytes, picture: bytes) -> bytes:
    """An MP3 with an ID3v2.3 tag holding a title and a cover picture in front."""

    def frame(name: bytes, body: bytes) -> bytes:
        return name + struct.pack(">I", len(body)) + b"\x00\x00" + body

    frames = frame(b"TIT2", b"\x00" + TAG_SECRETS["title"].encode()) + frame(
        b"APIC", b"\x00image/png\x00\x03cover\x00" + picture
    )
    size = len(frames)
    synchsafe = bytes((size >> s) & 0x7F for s in (21, 14, 7, 0))
    return b"ID3\x03\x00\x00" + synchsafe + frames + mp3


def with_flac_picture(flac: bytes, picture: bytes) -> bytes:
    """A FLAC file with a PICTURE metadata block (cover art) after STREAMINFO."""
    assert flac[:4] == b"fLaC"
    streaminfo = flac[4 : 4 + 4 + 34]
    rest = flac[4 + 4 + 34 :]
    mime, desc = b"image/png", b"cover"
    body = (
        struct.pack(">II", 3, len(mime))
        + mime
        + struct.pack(">I", len(desc))
        + desc
        + struct.pack(">IIIII", 1, 1, 24, 0, len(picture))
        + picture
    )
    header = bytes([streaminfo[0] & 0x7F]) + streaminfo[1:]  # STREAMINFO no longer last
    block = bytes([6]) + len(body).to_bytes(3, "big") + body
    return b"fLaC" + header + block + rest


class Rigged:
    """A voice stage that does what the test says (``change``) instead of
    protecting the voice; the speaker attacker listens beside it as usual."""

    def __init__(
        self, rate: int, channels: int, change: Callable[[np.ndarray], np.ndarray]
    ) -> None:
        self.sample_rate, self.channels, self.change = rate, channels, change

    def process(self, samples: np.ndarray) -> np.ndarray:
        return self.change(samples)

    def flush(self) -> np.ndarray:
        return np.zeros((self.channels, 0), np.float32)
