"""The reports of a run, and what a person must be told about it.

The JSON report (docs/report.md) and the HTML page: one self-contained page
with inline styles and inline SVG, no scripts, and a content security policy
that forbids fetching anything. Like the JSON report it holds names, boxes
and scores, never pixels. :func:`warnings` and :func:`notices` are the
words every front end says before and after a run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from html import escape
from pathlib import Path

from unseen.config import (
    REID_CONTEXT_MARGIN,
    REID_EVERY,
    VOICE_SIMILARITY_LIMIT,
    WEAK_FILLS,
    Options,
)
from unseen.output import json_text, write_document
from unseen.types import AudioSummary, FaceScore, FileResult, RunReport

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
.pass { color: #17622e; font-weight: bold; }
.fail { color: #a4161a; font-weight: bold; }
.warn { background: #fff3cd; border: 2px solid #a4161a; padding: 0.8em; font-weight: bold; }
.kept { color: #8a5300; }
.file { border-top: 1px solid #ccc; padding-top: 0.8em; }
code { font-size: 0.95em; }
svg text { font: 11px system-ui, sans-serif; }
.plot { overflow-x: auto; }
"""

#: The plot's vertical range: similarities from -0.5 (unlike) to 1 (identical).
_LOW, _HIGH = -0.5, 1.0


