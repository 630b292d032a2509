"""The layer table of /work/shared/DESIGN.md, checked over the source tree.

Every ``import`` in ``src/chainrule`` (top-level or inside a function) is
read with :mod:`ast`; a module may import only modules of its own layer or
below, and the graph of imports between top-level packages has no cycle.
Tests, examples and benchmarks stand outside the layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "chainrule"

#: top-level module or package of chainrule -> its layer (higher imports lower)
LAYERS = {
    "_backend": 1,
    "_threads": 1,
    "random": 1,
    "_state_dict": 1,  # a state dict's layout; imports nothing of chainrule
    "_safetensors": 1,  # the .safetensors reader and writer; imports nothing of chainrule
    "data": 2,
    "autograd": 3,
    "nn": 4,
    "optim": 4,
    "regularization": 4,
    "mle": 4,
    "diagnostics": 4,
    "interop": 4,
    "onnx": 4,
    "serialization": 5,  # the checksummed .npz format is the checkpoints'
    "training": 5,
    "distributed": 5,
    "sklearn": 6,
    "ensembles": 6,
    "cli": 7,
}


def _top(path: Path) -> str:
    """The top-level chainrule module a source file belongs to."""
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _targets(path: Path, tree: ast.AST):
    """(line, top-level chainrule module) of every chainrule import in a file."""
    package = path.relative_to(SRC.parent).with_suffix("").parts
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "chainrule" and len(parts) > 1:
                    yield node.lineno, parts[1]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                parts = list(base) + (node.module.split(".") if node.module else [])
            else:
                parts = node.module.split(".") if node.module else []
            if not parts or parts[0] != "chainrule":
                continue
            if len(parts) > 1:
                yield node.lineno, parts[1]
            else:  # from chainrule import nn, optim
                for alias in node.names:
                    yield node.lineno, alias.name


def _imports():
    """Every (file, line, importer, imported) between top-level chainrule modules."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "__init__.py":
            continue  # the package root re-exports; it loads subpackages lazily
        tree = ast.parse(path.read_text(encoding="utf-8"))
        src = _top(path)
        for line, dst in _targets(path, tree):
            if dst != src:
                found.append((path.relative_to(SRC.parent), line, src, dst))
    return found


def test_every_module_has_a_layer():
    tops = {_top(p) for p in SRC.rglob("*.py") if p != SRC / "__init__.py"}
    missing = sorted(tops - set(LAYERS))
    assert not missing, f"add these modules to the layer table (DESIGN.md): {missing}"


def test_no_module_imports_a_higher_layer():
    upward = [
        f"{path}:{line}: {src} (layer {LAYERS[src]}) imports {dst} (layer {LAYERS[dst]})"
        for path, line, src, dst in _imports()
        if dst in LAYERS and LAYERS[dst] > LAYERS[src]
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def _find_cycle(graph: dict) -> list | None:
    """One cycle of a directed graph as a list of nodes, or None."""
    state: dict = {}
    stack: list = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_no_import_cycle_between_packages():
    graph: dict = {}
    for _, _, src, dst in _imports():
        graph.setdefault(src, set()).add(dst)
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle)


@pytest.mark.parametrize(
    "graph, has_cycle",
    [({"a": {"b"}, "b": {"c"}}, False), ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True)],
)
def test_cycle_finder_finds_cycles(graph, has_cycle):
    assert (_find_cycle(graph) is not None) == has_cycle


def test_relative_imports_resolve_to_their_package(tmp_path):
    # `from .. import random` inside chainrule/training/x.py names chainrule.random
    path = SRC / "training" / "x.py"
    tree = ast.parse("from .. import random\nfrom ..nn import functional\nfrom . import losses\n")
    assert list(_targets(path, tree)) == [(1, "random"), (2, "nn"), (3, "training")]


def test_the_estimators_drive_the_trainer_and_have_no_loop_of_their_own():
    # one training loop: the sklearn package imports chainrule.training and
    # never calls backward() or an optimiser's step() itself
    sklearn_dir = SRC / "sklearn"
    imported, calls = set(), []
    for path in sorted(sklearn_dir.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported.update(dst for _, dst in _targets(path, tree))
        for node in ast.walk(tree):
            is_method_call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            if is_method_call and node.func.attr in ("backward", "step"):
                calls.append(f"{path.name}:{node.lineno}: .{node.func.attr}()")
    assert "training" in imported
    assert not calls, "a training loop in the estimators:\n" + "\n".join(calls)
