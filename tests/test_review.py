"""``unseen review``: the API behind the page, on a real server on 127.0.0.1.

The server sees the most sensitive pictures people have: every request
needs the token, names the server itself (DNS rebinding), gets a policy
that loads nothing from elsewhere, and every malformed change is refused
without touching the saved plan. The page itself is driven in Chromium by
test_review_browser.py.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import astronaut, encoded, pixels, report_of, run_cli
from reviewing import Media, call, exported, make_media, serving
from videos import make_clip

import unseen
from unseen.config import Options
from unseen.media import video
from unseen.plans import load
from unseen.review import session as review_session
from unseen.review.server import ReviewServer
from unseen.review.session import SAVED_PLAN, Review

STATIC = Path(review_session.__file__).with_name("static")


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return make_media(tmp_path_factory.mktemp("review") / "in")


def _index(media: Media, name: str) -> int:
    return next(i for i, f in enumerate(media.plan.files) if Path(f.path).name == name)


def test_every_request_needs_the_token_and_gets_the_policy(media: Media, tmp_path: Path) -> None:
    with serving(Review(media.plan, tmp_path / "out")) as server:
        assert server.socket.getsockname()[0] == "127.0.0.1"
        assert call(server, "", token="")[0] == 403
        assert call(server, "api/overview", token="x" + server.token[1:])[0] == 403
        assert call(server, "static/app.js", token="")[0] == 403
        status, headers, page = call(server, "")
        assert status == 200 and b"unseen review" in page
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert headers["cache-control"] == "no-store"
        assert headers["referrer-policy"] == "no-referrer"
        assert call(server, "static/app.js")[0] == 200
        assert call(server, "static/../session.py")[0] == 404


def test_a_foreign_host_or_origin_is_refused(media: Media, tmp_path: Path) -> None:
    """A page elsewhere that points its own name at 127.0.0.1 (DNS rebinding),
    or a page of another origin posting to the server, gets nothing."""
    with serving(Review(media.plan, tmp_path / "out")) as server:
        port = server.port
        rebound = {"Host": f"attacker.example:{port}"}
        assert call(server, "api/overview", headers=rebound)[0] == 403
        assert call(server, "api/overview", headers={"Host": "127.0.0.1:1"})[0] == 403
        foreign = {"Origin": "http://attacker.example"}
        body = {"fill": "noise"}
        assert call(server, "api/fill", body, headers=foreign)[0] == 403
        server.review.flush()
        assert load(tmp_path / "out" / SAVED_PLAN).options.fill == "solid"
        own = {"Origin": f"http://127.0.0.1:{port}", "Host": f"localhost:{port}"}
        assert call(server, "api/fill", body, headers=own)[0] == 200
        server.review.flush()
        assert load(tmp_path / "out" / SAVED_PLAN).options.fill == "noise"


def test_the_page_loads_nothing_from_elsewhere() -> None:
    for path in STATIC.iterdir():
        text = path.read_text()
        # (SVG's namespace is a name, not an address anything is loaded from.)
        addresses = set(re.findall(r"(?:https?:)?//[\w.-]+\.\w+", text)) - {"http://www.w3.org"}
        assert addresses == set(), path.name
    page = (STATIC / "index.html").read_text()
    for found in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert found.startswith(("static/", "api/")), found
    # Text from the plan (file names above all) never goes into the page as HTML.
    assert "innerHTML" not in (STATIC / "app.js").read_text()


def test_hostile_file_names_reach_the_page_as_text(tmp_path: Path) -> None:
    """A name that is not UTF-8 and looks like HTML is listed, escaped as in plans."""
    folder = tmp_path / "in"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9 <img src=x onerror=alert(1)>.png")
    (folder / name).write_bytes(encoded(astronaut(96), "PNG"))
    review = Review(unseen.plan([folder]), tmp_path / "out")
    with serving(review) as server:
        status, _, content = call(server, "api/overview")
    assert status == 200
    listed = json.loads(content)["files"][0]["input"]
    assert listed.endswith(name)


def test_the_output_folder_may_not_be_an_input_folder(media: Media) -> None:
    proc = run_cli("review", media.folder, "--out", media.folder, "--no-browser")
    assert proc.returncode == 3
    assert "the output folder is an input folder" in proc.stderr
    assert not (media.folder / SAVED_PLAN).exists()


MALFORMED: list[tuple[str, Any]] = [
    ("decide", {"decision": "blur", "ids": ["r0"]}),
    ("decide", {"decision": "keep", "ids": ["no-such-region"]}),
    ("decide", {"decision": "keep", "ids": "r0"}),
    ("decide", {"decision": "keep", "tracks": [True]}),
    ("decide", {"ids": ["r0"]}),
    ("add", {"frame": 0, "box": [1, 2, 3]}),
    ("add", {"frame": 0, "box": [10, 10, "x", 40]}),
    ("add", {"frame": 0, "box": [40, 40, 10, 10]}),
    ("add", {"frame": 0, "box": [5000, 5000, 6000, 6000]}),
    ("add", {"frame": 7, "box": [10, 10, 40, 40]}),
    ("add", {"frame": 0.5, "box": [10, 10, 40, 40]}),
    ("add", {"frame": 0, "box": [10, 10, 40, 40], "track": 3}),
    ("remove", {"ids": ["r0"]}),
    ("cut", {"track": "u9", "frame": 0, "side": "after"}),
    ("voice", {"mode": "keep"}),
    ("follow", {"frame": 0, "box": [10, 10, 40, 40]}),
]


def test_malformed_changes_are_refused_and_change_nothing(media: Media, tmp_path: Path) -> None:
    photo = _index(media, "group.png")
    with serving(Review(media.plan, tmp_path / "out")) as server:
        saved = tmp_path / "out" / SAVED_PLAN
        before = saved.read_bytes()
        for action, body in MALFORMED:
            status, _, content = call(server, f"api/files/{photo}/{action}", body)
            assert status == 400, (action, body, content)
            assert json.loads(content)["error"], (action, body)
        for raw, kind in [(b"{not json", "application/json"), (b"[1]", "application/json")]:
            headers = {"Content-Type": kind}
            assert call(server, f"api/files/{photo}/decide", raw=raw, headers=headers)[0] == 400
        huge = b'{"fill": "' + b"x" * (1 << 20) + b'"}'
        json_type = {"Content-Type": "application/json"}
        assert call(server, "api/fill", raw=huge, headers=json_type)[0] == 413
        as_form = {"Content-Type": "application/x-www-form-urlencoded"}
        assert call(server, "api/fill", raw=b"fill=blur", headers=as_form)[0] == 415
        assert call(server, "api/fill", {"fill": "smudge"})[0] == 400
        assert call(server, "api/files/99/decide", {"decision": "keep", "ids": []})[0] == 400
        assert call(server, f"api/files/{photo}/frame/3")[0] == 400
        server.review.flush()
        assert saved.read_bytes() == before


def test_decisions_are_saved_and_apply_again_from_the_command_line(
    media: Media, tmp_path: Path
) -> None:
    photo = _index(media, "group.png")
    out = tmp_path / "out"
    with serving(Review(media.plan, out)) as server:
        status, _, content = call(server, f"api/files/{photo}", None)
        regions = json.loads(content)["regions"]
        assert len(regions) == 3
        first = min(regions, key=lambda r: r["box"][0])
        status, _, content = call(
            server, f"api/files/{photo}/decide", {"decision": "keep", "ids": [first["id"]]}
        )
        assert status == 200
        status, _, content = call(
            server, f"api/files/{photo}/add", {"frame": 0, "box": [2, 2, 40, 30]}
        )
        assert status == 200
        added = json.loads(content)["made"]
    saved = load(out / SAVED_PLAN)
    regions = {r.id: r for r in saved.files[photo].regions}
    assert regions[first["id"]].decision == "keep"
    assert regions[added].source == "user" and regions[added].box == (2.0, 2.0, 40.0, 30.0)
    # A person's decisions apply the same from the command line.
    proc = run_cli("apply", out / SAVED_PLAN, "--out", tmp_path / "again")
    assert proc.returncode == 0, proc.stderr
    report = report_of(tmp_path / "again")
    by_name = {Path(f["input"]).name: f for f in report["files"]}
    assert len(by_name["group.png"]["kept_regions"]) == 1
    result = pixels(tmp_path / "again" / "group.png")
    original = pixels(media.photo)
    x1, y1, x2, y2 = media.faces[0]
    assert np.array_equal(result[y1:y2, x1:x2], original[y1:y2, x1:x2])
    assert (result[4:28, 4:38] == 0).all()  # the region drawn by hand, solid black


ADDRESS = re.compile(r"http://127\.0\.0\.1:(\d+)/([\w-]+)/")


class _Started:
    """``unseen review`` started as a person starts it, and the address it printed."""

    def __init__(self, *args: str | Path, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [*map(str, args), "--no-browser"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        assert self.process.stdout is not None
        self.said: list[str] = []
        found = None
        while found is None:
            line = self.process.stdout.readline()
            assert line, "".join(self.said) + self.process.communicate()[1]
            self.said.append(line)
            found = ADDRESS.search(line)
        self.port, self.token = int(found.group(1)), found.group(2)

    def close(self) -> str:
        """Say goodbye as the page does; what the command said, once it ended."""
        try:
            assert call(self, "api/bye", raw=b"")[0] == 204
            rest, _ = self.process.communicate(timeout=30)
        finally:
            self.process.kill()
        assert self.process.returncode == 0
        return "".join(self.said) + rest


def test_a_review_resumes_from_its_saved_plan(media: Media, tmp_path: Path) -> None:
    out = tmp_path / "out"
    review = Review(media.plan, out)
    review.set_fill("noise")
    review.close()
    started = _Started(sys.executable, "-m", "unseen", "review", "--out", out)
    said = started.close()
    assert "resuming the review saved in" in said
    assert f"unseen apply {out / SAVED_PLAN}" in said
    assert load(out / SAVED_PLAN).options.fill == "noise"


def test_a_box_drawn_on_a_video_is_followed_through_its_frames(
    media: Media, tmp_path: Path
) -> None:
    clip = _index(media, "clip.mp4")
    review = Review(media.plan, tmp_path / "out")
    start = 20
    track = review.follow(clip, start, list(media.clip.faces[start]))
    mine = [r for r in review.plan.files[clip].regions if r.track == track]
    frames = {r.frame: r.box for r in mine}
    assert all(r.source == "user" and r.decision == "mask" for r in mine)
    # Followed both ways, to both ends of this short clip.
    assert sorted(frames) == list(range(media.clip.frames))
    for frame, box in frames.items():
        assert _iou(box, media.clip.faces[frame]) > 0.5, (frame, box, media.clip.faces[frame])
    # Cut short where the tracker would have gone astray.
    review.cut(clip, track, 30, "after")
    assert max(r.frame for r in review.plan.files[clip].regions if r.track == track) == 30
    review.close()


def test_two_boxes_drawn_into_one_track_are_joined(media: Media, tmp_path: Path) -> None:
    """With the tracker off, a person draws a box on two frames: every frame
    between is masked, the box moving in a straight line."""
    clip = _index(media, "clip.mp4")
    review = Review(media.plan, tmp_path / "out")
    first = review.add(clip, 10, [10, 10, 50, 50])
    track = next(r.track for r in review.plan.files[clip].regions if r.id == first)
    assert isinstance(track, str)
    review.add(clip, 20, [110, 30, 150, 70], track=track)
    shown = [r for r in review.file(clip)["regions"] if r["track"] == track]
    assert sorted(r["frame"] for r in shown) == list(range(10, 21))
    middle = next(r for r in shown if r["frame"] == 15)
    assert middle["between"] and middle["box"] == [60.0, 20.0, 100.0, 60.0]
    # Removing the two boxes drawn by hand removes the track.
    review.remove(clip, [r.id for r in review.plan.files[clip].regions if r.track == track])
    assert not [r for r in review.plan.files[clip].regions if r.track == track]


def test_a_track_is_kept_or_masked_whole(media: Media, tmp_path: Path) -> None:
    clip = _index(media, "clip.mp4")
    review = Review(media.plan, tmp_path / "out")
    tracks = review.file(clip)["tracks"]
    assert len(tracks) >= 1
    main = max(tracks, key=lambda t: t["frames"])
    review.decide(clip, "keep", tracks=[main["track"]])
    regions = review.plan.files[clip].regions
    assert {r.decision for r in regions if r.track == main["track"]} == {"keep"}
    assert {r.decision for r in regions if r.track != main["track"]} <= {"mask"}


def test_the_preview_is_painted_as_apply_paints(media: Media, tmp_path: Path) -> None:
    photo = _index(media, "group.png")
    review = Review(media.plan, tmp_path / "out")
    with serving(review) as server:
        status, headers, original = call(server, f"api/files/{photo}/frame/0")
        assert status == 200 and headers["content-type"] == "image/jpeg"
        _, _, preview = call(server, f"api/files/{photo}/frame/0?view=preview")
    shown, painted = _decoded(original), _decoded(preview)
    for x1, y1, x2, y2 in media.faces:
        cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
        assert painted[cy - 10 : cy + 10, cx - 10 : cx + 10].max() < 12  # solid black
        assert shown[cy - 10 : cy + 10, cx - 10 : cx + 10].std() > 10  # a face


def test_export_applies_the_edited_plan_and_serves_the_report(media: Media, tmp_path: Path) -> None:
    clip = _index(media, "clip.mp4")
    out = tmp_path / "out"
    review = Review(media.plan, out)
    main = max(review.file(clip)["tracks"], key=lambda t: t["frames"])
    review.decide(clip, "keep", tracks=[main["track"]])
    with serving(review) as server:
        assert call(server, "api/report")[0] == 404
        assert call(server, "api/export", {"replace": "yes"})[0] == 400
        assert call(server, "api/export", {"replace": False})[0] == 200
        state = exported(server)
        assert state["error"] is None
        assert [r["status"] for r in state["results"]] == ["ok", "ok"]
        status, headers, page = call(server, "api/report")
        assert status == 200 and b"1 person track(s) left visible by decision" in page
        assert "script-src" not in headers["content-security-policy"]
        # Exporting again does not replace the outputs unless asked to.
        call(server, "api/export", {"replace": False})
        again = exported(server)
        assert {r["status"] for r in again["results"]} == {"failed"}
        assert "exists" in again["results"][0]["error"]
    report = json.loads((out / state["report"]).with_suffix(".json").read_text())
    video_result = next(f for f in report["files"] if f["input"].endswith("clip.mp4"))
    assert video_result["kept_tracks"]
    assert not list(out.rglob("*.tmp*")) and not [p for p in out.rglob(".unseen*")]


def test_the_server_stops_when_the_page_closes(media: Media, tmp_path: Path) -> None:
    review = Review(media.plan, tmp_path / "out")
    server = ReviewServer(review)
    thread = server.start()
    assert call(server, "")[0] == 200
    assert call(server, "api/bye", raw=b"")[0] == 204
    thread.join(10)
    assert not thread.is_alive()


RECORDER = """
import os, sys
seen = []

