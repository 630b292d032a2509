"""The import graph of src/chainrule, module by module: no cycle, no upward import.

``tests/test_layers.py`` checks the layer table between top-level packages;
this test looks one level finer, at every module, so circles *inside* a
package (``autograd/engine`` with ``autograd/_namespace``) are caught too.

How imports are read (:mod:`ast`, nothing is imported):

- every ``import`` statement counts, at module level and inside functions
  alike: an import deferred into a function is still a dependency of the
  module (laziness saves load time, it does not change the structure), so a
  circle closed by a function-level import is a circle.  Imports under
  ``if TYPE_CHECKING:`` count too (a type is a dependency);
- ``from .pkg import name`` is an edge to the submodule ``pkg.name`` when
  that file exists, otherwise to ``pkg`` (its ``__init__``);
- the root ``chainrule/__init__.py`` is left out, as in ``test_layers.py``:
  it re-exports and loads the subpackages lazily by name.

Layers are those of ``test_layers.LAYERS`` (DESIGN.md): a module may import
modules of its own layer or below.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_layers import LAYERS

SRC = Path(__file__).resolve().parents[1] / "src" / "chainrule"


def _module_name(path: Path, src: Path) -> str:
    parts = path.relative_to(src.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(name: str, src: Path) -> bool:
    rel = Path(*name.split("."))
    return (src.parent / rel).with_suffix(".py").is_file() or (
        src.parent / rel / "__init__.py").is_file()


def imports_of(path: Path, tree: ast.AST, src: Path = SRC):
    """(line, module) of every chainrule module the file at ``path`` imports."""
    package = _module_name(path, src).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "chainrule":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                parts = base + (node.module.split(".") if node.module else [])
            else:
                parts = node.module.split(".") if node.module else []
            if not parts or parts[0] != "chainrule":
                continue
            module = ".".join(parts)
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                yield node.lineno, sub if _exists(sub, src) else module


def build_graph(src: Path = SRC) -> dict:
    """module -> {imported module: [file:line, ...]} over every module but the root."""
    graph: dict = {}
    for path in sorted(src.rglob("*.py")):
        if path == src / "__init__.py":
            continue
        name = _module_name(path, src)
        edges = graph.setdefault(name, {})
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, dst in imports_of(path, tree, src):
            where = f"{path.relative_to(src.parent)}:{line}"
            if dst not in (name, "chainrule") and where not in edges.get(dst, ()):
                edges.setdefault(dst, []).append(where)
    return graph


def cycles(graph: dict) -> list:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict = {}
    low: dict = {}
    on_stack: set = set()
    stack: list = []
    found = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def _describe(graph: dict, component: list) -> str:
    members = set(component)
    edges = [f"    {src} -> {dst}  ({', '.join(where)})"
             for src in component for dst, where in sorted(graph[src].items()) if dst in members]
    return " / ".join(component) + ":\n" + "\n".join(edges)


def test_no_import_cycle_between_modules():
    graph = build_graph()
    found = cycles(graph)
    assert not found, "import cycles (edges in each):\n" + "\n".join(
        _describe(graph, c) for c in found)


def test_no_module_imports_a_higher_layer():
    graph = build_graph()
    upward = [
        f"{src} (layer {_layer(src)}) imports {dst} (layer {_layer(dst)}): {', '.join(where)}"
        for src, edges in sorted(graph.items()) for dst, where in sorted(edges.items())
        if _layer(src) is not None and _layer(dst) is not None and _layer(dst) > _layer(src)
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


# --- the checker itself -----------------------------------------------------------


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"a": {"b": []}, "b": {"c": []}, "c": {}}, []),
        ({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}}, [["a", "b", "c"]]),
        ({"a": {"b": []}, "b": {"a": []}, "c": {"d": []}, "d": {"c": []}},
         [["a", "b"], ["c", "d"]]),
    ],
)
def test_cycle_finder(graph, expected):
    assert sorted(cycles(graph)) == expected


def test_lazy_and_relative_imports_are_edges(tmp_path):
    pkg = tmp_path / "chainrule"
    (pkg / "autograd").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "autograd" / "__init__.py").write_text("from .engine import Tensor\n")
    (pkg / "autograd" / "engine.py").write_text(
        "class Tensor:\n    def f(self):\n        from . import ops\n        return ops\n")
    (pkg / "autograd" / "ops.py").write_text("from .engine import Tensor\n")
    graph = build_graph(pkg)
    assert set(graph["chainrule.autograd.engine"]) == {"chainrule.autograd.ops"}
    assert cycles(graph) == [["chainrule.autograd.engine", "chainrule.autograd.ops"]]
