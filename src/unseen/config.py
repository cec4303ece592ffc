"""Defaults and bounds: the one table that the library and the CLI both read.

Every limit here is documented in docs/limits.md; a test checks that the two
agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

Fill = Literal["solid", "noise", "pixelate", "blur"]
Shape = Literal["ellipse", "box"]
Frames = Literal["all", "first"]
ProfileName = Literal["fast", "default", "thorough"]
Audio = Literal["keep", "drop"]
Voice = Literal["transform", "replace", "keep"]

FILLS: tuple[Fill, ...] = ("solid", "noise", "pixelate", "blur")
#: Fills that leave information a published attack can recover. Never the default.
WEAK_FILLS: frozenset[str] = frozenset({"pixelate", "blur"})
SHAPES: tuple[Shape, ...] = ("ellipse", "box")
AUDIO: tuple[Audio, ...] = ("keep", "drop")
VOICES: tuple[Voice, ...] = ("transform", "replace", "keep")
FRAMES: tuple[Frames, ...] = ("all", "first")
#: Largest fixed voice seed (a secret; numbers that fit 63 bits).
MAX_VOICE_SEED = 2**63 - 1

#: Largest image accepted, in pixels per frame (decompression-bomb guard).
MAX_PIXELS = 120_000_000
#: Largest animation accepted: frames, and pixels over all frames together.
MAX_FRAMES = 2_000
MAX_TOTAL_PIXELS = 600_000_000
#: Largest input file accepted, in bytes.
MAX_FILE_BYTES = 1 << 30
#: Largest video frame accepted, in pixels (4096 x 2160, cinema 4K). Videos are
#: streamed, so their length and file size are not limited, but a few frames
#: are held at once for tracking.
MAX_VIDEO_PIXELS = 4096 * 2160
#: Longest audio accepted, in seconds (12 hours).
MAX_AUDIO_SECONDS = 43_200
#: A transformed voice whose similarity to the original, for the speaker
#: attacker (cosine of d-vectors), is above this is not released. On vctk-4
#: different real speakers score 0.34 on average (at most 0.63), two
#: utterances of the same speaker 0.90 (README, "Voices").
VOICE_SIMILARITY_LIMIT = 0.75

#: Largest tile the detector sees at once, in pixels per side. Larger images
#: are cut into overlapping tiles at full resolution, so memory stays bounded
#: and small faces are seen at their own size.
TILE_SIZE = 2048
TILE_OVERLAP = 256


class PassSpec(NamedTuple):
    """One detection pass by name: a detector, the scale it sees the image
    at, and the score from which its candidates count."""

    detector: str
    scale: float
    threshold: float


Passes = tuple[PassSpec, ...]


def pass_label(detector: str, scale: float) -> str:
    """How a pass names what it found: ``centerface``, or ``centerface@2x`` when enlarged."""
    return detector if scale == 1.0 else f"{detector}@{scale:g}x"


@dataclass(frozen=True)
class Profile:
    """A trade of time for recall: the detection passes to run, each as
    ``(detector, scale, threshold)``. A scale of 2.0 enlarges the image so
    that faces of 10 pixels are seen as faces of 20; enlarged passes keep
    only small faces, and need their own, stricter threshold because
    enlarged textures fool detectors more often."""

    passes: Passes
    #: Weaker candidates worth a second look, as ``(detector, scale,
    #: threshold)`` of one of ``passes``: a candidate of that pass scoring
    #: from this threshold up to the pass's own is masked when another pass
    #: saw the same face too (at its detector's ``SECOND_OPINION``), or when it
    #: is taller than the enlarged passes look (detect/tiling.py). Low scores
    #: alone are mostly textures; agreement between views rarely is.
    seconded: Passes = ()
    #: The passes run on every video frame, when they differ: tracking across
    #: frames recovers what a lighter search misses in one (README, Video).
    video: Passes | None = None
    #: Passes that only add faces, as ``(detector, scale, threshold)``: their
    #: candidates of ``ADDED_MIN_FACE`` pixels and up that no other pass found
    #: are masked too (detect/tiling.py). A half-size view shows a large face
    #: at the size CenterFace finds best, and finds some in shadow or
    #: half-turned that the full-size view scores lower; its boxes are
    #: looser, so they never widen a face another pass found.
    additions: Passes = ()


#: Tuned on a third of widerface-dev; measured figures for each profile are
#: in the README (bench/faces.py, all 300 images).
PROFILES: dict[str, Profile] = {
    "fast": Profile(
        passes=(PassSpec("centerface", 1.0, 0.15), PassSpec("yunet", 1.0, 0.5)),
        video=(PassSpec("yunet", 1.0, 0.5),),
    ),
    "default": Profile(
        passes=(
            PassSpec("centerface", 1.0, 0.15),
            PassSpec("centerface", 2.0, 0.15),
            PassSpec("yunet", 1.0, 0.75),
        ),
        seconded=(PassSpec("centerface", 1.0, 0.09),),
        video=(PassSpec("yunet", 1.0, 0.3), PassSpec("centerface", 0.5, 0.1)),
        additions=(PassSpec("centerface", 0.5, 0.1),),
    ),
    "thorough": Profile(
        passes=(
            PassSpec("centerface", 1.0, 0.1),
            PassSpec("centerface", 2.0, 0.1),
            PassSpec("yunet", 1.0, 0.5),
            PassSpec("yunet", 2.0, 0.6),
        ),
        additions=(PassSpec("centerface", 0.5, 0.1),),
    ),
}


#: The score at which a detector's candidate counts as a second opinion on
#: another pass's weak candidate (Profile.seconded): far below its masking
#: threshold, because it only confirms what another view already found.
SECOND_OPINION: dict[str, float] = {"centerface": 0.05, "yunet": 0.2}

#: Verification (README, "Verification"): detection passes run on a mirrored
#: view of each output, as (detector, scale, threshold); stricter than the
#: masking passes, because a hit here fails the file.
VERIFY_PASSES: Passes = (PassSpec("yunet", 1.0, 0.75),)
#: Recognizers that attack every masked face ("dlib" is a second opinion on request).
VERIFY_RECOGNIZERS: tuple[str, ...] = ("sface",)
#: Faces shorter than this (pixels, face box) are not attacked by the
#: recognizers nor the structure check: at that size SFace scored masked
#: faces (solid or noise) up to 0.59, above its match threshold, in the tests'
#: media; such faces are left to the residual-face check.
REID_MIN_FACE = 32
#: Videos: re-identification and the face-structure check run on every this
#: many frames (the residual-face check on every frame).
REID_EVERY = 10
#: Videos: the residual-face check looks at each frame at this scale. At
#: half size YuNet still finds faces from about 20 pixels of the full frame
#: (metrics.md counts a track as exposed from 24), for a quarter of the cost
#: of the full frame: every frame is checked within the time budget.
VIDEO_RESIDUAL_SCALE = 0.5
#: A masked face is re-identified only when the output scores above what the
#: same place refilled with the output's own colour statistics there scores (the
#: surroundings alone) by more than this: on faces of 20 pixels, lossy
#: encoding alone moved SFace's score by 0.12.
REID_CONTEXT_MARGIN = 0.25
#: A face found on the output is taken to be a mask's outline, not a visible
#: face, when at least this share of its box lies inside a masked area.
RESIDUAL_INSIDE_MASK = 0.5
#: A masked face fails when the middle of it (the central STRUCTURE_CORE of its
#: box, each way), reduced to STRUCTURE_GRID x STRUCTURE_GRID grey cells, still
#: correlates with the original's at STRUCTURE_CORRELATION or more: blur and
#: pixelation keep exactly this coarse structure, which attacks trained on
#: blurred faces exploit. Cells varying by less than STRUCTURE_FLAT grey levels
#: (a solid fill, after compression) carry no structure.
STRUCTURE_CORE = 0.6
STRUCTURE_GRID = 6
STRUCTURE_CORRELATION = 0.5
STRUCTURE_FLAT = 2.0
#: Nor do cells varying by less than this many times what independent noise
#: in the output's pixels would make them vary (a noise fill).
STRUCTURE_NOISE = 2.0


@dataclass(frozen=True)
class Options:
    """How files are protected. Every field has a safe default.

    Example::

        Options(fill="noise", shape="box")
    """

    #: How masked pixels are replaced. "solid" and "noise" destroy the face;
    #: "pixelate" and "blur" are weaker and reversible by published attacks.
    fill: Fill = "solid"
    #: Mask outline around each face. A box hides the whole patch that face
    #: recognizers align on; an ellipse leaves its corners (hair, ears and
    #: background), from which a recognizer picked the right person among
    #: 63 for 20-24% of faces masked alike (bench/reid.py, parrot attack).
    shape: Shape = "box"
    #: Colour of the solid fill, RGB.
    color: tuple[int, int, int] = (0, 0, 0)
    #: Detection profile: "fast", "default" or "thorough" (see PROFILES).
    profile: ProfileName = "default"
    #: Detector score above which a candidate is masked, for every detector;
    #: None uses each detector's threshold from the profile. The profiles'
    #: thresholds are low on purpose: a false mask costs a little, a missed
    #: face can cost a life.
    threshold: float | None = None
    #: Extra room around each detected face, as fractions of the face box:
    #: (left/right, top, bottom). The top margin covers hair, the sides ears.
    margin: tuple[float, float, float] = (0.2, 0.3, 0.15)
    #: Output format name ("jpeg", "png", ...); None keeps the input's format.
    format: str | None = None
    #: Animated images: protect every frame ("all") or keep only the first.
    frames: Frames = "all"
    #: Videos: keep the sound (re-encoded, through the ``voice`` stage) or drop it.
    audio: Audio = "keep"
    #: Resource limits (see docs/limits.md).
    max_pixels: int = MAX_PIXELS
    max_frames: int = MAX_FRAMES
    max_total_pixels: int = MAX_TOTAL_PIXELS
    max_file_bytes: int = MAX_FILE_BYTES
    max_video_pixels: int = MAX_VIDEO_PIXELS
    #: Attack every output before releasing it (residual faces, re-identification).
    #: The metadata read-back runs either way.
    verify: bool = True
    max_audio_seconds: int = MAX_AUDIO_SECONDS
    #: Audio: "transform" changes each voice (a new pseudo-voice per file);
    #: "replace" re-speaks the words with a synthetic voice (all other sound
    #: is dropped); "keep" leaves voices as they are (identifiable) and only
    #: removes metadata.
    voice: Voice = "transform"
    #: A fixed pseudo-voice: the same seed gives the same voice in every file,
    #: which links the files together. None draws a fresh secret per file.
    voice_seed: int | None = None
    #: ``voice="replace"``: the language spoken, as Whisper names it ("en",
    #: "zh", "es", ...); None detects it in every 30 seconds of sound.
    language: str | None = None
    #: Words and phrases removed from speech (``--redact-words``), normalized
    #: (unseen.audio.redact.phrases): not re-spoken, or covered by a tone.
    redact_words: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.fill not in FILLS:
            raise ValueError(f"fill must be one of {', '.join(FILLS)}, not {self.fill!r}")
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}, not {self.shape!r}")
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not {self.profile!r}")
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must lie between 0 and 1, not {self.threshold}")
        if any(not 0.0 <= m <= 2.0 for m in self.margin):
            raise ValueError(f"margins must lie between 0 and 2, not {self.margin}")
        if any(not 0 <= c <= 255 for c in self.color):
            raise ValueError(f"colour components must lie between 0 and 255, not {self.color}")
        if self.audio not in AUDIO:
            raise ValueError(f"audio must be one of {', '.join(AUDIO)}, not {self.audio!r}")
        if self.voice not in VOICES:
            raise ValueError(f"voice must be one of {', '.join(VOICES)}, not {self.voice!r}")
        if self.frames not in FRAMES:
            raise ValueError(f"frames must be one of {', '.join(FRAMES)}, not {self.frames!r}")
        if self.language is not None and not re.fullmatch(r"[a-z]{2,3}", self.language):
            raise ValueError(f"language must be a code such as en or zh, not {self.language!r}")
        if not all(isinstance(w, str) and w for w in self.redact_words):
            raise ValueError("redact_words must be words or phrases")
        if self.redact_words and self.voice == "keep":
            raise ValueError(
                "spoken words can be removed with --voice transform or replace, not keep"
            )
        if self.voice_seed is not None and not 0 <= self.voice_seed <= MAX_VOICE_SEED:
            raise ValueError(f"voice_seed must lie between 0 and {MAX_VOICE_SEED}")
        for name in (
            "max_pixels",
            "max_frames",
            "max_total_pixels",
            "max_file_bytes",
            "max_video_pixels",
            "max_audio_seconds",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    def seconded(self) -> dict[str, float]:
        """The weaker threshold of each pass that has one, by label (none
        when ``threshold`` replaces every pass's threshold)."""
        if self.threshold is not None:
            return {}
        return {pass_label(name, scale): t for name, scale, t in PROFILES[self.profile].seconded}

    def additions(self) -> Passes:
        """The profile's passes that only add large faces (Profile.additions),
        with ``threshold`` replacing theirs when set."""
        return self._with_threshold(PROFILES[self.profile].additions)

    def passes(self, video: bool = False) -> Passes:
        """``(detector name, scale, threshold)`` for each detection pass (on
        video frames when ``video``)."""
        profile = PROFILES[self.profile]
        chosen = profile.video if video and profile.video is not None else profile.passes
        return self._with_threshold(chosen)

    def _with_threshold(self, passes: Passes) -> Passes:
        if self.threshold is None:
            return passes
        return tuple(PassSpec(name, scale, self.threshold) for name, scale, _ in passes)


@dataclass(frozen=True)
class Setting:
    """One user-facing setting of :class:`Options`, as a front end shows it:
    the command line builds its options from :data:`SETTINGS` (and a web
    form can), so a setting is declared once, with its help and bounds."""

    #: The :class:`Options` field it sets.
    field: str
    #: Its command-line flag.
    flag: str
    help: str
    #: The values allowed (empty: any of ``kind``), and extra spellings accepted.
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    #: Inclusive bounds of a number.
    bounds: tuple[float, float] | None = None
    kind: type = str
    #: A flag that turns the field off (``--no-verify`` sets ``verify`` false).
    negates: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "fill",
        "--fill",
        "How faces are covered. 'pixelate' and 'blur' are WEAKER: published attacks can "
        "recognize faces through them.",
        choices=FILLS,
    ),
    Setting("shape", "--shape", "Mask outline.", choices=SHAPES),
    Setting(
        "profile",
        "--profile",
        "Detection effort: 'fast' is quicker, 'thorough' finds more small faces "
        "(measured figures in the README).",
        choices=tuple(PROFILES),
    ),
    Setting(
        "threshold",
        "--threshold",
        "Detector score above which a face is masked, for every detector. Lower masks "
        "more. [default: each detector's threshold in the profile]",
        bounds=(0.01, 0.99),
        kind=float,
    ),
    Setting(
        "format",
        "--format",
        "Write this format instead of the input's.",
        choices=("jpeg", "png", "webp", "tiff", "bmp", "gif", "heif", "avif"),
        aliases=("jpg", "heic"),
    ),
    Setting(
        "frames",
        "--frames",
        "Animated images: protect all frames or keep the first.",
        choices=FRAMES,
    ),
    Setting(
        "audio",
        "--audio",
        "Videos: keep the sound (re-encoded, through the --voice stage) or drop it.",
        choices=AUDIO,
    ),
    Setting(
        "voice",
        "--voice",
        "Audio: 'transform' gives each voice a new pseudo-voice (a fresh one per file); "
        "'replace' re-speaks the words with a synthetic voice and drops all other sound; "
        "'keep' leaves voices IDENTIFIABLE and only removes metadata.",
        choices=VOICES,
    ),
    Setting(
        "voice_seed",
        "--voice-seed",
        "Audio: the same pseudo-voice in every file for this number. Files that share "
        "a seed can be LINKED to each other; keep the number secret.",
        bounds=(0, MAX_VOICE_SEED),
        kind=int,
    ),
    Setting(
        "language",
        "--language",
        "Audio, --voice replace: the language spoken, as Whisper names it (en, zh, es, ru, "
        "ar, ...). [default: detected in every 30 s of sound]",
    ),
    Setting(
        "verify",
        "--no-verify",
        "Do not attack the outputs before releasing them (residual faces, "
        "re-identification). NOT RECOMMENDED: recorded in the report.",
        kind=bool,
        negates=True,
    ),
)
