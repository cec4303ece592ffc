"""The plan: what unseen decided, saved, edited and applied later. Planning
then applying gives the same pixels as anonymizing in one run; a region a
person keeps stays visible and is not attacked; a region a person adds is
masked; a plan for a file that changed, or a plan that is not well formed,
is refused."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from helpers import (
    REPO,
    SHARED,
    astronaut,
    astronaut_face,
    crowd,
    encoded,
    pixels,
    run_cli,
    snapshot,
)
from videos import make_clip

import unseen
from unseen.plans import PlanError, Region, from_dict, load


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Photos, an animation and a video with speech, as the demo has."""
    root = tmp_path_factory.mktemp("plan-media")
    (root / "astronaut.jpg").write_bytes(encoded(astronaut(320), "JPEG"))
    group, _ = crowd(3, face=72)
    (root / "crowd.png").write_bytes(encoded(group, "PNG"))
    frames = [astronaut(160).rotate(angle) for angle in (0, 8, -8)]
    frames[0].save(root / "wave.gif", save_all=True, append_images=frames[1:], duration=100)
    make_clip(root / "clip.mp4", frames=30, sound="voice")
    return root


def test_plan_then_apply_gives_the_pixels_anonymize_gives(media: Path, tmp_path: Path) -> None:
    done = unseen.anonymize([media], tmp_path / "direct")
    assert done.ok, done.failed
    planned = unseen.plan([media])
    assert not planned.failed and len(planned.files) == 4
    saved = tmp_path / "plan.json"
    saved.write_text(planned.dumps())
    applied = unseen.apply(load(saved), tmp_path / "applied")
    assert applied.ok, applied.failed
    for name in ("astronaut.jpg", "crowd.png"):
        a, b = pixels(tmp_path / "direct" / name), pixels(tmp_path / "applied" / name)
        np.testing.assert_array_equal(a, b)
    for a, b in zip(
        _frames(tmp_path / "direct" / "clip.mp4"),
        _frames(tmp_path / "applied" / "clip.mp4"),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    by_name = {Path(f.input).name: f for f in applied.files}
    assert [r.to_dict() for r in by_name["crowd.png"].regions] == [
        r.to_dict() for r in next(f for f in done.files if f.input.endswith("crowd.png")).regions
    ]


def test_the_plan_lists_what_will_be_done_and_no_pixels_or_values(media: Path) -> None:
    planned = unseen.plan([media]).to_dict()
    assert planned["schema"] == "unseen.plan/1"
    files = {Path(f["input"]).name: f for f in planned["files"]}
    photo = files["astronaut.jpg"]
    assert photo["kind"] == "image" and photo["size"] == [320, 320] and photo["frames"] == 1
    assert len(photo["sha256"]) == 64 and photo["bytes"] > 0
    (face,) = photo["regions"]
    assert face["label"] == "face" and face["decision"] == "mask" and face["source"] == "detector"
    video = files["clip.mp4"]
    assert video["kind"] == "video" and video["frames"] == 30
    assert {r["track"] for r in video["regions"]} == {0}
    assert video["voice"]["mode"] == "transform" and video["voice"]["speech"]["segments"]
    text = json.dumps(planned)
    assert "base64" not in text and len(text) < 100_000


def test_a_kept_region_stays_visible_and_a_user_region_is_masked(
    media: Path, tmp_path: Path
) -> None:
    planned = unseen.plan([media / "astronaut.jpg"])
    (photo,) = planned.files
    (face,) = photo.regions
    x1, y1 = 10.0, 10.0
    added = Region("u1", 0, (x1, y1, x1 + 40, y1 + 50), source="user", detector="user")
    edited = dataclasses.replace(
        planned,
        files=(
            dataclasses.replace(photo, regions=(dataclasses.replace(face, decision="keep"), added)),
        ),
    )
    saved = tmp_path / "plan.json"
    saved.write_text(edited.dumps())
    report = unseen.apply(load(saved), tmp_path / "out")
    (result,) = report.files
    assert result.status == "ok", result.error
    before, after = pixels(media / "astronaut.jpg"), pixels(tmp_path / "out" / "astronaut.jpg")
    fx1, fy1, fx2, fy2 = astronaut_face(320)
    middle = (slice(fy1 + 10, fy2 - 10), slice(fx1 + 10, fx2 - 10))
    # Kept: the face is as it was (JPEG re-encoding aside), and it was not attacked.
    assert np.abs(after[middle].astype(int) - before[middle].astype(int)).mean() < 6
    assert [r.face for r in result.kept] == [pytest.approx(face.box)]
    assert result.verification is not None  # only the added region was attacked
    assert {s.box for s in result.verification.faces} <= {r.box for r in result.regions}
    # Added by hand: masked (solid black), with its margins.
    assert after[15:55, 15:45].max() < 40
    assert [r.detector for r in result.regions] == ["user"]
    entry = report.to_dict()["files"][0]
    assert entry["kept_regions"] and entry["kept_regions"][0]["box"]


def test_a_kept_track_and_an_interpolated_user_track_in_a_video(
    media: Path, tmp_path: Path
) -> None:
    planned = unseen.plan([media / "clip.mp4"])
    (clip,) = planned.files
    regions = [dataclasses.replace(r, decision="keep") for r in clip.regions]
    drawn = [
        Region("a", 2, (0.0, 0.0, 30.0, 30.0), source="user", detector="user", track="door"),
        Region("b", 12, (100.0, 0.0, 130.0, 30.0), source="user", detector="user", track="door"),
    ]
    edited = dataclasses.replace(
        planned, files=(dataclasses.replace(clip, regions=(*regions, *drawn)),)
    )
    report = unseen.apply(edited, tmp_path / "out")
    (result,) = report.files
    assert result.status == "ok", result.error
    assert [t.id for t in result.kept_tracks] == [0] and result.kept_tracks[0].frames_masked == 30
    frames = _frames(tmp_path / "out" / "clip.mp4")
    originals = _frames(media / "clip.mp4")
    # The kept face is visible: not black where the face is.
    assert all(f.mean() > 50 for f in frames)
    for index in range(2, 13):  # the drawn box, moved along between its two frames
        x = round(100 * (index - 2) / 10)
        assert frames[index][5:25, x + 5 : x + 25].max() < 40, index
    assert frames[20][5:25, 5:25].min() > 40 or np.array_equal(
        frames[20][5:25, 5:25] > 40, originals[20][5:25, 5:25] > 40
    )


def test_a_changed_input_is_refused(tmp_path: Path) -> None:
    photo = tmp_path / "a.png"
    photo.write_bytes(encoded(astronaut(128), "PNG"))
    planned = unseen.plan([photo])
    photo.write_bytes(encoded(astronaut(130), "PNG"))
    (result,) = unseen.apply(planned, tmp_path / "out").files
    assert result.status == "failed" and "changed since it was planned" in (result.error or "")
    assert not (tmp_path / "out" / "a.png").exists()


def _plan_json(tmp_path: Path) -> dict[str, Any]:
    photo = tmp_path / "a.png"
    photo.write_bytes(encoded(astronaut(128), "PNG"))
    result: dict[str, Any] = unseen.plan([photo]).to_dict()
    return result


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p.update(schema="unseen.plan/9"), "this unseen reads"),
        (lambda p: p["files"][0].update(output="../../etc/passwd"), "inside the output folder"),
        (lambda p: p["files"][0].update(output="/tmp/x.png"), "inside the output folder"),
        (lambda p: p["files"][0]["regions"][0].update(decision="blur"), "mask or keep"),
        (lambda p: p["files"][0]["regions"][0].update(box=[5, 5, 1, 1]), "x2 > x1"),
        (lambda p: p["files"][0]["regions"][0].update(box=[1, 2, "x", 4]), "four numbers"),
        (lambda p: p["files"][0].pop("sha256"), "'sha256' is missing"),
        (lambda p: p["options"].update(fill="glitter"), "fill must be one of"),
        (lambda p: p["options"].update(verify="no"), "wrong type"),
        (lambda p: p["options"].update(frames="bogus"), "frames must be one of"),
        (lambda p: p["options"].update(voice_seed=-1), "voice_seed must lie between"),
        (lambda p: p["options"].update(secret=1), "unknown settings"),
        (lambda p: p["files"][0].update(kind="hologram"), "kind"),
    ],
)
def test_a_malformed_plan_is_refused_saying_where(edit: Any, message: str, tmp_path: Path) -> None:
    data = _plan_json(tmp_path)
    data["files"][0]["regions"].append(
        {
            "id": "u",
            "frame": 0,
            "box": [1, 1, 9, 9],
            "label": "face",
            "detector": "user",
            "score": 1.0,
            "track": None,
            "decision": "mask",
            "source": "user",
        }
    )
    from_dict(data)  # well formed as planned
    edit(data)
    with pytest.raises(PlanError, match=message):
        from_dict(data)


