"""Audio: voices changed so that a speaker-verification model no longer
matches them, metadata removed, every output checked before release.

For the sound track of a video, settled before its frames are encoded::

    track = Track(rate, channels, decode)        # decode() yields (channels, n) float32
    summary = settle_sound(track, options, scratch)  # VerificationFailed if recognizable
    for chunk in settled(scratch, options):      # the protected samples
        encode(chunk)
"""

from unseen.audio.pipeline import (
    Attacked,
    Track,
    listen,
    protect_sound,
    release_check,
    settle_sound,
    settled,
    sound_notes,
    voice_finding,
    voice_stream,
)
from unseen.audio.voice import VoiceStream, VoiceTransform

__all__ = [
    "Attacked",
    "Track",
    "VoiceStream",
    "VoiceTransform",
    "listen",
    "protect_sound",
    "release_check",
    "settle_sound",
    "settled",
    "sound_notes",
    "voice_finding",
    "voice_stream",
]
