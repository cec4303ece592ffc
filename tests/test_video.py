"""Video end to end: a real face moving through generated clips is masked in
every frame, timing and sound survive, metadata does not, and bad files fail
closed with nothing written."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from audio_media import Rigged, speech, write_audio
from helpers import error_lines, exiftool_tags, report_of, run_cli, snapshot
from PIL import Image
from videos import Clip, make_clip

import unseen
import unseen.api
import unseen.audio
import unseen.audio.pipeline
from unseen.config import Options
from unseen.mask import plan_masks
from unseen.media import video
from unseen.track import EXTEND, MAX_GAP, Tracker, TrackTally
from unseen.types import Detections, MaskRegion

TAGS = {
    "title": "meeting at the safe house",
    "location": "+48.8583+002.2945/",
    "creation_time": "2024-05-01T10:00:00Z",
    "make": "Pixel",
}


def _frames(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def _masked_share(rgb: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Share of a face box covered by the solid black fill."""
    x1, y1, x2, y2 = box
    patch = rgb[y1:y2, x1:x2]
    return float((patch.max(axis=2) < 40).mean())


def _assert_masked_everywhere(out: Path, clip: Clip) -> None:
    frames = _frames(out)
    assert len(frames) == clip.frames
    shares = [
        _masked_share(f.to_ndarray(format="rgb24"), box)
        for f, box in zip(frames, clip.faces, strict=True)
    ]
    leaked = [i for i, share in enumerate(shares) if share < 0.8]
    assert leaked == [], [round(s, 2) for s in shares]


@pytest.fixture(scope="module")
def protected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("video")
    src, out = root / "in", root / "out"
    src.mkdir()
    clip = make_clip(src / "clip.mp4", frames=30, tags=TAGS, data_stream=True)
    before = snapshot(src)
    proc = run_cli("anonymize", src / "clip.mp4", "--out", out)
    return {"clip": clip, "out": out / "clip.mp4", "proc": proc, "src": src, "before": before}


def test_a_moving_face_is_masked_in_every_frame(protected: dict[str, Any]) -> None:
    assert protected["proc"].returncode == 0, protected["proc"].stderr
    _assert_masked_everywhere(protected["out"], protected["clip"])


def test_timing_is_kept(protected: dict[str, Any]) -> None:
    source, output = _frames(protected["clip"].path), _frames(protected["out"])
    assert [f.time for f in output] == pytest.approx([f.time for f in source])
    with av.open(str(protected["clip"].path)) as a, av.open(str(protected["out"])) as b:
        frame = 1 / 24
        for kind in ("video", "audio"):
            sa, sb = getattr(a.streams, kind)[0], getattr(b.streams, kind)[0]
            assert sa.duration is not None and sb.duration is not None
            assert sa.time_base is not None and sb.time_base is not None
            assert abs(float(sa.duration * sa.time_base - sb.duration * sb.time_base)) <= frame
        assert b.streams.audio[0].codec_context.sample_rate == 48000


def test_metadata_and_extra_streams_are_removed(protected: dict[str, Any]) -> None:
    with av.open(str(protected["out"])) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
        tags = {**container.metadata}
        for stream in container.streams:
            tags.update(stream.metadata)
        values = " ".join(tags.values())
        for secret in ("safe house", "48.85", "2024", "Pixel", "Lavf", "GoPro"):
            assert secret not in values
    exif = " ".join(map(str, exiftool_tags(protected["out"]).values()))
    for secret in ("safe house", "48.85", "2024:05", "Pixel"):
        assert secret not in exif
    report = report_of(protected["out"].parent)["files"][0]
    assert {"container:title", "container:location", "stream:data"} <= set(
        report["metadata_removed"]
    )
    assert not any("safe house" in name for name in report["metadata_removed"])


