"""The house's layering, read from the code's own imports (every `import` and `from ... import`,
inside functions too): no import runs up a layer, no modules import each other in a circle, at
most four modules stand loose at the top of gltui/, and none passes ~500 lines.

The layers, bottom first (README.md, "Architecture"): a module may import its own layer's
modules and any layer below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gltui"
LAYERS = [
    {"errors", "config"},
    {"fsio", "data", "store"},
    {"learn"},
    {"project"},
    {"views"},
    {"outputs"},
    {"run"},
    {"tui"},
    {"cli"},
    {"__init__", "__main__"},
]
LAYER_OF = {part: i for i, parts in enumerate(LAYERS) for part in parts}
MAX_LINES = 520  # "about 500": a module past this is split by responsibility first


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1 and parts[:-1] != ["gltui"]:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(path: Path, module: str) -> set[str]:
    """Every gltui module `path` imports (absolute or relative, anywhere in the file but under
    `if TYPE_CHECKING:`, which names a type for the reader and imports nothing at run time)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            node.body = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "gltui")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "gltui":
                continue
            for alias in node.names:  # `from gltui.learn import score`: a module, if it is one
                found.add(f"{base}.{alias.name}")
            found.add(base)
    return found


def _layer(module: str) -> int:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else "__init__"
    return LAYER_OF[key]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        targets = {t for t in _imports(path, name) if t in modules and t != name}
        graph[name] = targets
    return graph


def test_every_top_level_part_has_a_layer():
    tops = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
            if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))}
    assert tops <= set(LAYER_OF), f"give these a layer here and in README: {tops - set(LAYER_OF)}"


def test_no_import_runs_up_a_layer():
    upward = [f"{a} -> {b}" for a, targets in _graph().items() for b in targets
              if _layer(b) > _layer(a) and b != "gltui"]
    assert not upward, upward


def test_no_modules_import_each_other_in_a_circle():
    graph = _graph()
    # A package's __init__ that only hands names on is its face, not a room: leave it out.
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if nxt == "gltui":
                continue
            if state.get(nxt) == 1:
                circles.append(trail[trail.index(nxt):] + [nxt])
            elif state.get(nxt) is None:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if state.get(node) is None:
            visit(node, [node])
    faces = {m for m, p in _modules().items() if p.name == "__init__.py"}
    real = [c for c in circles if not (set(c) & faces)]
    assert not real, real


def test_at_most_four_modules_loose_at_the_top():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py",
                                                                           "__main__.py"))
    assert len(loose) <= 4, loose


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(
    p.relative_to(PACKAGE)))
def test_no_module_passes_about_500_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES
