"""Spoken words removed (``--redact-words``): a name said in a recording is
not in the output, in either voice mode; the report counts it and never
says it; speech that cannot be transcribed with confidence is refused."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
from audio_media import write_audio
from helpers import run_cli

import unseen
import unseen.audio.pipeline
import unseen.audio.replace
from unseen.audio.io import resample_mono
from unseen.audio.redact import TONE_HZ, Word, matches, phrases
from unseen.audio.replace import Heard, Segment, transcribe
from unseen.audio.speak import engine

RATE = 16_000
SAID = "My name is Jane Walker and I live in Springfield with my two children."
LISTED = ["Jane Walker", "springfield"]


def test_phrases_are_normalized_and_bounded() -> None:
    assert phrases(["Jane Walker", "", "# a comment", "  SPRINGFIELD! ", "jane walker"]) == (
        "jane walker",
        "springfield",
    )
    with pytest.raises(ValueError, match="line 1 has nothing to match"):
        phrases(["?!"])
    with pytest.raises(ValueError, match="more than 1000"):
        phrases([f"word{i}" for i in range(1001)])


def test_phrases_match_whole_words_in_a_row() -> None:
    words = [Word(i, i + 1, t) for i, t in enumerate([" Jane", " Walker,", " Jones", " jane."])]
    assert matches(words, ["jane walker"]) == [(0, 2)]
    assert matches(words, ["jane"]) == [(0, 1), (3, 4)]
    assert matches(words, ["jo"]) == []  # not inside a word
    assert matches(words, ["walker jones", "jane walker"]) == [(0, 3)]  # overlaps merged
    # Written without spaces, one character a word (Whisper on Mandarin).
    chinese = [Word(i, i + 1, c) for i, c in enumerate("我叫张三住在北京")]
    assert matches(chinese, phrases(["张三", "北京"])) == [(2, 4), (6, 8)]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    voice = resample_mono(engine().say(SAID, 150), engine().rate, RATE)
    x = np.concatenate([np.zeros(RATE // 2, np.float32), voice, np.zeros(RATE // 2, np.float32)])
    return write_audio(tmp_path_factory.mktemp("said") / "said.wav", "WAV", x[None], RATE)


def _samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as sound:
        return np.frombuffer(sound.readframes(sound.getnframes()), np.int16) / 32768.0


def _words(samples: np.ndarray) -> list[Word]:
    heard = transcribe(samples.astype(np.float32), "en", words=True)
    return [w for segment in heard.segments for w in segment.words]


@pytest.mark.parametrize("voice", ["replace", "transform"])
def test_a_listed_name_is_not_in_the_output(
    recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, voice: str
) -> None:
    # eSpeak in, eSpeak out (replace): the same voice, which the release check refuses.
    monkeypatch.setattr(unseen.audio.pipeline, "VOICE_SIMILARITY_LIMIT", 1.01)
    before = " ".join(w.text for w in _words(_samples(recording))).lower()
    assert "jane" in before and "springfield" in before
    options = unseen.Options(voice=voice, redact_words=phrases(LISTED), voice_seed=7, language="en")
    report = unseen.anonymize([recording], tmp_path / "out", options=options)
    (result,) = report.files
    assert result.status == "ok", result.error
    assert result.audio is not None and result.audio.redacted == 2
    out = _samples(tmp_path / "out" / "said.wav")
    after = _words(out)
    text = " ".join(w.text for w in after).lower()
    assert "jane" not in text and "walker" not in text and "springfield" not in text, text
    assert "name" in text or voice == "transform"
    # A tone marks each phrase removed, where it was said.
    spectrum = np.abs(np.fft.rfft(out))
    freqs = np.fft.rfftfreq(len(out), 1 / RATE)
    assert freqs[np.argmax(spectrum)] == pytest.approx(TONE_HZ, abs=5)
    assert any("2 spoken word(s) or phrase(s) of --redact-words removed" in n for n in result.notes)
    # The report counts them; it never says them.
    written = json.dumps(report.to_dict()).lower()
    assert "springfield" not in written and "walker" not in written
    assert report.to_dict()["options"]["redact_words"] == 2


def test_words_that_cannot_be_transcribed_are_refused(
    recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail closed: where the words cannot be trusted, the name cannot be
    found, so nothing is written (not even a transformed voice)."""
    unsure = Heard("tr", 0.6, [Segment(0.5, 2.0, "jane", 0.1, -0.9, 0.0)])
    monkeypatch.setattr(unseen.audio.replace, "transcribe", lambda audio, lang, words: unsure)
    options = unseen.Options(voice="replace", redact_words=("jane",))
    (result,) = unseen.anonymize([recording], tmp_path / "out", options=options).files
    assert result.status == "failed"
    assert "words to remove (--redact-words) cannot be found" in (result.error or "")
    assert not (tmp_path / "out" / "said.wav").exists()


def test_the_command_line_reads_the_list(recording: Path, tmp_path: Path) -> None:
    listed = tmp_path / "names.txt"
    listed.write_text("Jane Walker\n\n# places\nSpringfield\n", "utf-8")
    proc = run_cli("plan", recording, "--out", tmp_path / "plan.json", "--redact-words", listed)
    assert proc.returncode == 0, proc.stderr
    planned = json.loads((tmp_path / "plan.json").read_text())
    assert planned["options"]["redact_words"] == ["jane walker", "springfield"]
    kept = run_cli(
        "anonymize", recording, "--out", tmp_path / "o", "--voice", "keep", "--redact-words", listed
    )
    assert kept.returncode == 2 and "not keep" in kept.stderr
    empty = tmp_path / "bad.txt"
    empty.write_text("!!\n", "utf-8")
    bad = run_cli("anonymize", recording, "--out", tmp_path / "o", "--redact-words", empty)
    assert bad.returncode == 2 and "nothing to match" in bad.stderr