def hook(event, args):
    if event in ("socket.bind", "socket.connect", "socket.getaddrinfo", "socket.sendto",
                 "socket.gethostbyname", "socket.gethostbyaddr", "webbrowser.open"):
        seen.append(event + " " + repr(args[1:] if event.startswith("socket.") else args))

sys.addaudithook(hook)

def report():
    with open(os.environ["AUDIT_LOG"], "w") as log:
        log.write("\\n".join(seen))

import atexit
atexit.register(report)
import runpy
sys.argv = ["unseen", *sys.argv[1:]]
runpy.run_module("unseen", run_name="__main__")
"""


def test_a_review_opens_no_socket_but_the_one_it_listens_on(media: Media, tmp_path: Path) -> None:
    """The whole review, page to export, as a person runs it: the only
    socket bound is 127.0.0.1's, and nothing is looked up or connected to."""
    harness = tmp_path / "harness.py"
    harness.write_text(RECORDER)
    log = tmp_path / "audit.log"
    out = tmp_path / "out"
    started = _Started(
        sys.executable, harness, "review", media.photo, "--out", out, env={"AUDIT_LOG": str(log)}
    )
    assert call(started, "")[0] == 200
    assert call(started, "api/files/0/frame/0?view=preview")[0] == 200
    assert call(started, "api/export", {"replace": False})[0] == 200
    assert exported(started)["results"][0]["status"] == "ok"
    started.close()
    events = [line for line in log.read_text().splitlines() if line]
    binds = [e for e in events if e.startswith("socket.bind")]
    assert len(binds) == 1 and "'127.0.0.1'" in binds[0], events
    assert [e for e in events if not e.startswith("socket.bind")] == []
    assert (out / "group.png").is_file()


