"""Speech first: the voice stage changes tracks that hold speech, the speaker
attacker scores speech only, and a sound track without speech (silence,
music, noise) is released as it is, with a note, never refused."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from audio_media import spoken, write_audio

import unseen
import unseen.audio.pipeline
import unseen.audio.vad
from unseen.audio.speaker import SpeakerCheck, _Gate
from unseen.audio.vad import SpeechFinder, find_speech
from unseen.types import Speech

RATE = 16_000


def _decoded(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        channels = stream.codec_context.channels
        return np.concatenate(
            [f.to_ndarray().reshape(channels, -1) for f in container.decode(stream)], axis=1
        )


def _chord(seconds: float, rate: int) -> np.ndarray:
    """Music without a voice: a few sustained notes, slowly changing."""
    t = np.arange(int(seconds * rate)) / rate
    notes = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6, 440.0))
    return (0.1 * notes * (1 + 0.3 * np.sin(2 * np.pi * 0.5 * t))).astype(np.float32)


def test_speech_is_found_where_it_is_spoken() -> None:
    voice = spoken(2.0)
    x = np.concatenate([np.zeros(RATE, np.float32), voice, np.zeros(2 * RATE, np.float32)])
    finder = SpeechFinder()
    for piece in np.array_split(x, 7):  # fed in pieces of any length
        finder.feed(piece)
    found = finder.result()
    assert found.seconds == pytest.approx(5.0)
    assert found.found and found.heard_by == "vad"
    first, last = found.segments[0][0], found.segments[-1][1]
    assert 0.9 <= first <= 1.3 and 2.5 <= last <= 3.1
    assert 1.0 <= found.speech_seconds <= 2.1


def test_silence_and_music_hold_no_speech() -> None:
    silent = find_speech(lambda: iter([np.zeros(3 * RATE, np.float32)]))
    assert not silent.found and silent.seconds == pytest.approx(3.0)
    music = find_speech(lambda: iter([_chord(4.0, RATE)]))
    assert not music.found


def test_the_recognizer_listens_where_the_voice_activity_model_hears_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sung words pass the voice-activity model by (it takes them for music):
    the speech recognizer hears them. Here the voice-activity model is made
    deaf, so that the recognizer's part runs on words it can hear."""

    class Deaf(SpeechFinder):
        def _step(self, probability: float) -> None:
            super()._step(0.0)

    monkeypatch.setattr(unseen.audio.vad, "SpeechFinder", Deaf)
    x = np.concatenate([np.zeros(RATE, np.float32), spoken(4.0)])
    found = find_speech(lambda: iter([x]))
    assert found.heard_by == "words" and found.found
    assert found.segments[-1][1] <= 5.0 and found.speech_seconds >= 3.0
    assert not find_speech(lambda: iter([np.zeros(RATE, np.float32)])).found  # silent: no words


def test_the_attacker_hears_only_the_speech() -> None:
    gate = _Gate(Speech(((0.5, 1.0), (2.0, 2.25)), 3.0))
    x = np.arange(3 * RATE, dtype=np.float32)
    kept = np.concatenate([gate(p) for p in np.array_split(x, 11)])
    np.testing.assert_array_equal(kept, np.concatenate([x[8_000:16_000], x[32_000:36_000]]))
    # Music the same before and after scored as the same voice; heard only
    # where people speak (here, nowhere), it gives the attacker nothing.
    music = _chord(3.0, RATE)
    check = SpeakerCheck(Speech((), 3.0))
    check.feed(music, music)
    assert check.result() == (None, None)
    plain = SpeakerCheck()
    plain.feed(music, music)
    assert (plain.result()[1] or 0) > 0.99


@pytest.mark.parametrize("kind", ["silence", "music"])
def test_a_file_without_speech_is_released_unchanged(kind: str, tmp_path: Path) -> None:
    samples = np.zeros(3 * RATE, np.float32) if kind == "silence" else _chord(3.0, RATE)
    source = write_audio(tmp_path / "a.flac", "FLAC", np.stack([samples, samples]), RATE)
    (result,) = unseen.anonymize([source], tmp_path / "out").files
    assert result.status == "ok", result.error
    assert result.audio is not None and result.audio.speech is not None
    assert not result.audio.speech.found and result.audio.draws == 0
    assert result.audio.similarity_after is None
    assert any("no speech found" in note for note in result.notes)
    np.testing.assert_array_equal(_decoded(tmp_path / "out" / "a.flac"), _decoded(source))
    assert result.verification is not None and result.verification.complete


def test_a_voice_the_attacker_still_knows_is_drawn_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pseudo-voice the attacker still matches is not a reason to refuse a
    file: another is drawn. Here the first draw is made to fail."""
    judged: list[float | None] = []

    def first_fails(after: float | None) -> unseen.types.Finding | None:
        judged.append(after)
        return unseen.types.Finding("voice", "still matches") if len(judged) == 1 else None

    monkeypatch.setattr(unseen.audio.pipeline, "voice_finding", first_fails)
    source = write_audio(tmp_path / "a.wav", "WAV", spoken(3.0)[None], RATE)
    (result,) = unseen.anonymize([source], tmp_path / "out").files
    assert result.status == "ok", result.error
    assert result.audio is not None and result.audio.draws == 2 and len(judged) == 2
    assert any("draw 2" in note for note in result.notes)


def test_vorbis_at_16k_is_released_as_opus(tmp_path: Path) -> None:
    """Opus plays at 48 kHz whatever it was encoded from: the output is
    written at 48 kHz and checked at 48 kHz, not refused for it."""
    source = tmp_path / "call.ogg"
    voice = spoken(2.0)
    with av.open(str(source), "w", format="ogg") as container:
        stream = container.add_stream("vorbis", rate=RATE, layout="stereo")
        stream.codec_context.options = {"strict": "-2"}  # FFmpeg's own Vorbis encoder
        frame = av.AudioFrame.from_ndarray(np.stack([voice, voice]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = RATE, 0, Fraction(1, RATE)
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    (result,) = unseen.anonymize([source], tmp_path / "out").files
    assert result.status == "ok", result.error
    assert any("48000 Hz" in note for note in result.notes)
    assert abs(_decoded(tmp_path / "out" / "call.ogg").shape[1] - 2 * 48_000) <= 4_800