def test_iter_anonymize_yields_each_file_as_it_is_done(tmp_path: Path) -> None:
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(encoded(astronaut(96), "PNG"))
    results = unseen.iter_anonymize([tmp_path / "a.png", tmp_path / "b.png"], tmp_path / "out")
    first = next(results)
    assert first.status == "ok" and (tmp_path / "out" / "a.png").exists()
    assert not (tmp_path / "out" / "b.png").exists()  # not done before it is asked for
    assert next(results).status == "ok" and next(results, None) is None


def test_plan_and_apply_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_bytes(encoded(astronaut(256), "JPEG"))
    done = run_cli("plan", tmp_path / "in", "--out", tmp_path / "plan.json")
    assert done.returncode == 0, done.stderr
    assert "1 planned, 0 failed, 1 regions to mask" in done.stdout
    data = json.loads((tmp_path / "plan.json").read_text())
    data["files"][0]["regions"][0]["decision"] = "keep"
    (tmp_path / "plan.json").write_text(json.dumps(data))
    done = run_cli("apply", tmp_path / "plan.json", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    report = json.loads(next((tmp_path / "out").glob("unseen-report-*.json")).read_text())
    assert len(report["files"][0]["kept_regions"]) == 1
    assert report["files"][0]["faces_masked"] == 0
    (tmp_path / "bad.json").write_text("{}")
    done = run_cli("apply", tmp_path / "bad.json", "--out", tmp_path / "out2")
    assert done.returncode == 2 and "'schema' is missing" in done.stderr


@pytest.mark.shared
def test_plan_then_apply_matches_anonymize_on_wider_photos(tmp_path: Path) -> None:
    images = sorted((SHARED / "faces" / "widerface-dev" / "images").rglob("*.jpg"))[:4]
    options = unseen.Options(format="png")
    direct = unseen.anonymize(images, tmp_path / "direct", options=options)
    applied = unseen.apply(unseen.plan(images, options=options), tmp_path / "applied")
    assert direct.ok and applied.ok
    for image in images:
        name = image.with_suffix(".png").name
        np.testing.assert_array_equal(
            pixels(tmp_path / "direct" / name), pixels(tmp_path / "applied" / name)
        )


def test_every_plan_field_is_documented(media: Path) -> None:
    doc = (REPO / "docs" / "plan.md").read_text()
    documented = set(re.findall(r"`(\w+)`", doc))
    planned = unseen.plan([media]).to_dict()
    video = next(f for f in planned["files"] if f["kind"] == "video")
    keys = {
        *planned,
        *planned["options"],
        *video,
        *video["regions"][0],
        *video["voice"],
        *video["voice"]["speech"],
    }
    assert keys - documented == set()


def test_a_file_that_failed_planning_is_reported_failed_by_apply(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "astronaut.jpg").write_bytes(encoded(astronaut(160), "JPEG"))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not a JPEG")
    planned = unseen.plan([folder])
    assert [f.input for f in planned.failed] == [str(folder / "broken.jpg")]
    calls: list[tuple[int, int, str]] = []
    report = unseen.apply(
        planned,
        tmp_path / "out",
        progress=lambda done, total, result: calls.append((done, total, result.status)),
    )
    assert [(f.input, f.status) for f in report.files] == [
        (str(folder / "astronaut.jpg"), "ok"),
        (str(folder / "broken.jpg"), "failed"),
    ]
    assert report.files[1].error == planned.failed[0].error
    assert calls == [(1, 2, "ok"), (2, 2, "failed")]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["astronaut.jpg"]


def test_no_output_plan_or_report_replaces_an_input(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (folder / name).write_bytes(encoded(astronaut(160), "JPEG"))
    before = snapshot(folder)
    # A plan edited to send a.jpg's output onto b.jpg, applied into the inputs' folder.
    planned = unseen.plan([folder])
    edited = [
        dataclasses.replace(f, output="b.jpg") if f.output == "a.jpg" else f for f in planned.files
    ]
    report = unseen.apply(dataclasses.replace(planned, files=tuple(edited)), folder, force=True)
    assert {f.error for f in report.files} >= {"the output would replace an input"}
    assert snapshot(folder) == before
    # --force lets a plan or a report replace a file, never an input.
    plan = run_cli("plan", folder / "a.jpg", "--out", folder / "a.jpg", "--force")
    assert plan.returncode != 0 and "never replaces an input" in plan.stderr
    done = run_cli(
        "anonymize",
        folder / "a.jpg",
        "--out",
        tmp_path / "out",
        "--report",
        folder / "a.jpg",
        "--force",
    )
    assert done.returncode != 0 and "never replaces an input" in done.stderr
    assert snapshot(folder) == before
