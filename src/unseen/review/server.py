"""The review page's server: Starlette on uvicorn, on 127.0.0.1 only.

It sees the most sensitive pictures people have, so every request must:

- carry the review's random token as the first part of its path (the page
  lives at ``http://127.0.0.1:PORT/TOKEN/`` and uses relative addresses);
- name the server itself in ``Host`` and, when it has one, ``Origin``: a
  page elsewhere that points a name of its own at 127.0.0.1 (DNS
  rebinding) is refused;

and every answer forbids loading anything from anywhere else (a
Content-Security-Policy of ``'self'``), caching (pictures never reach the
browser's disk cache) and framing. Anything else gets 403 and no detail.

The server stops on Ctrl-C, and soon after the page says it is closing
(or after ``IDLE_SECONDS`` without a request, once the page has been opened).
"""

from __future__ import annotations

import hmac
import json
import secrets
import socket
import threading
import time
import webbrowser
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from importlib import resources
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from unseen.errors import UnseenError
from unseen.output import json_text
from unseen.review.session import Review, ReviewError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The page's policy: its own scripts, styles, pictures and requests only.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: The report's own policy (it carries inline styles and no scripts).
REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-resource-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}
#: The page's files, served from the package.
STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
#: Seconds after the page said it is closing (a reload comes back sooner).
CLOSING_SECONDS = 3.0
#: Seconds without any request, once the page was opened, before the server stops.
IDLE_SECONDS = 600.0
#: Largest request body taken.
MAX_BODY = 1 << 20


class Guard:
    """ASGI middleware: the token, Host and Origin checks, and the headers above."""

    def __init__(self, app: ASGI, token: str, port: int, seen: Callable[[], None]) -> None:
        self.app, self.token, self.seen = app, token, seen
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        self.origins = {f"http://{host}" for host in self.hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        first = scope["path"].lstrip("/").split("/", 1)[0]
        allowed = (
            hmac.compare_digest(first.encode(), self.token.encode())
            and headers.get("host") in self.hosts
            and headers.get("origin", next(iter(self.origins))) in self.origins
        )
        if not allowed:
            await Response("forbidden", 403, media_type="text/plain")(scope, receive, send)
            return
        self.seen()

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                given = {k.decode("latin-1").lower() for k, _ in message.get("headers", [])}
                extra = dict(HEADERS)
                if "content-security-policy" not in given:
                    extra["content-security-policy"] = POLICY
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.encode(), v.encode()) for k, v in extra.items()),
                ]
            await send(message)

        await self.app(scope, receive, secured)


