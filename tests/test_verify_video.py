"""Videos are attacked frame by frame before release, and the sound by the
speaker attacker: a face left visible in a single frame, or a voice left
recognizable, means no output."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from audio_media import Rigged
from PIL import Image, ImageFilter
from videos import make_clip

import unseen
import unseen.audio
import unseen.audio.pipeline
import unseen.mask.apply
import unseen.track
import unseen.verify.video
from unseen.audio.pipeline import ATTEMPTS
from unseen.config import REID_EVERY, Options
from unseen.media import video
from unseen.types import Detections, MaskRegion


def _forget_frame_7(monkeypatch: pytest.MonkeyPatch) -> None:
    """The masking stage skips every face in frame 7 (the rest is real)."""
    real = unseen.track.apply_masks

    def forgets_frame_7(
        frame: np.ndarray, dets: Detections, options: Options, index: int = 0
    ) -> tuple[np.ndarray, list[MaskRegion]]:
        if index == 7:
            return frame.copy(), []
        return real(frame, dets, options, index)

    monkeypatch.setattr(unseen.track, "apply_masks", forgets_frame_7)


def test_a_face_the_masking_missed_in_one_frame_is_caught_and_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip(tmp_path / "clip.mp4", size=(640, 480), frames=12, scale=0.8)
    _forget_frame_7(monkeypatch)
    report = unseen.anonymize([clip.path], tmp_path / "out", options=Options(color=(255, 0, 255)))
    (result,) = report.files
    assert result.status == "ok", result.error
    assert (
        "1 frame(s) had a face (or a false alarm) that only the residual check found, "
        "masked too: frames 7"
    ) in result.notes
    with av.open(str(tmp_path / "out" / "clip.mp4")) as container:
        frame = next(f for i, f in enumerate(container.decode(video=0)) if i == 7)
    x1, y1, x2, y2 = clip.faces[7]
    face = frame.to_ndarray(format="rgb24")[y1:y2, x1:x2].astype(int)
    magenta = (face[..., 0] > 200) & (face[..., 1] < 60) & (face[..., 2] > 200)
    assert magenta.mean() > 0.8


def test_a_face_left_after_the_last_chance_fails_the_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip(tmp_path / "clip.mp4", size=(640, 480), frames=12, scale=0.8)
    monkeypatch.setattr(unseen.verify.video, "mask_missed", lambda f, m, o, i: (f.copy(), ()))
    _forget_frame_7(monkeypatch)
    report = unseen.anonymize([clip.path], tmp_path / "out")
    (result,) = report.files
    assert result.status == "failed"
    assert result.stage == "verify"
    assert "residual-face in frame 7" in (result.error or "")
    assert result.verification is not None
    assert [f.frame for f in result.verification.findings] == [7]
    assert not (tmp_path / "out" / "clip.mp4").exists()


def test_a_lightly_blurred_face_fails_the_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip(tmp_path / "clip.mp4", size=(640, 480), frames=REID_EVERY + 2, scale=0.8)

    def light_blur(patch: np.ndarray, options: Options, rng: object) -> np.ndarray:
        out = patch.copy()
        rgb = Image.fromarray(np.ascontiguousarray(patch[..., :3]))
        out[..., :3] = np.asarray(rgb.filter(ImageFilter.GaussianBlur(2)))
        return out

    monkeypatch.setattr(unseen.mask.apply, "_fill", light_blur)
    report = unseen.anonymize([clip.path], tmp_path / "out")
    (result,) = report.files
    assert result.status == "failed", "a blurred face was released"
    assert result.stage == "verify"
    assert "in frame 0" in (result.error or "")
    assert not (tmp_path / "out" / "clip.mp4").exists()


def test_a_protected_video_reports_its_checks_and_voice(tmp_path: Path) -> None:
    clip = make_clip(
        tmp_path / "clip.mp4", size=(640, 480), frames=REID_EVERY + 50, scale=0.8, sound="voice"
    )
    report = unseen.anonymize([clip.path], tmp_path / "out")
    (result,) = report.files
    assert result.status == "ok", result.error
    assert result.verification is not None and result.verification.complete
    # Re-identification ran on the sampled frames, where the face is big enough.
    assert {s.frame for s in result.verification.faces} <= set(range(0, clip.frames, REID_EVERY))
    assert result.verification.faces and not any(s.matched for s in result.verification.faces)
    assert result.audio is not None and result.audio.voice == "transform"
    assert result.audio.similarity_after is not None
    assert result.verification.to_dict()["checks"][-1] == "voice"


def test_an_unchanged_voice_fails_the_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=60, sound="voice")

    drawn: list[Rigged] = []

    def parrot(rate: int, channels: int, options: Options, up: bool | None = None) -> Rigged:
        """A voice stage that hands the original back."""
        drawn.append(Rigged(rate, channels, lambda samples: samples))
        return drawn[-1]

    encoded: list[Path] = []
    transcode = video.transcode
    monkeypatch.setattr(unseen.audio.pipeline, "voice_stream", parrot)
    monkeypatch.setattr(
        video, "transcode", lambda path, *a: encoded.append(path) or transcode(path, *a)
    )
    report = unseen.anonymize([clip.path], tmp_path / "out")
    (result,) = report.files
    assert result.status == "failed"
    assert "speaker attacker still matches" in (result.error or "")
    assert f"after {ATTEMPTS} pseudo-voices" in (result.error or "")
    assert result.verification is not None
    assert [f.check for f in result.verification.findings] == ["voice"]
    assert not (tmp_path / "out" / "clip.mp4").exists()
    # Every draw was tried on the sound alone: no frame was encoded.
    assert len(drawn) == ATTEMPTS and encoded == []


def test_no_verify_is_recorded(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=6, audio=False)
    report = unseen.anonymize([clip.path], tmp_path / "out", options=Options(verify=False))
    (result,) = report.files
    assert result.status == "ok"
    assert result.verification is not None and not result.verification.complete
    assert "residual-face" in result.verification.skipped
