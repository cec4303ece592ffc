"""Real-world video, one property at a time, generated: what FFmpeg plays is
protected, never refused for being unusual. Silent and music-only sound
tracks, camera timestamps (B-frames and edit lists, duplicated and shifted
timestamps), HEVC at 10 bits with rotation, VP8 and AV1, MPEG-TS, MPEG-PS
and 3GP, high frame rates and odd frame sizes.

The real clips with these properties are in ../shared/data/video-real
(tests/test_real_media.py); these tests guard each property without them.
"""

from __future__ import annotations

import re
import struct
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest
from videos import Clip, make_clip

import unseen
from unseen.media.sniff import HEAD_BYTES, sniff


def _frames(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def _sound(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)


def _masked_everywhere(out: Path, clip: Clip, padded: tuple[int, int] = (0, 0)) -> None:
    frames = _frames(out)
    assert len(frames) == clip.frames
    for frame, (x1, y1, x2, y2) in zip(frames, clip.faces, strict=True):
        rgb = frame.to_ndarray(format="rgb24")
        assert rgb.shape[:2] == (
            frames[0].height,
            frames[0].width,
        )
        share = float((rgb[y1:y2, x1:x2].max(axis=2) < 40).mean())
        assert share >= 0.8, share


def _protect(clip: Clip, tmp_path: Path, **options: object) -> unseen.FileResult:
    report = unseen.anonymize([clip.path], tmp_path / "out", options=unseen.Options(**options))
    (result,) = report.files
    assert result.status == "ok", result.error
    return result


@pytest.mark.parametrize("sound", ["silence", "tone"])
def test_a_sound_track_without_speech_is_kept(sound: str, tmp_path: Path) -> None:
    """Digital silence (screen recordings, muted phones) and music compared
    with themselves looked like the same voice (1.00 and 0.87): such tracks
    were refused. Without speech there is no voice to protect."""
    clip = make_clip(tmp_path / "clip.mp4", frames=36, sound=sound)  # type: ignore[arg-type]
    result = _protect(clip, tmp_path)
    _masked_everywhere(tmp_path / "out" / "clip.mp4", clip)
    assert result.audio is not None and result.audio.speech is not None
    assert not result.audio.speech.found and result.audio.draws == 0
    assert any("no speech found" in note for note in result.notes)
    before, after = _sound(clip.path), _sound(tmp_path / "out" / "clip.mp4")
    n = min(before.shape[1], after.shape[1])
    assert abs(before.shape[1] - after.shape[1]) <= 2048
    if sound == "silence":
        assert not np.abs(after).max() > 1e-4
    else:  # the same tone, re-encoded, not a vocoded one
        assert np.corrcoef(before[0, 2048 : n - 2048], after[0, 2048 : n - 2048])[0, 1] > 0.95


def test_speech_is_transformed_and_attacked_where_spoken(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=72, sound="voice")
    result = _protect(clip, tmp_path)
    assert result.audio is not None and result.audio.speech is not None
    assert result.audio.speech.found and result.audio.draws >= 1
    assert result.audio.similarity_after is not None
    assert result.audio.speech.seconds == pytest.approx(3.0, abs=0.05)


def _trim_edit_list(path: Path, frames: int) -> None:
    """Move an MP4's edit list ``frames`` frames into its first group of
    pictures (as editors and cameras write trimmed clips): the decoder must
    drop those frames, the demuxer still reads them."""
    data = bytearray(path.read_bytes())
    elst = data.find(b"elst")
    assert elst > 0 and data[elst + 4] == 0  # version 0: 32-bit fields
    mdhd, mvhd = data.find(b"mdhd"), data.find(b"mvhd")
    media_scale = struct.unpack(">I", data[mdhd + 16 : mdhd + 20])[0]
    movie_scale = struct.unpack(">I", data[mvhd + 16 : mvhd + 20])[0]
    duration, start, rate = struct.unpack(">IiI", data[elst + 12 : elst + 24])
    data[elst + 12 : elst + 24] = struct.pack(
        ">IiI",
        duration - frames * movie_scale // 24,
        start + frames * media_scale // 24,
        rate,
    )
    path.write_bytes(bytes(data))


def test_b_frames_and_an_edit_list_that_trims_the_start(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "camera.mp4", frames=48, audio=False)  # x264: B-frames
    _trim_edit_list(clip.path, 5)
    shown = _frames(clip.path)
    assert len(shown) == 43  # what a player shows
    result = _protect(Clip(clip.path, 43, clip.faces[5:]), tmp_path)
    assert result.frames == 43
    _masked_everywhere(tmp_path / "out" / "camera.mp4", Clip(clip.path, 43, clip.faces[5:]))
    written = _frames(tmp_path / "out" / "camera.mp4")
    assert [f.time for f in written] == pytest.approx([f.time for f in shown])


def _mkv_with_repeated_timestamp(path: Path) -> Clip:
    """A Matroska clip where one frame repeats the timestamp of the frame before."""
    clip = make_clip(path, fmt="matroska", frames=20, audio=False)
    data = bytearray(path.read_bytes())
    # SimpleBlocks of track 1 (one-byte size): 0xA3, size, 0x81, 2-byte timecode.
    blocks = [m.start() + 3 for m in re.finditer(rb"\xa3[\x80-\xff]\x81", bytes(data))]
    data[blocks[9] : blocks[9] + 2] = data[blocks[8] : blocks[8] + 2]
    path.write_bytes(bytes(data))
    return clip


def test_a_duplicated_timestamp_is_resolved_not_refused(tmp_path: Path) -> None:
    clip = _mkv_with_repeated_timestamp(tmp_path / "dup.mkv")
    source = [f.time for f in _frames(clip.path)]
    [dup] = [i for i in range(1, len(source)) if source[i] == source[i - 1]]  # as FFmpeg shows it
    result = _protect(clip, tmp_path)
    assert any("did not come after" in note for note in result.notes)
    times = [f.time for f in _frames(tmp_path / "out" / "dup.mkv")]
    assert len(times) == 20 and all(b > a for a, b in pairwise(times))
    assert times[dup - 1] < times[dup] < times[dup + 1]  # placed between its neighbours
    assert times[:dup] == pytest.approx(source[:dup])
    assert times[dup + 1 :] == pytest.approx(source[dup + 1 :])


@pytest.mark.parametrize(("fmt", "name"), [("matroska", "late.mkv"), ("mp4", "late.mp4")])
def test_a_first_timestamp_far_from_zero_is_kept(fmt: str, name: str, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / name, fmt=fmt, frames=24, sound="voice", start=2.0)
    before = _frames(clip.path)
    assert before[0].time == pytest.approx(2.0, abs=0.05)
    _protect(clip, tmp_path)
    after = _frames(tmp_path / "out" / name)
    assert [f.time for f in after] == pytest.approx([f.time for f in before], abs=0.002)
    with av.open(str(clip.path)) as original, av.open(str(tmp_path / "out" / name)) as written:
        # The sound starts where it started, in step with the pictures.
        assert next(written.decode(audio=0)).time == pytest.approx(
            next(original.decode(audio=0)).time, abs=0.03
        )


def test_hevc_at_10_bits_rotated_as_a_phone_records(tmp_path: Path) -> None:
    clip = make_clip(
        tmp_path / "IMG_0042.MOV",
        fmt="mov",
        size=(240, 320),
        frames=30,
        rate=60,
        rotation=90,
        codec="libx265",
        pix_fmt="yuv420p10le",
        options={"x265-params": "log-level=none"},
    )
    with av.open(str(clip.path)) as container:
        assert container.streams.video[0].codec_context.name == "hevc"
    result = _protect(clip, tmp_path)
    assert result.size == (240, 320)
    assert any("10-bit" in note for note in result.notes)
    _masked_everywhere(tmp_path / "out" / "IMG_0042.MOV", clip)
    assert all(f.rotation == 0 for f in _frames(tmp_path / "out" / "IMG_0042.MOV"))


@pytest.mark.parametrize(
    ("name", "fmt", "codec", "kind"),
    [
        ("clip.webm", "webm", "libvpx", "MKV"),  # VP8
        ("clip.mkv", "matroska", "libsvtav1", "MKV"),  # AV1
        ("clip.ts", "mpegts", None, "MPEG-TS"),
        ("clip.mpg", "mpeg", None, "MPEG-PS"),
        ("clip.3gp", "3gp", None, "MP4"),
    ],
)
def test_other_codecs_and_containers(
    name: str, fmt: str, codec: str | None, kind: str, tmp_path: Path
) -> None:
    audio = fmt not in ("webm", "matroska")
    clip = make_clip(tmp_path / name, fmt=fmt, frames=24, codec=codec, audio=audio, rate=25)
    result = _protect(clip, tmp_path)
    out = tmp_path / "out" / name
    assert sniff(out.read_bytes()[:HEAD_BYTES]) == ("video", kind)
    _masked_everywhere(out, clip)
    # Every frame has its time (H.264 in MPEG-PS left 71 of 75 frames untimed).
    times = [f.time for f in _frames(out)]
    assert None not in times
    assert times == pytest.approx([f.time for f in _frames(clip.path)], abs=1 / 25 + 1e-3)
    if audio:
        assert result.audio is not None
        assert abs(_sound(out).shape[1] - _sound(clip.path).shape[1]) <= 4096


def test_webm_sound_at_44k_is_kept_at_48k(tmp_path: Path) -> None:
    path = tmp_path / "talk.webm"
    clip = make_clip(path, fmt="webm", frames=24, audio=False)
    with_sound = tmp_path / "with-sound.webm"
    with (
        av.open(str(clip.path)) as source,
        av.open(str(with_sound), "w", format="webm") as out,
    ):
        video = out.add_stream_from_template(source.streams.video[0])
        sound = out.add_stream("libopus", rate=48000, layout="stereo")
        for packet in source.demux(video=0):
            if packet.dts is not None:
                packet.stream = video
                out.mux(packet)
        tone = np.zeros((2, 44100), np.float32)
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="stereo")
        frame.sample_rate = 44100  # resampled by the encoder: the input says 44.1 kHz
        for packet in [*sound.encode(frame), *sound.encode(None)]:
            out.mux(packet)
    assert _sound(with_sound).shape[0] == 2
    result = _protect(Clip(with_sound, clip.frames, clip.faces), tmp_path)
    with av.open(str(tmp_path / "out" / "with-sound.webm")) as written:
        assert written.streams.audio[0].codec_context.sample_rate == 48000
    assert result.audio is not None


def test_odd_frame_sizes_are_padded_not_refused(tmp_path: Path) -> None:
    clip = make_clip(
        tmp_path / "odd.mp4", size=(321, 241), frames=12, pix_fmt="yuv444p", audio=False
    )
    result = _protect(clip, tmp_path)
    assert result.size == (322, 242)
    assert any("321 x 241" in note and "322 x 242" in note for note in result.notes)
    frames = _frames(tmp_path / "out" / "odd.mp4")
    assert (frames[0].width, frames[0].height) == (322, 242)
    _masked_everywhere(tmp_path / "out" / "odd.mp4", clip)
