"""The package's layering, read from its source: no module imports a recipe but the CLI, and no import cycle,
counting imports inside functions and under TYPE_CHECKING too (a lazy import hides a cycle from Python, not from a
reader)."""

from __future__ import annotations

import ast
from pathlib import Path

import seal

ROOT = Path(seal.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the seal modules it imports anywhere in its body (`from seal.x import y` counts seal.x.y when that
    is a module, else seal.x). TYPE_CHECKING-only imports count too: a reader follows them as any other."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("seal.")}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("seal"):
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    targets.add(full if full in modules else node.module)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]], ignore_packages: bool = True) -> list[str] | None:
    """One import cycle, or None. A package's `__init__` re-exporting its submodules is no cycle of meaning:
    edges into a package from its own submodules are ignored."""
    def edges(m):
        return {t for t in graph[m] if not (ignore_packages and m.startswith(t + "."))}

    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(edges(m)):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state and (found := visit(t)):
                return found
        state[m] = 2
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_only_the_cli_imports_recipes():
    graph = import_graph()
    offenders = sorted(m for m, targets in graph.items() if m != "seal.cli"
                       and any(t.startswith("seal.recipes.") for t in targets))
    assert offenders == []


def test_no_import_cycle():
    assert find_cycle(import_graph()) is None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert find_cycle({"p": {"p.x"}, "p.x": {"p"}}) is None  # a package re-exporting its module


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "seal.models" in graph["seal.domains.knowledge.domain"]  # `from seal.models import load_model` ...
    assert "seal.inner.multi" in graph["seal.inner.base"]  # ... and lazy imports in function bodies
