"""No network, ever: protecting photos opens no socket and starts no program.

Python's audit hooks see every socket created, every name looked up and every
connection attempted, by Python code and by C extensions that go through the
socket module alike.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from audio_media import spoken, write_audio
from helpers import astronaut, encoded, jpeg_with_metadata

import unseen

WATCHED = ("socket.", "urllib.", "http.client.", "ftplib.", "smtplib.", "webbrowser.")
SPAWNING = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork")

# Installed before anything else runs: records each watched event and refuses it.
HARNESS = """
import os, sys
WATCHED = {watched!r}
attempts = []

def hook(event, args):
    if event.startswith(WATCHED):
        attempts.append(event)
        raise RuntimeError("blocked by the test: " + event)

sys.addaudithook(hook)

def report():
    with open(os.environ["AUDIT_LOG"], "w") as log:
        log.write("\\n".join(attempts))

import atexit
atexit.register(report)
if sys.argv[1] == "--code":
    exec(sys.argv[2])
else:
    import runpy
    sys.argv = ["unseen", *sys.argv[1:]]
    runpy.run_module("unseen", run_name="__main__")
"""


def _run(tmp_path: Path, *args: str | Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    harness = tmp_path / "harness.py"
    harness.write_text(HARNESS.format(watched=WATCHED + SPAWNING))
    log = tmp_path / "audit.log"
    proc = subprocess.run(
        [sys.executable, harness, *map(str, args)],
        env={"AUDIT_LOG": str(log), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc, [line for line in log.read_text().splitlines() if line]


def test_the_harness_does_catch_a_socket(tmp_path: Path) -> None:
    proc, attempts = _run(tmp_path, "--code", "import socket\ntry: socket.socket()\nexcept: pass")
    assert proc.returncode == 0, proc.stderr
    assert attempts == ["socket.__new__"]
    _, looked_up = _run(
        tmp_path,
        "--code",
        "import socket\ntry: socket.getaddrinfo('example.org', 80)\nexcept: pass",
    )
    assert looked_up == ["socket.getaddrinfo"]


def test_anonymize_and_inspect_open_no_socket(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_bytes(jpeg_with_metadata(astronaut(160)))
    (tmp_path / "in" / "b.heic").write_bytes(encoded(astronaut(96), "HEIF"))
    proc, attempts = _run(tmp_path, "anonymize", tmp_path / "in", "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert "2 processed, 0 failed" in proc.stdout
    assert attempts == []
    proc, attempts = _run(tmp_path, "inspect", tmp_path / "in" / "a.jpg")
    assert proc.returncode == 0, proc.stderr
    assert attempts == []


def test_re_speaking_a_voice_opens_no_socket(tmp_path: Path) -> None:
    """--voice replace joins Whisper base into the cache on first use, names
    the language, and transcribes and re-speaks (or, unsure of the language,
    transforms): all of it offline. (eSpeak's
    words re-spoken by eSpeak are the same voice, which the release check
    refuses: the check is loosened for this test, as in test_audio.py.)"""
    source = write_audio(tmp_path / "said.wav", "WAV", spoken(4.0)[None], 16_000)
    code = (
        "import unseen, unseen.audio.pipeline as p\n"
        "p.VOICE_SIMILARITY_LIMIT = 1.01\n"
        f"r = unseen.anonymize([{str(source)!r}], {str(tmp_path / 'out')!r}, "
        "options=unseen.Options(voice='replace'))\n"
        "assert r.ok, r.files\n"
    )
    proc, attempts = _run(tmp_path, "--code", code)
    assert proc.returncode == 0, proc.stderr
    assert attempts == []
    assert (tmp_path / ".cache" / "unseen").is_dir()  # Whisper base, joined and loaded


_active: list[str] | None = None
_installed = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _active is not None and event.startswith(WATCHED):
        _active.append(event)
        raise RuntimeError(f"blocked by the test: {event}")


@contextmanager
def _watching() -> Iterator[list[str]]:
    """Record watched events in this process while the block runs. (An audit
    hook cannot be removed; outside the block it does nothing.)"""
    global _active, _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
    _active = seen = []
    try:
        yield seen
    finally:
        _active = None


def test_library_opens_no_socket_in_process(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(encoded(astronaut(128), "PNG"))
    with _watching() as seen:
        report = unseen.anonymize([tmp_path / "a.png"], tmp_path / "out")
        found = unseen.inspect(tmp_path / "a.png")
    assert seen == []
    assert report.ok
    assert found.faces


def test_in_process_watch_can_fail() -> None:
    import socket

    with _watching() as seen, pytest.raises(RuntimeError):
        socket.getaddrinfo("localhost", 80)
    assert seen == ["socket.getaddrinfo"]


STRACE = shutil.which("strace")


def _strace_works() -> bool:
    if STRACE is None:
        return False
    probe = subprocess.run([STRACE, "-o", os.devnull, "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _strace_works(), reason="strace is missing or cannot trace here")
def test_no_native_code_opens_an_internet_socket(tmp_path: Path) -> None:
    """Audit hooks see only Python's socket module; native libraries (the ONNX
    runtime embeds an HTTP client for telemetry) open sockets below it. strace
    sees every socket the process and its threads create. The runtime's
    telemetry first looked up its collector about 10 s after start, hence the wait."""
    (tmp_path / "a.png").write_bytes(encoded(astronaut(96), "PNG"))
    code = (
        "import sys, time, unseen\n"
        "assert unseen.anonymize([sys.argv[1]], sys.argv[2]).ok\n"
        "time.sleep(12)\n"
    )
    trace = tmp_path / "trace.txt"
    proc = subprocess.run(
        [
            STRACE,
            "-f",
            "-e",
            "trace=socket,connect",
            "-o",
            trace,
            sys.executable,
            "-c",
            code,
            tmp_path / "a.png",
            tmp_path / "out",
        ],
        env={**os.environ, "HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    calls = [line for line in trace.read_text().splitlines() if "AF_INET" in line]
    assert calls == []
