"""The package's shape, checked from the source with `ast`: no import circles, small
modules, functions that fit on a screen.

Run it alone with ``python -m pytest tests/test_structure.py``. Every import counts, also
one inside a function: a lazy import hides a circle from Python, not from the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

from digits.paths import ROOT

PACKAGE = ROOT / "digits"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, modules: set[str]) -> set[str]:
    """The package's modules that ``tree`` imports (``from digits.x import y`` counts
    ``digits.x.y`` when that is a module, else ``digits.x``)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            subs = {f"{node.module}.{alias.name}" for alias in node.names}
            found.update((subs & modules) or {node.module})
    return found & modules


def import_graph() -> dict[str, set[str]]:
    """Module name -> the package modules it imports, for every module of `digits`."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(path) for path in paths}
    graph = {}
    for path in paths:
        name = _module_name(path)
        graph[name] = _imported(ast.parse(path.read_text()), modules) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of module names (first == last), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, nxt])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def long_functions(paths: list[Path], limit: int) -> list[str]:
    """``file:function (N lines)`` for every function longer than ``limit`` lines."""
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    found.append(f"{path.relative_to(ROOT)}:{node.name} ({lines} lines)")
    return found


def test_no_import_circles():
    assert find_cycle(import_graph()) is None


def test_the_circle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_never_imports_the_lab_scripts_or_tests():
    outside = {"lab", "scripts", "tests", "benchmarks", "app"}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in getattr(node, "names", [])] if isinstance(node, ast.Import) else []
            )
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not {n.split(".")[0] for n in names} & outside, path


def test_modules_are_small():
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_functions_fit_on_a_screen():
    paths = [*PACKAGE.rglob("*.py"), ROOT / "app.py", *(ROOT / "scripts").glob("*.py")]
    assert long_functions(paths, MAX_FUNCTION_LINES) == []
