"""The review page in a real browser (Debian's Chromium, driven by Playwright),
as a person uses it: open the page, keep one face, add a region the
detectors missed, keep a person's track in a video, export, and check the
pixels written and the report. A screenshot of each step is written to
test-output/review/ for a person to look at.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import REPO, pixels
from reviewing import Media, make_media, serving

import unseen
from unseen.media import video
from unseen.review.server import ReviewServer
from unseen.review.session import SAVED_PLAN, Review

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = REPO / "test-output" / "review"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)",
)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return make_media(tmp_path_factory.mktemp("browser") / "in")


@pytest.fixture
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs the browser as root, which Chromium's sandbox refuses.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        opened = context.new_page()
        errors: list[str] = []
        opened.on("pageerror", lambda error: errors.append(str(error)))
        opened.on(
            "console",
            lambda message: errors.append(message.text) if message.type == "error" else None,
        )
        yield opened
        browser.close()
        assert errors == [], errors


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _on_picture(page: Any, size: tuple[int, int], x: float, y: float) -> tuple[float, float]:
    """Where the picture's pixel (x, y) is on the screen."""
    shown = page.locator("#picture").bounding_box()
    return shown["x"] + x * shown["width"] / size[0], shown["y"] + y * shown["height"] / size[1]


def _drag(page: Any, size: tuple[int, int], box: tuple[float, float, float, float]) -> None:
    page.mouse.move(*_on_picture(page, size, box[0], box[1]))
    page.mouse.down()
    page.mouse.move(*_on_picture(page, size, (box[0] + box[2]) / 2, (box[1] + box[3]) / 2))
    page.mouse.move(*_on_picture(page, size, box[2], box[3]))
    page.mouse.up()


def _open_file(page: Any, name: str) -> None:
    page.click("#to-overview")
    page.locator("#files tr", has_text=name).click()
    page.wait_for_selector("#stage[data-shown^='0-']")


def test_a_person_reviews_and_exports_through_the_page(
    media: Media, tmp_path: Path, page: Any
) -> None:
    out = tmp_path / "out"
    review = Review(media.plan, out)
    with serving(review) as server:
        began = time.monotonic()
        page.goto(server.url)
        page.wait_for_selector("#files tr")
        loaded = time.monotonic() - began
        assert page.locator("#files tr").count() == 2
        _shot(page, "1-overview")

        # A photo: keep the leftmost face visible, mask a region the detectors missed.
        _open_file(page, "group.png")
        photo = next(i for i, f in enumerate(review.plan.files) if f.kind == "image")
        size = review.plan.files[photo].size
        assert size is not None
        assert page.locator("#boxes rect").count() == 3
        x1, y1, x2, y2 = media.faces[0]
        page.mouse.click(*_on_picture(page, size, (x1 + x2) / 2, (y1 + y2) / 2))
        page.wait_for_selector("#boxes rect.keep")
        assert page.locator("#regions .decision.keep").count() == 1
        _shot(page, "2-photo-face-kept")
        # The same from the keyboard: next region, keep it, mask it again.
        page.keyboard.press("n")
        page.wait_for_selector("#regions li.selected[data-id='r1']")
        page.keyboard.press("k")
        page.wait_for_selector("#regions li[data-id='r1'] .decision.keep")
        page.keyboard.press("m")
        page.wait_for_selector("#regions li[data-id='r1'] .decision.mask")
        assert page.locator("#regions .decision.keep").count() == 1
        missed = (4.0, 4.0, 44.0, 34.0)
        _drag(page, size, missed)
        page.wait_for_selector("#boxes rect.user")
        assert page.locator("#boxes rect").count() == 4
        _shot(page, "3-photo-region-added")
        page.keyboard.press("v")
        page.wait_for_selector("#stage[data-shown='0-preview']")
        _shot(page, "4-photo-preview")
        # Small faces in a large photo: zoom in, the boxes follow; back to fit.
        fit = page.locator("#picture").bounding_box()["width"]
        page.keyboard.press("+")
        page.wait_for_selector("#picture.zoomed")
        assert page.locator("#picture").bounding_box()["width"] == pytest.approx(2 * fit, abs=2)
        assert page.locator("#boxes").bounding_box()["width"] == pytest.approx(2 * fit, abs=2)
        page.keyboard.press("0")
        page.wait_for_selector("#picture:not(.zoomed)")

        # A video: keep the person's whole track with one click.
        _open_file(page, "clip.mp4")
        clip = next(i for i, f in enumerate(review.plan.files) if f.kind == "video")
        tracks = review.file(clip)["tracks"]
        main = max(tracks, key=lambda t: t["frames"])
        item = page.locator(f"#regions li[data-track='{main['track']}']")
        item.locator("button.keep-track").click()
        page.wait_for_selector(f"#regions li[data-track='{main['track']}'] .decision.keep")
        page.keyboard.press("ArrowRight")
        page.wait_for_selector("#stage[data-shown='1-preview']")
        _shot(page, "5-video-track-kept")

        page.click("#export")
        page.wait_for_selector("#exported[data-state='done']", timeout=300_000)
        _shot(page, "6-exported")
        assert page.locator("#results li.ok").count() == 2, page.inner_text("#exported")
        _shot(page, "6-exported")
        with page.context.expect_page() as opened:
            page.click("#report-link")
        report_page = opened.value
        report_page.wait_for_load_state()
        assert "left visible by decision" in report_page.content()
        _shot(report_page, "7-report")
        report_page.close()

    # What the page decided is what was written.
    result, original = pixels(out / "group.png"), pixels(media.photo)
    assert np.array_equal(result[y1:y2, x1:x2], original[y1:y2, x1:x2])
    for fx1, fy1, fx2, fy2 in media.faces[1:]:
        assert (result[fy1:fy2, fx1:fx2] == 0).all()
    assert (result[6:32, 6:42] == 0).all()
    kept_face = _face_difference(out / "clip.mp4", media)
    assert kept_face < 12, kept_face  # the kept face is still there (a re-encoded copy)
    saved = json.loads((out / SAVED_PLAN).read_text())
    decisions = {
        r["decision"] for r in saved["files"][clip]["regions"] if r["track"] == main["track"]
    }
    assert decisions == {"keep"}
    print(f"page load: {loaded:.2f} s")