def test_report_lists_tracks_and_originals_are_untouched(protected: dict[str, Any]) -> None:
    report = report_of(protected["out"].parent)["files"][0]
    assert report["frames"] == 30
    assert report["faces_masked"] == len(report["tracks"]) >= 1
    longest = max(report["tracks"], key=lambda t: t["frames_masked"])
    assert (longest["first_frame"], longest["last_frame"]) == (0, 29)
    assert snapshot(protected["src"]) == protected["before"]


def test_audio_drop_and_other_containers(tmp_path: Path) -> None:
    clips = [
        make_clip(tmp_path / "a.mkv", fmt="matroska", frames=16, tags=TAGS),
        make_clip(tmp_path / "b.webm", fmt="webm", frames=16),
        make_clip(tmp_path / "c.avi", fmt="avi", frames=6, audio=False),  # B-frames in AVI
        make_clip(tmp_path / "d.mov", fmt="mov", frames=16),
    ]
    out = tmp_path / "out"
    report = unseen.anonymize([c.path for c in clips], out)
    assert report.ok, report.failed
    for clip in clips:
        _assert_masked_everywhere(out / clip.path.name, clip)
    dropped = unseen.anonymize(
        [clips[0].path], tmp_path / "drop", options=unseen.Options(audio="drop")
    )
    assert dropped.ok, dropped.failed
    with av.open(str(tmp_path / "drop" / "a.mkv")) as container:
        assert [s.type for s in container.streams] == ["video"]
    assert "stream:audio" in dropped.files[0].removed


def test_rotation_and_variable_frame_rate_are_kept(tmp_path: Path) -> None:
    clip = make_clip(
        tmp_path / "phone.mp4", size=(240, 320), frames=18, rotation=90, vfr=True, audio=False
    )
    out = tmp_path / "out"
    report = unseen.anonymize([clip.path], out)
    assert report.ok, report.failed
    assert report.files[0].size == (240, 320)
    _assert_masked_everywhere(out / "phone.mp4", clip)
    frames = _frames(out / "phone.mp4")
    assert all(f.rotation == 0 and (f.width, f.height) == (240, 320) for f in frames)
    gaps = np.diff([f.time for f in frames])
    assert gaps.max() == pytest.approx(2 * gaps.min())
    assert [f.time for f in frames] == pytest.approx([f.time for f in _frames(clip.path)])


def test_tracker_bridges_gaps_and_extends_tracks() -> None:
    tracker: Tracker[int] = Tracker()
    seen = {**dict.fromkeys(range(5, 10)), **dict.fromkeys(range(10 + MAX_GAP, 30))}
    released: dict[int, Detections] = {}
    for index in range(40):
        box = [10 + index * 4, 10, 40 + index * 4, 50]
        dets = Detections([box], [0.9], ("yunet",)) if index in seen else Detections.empty()
        released.update(tracker.push(index, dets, index))
    released.update(tracker.finish())
    masked = sorted(i for i, dets in released.items() if len(dets))
    assert masked == list(range(5 - EXTEND, 30 + EXTEND))
    for index in range(10, 10 + MAX_GAP):  # the bridged box follows the face's path
        (x1, _, x2, _), _, source = next(iter(released[index]))
        assert source == "track" and x1 <= 10 + index * 4 and x2 >= 40 + index * 4
    # One track throughout, summed up from the regions masked.
    assert {int(t) for dets in released.values() for t in dets.track_ids} == {0}
    tally = TrackTally()
    options = Options()
    for index, dets in released.items():
        tally.add(plan_masks(dets, options, 400, 100, index))
    [track] = tally.summaries()
    assert (track.first_frame, track.last_frame, track.frames_detected) == (1, 33, 15)