def render_html(report: RunReport) -> str:
    """The run as one HTML page (a string)."""
    data = report.to_dict()
    summary = data["summary"]
    verify = report.options.get("verify", True)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>unseen report {escape(report.started)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>unseen report</h1>",
        f"<p>Run started {escape(report.started)}, unseen {escape(report.version)}, "
        f"profile <code>{escape(str(report.options.get('profile')))}</code>, "
        f"fill <code>{escape(str(report.options.get('fill')))}</code>.</p>",
    ]
    if not verify:
        parts.append(
            '<p class="warn">Verification was switched off (--no-verify): these outputs were '
            "released without being attacked. A face left visible or recognizable was not "
            "looked for.</p>"
        )
    parts.append(
        _table(
            ["files", "protected", "skipped", "failed", "faces masked", "verified"],
            [
                [
                    str(summary[k])
                    for k in ("files", "processed", "skipped", "failed", "faces_masked", "verified")
                ]
            ],
        )
    )
    parts.append("<h2>Files</h2>")
    parts.append(
        _table(
            ["input", "result", "faces masked", "verification"],
            [_row(f) for f in report.files],
            raw=True,
        )
    )
    scored = [f for f in report.files if f.verification is not None and f.verification.faces]
    if scored:
        parts.append("<h2>Faces: similarity before and after</h2>")
        parts.append(
            "<p>For each masked face, a recognizer compares the original face with its own "
            "mirror image (<b>before</b>: what an unprotected copy scores) and with the same "
            "place in the output (<b>after</b>). A face counts as recognized (red) when its "
            "after score reaches the dashed line <i>and</i> beats, by more than "
            f"{REID_CONTEXT_MARGIN:g}, what the surroundings alone score (the mask area "
            "refilled with the output's colour and grain): then the file is not released. Point "
            f"at a face for its numbers. Videos show faces of every {REID_EVERY}th frame.</p>"
        )
        for result in scored:
            assert result.verification is not None
            parts.append(f'<div class="file"><h3>{escape(result.input)}</h3>')
            recognizers = dict.fromkeys(s.recognizer for s in result.verification.faces)
            for name in recognizers:
                scores = [s for s in result.verification.faces if s.recognizer == name]
                parts.append(f'<div class="plot">{_plot(name, scores)}</div>')
            parts.append("</div>")
    voiced = [(f.input, f.audio) for f in report.files if f.audio is not None]
    if voiced:
        parts.append("<h2>Voices</h2>")
        parts.append(
            "<p>A voice-activity model finds where people speak; a sound without speech "
            "(silence, music, noise) is kept as it is. Where there is speech, a "
            "speaker-recognition attacker compares voices, on the speech only: <b>before</b>, "
            "pieces of the original with each other (how well it knows this voice); "
            "<b>after</b>, the original with the output. A file scoring above "
            f"{VOICE_SIMILARITY_LIMIT:g} after is not released (a new pseudo-voice is drawn "
            "first); two different real speakers score 0.34 on average (vctk-4).</p>"
        )
        parts.append(
            _table(
                ["input", "voice", "seconds", "speech", "before", "after", "what it resists"],
                [_voice_row(name, audio) for name, audio in voiced],
                raw=True,
            )
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


#: What each --voice mode does and does not resist (README, "Measured on voices").
_VOICE_RESISTS = {
    "transform": (
        "comparison with other recordings of the speaker; <b>not</b> an attacker who runs "
        "unseen on such a recording a few times and keeps the best match (use "
        "<code>--voice replace</code> against one)"
    ),
    "replace": (
        "speaker recognition, also by an attacker who runs unseen: every file is said by the "
        "same synthetic voice (the words and their timing remain)"
    ),
    "keep": '<span class="fail">nothing: the voice is as recorded</span>',
}


def _voice_row(name: str, audio: AudioSummary) -> list[str]:
    def score(value: float | None) -> str:
        return "not measured" if value is None else f"{value:.2f}"

    resists = _VOICE_RESISTS.get(audio.voice, "")
    if audio.speech is not None and not audio.speech.found:
        resists = "no voice to protect: the sound is kept as it was"
    return [
        escape(name),
        f"<code>{escape(audio.voice)}</code>",
        f"{audio.seconds:.1f}",
        _speech(audio),
        score(audio.similarity_before),
        score(audio.similarity_after),
        resists,
    ]


def _speech(audio: AudioSummary) -> str:
    """Where the sound holds speech, in words."""
    speech = audio.speech
    if speech is None:
        return "not listened for"
    if not speech.found:
        return f"none found (all {speech.seconds:.1f} s checked)"
    heard = " (words heard by the recognizer: singing?)" if speech.heard_by == "words" else ""
    return f"{speech.speech_seconds:.1f} s in {len(speech.segments)} part(s){heard}"


def _row(result: FileResult) -> list[str]:
    if result.status == "ok":
        status = '<span class="pass">protected</span>'
        if result.output:
            status += f"<br><code>{escape(result.output)}</code>"
        kept = len(result.kept) + len(result.kept_tracks)
        if kept:
            what = "face(s)" if result.kept else "person track(s)"
            status += (
                f'<br><span class="kept">{kept} {what} left visible by decision, '
                "not attacked</span>"
            )
    elif result.status == "skipped":
        status = "skipped (output already there)"
    else:
        status = f'<span class="fail">failed</span> ({escape(result.stage or "")})'
        if result.error and (result.verification is None or result.verification.passed):
            status += f"<br>{escape(result.error)}"
    verification = result.verification
    if verification is None:
        checked = "not verified"
    else:
        verdict = '<span class="pass">pass</span>' if verification.passed else ""
        if not verification.passed:
            verdict = f'<span class="fail">{len(verification.findings)} finding(s)</span>'
        lines = [verdict]
        lines += [escape(str(f)) for f in verification.findings]
        if verification.skipped:
            lines.append("not run: " + ", ".join(verification.skipped))
        checked = "<br>".join(lines)
    return [escape(result.input), status, str(result.faces), checked]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], raw: bool = False) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if raw else escape(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _plot(recognizer: str, scores: Sequence[FaceScore]) -> str:
    """Before and after for each face, one column per face, against the threshold."""
    step, left, top, height = 46, 44, 14, 150
    width = max(420, left + step * len(scores) + 16)

    def y(value: float) -> float:
        clipped = min(_HIGH, max(_LOW, value))
        return top + (_HIGH - clipped) / (_HIGH - _LOW) * height

    threshold = scores[0].threshold
    items = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top + height + 34}" '
        f'role="img" aria-label="{escape(recognizer)} similarity before and after">',
        f'<text x="2" y="{top - 3}">{escape(recognizer)}</text>',
    ]
    for tick in (-0.5, 0.0, 0.5, 1.0):
        items.append(
            f'<line x1="{left}" x2="{width - 8}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#e4e4e4"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>'
        )
    items.append(
        f'<line x1="{left}" x2="{width - 8}" y1="{y(threshold):.1f}" y2="{y(threshold):.1f}" '
        'stroke="#a4161a" stroke-dasharray="5,3"/>'
        f'<text x="{width - 8}" y="{y(threshold) - 3:.1f}" text-anchor="end" fill="#a4161a">'
        f"match at {threshold:g}</text>"
    )
    for index, score in enumerate(scores):
        x = left + step * index + step / 2
        colour = "#a4161a" if score.matched else "#17622e"
        x1, y1, x2, y2 = score.box
        label = (
            f"frame {score.frame}, box {x1},{y1}-{x2},{y2}: "
            f"before {score.before:.2f}, after {score.after:.2f}"
            + ("" if score.context is None else f", mask area refilled {score.context:.2f}")
        )
        items.append(
            f"<g><title>{escape(label)}</title>"
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y(score.before):.1f}" '
            f'y2="{y(score.after):.1f}" stroke="#999"/>'
            f'<circle cx="{x:.1f}" cy="{y(score.before):.1f}" r="4" fill="#888"/>'
            f'<circle cx="{x:.1f}" cy="{y(score.after):.1f}" r="5" fill="{colour}"/>'
            f'<text x="{x:.1f}" y="{top + height + 16}" text-anchor="middle">{index + 1}</text>'
            "</g>"
        )
    items.append(
        f'<text x="2" y="{top + height + 30}">face number; grey: before, '
        "green: after (no match), red: after (match)</text></svg>"
    )
    return "".join(items)


