"""Plan then apply against anonymize: the same outputs, file by file.

Each file is protected twice with the default options: by
``unseen.anonymize``, and by ``unseen.plan``, the plan written as JSON and
read back, then ``unseen.apply``. A fixed voice seed in both runs (and so a
single pseudo-voice) lets the sound be compared too. An output pair counts
as identical when the bytes are equal, else when every decoded frame (or
audio frame) is. A file refused by either run is listed with the reason;
the count of refusals is also what the default options refuse.

Command::

    .venv/bin/python bench/identity.py demo-output/input \\
        ../shared/data/video-real/video-retalking_2.mp4 \\
        ../shared/data/faces/widerface-dev/images
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

import unseen
from unseen.plans import from_dict

OPTIONS = unseen.Options(voice_seed=7)


def decoded(path: Path) -> list[npt.NDArray[np.generic]]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray() for frame in container.decode()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="files or folders")
    args = parser.parse_args()
    files = []
    for path in args.paths:
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    counts = {"same bytes": 0, "same decoded": 0, "different": 0, "refused": 0}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as work:
        root = Path(work)
        for index, path in enumerate(files):
            (direct,) = unseen.anonymize([path], root / f"a{index}", options=OPTIONS).files
            planned = from_dict(json.loads(unseen.plan([path], options=OPTIONS).dumps()))
            (applied,) = unseen.apply(planned, root / f"b{index}").files
            if direct.output is None or applied.output is None:
                counts["refused"] += 1
                print(f"refused: {path}: {direct.error} / {applied.error}", file=sys.stderr)
                continue
            a, b = Path(direct.output), Path(applied.output)
            if a.read_bytes() == b.read_bytes():
                counts["same bytes"] += 1
                continue
            x, y = decoded(a), decoded(b)
            if len(x) == len(y) and all(np.array_equal(u, v) for u, v in zip(x, y, strict=True)):
                counts["same decoded"] += 1
            else:
                counts["different"] += 1
                print(f"different: {path}", file=sys.stderr)
    print("| files | " + " | ".join(counts) + " |")
    print("|---" * (len(counts) + 1) + "|")
    print(f"| {len(files)} | " + " | ".join(str(v) for v in counts.values()) + " |")
    print(f"\n{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