def test_a_face_leaving_the_picture_is_followed_with_real_boxes() -> None:
    """A face leaving at the bottom: its detections are clipped by the edge,
    so their top moves and their bottom does not. The boxes the tracker
    masks after the last detection still have an area, and stay around the
    face's last place (extrapolating each edge on its own crossed them: a
    plan that could not be read back, and a mask of no area)."""
    tracker: Tracker[int] = Tracker()
    released: dict[int, Detections] = {}
    for index in range(12):
        top = 40 + index * 12
        dets = Detections([[50, top, 90, 120]], [0.9], ("yunet",)) if index < 6 else None
        released.update(tracker.push(index, dets or Detections.empty(), index))
    released.update(tracker.finish())
    after = [released[i] for i in range(6, 6 + EXTEND)]
    for dets in after:
        [((x1, y1, x2, y2), _, source)] = list(dets)
        assert source == "track" and x2 > x1 and y2 > y1
        assert x1 <= 50 and x2 >= 90 and y1 < 120 and y2 >= 120


def _bad_files(root: Path) -> dict[str, str]:
    make_clip(root / "full.mp4", frames=24)
    whole = (root / "full.mp4").read_bytes()
    (root / "full.mp4").unlink()
    (root / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    make_clip(root / "full.mkv", fmt="matroska", frames=48)
    whole = (root / "full.mkv").read_bytes()
    (root / "full.mkv").unlink()
    (root / "truncated.mkv").write_bytes(whole[: len(whole) // 2])
    (root / "notes.mp4").write_bytes(b"dear diary\n" * 40)
    with av.open(str(root / "sound-only.mp4"), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 4800), np.float32), "fltp", "mono")
        frame.sample_rate, frame.pts, frame.time_base = 48000, 0, Fraction(1, 48000)
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with av.open(str(root / "no-frames.mkv"), "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width = stream.height = 64
        out.start_encoding()
    make_clip(root / "huge.mp4", size=(1280, 720), frames=1, audio=False)
    return {
        "truncated.mp4": "cannot read the video",
        "truncated.mkv": "truncated or damaged",
        "notes.mp4": "not a supported image, video or audio file",
        "sound-only.mp4": "no video stream",
        "no-frames.mkv": "no frames|no video stream|End of file",
        "huge.mp4": "above the limit of 100,000 pixels",
    }


def test_bad_videos_fail_closed(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    expected = _bad_files(src)
    before = snapshot(src)
    report = unseen.anonymize([src], out, options=unseen.Options(max_video_pixels=100_000))
    errors = {Path(f.input).name: f.error or "" for f in report.failed}
    assert set(errors) == set(expected)
    for name, pattern in expected.items():
        assert re.search(pattern, errors[name]), (name, errors[name])
    assert not out.exists() or list(out.iterdir()) == []
    assert snapshot(src) == before


def test_bad_video_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    proc = run_cli("anonymize", tmp_path / "clip.mp4", "--out", tmp_path / "out")
    assert proc.returncode == 1
    [line] = error_lines(proc.stderr)
    assert line.startswith(f"error: {tmp_path / 'clip.mp4'}: cannot read the video")
    assert not (tmp_path / "out" / "clip.mp4").exists()
    assert "Traceback" not in proc.stderr


def test_interruption_leaves_nothing_and_stops_every_thread(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=30)
    before = threading.active_count()

    def interrupt(shown: str, done: int, total: int) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        unseen.anonymize([clip.path], tmp_path / "out", frame_progress=interrupt)
    assert not (tmp_path / "out").exists()  # the folders made for it are gone too
    for thread in threading.enumerate():
        if thread.name.startswith("unseen-"):
            thread.join(timeout=5)
    assert threading.active_count() == before


def test_sound_goes_through_the_voice_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip(tmp_path / "clip.mkv", fmt="matroska", frames=48, sound="voice")
    seen: list[tuple[int, ...]] = []

    def silence(samples: np.ndarray) -> np.ndarray:
        seen.append(samples.shape)
        return np.zeros_like(samples)

    monkeypatch.setattr(
        unseen.audio.pipeline,
        "voice_stream",
        lambda rate, channels, options, up=None: Rigged(rate, channels, silence),
    )
    report = unseen.anonymize([clip.path], tmp_path / "out")
    assert report.ok, report.failed
    assert seen and all(shape[0] == 2 for shape in seen)
    with av.open(str(tmp_path / "out" / "clip.mkv")) as container:
        sound = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    assert np.abs(sound).max() < 1e-3
    assert sound.shape[1] == pytest.approx(48 / 24 * 48000, abs=2048)


def test_ctrl_c_on_the_command_line_leaves_nothing(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=150)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "unseen", "anonymize", str(clip.path), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell runs background jobs with Ctrl-C ignored, and children inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not list(out.glob(".unseen-*/output")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be interrupted"
    time.sleep(0.3)  # well into the video
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "no partial output" in stderr and "Traceback" not in stderr
    assert not out.exists() or list(out.iterdir()) == []


def test_the_output_check_refuses_any_tag_left_in_any_stream(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "tagged.mp4", frames=4, audio=False)
    with av.open(str(clip.path)) as source, av.open(str(tmp_path / "x.mp4"), "w") as out:
        stream = out.add_stream_from_template(source.streams.video[0])
        stream.metadata["title"] = "left behind"
        for packet in source.demux(video=0):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    plan = video.Plan("mp4", (320, 240), 0, 4, 4, 0.0, False, ())
    with pytest.raises(unseen.VerificationFailed, match="metadata survived"):
        video.check_output(tmp_path / "x.mp4", plan, 4)


def test_pixel_aspect_ratio_is_kept(tmp_path: Path) -> None:
    with av.open(str(tmp_path / "wide.mp4"), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.sample_aspect_ratio = Fraction(4, 3)
        for index in range(6):
            frame = av.VideoFrame.from_ndarray(np.zeros((240, 320, 3), np.uint8), "rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    report = unseen.anonymize([tmp_path / "wide.mp4"], tmp_path / "out")
    assert report.ok, report.failed
    with av.open(str(tmp_path / "out" / "wide.mp4")) as written:
        assert written.streams.video[0].sample_aspect_ratio == Fraction(4, 3)


def test_format_converts_images_only_and_never_replaces_an_input(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    clip = make_clip(folder / "clip.mp4", frames=6)
    write_audio(folder / "voice.wav", "WAV", speech(1.0)[None, :], 16_000)
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(folder / "still.jpg")
    before = snapshot(folder)
    report = unseen.anonymize([folder], tmp_path / "out", options=Options(format="PNG"))
    assert report.ok, report.failed
    assert sorted(
        p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith("unseen-")
    ) == [
        "clip.mp4",
        "still.png",
        "voice.wav",
    ]
    # A file given by name, with --out its own folder and --force: refused, untouched.
    again = unseen.anonymize([clip.path], folder, options=Options(format="PNG"), force=True)
    assert [f.error for f in again.files] == ["the output would replace an input"]
    assert snapshot(folder) == before


def test_track_tallies_count_each_frame_once() -> None:
    def region(frame: int, track: int | None, detector: str, score: float) -> MaskRegion:
        return MaskRegion(
            frame, "box", (0, 0, 9, 9), (1.0, 1.0, 8.0, 8.0), score, detector, track=track
        )

    tally = TrackTally()
    tally.add([region(0, None, "yunet", 0.6), region(0, None, "centerface", 0.9)])
    tally.add([region(1, 4, "yunet", 0.7)])
    tally.add([region(2, 4, "track", 0.7), region(2, None, "yunet", 0.5)])
    tally.add([region(5, 4, "yunet", 0.8)])
    untracked, track = tally.summaries()
    assert (untracked.id, untracked.first_frame, untracked.last_frame) == (-1, 0, 2)
    assert (untracked.frames_masked, untracked.frames_detected, untracked.score) == (2, 2, 0.9)
    assert (track.id, track.first_frame, track.last_frame) == (4, 1, 5)
    assert (track.frames_masked, track.frames_detected, track.detector) == (3, 2, "yunet")