@pytest.mark.parametrize(
    ("fmt", "extra"),
    [
        ("mp4", {}),
        ("matroska", {}),
        ("avi", {}),
        ("webm", {}),
        ("mp4", {"rotation": 90}),
        ("mp4", {"vfr": True}),
    ],
)
def test_any_frame_is_the_frame_the_stream_holds(
    tmp_path: Path, fmt: str, extra: dict[str, Any]
) -> None:
    """Frames taken in any order, as a person scrubs, are the frames a
    decode from the start gives at the same index (the plan's numbering)."""
    suffix = {"matroska": "mkv"}.get(fmt, fmt)
    path = tmp_path / f"clip.{suffix}"
    make_clip(path, fmt=fmt, frames=40, audio=False, options={"g": "12"}, **extra)
    sniffed = {"mp4": "MP4", "matroska": "MKV", "avi": "AVI", "webm": "MKV"}[fmt]
    muxer = video.muxer_for(sniffed, path.read_bytes()[:64], path.suffix)
    shape = video.plan(path, muxer, Options(), keep_audio=False)
    every = [picture.rgb for picture in video.pictures(path, shape)]
    order = list(range(len(every)))
    random.Random(7).shuffle(order)
    with video.Frames(path, shape) as frames:
        assert frames.count == len(every) == 40
        for index in [*order, *range(len(every))]:
            assert np.array_equal(frames[index], every[index]), index
        with pytest.raises(IndexError):
            frames[40]


def _iou(a: Any, b: Any) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def _decoded(jpeg: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
