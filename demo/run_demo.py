"""`make demo`: build sample media from photos that ship with scikit-image,
protect them with the `unseen` command, and show what changed.

Everything is written under demo-output/ in the repository (git-ignored):
  demo-output/input/      the samples (photos, a video with speech, a recording),
                          full of metadata a phone would write
  demo-output/protected/  unseen's outputs and its JSON and HTML reports
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image
from skimage import data

from unseen.audio.speak import engine

ROOT = Path(__file__).resolve().parents[1] / "demo-output"
INPUT, PROTECTED = ROOT / "input", ROOT / "protected"
UNSEEN = Path(sys.executable).with_name("unseen")
#: What a phone writes into a video or a recording: where, when, which device.
PHONE_TAGS = {
    "location": "+48.8584+002.2945/",
    "creation_time": "2026-03-14T09:26:53.000000Z",
    "make": "Apple",
    "model": "iPhone 15",
    "title": "Jane at the square",
}
TESTIMONY = (
    "My name is Jane. On Tuesday morning I saw the soldiers close the square. "
    "They took my neighbour away in a white van."
)


def phone_exif(width: int, height: int) -> Image.Exif:
    """EXIF like a phone writes it: device, time, GPS position and a thumbnail's worth of tags."""
    exif = Image.Exif()
    exif[0x010F] = "DemoPhone Inc."  # Make
    exif[0x0110] = "DemoPhone 12 Pro"  # Model
    exif[0x0131] = "DemoOS 17.1"  # Software
    exif[0x013B] = "Jane Photographer"  # Artist
    exif[0x0132] = "2026:11:29 10:15:00"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (52.0, 31.0, 12.5), 3: "E", 4: (13.0, 24.0, 36.2)})
    details = exif.get_ifd(0x8769)
    details.update({0x9003: "2026:11:29 10:15:00", 0xA431: "SN-0042-1337", 0x927C: b"MAKER" * 20})
    del width, height
    return exif


def crowd() -> Image.Image:
    """A crowd of real faces (LFW crops shipped with scikit-image) at many sizes."""
    faces = data.lfw_subset()
    canvas = Image.fromarray(data.rocket()).convert("RGB").resize((960, 640))
    rng = np.random.default_rng(7)
    x = 10
    for index, size in enumerate([120, 90, 72, 60, 48, 40, 32, 28, 24]):
        face = Image.fromarray((faces[index * 7] * 255).astype(np.uint8)).convert("RGB")
        canvas.paste(
            face.resize((size, size), Image.Resampling.BICUBIC),
            (x, int(rng.integers(300, 640 - size))),
        )
        x += size + 14
    return canvas


def build_samples() -> None:
    if ROOT.exists():
        shutil.rmtree(ROOT)
    (INPUT / "trip").mkdir(parents=True)
    astronaut = Image.fromarray(data.astronaut())
    thumb = io.BytesIO()
    astronaut.resize((64, 64)).save(thumb, "JPEG")
    exif = phone_exif(*astronaut.size)
    astronaut.save(
        INPUT / "astronaut.jpg", quality=92, exif=exif, comment=b"Taken at the square by Jane"
    )
    astronaut.save(INPUT / "trip" / "astronaut.heic", quality=80, exif=exif.tobytes())
    crowd().save(INPUT / "trip" / "crowd.png", exif=exif.tobytes())
    frames = [astronaut.crop((x, 0, x + 384, 384)).resize((256, 256)) for x in range(0, 128, 16)]
    frames[0].save(
        INPUT / "trip" / "wave.gif",
        save_all=True,
        append_images=frames[1:],
        duration=120,
        loop=0,
        comment=b"demo animation",
    )
    build_video(INPUT / "interview.mp4")
    build_recording(INPUT / "testimony.wav")


def speech(rate: int) -> np.ndarray:
    """The testimony, spoken by eSpeak NG (which ships inside a wheel), at ``rate``."""
    voice = engine()
    said = voice.say(TESTIMONY, 150)
    return np.interp(np.arange(0, len(said), voice.rate / rate), np.arange(len(said)), said)


def write_sound(
    out: av.container.OutputContainer, stream: av.AudioStream, sound: np.ndarray
) -> None:
    rate = stream.codec_context.sample_rate
    for start in range(0, len(sound), 4096):
        block = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(sound[None, start : start + 4096], np.float32),
            format="fltp",
            layout="mono",
        )
        block.sample_rate, block.pts, block.time_base = rate, start, Fraction(1, rate)
        out.mux(stream.encode(block))
    out.mux(stream.encode(None))


def build_video(path: Path) -> None:
    """A phone-like clip: the astronaut walks across a real photo while the
    testimony is heard; GPS, time and device in the container's tags."""
    sound = 0.5 * speech(48000)
    frames = int(len(sound) / 48000 * 25) + 1
    head = np.asarray(Image.fromarray(data.astronaut()).crop((140, 0, 330, 240)).resize((114, 144)))
    scene = np.asarray(Image.fromarray(data.rocket()).resize((640, 360)))
    with av.open(str(path), "w", format="mp4") as out:
        out.metadata.update(PHONE_TAGS)
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 640, 360, "yuv420p"
        audio = out.add_stream("aac", rate=48000, layout="mono")
        for i in range(frames):
            picture = scene.copy()
            x = round((640 - 114) * i / (frames - 1))
            picture[100:244, x : x + 114] = head
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        write_sound(out, audio, sound)


def build_recording(path: Path) -> None:
    """The testimony alone, as a WAV file with RIFF INFO tags."""
    with av.open(str(path), "w", format="wav") as out:
        out.metadata.update({"artist": "Jane Doe", "comment": PHONE_TAGS["location"]})
        write_sound(
            out, out.add_stream("pcm_s16le", rate=16000, layout="mono"), 0.5 * speech(16000)
        )


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    import pillow_heif

    pillow_heif.register_heif_opener()
    build_samples()
    print(f"sample media written to {INPUT}\n")
    print("$ unseen inspect --no-faces demo-output/input/astronaut.jpg   (before)")
    subprocess.run([UNSEEN, "inspect", "--no-faces", INPUT / "astronaut.jpg"], check=False)
    command = [UNSEEN, "anonymize", INPUT, "--out", PROTECTED]
    print("\n$ unseen anonymize demo-output/input --out demo-output/protected")
    done = subprocess.run(command, check=False)
    print("\n$ unseen inspect --no-faces demo-output/protected/astronaut.jpg   (after)")
    subprocess.run([UNSEEN, "inspect", "--no-faces", PROTECTED / "astronaut.jpg"], check=False)
    print("\n$ unseen verify demo-output/input/astronaut.jpg demo-output/protected/astronaut.jpg")
    pair = [INPUT / "astronaut.jpg", PROTECTED / "astronaut.jpg"]
    subprocess.run([UNSEEN, "verify", *pair], check=False)
    reports = sorted(PROTECTED.glob("unseen-report-*.json"))
    print(f"\nprotected copies: {PROTECTED}")
    if reports:
        print(f"report:           {reports[-1]}")
        print(f"readable report:  {reports[-1].with_suffix('.html')}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
