"""``unseen verify`` audits a video made by any tool: an unprotected copy, a
frame left untouched, metadata or an extra stream, or frames lost on the way
must each fail, naming where; unseen's own output must pass."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest
from helpers import run_cli
from videos import Clip, make_clip

import unseen
from unseen.api import verify_file
from unseen.config import REID_EVERY

#: The frame a careless tool leaves unprotected (not one re-identification samples).
UNTOUCHED = 7


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    folder = tmp_path_factory.mktemp("clip")
    return make_clip(folder / "clip.mp4", size=(640, 480), frames=12, scale=0.8, sound="voice")


@pytest.fixture(scope="module")
def protected(clip: Clip) -> Path:
    out = clip.path.parent / "out"
    report = unseen.anonymize([clip.path], out)
    assert report.ok, report.files[0].error
    return out / "clip.mp4"


def _splice(clip: Clip, protected: Path, target: Path) -> None:
    """``protected``'s frames, with frame ``UNTOUCHED`` taken from the original."""
    with av.open(str(clip.path)) as a, av.open(str(protected)) as b:
        originals = [f.to_ndarray(format="rgb24") for f in a.decode(video=0)]
        masked = [f.to_ndarray(format="rgb24") for f in b.decode(video=0)]
    masked[UNTOUCHED] = originals[UNTOUCHED]
    bitexact = {"fflags": "+bitexact"}  # no encoder version: a tag to catch
    with av.open(str(target), "w", format="mp4", container_options=bitexact) as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height = 640, 480
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 24)
        for index, pixels in enumerate(masked):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 24)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def test_an_unprotected_copy_fails_naming_frames(clip: Clip) -> None:
    compared = verify_file(clip.path, clip.path)
    assert not compared.passed
    reidentified = {f.frame for f in compared.findings if f.check == "reidentification"}
    assert reidentified == set(range(0, clip.frames, REID_EVERY))
    assert "voice" in {f.check for f in compared.findings}
    alone = verify_file(clip.path)
    residual = {f.frame for f in alone.findings if f.check == "residual-face"}
    assert residual == set(range(clip.frames))
    assert set(alone.skipped) == {"reidentification", "face-structure"}


def test_unseens_own_output_passes(clip: Clip, protected: Path) -> None:
    found = verify_file(protected, clip.path)
    assert found.passed, found.summary()
    assert found.faces, "re-identification ran"
    assert found.complete, found.skipped  # the voice check included
    assert "voice" in found.checks
    assert verify_file(protected).passed


def test_one_frame_left_untouched_fails_with_its_number(
    clip: Clip, protected: Path, tmp_path: Path
) -> None:
    spliced = tmp_path / "spliced.mp4"
    _splice(clip, protected, spliced)
    found = verify_file(spliced, clip.path)
    assert not found.passed
    assert {f.frame for f in found.findings} == {UNTOUCHED}
    # The face lies where the original has one: its structure gives it away.
    assert {f.check for f in found.findings} == {"face-structure"}
    proc = run_cli("verify", spliced)
    assert proc.returncode == 1, proc.stderr
    assert "FAIL" in proc.stdout
    assert f"residual-face in frame {UNTOUCHED} at box" in proc.stdout


def test_tags_and_data_streams_fail_the_metadata_check(tmp_path: Path) -> None:
    tagged = make_clip(
        tmp_path / "tagged.mp4", frames=3, scale=0.2, tags={"title": "Jane Doe"}, data_stream=True
    )
    found = verify_file(tagged.path)
    [metadata] = [f for f in found.findings if f.check == "metadata"]
    assert "container:title" in metadata.detail
    assert "video:name" in metadata.detail  # MP4 keeps a stream title as "name"
    assert "stream:data" in metadata.detail


def test_different_frame_counts_are_a_file_finding(clip: Clip, tmp_path: Path) -> None:
    shorter = make_clip(tmp_path / "short.mp4", size=(640, 480), frames=10, scale=0.8)
    found = verify_file(shorter.path, clip.path)
    assert "file: the output has 10 frames, the original 12" in [str(f) for f in found.findings]
    smaller = make_clip(tmp_path / "small.mp4", frames=12, scale=0.4)
    resized = verify_file(smaller.path, clip.path)
    assert [str(f) for f in resized.findings if f.check == "file"] == [
        "file: the output is 320x240, the original 640x480"
    ]
    # Scaled, not cropped (as tools that round sizes do): its faces are still
    # attacked, scaled back, and this unprotected copy is recognized.
    assert {f.frame for f in resized.findings if f.check == "reidentification"} == {0, REID_EVERY}
