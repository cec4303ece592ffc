"""Spoken words removed (``--redact-words``): names, places and numbers a
person lists, found in Whisper's words with their times, and replaced by a
tone. Only the count of what was removed is reported, never the words.

A listed phrase matches consecutive words, compared without case and
punctuation, whole words only ("Jo" does not match "Jones"); in languages
written without spaces, where Whisper's words are single characters, a
phrase matches the characters in a row.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from unseen.audio.io import Samples

#: The tone that marks a removed word: a plain 1 kHz sine, quiet (RMS, as
#: the re-spoken voice), with 10 ms fades so that it does not click.
TONE_HZ = 1000.0
TONE_LEVEL = 0.05
FADE_SECONDS = 0.01
#: Seconds added before and after a phrase's time: Whisper's word times are
#: coarse, and a syllable left at either end can be enough to know a name.
MARGIN_SECONDS = 0.1
#: Limits on the list: phrases, and characters in one.
MAX_PHRASES = 1000
MAX_PHRASE_CHARS = 200


@dataclass(frozen=True)
class Word:
    """One word Whisper heard, with its time in seconds."""

    start: float
    end: float
    text: str


def normalized(text: str) -> str:
    """``text`` without case, punctuation or symbols, words one space apart."""
    kept = "".join(
        c if unicodedata.category(c)[0] in "LNM" else " "
        for c in unicodedata.normalize("NFKC", text)
    )
    return " ".join(kept.casefold().split())


def phrases(lines: Iterable[str]) -> tuple[str, ...]:
    """The phrases of a ``--redact-words`` file (one a line), normalized; blank
    lines and lines starting with ``#`` are skipped. Raises ``ValueError``
    for a list too long, or a phrase too long or with nothing to match."""
    found: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        phrase = normalized(line)
        if not phrase:
            raise ValueError(f"line {number} has nothing to match (only punctuation)")
        if len(phrase) > MAX_PHRASE_CHARS:
            raise ValueError(f"line {number} is longer than {MAX_PHRASE_CHARS} characters")
        found.append(phrase)
    if len(found) > MAX_PHRASES:
        raise ValueError(f"more than {MAX_PHRASES} words or phrases")
    return tuple(dict.fromkeys(found))


def matches(words: Sequence[Word], listed: Sequence[str]) -> list[tuple[int, int]]:
    """Where ``listed`` phrases are said: ``[first, last)`` indices of ``words``,
    in order, overlapping ones merged."""
    tokens = [normalized(w.text).replace(" ", "") for w in words]
    starts, ends, at = {}, {}, 0
    for index, token in enumerate(tokens):
        if token:
            starts[at] = index
            at += len(token)
            ends[at] = index + 1
    joined = "".join(tokens)
    found = []
    for phrase in listed:
        target = phrase.replace(" ", "")
        begin = joined.find(target)
        while begin >= 0:
            end = begin + len(target)
            if begin in starts and end in ends:
                found.append((starts[begin], ends[end]))
            begin = joined.find(target, begin + 1)
    merged: list[tuple[int, int]] = []
    for first, last in sorted(found):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return merged


def said_at(words: Sequence[Word], span: tuple[int, int], rate: int) -> tuple[int, int]:
    """The samples (at ``rate``) where ``words[first:last]`` were said, with
    ``MARGIN_SECONDS`` on each side; the start is never below 0."""
    first, last = span
    margin = MARGIN_SECONDS * rate
    return max(0, int(words[first].start * rate - margin)), int(words[last - 1].end * rate + margin)


def tone(length: int, rate: int) -> Samples:
    """``length`` samples of the tone that marks a removed word."""
    t = np.arange(length, dtype=np.float32) / rate
    out: Samples = (TONE_LEVEL * np.sqrt(2) * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    fade = min(length // 2, int(FADE_SECONDS * rate))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        out[:fade] *= ramp
        out[length - fade :] *= ramp[::-1]
    return out
