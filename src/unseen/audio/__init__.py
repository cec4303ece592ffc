"""Audio: voices changed so that a speaker-verification model no longer
matches them, metadata removed, every output checked before release.

For the sound track of a video::

    stream = voice_stream(rate, channels, options)  # None for --voice keep
    for chunk in decoded:                 # float32, shape (channels, n)
        encode(stream.process(chunk))
    encode(stream.flush())                # total length == input length
    before, after = release_check(stream) # raises VerificationFailed if recognizable
"""

from unseen.audio.pipeline import protect_audio, release_check, voice_finding, voice_stream
from unseen.audio.voice import CheckedStream, VoiceStream

__all__ = [
    "CheckedStream",
    "VoiceStream",
    "protect_audio",
    "release_check",
    "voice_finding",
    "voice_stream",
]