def test_the_server_stops_when_the_page_is_closed(media: Media, tmp_path: Path, page: Any) -> None:
    review = Review(media.plan, tmp_path / "out")
    server = ReviewServer(review)
    thread = server.start()
    page.goto(server.url)
    page.wait_for_selector("#files tr")
    page.close(run_before_unload=True)
    thread.join(15)
    assert not thread.is_alive(), "the server still runs after its page was closed"


def _face_difference(path: Path, media: Media) -> float:
    """Mean difference between the face in the exported clip and in the original, frame 10."""
    from unseen.config import Options

    frames = []
    for source in (media.clip.path, path):
        shape = video.plan(source, "mp4", Options(), keep_audio=False)
        with video.Frames(source, shape) as reader:
            frames.append(reader[10].astype(np.int16))
    x1, y1, x2, y2 = media.clip.faces[10]
    return float(np.abs(frames[0][y1:y2, x1:x2] - frames[1][y1:y2, x1:x2]).mean())


@pytest.mark.shared
def test_a_real_video_from_plan_to_verified_export_through_the_page(
    shared_data: Path, tmp_path: Path, page: Any
) -> None:
    """A real clip (two faces, a real sound track): a box drawn on a frame is
    followed by the tracker, and the export is verified and released."""
    source = shared_data / "video-real" / "video-retalking_2.mp4"
    out = tmp_path / "out"
    review = Review(unseen.plan([source]), out)
    with serving(review) as server:
        page.goto(server.url)
        page.locator("#files tr").first.click()
        page.wait_for_selector("#stage[data-shown='0-original']")
        assert page.locator("#regions li").count() >= 1
        size = review.plan.files[0].size
        assert size is not None
        page.locator("#frame").fill("40")
        page.wait_for_selector("#stage[data-shown='40-original']")
        _drag(page, size, (10.0, 10.0, 90.0, 90.0))
        page.wait_for_selector("#regions li[data-track='u1']")
        followed = [r for r in review.plan.files[0].regions if r.track == "u1"]
        assert len(followed) > 30
        _shot(page, "8-real-video-followed")
        page.click("#export")
        page.wait_for_selector("#exported[data-state='done']", timeout=600_000)
        assert page.locator("#results li.ok").count() == 1, page.inner_text("#exported")
        _shot(page, "9-real-video-exported")
    assert (out / "video-retalking_2.mp4").is_file()
