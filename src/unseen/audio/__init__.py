"""Audio: voices changed so that a speaker-verification model no longer
matches them, metadata removed, every output checked before release.

``VoiceStream`` (unseen.audio.voice) is the streaming transform that both
audio files and the sound tracks of videos go through.
"""

from unseen.audio.pipeline import protect_audio
from unseen.audio.voice import VoiceStream

__all__ = ["VoiceStream", "protect_audio"]