class ReviewServer:
    """A :class:`Review` served on 127.0.0.1 at a free port, behind a fresh token."""

    def __init__(self, review: Review, port: int = 0) -> None:
        self.review = review
        self.token = secrets.token_urlsafe(24)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        self.socket.listen(64)
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/{self.token}/"
        self.opened = False
        self.last = time.monotonic()
        self.closing: float | None = None
        app = Starlette(routes=[Mount(f"/{self.token}", routes=self._routes())])
        self.app = Guard(app, self.token, self.port, self._seen)
        config = uvicorn.Config(
            self.app,
            http="h11",
            ws="none",
            lifespan="off",
            log_level="warning",
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)

    def run(self, open_browser: bool = True, ready: Callable[[str], None] | None = None) -> None:
        """Serve until Ctrl-C, the page closing, or idleness; then close the review."""
        watcher = threading.Thread(target=self._watch, daemon=True, name="unseen-review-watch")
        watcher.start()

        def started() -> None:
            while not self.server.started and not self.server.should_exit:
                time.sleep(0.05)
            if ready is not None:
                ready(self.url)
            if open_browser and self.server.started:
                webbrowser.open(self.url)

        threading.Thread(target=started, daemon=True, name="unseen-review-open").start()
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.socket.close()
            self.review.close()

    def start(self, timeout: float = 10.0) -> threading.Thread:
        """Serve in a thread of its own, without opening a browser (for tests,
        notebooks and benchmarks); returns the thread once the server accepts
        connections. :meth:`stop` it, then join the thread."""
        thread = threading.Thread(
            target=self.run, kwargs={"open_browser": False}, daemon=True, name="unseen-review"
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                self.stop()
                raise RuntimeError("the review server did not start")
            time.sleep(0.02)
        return thread

    @contextmanager
    def serving(self) -> Iterator[ReviewServer]:
        """Serve in a thread (:meth:`start`) while the block runs; then stop
        and wait for the thread (the review is closed)."""
        thread = self.start()
        try:
            yield self
        finally:
            self.stop()
            thread.join(15)

    def stop(self) -> None:
        self.server.should_exit = True

    def _seen(self) -> None:
        self.last = time.monotonic()
        self.closing = None

    def _watch(self) -> None:
        while not self.server.should_exit:
            time.sleep(0.25)
            now = time.monotonic()
            if self.review.export.running:
                continue
            if self.closing is not None and now >= self.closing:
                self.stop()
            if self.opened and now - self.last > IDLE_SECONDS:
                self.stop()

    # -- routes -------------------------------------------------------------

    def _routes(self) -> list[Route]:
        review = self.review

        async def page(request: Request) -> Response:
            self.opened = True
            return Response(_asset("index.html"), media_type="text/html; charset=utf-8")

        async def static(request: Request) -> Response:
            name = request.path_params["name"]
            if name not in STATIC:
                return Response("not found", 404, media_type="text/plain")
            return Response(_asset(name), media_type=STATIC[name])

        async def overview(request: Request) -> Response:
            return _json(review.overview())

        async def one(request: Request) -> Response:
            return await _answer(lambda: _json(review.file(_index(request))))

        async def picture(request: Request) -> Response:
            view = request.query_params.get("view", "original")
            index, frame = _index(request), request.path_params["frame"]
            return await _answer(
                lambda: Response(review.picture(index, frame, view), media_type="image/jpeg")
            )

        async def crop(request: Request) -> Response:
            index, region = _index(request), request.path_params["region"]
            return await _answer(
                lambda: Response(review.crop(index, region), media_type="image/jpeg")
            )

        def edit(
            change: Callable[[int, dict[str, Any]], Any],
        ) -> Callable[..., Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                body = await _body(request)
                if isinstance(body, Response):
                    return body
                index = _index(request)

                def run() -> Response:
                    made = change(index, body)
                    answer = {"made": made, "file": review.file(index)}
                    return _json({**answer, "unsaved": review.unsaved_reason})

                return await _answer(run)

            return endpoint

        async def fill(request: Request) -> Response:
            body = await _body(request)
            if isinstance(body, Response):
                return body
            return await _answer(lambda: _done(review.set_fill, _field(body, "fill")))

        async def export(request: Request) -> Response:
            if request.method == "GET":
                return _json(review.export.to_dict())
            body = await _body(request)
            if isinstance(body, Response):
                return body
            replace = body.get("replace", False)
            if not isinstance(replace, bool):
                return _refused("replace must be true or false")
            return await _answer(lambda: _done(review.start_export, replace))

        async def report(request: Request) -> Response:
            found = review.export.report
            if found is None:
                return Response("no report yet", 404, media_type="text/plain")
            return Response(
                found.read_bytes(),
                media_type="text/html; charset=utf-8",
                headers={"content-security-policy": REPORT_POLICY},
            )

        async def bye(request: Request) -> Response:
            self.closing = time.monotonic() + CLOSING_SECONDS
            return Response(status_code=204)

        async def ping(request: Request) -> Response:
            return Response(status_code=204)

        return [
            Route("/", page),
            Route("/static/{name}", static),
            Route("/api/overview", overview),
            Route("/api/files/{index:int}", one),
            Route("/api/files/{index:int}/frame/{frame:int}", picture),
            Route("/api/files/{index:int}/crop/{region}", crop),
            Route(
                "/api/files/{index:int}/decide",
                edit(
                    lambda i, b: review.decide(
                        i, _field(b, "decision"), b.get("ids", []), b.get("tracks", [])
                    )
                ),
                methods=["POST"],
            ),
            Route(
                "/api/files/{index:int}/add",
                edit(lambda i, b: review.add(i, _field(b, "frame"), b.get("box"), b.get("track"))),
                methods=["POST"],
            ),
            Route(
                "/api/files/{index:int}/follow",
                edit(lambda i, b: review.follow(i, _field(b, "frame"), b.get("box"))),
                methods=["POST"],
            ),
            Route(
                "/api/files/{index:int}/remove",
                edit(lambda i, b: review.remove(i, b.get("ids", []))),
                methods=["POST"],
            ),
            Route(
                "/api/files/{index:int}/cut",
                edit(
                    lambda i, b: review.cut(
                        i, _field(b, "track"), _field(b, "frame"), _field(b, "side")
                    )
                ),
                methods=["POST"],
            ),
            Route(
                "/api/files/{index:int}/voice",
                edit(lambda i, b: review.set_voice(i, _field(b, "mode"))),
                methods=["POST"],
            ),
            Route("/api/fill", fill, methods=["POST"]),
            Route("/api/export", export, methods=["GET", "POST"]),
            Route("/api/report", report),
            Route("/api/bye", bye, methods=["POST"]),
            Route("/api/ping", ping, methods=["POST"]),
        ]


def _asset(name: str) -> bytes:
    return resources.files("unseen.review").joinpath("static", name).read_bytes()


def _json(value: object, status: int = 200) -> Response:
    """``value`` as JSON (file names that are not UTF-8 as ``\\udcXX`` escapes, as in plans)."""
    return Response(
        json_text(value, indent=0).encode("utf-8"), status, media_type="application/json"
    )


def _index(request: Request) -> int:
    return int(request.path_params["index"])


def _field(body: dict[str, Any], name: str) -> Any:
    if name not in body:
        raise ReviewError(f"{name!r} is missing")
    return body[name]


def _done(change: Callable[[Any], None], value: Any) -> Response:
    change(value)
    return _json({"ok": True})


def _refused(reason: str, status: int = 400) -> Response:
    return _json({"error": reason}, status)


async def _body(request: Request) -> dict[str, Any] | Response:
    """The request's JSON object, or the answer that refuses it."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return _refused("send JSON (Content-Type: application/json)", 415)
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY:
        return _refused("the request is too large", 413)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _refused("the request is too large", 413)
    try:
        body = json.loads(raw)
    except ValueError:
        return _refused("the request is not valid JSON")
    if not isinstance(body, dict):
        return _refused("the request must be a JSON object")
    return body


async def _answer(make: Callable[[], Response]) -> Response:
    """``make``'s response, made off the event loop; a refused change is a 400
    with the reason, a file that cannot be read a 422."""
    try:
        return await run_in_threadpool(make)
    except ReviewError as exc:
        return _refused(exc.reason)
    except UnseenError as exc:
        return _refused(exc.reason, 422)
    except OSError as exc:
        return _refused(exc.strerror or str(exc), 422)
