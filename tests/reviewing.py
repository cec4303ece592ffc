"""What the review tests share: media with known faces, planned once with the
real models, and a real review server on 127.0.0.1 in a thread."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from helpers import crowd, encoded
from videos import Clip, make_clip

import unseen
from unseen.plans import Plan
from unseen.review.server import ReviewServer
from unseen.review.session import Review


@dataclass(frozen=True)
class Media:
    folder: Path
    photo: Path
    #: The faces in the photo, (x1, y1, x2, y2), left to right.
    faces: list[tuple[int, int, int, int]]
    clip: Clip
    plan: Plan


def make_media(folder: Path) -> Media:
    """A group photo of three real faces and a clip of one moving face, planned."""
    folder.mkdir(parents=True)
    image, faces = crowd(count=3, face=96, gap=60)
    photo = folder / "group.png"
    photo.write_bytes(encoded(image, "PNG"))
    clip = make_clip(folder / "clip.mp4", frames=48, size=(320, 240), audio=False)
    planned = unseen.plan([photo, clip.path])
    assert sorted(Path(f.path).name for f in planned.files) == ["clip.mp4", "group.png"]
    return Media(folder, photo, faces, clip, planned)


@contextmanager
def serving(review: Review) -> Iterator[ReviewServer]:
    """``review`` served in a thread until the block ends (or the server stops)."""
    with ReviewServer(review).serving() as server:
        yield server


class Served(Protocol):
    """A review server's address: its port and token."""

    port: int
    token: str


def call(
    server: Served,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    token: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request to ``server`` (a POST when there is a body), under its token
    unless ``token`` says otherwise: status, headers (lower case), body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    sent = {"Host": f"127.0.0.1:{server.port}"}
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    sent.update(headers or {})
    prefix = server.token if token is None else token
    method = "GET" if data is None else "POST"
    connection.request(method, f"/{prefix}/{path}", body=data, headers=sent)
    answer = connection.getresponse()
    content = answer.read()
    connection.close()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, content


def exported(server: Served, timeout: float = 300) -> dict[str, Any]:
    """Wait for the export to end; its state."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, content = call(server, "api/export")
        assert status == 200
        state: dict[str, Any] = json.loads(content)
        if not state["running"]:
            return state
        assert time.monotonic() < deadline, "the export did not end"
        time.sleep(0.2)