def warnings(options: Options) -> tuple[str, ...]:
    """What a person must hear before a run with ``options`` starts: choices
    that weaken the protection (every front end says the same)."""
    said = []
    if not options.verify:
        said.append(
            "WARNING: --no-verify: outputs will be released WITHOUT being attacked; a face "
            "left visible or recognizable will not be caught. The report records this."
        )
    if options.fill in WEAK_FILLS:
        said.append(
            f"warning: --fill {options.fill} is reversible by published attacks; "
            "use solid or noise to protect people"
        )
    if options.voice == "keep":
        said.append(
            "warning: --voice keep leaves voices as they are: speaker recognition "
            "can identify the people speaking"
        )
    return tuple(said)


def notices(report: RunReport) -> tuple[str, ...]:
    """What a person must hear after a run: what its outputs do not resist."""
    transformed = [
        f.audio
        for f in report.files
        if f.status == "ok"
        and f.audio is not None
        and f.audio.voice == "transform"
        and f.audio.draws > 0
    ]
    fallen = sum(a.fallback is not None for a in transformed)
    said = []
    if len(transformed) > fallen:
        said.append(
            f"note: {len(transformed) - fallen} file(s) with transformed voices: this resists "
            "comparison with other recordings, not an attacker who runs unseen on another "
            "recording of the speaker; --voice replace resists that (README: Audio)"
        )
    if fallen:
        said.append(
            f"note: {fallen} file(s) asked for --voice replace held speech that could not be "
            "transcribed with confidence (see each file's notes): their voices were "
            "transformed instead, which does not resist an attacker who runs unseen on "
            "another recording of the speaker; --audio drop removes such sound"
        )
    return tuple(said)


def write_reports(
    report: RunReport, out_dir: Path, path: Path | None = None, *, force: bool = False
) -> tuple[Path, Path]:
    """Write the JSON report (at ``path``, or ``unseen-report-TIME.json`` in
    ``out_dir``, never over another run's) and the HTML page next to it, each
    atomically; returns both paths. ``force`` lets an explicit ``path`` be
    replaced."""
    path = path or _free_report_path(out_dir)
    html = html_path(path)
    pages = (
        (path, (json_text(report.to_dict()) + "\n").encode("utf-8")),
        # Names that are not valid UTF-8 become \udcXX escapes, as in the JSON.
        (html, render_html(report).encode("utf-8", "backslashreplace")),
    )
    inputs = [f.input for f in report.files]
    for target, content in pages:
        write_document(target, content, force=force, inputs=inputs)
    return path, html


def html_path(report_path: Path) -> Path:
    """The HTML report next to the JSON one: same name, ``.html``."""
    if report_path.suffix == ".html":
        return report_path.with_name(report_path.name + ".html")
    return report_path.with_suffix(".html")


def _free_report_path(out_dir: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"unseen-report-{stamp}.json"
    number = 2
    while os.path.lexists(path) or os.path.lexists(html_path(path)):
        path = out_dir / f"unseen-report-{stamp}-{number}.json"
        number += 1
    return path
