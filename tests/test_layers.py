"""The data flows one way, and the imports show it: no module imports a
higher stage (docs/plan.md, "Where the code is")."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO

#: From the bottom: values and settings; media, detectors, masks, metadata;
#: tracking, the voice stage, verification and the plan; one handler per
#: kind of media; the batch facade and the reports; the review page and the
#: command line.
LAYERS = (
    {"errors", "types", "config", "models", "paths", "output"},
    {"media", "detect", "mask", "metadata"},
    {"track", "audio", "verify", "plans"},
    {"handlers"},
    {"api", "report"},
    {"review", "cli", "__init__", "__main__"},
)
PACKAGE = REPO / "src" / "unseen"


def _layer(module: str) -> int:
    top = module.split(".")[0]
    return next(i for i, names in enumerate(LAYERS) if top in names)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("unseen"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("unseen"))
    return {name.removeprefix("unseen").lstrip(".") for name in found} - {""}


def test_no_module_imports_a_higher_stage() -> None:
    known = {name for layer in LAYERS for name in layer}
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", ".")
        here = _layer(module)
        for name in _imports(path):
            if name.split(".")[0] in known and _layer(name) > here:
                upward.append(f"{module} imports {name}")
    assert upward == []


def test_every_module_has_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        module = path.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", ".")
        _layer(module)
