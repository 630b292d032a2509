"""Every namespace function the compute modules call exists in CuPy.

CuPy is not installed in CI, so its names were read once on a GPU machine
(``python benchmarks/gpu_check.py --names`` writes them) and checked in as
``cupy_names.json``.  The compute modules (autograd, nn, optim,
regularization, the training step, the kernel table's generic entries) are
read with :mod:`ast`; every ``xp.NAME`` / ``ns.NAME`` / ``xp.linalg.NAME``
they use must be a name of ``array_api_compat.cupy``.  A deeper chain such as
``xp.add.at`` (a NumPy ufunc method) is refused outright: it belongs in a
``"numpy"`` kernel entry, which this test skips.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "chainrule"
NAMES = json.loads((Path(__file__).with_name("cupy_names.json")).read_text())
COMPUTE = [
    *sorted((SRC / "autograd").glob("*.py")),
    *sorted((SRC / "nn").glob("*.py")),
    *sorted((SRC / "optim").glob("*.py")),
    *sorted((SRC / "regularization").glob("*.py")),
    SRC / "_backend" / "kernels.py",
    SRC / "_backend" / "im2col.py",
    SRC / "_backend" / "fused.py",
    *[SRC / "training" / f for f in ("trainer.py", "losses.py", "metrics.py", "evaluation.py")],
]
NAMESPACE_VARS = {"xp", "ns"}
#: GRAPH-namespace helpers the vjps call (only where ``xp`` is GRAPH): not array functions
NOT_ARRAY_FUNCTIONS = {"differentiable", "vjp_of", "scatter"}


def _numpy_only(node) -> bool:
    """A function registered as a ``"numpy"`` (or compiled CPU) kernel entry."""
    for dec in getattr(node, "decorator_list", []):
        if isinstance(dec, ast.Call):
            for arg in dec.args[1:2]:
                if isinstance(arg, ast.Constant) and str(arg.value).startswith("numpy"):
                    return True
            for kw in dec.keywords:
                if kw.arg == "backend" and isinstance(kw.value, ast.Constant) \
                        and str(kw.value.value).startswith("numpy"):
                    return True
    return False


def _uses(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _numpy_only(node):
            skip.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, ast.Attribute):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in NAMESPACE_VARS:
            yield node.lineno, (node.attr,)
        elif (isinstance(node.value, ast.Attribute) and isinstance(node.value.value, ast.Name)
              and node.value.value.id in NAMESPACE_VARS):
            yield node.lineno, (node.value.attr, node.attr)


@pytest.mark.parametrize("path", COMPUTE, ids=lambda p: str(p.relative_to(SRC)))
def test_namespace_calls_exist_in_cupy(path):
    namespace, linalg = set(NAMES["namespace"]), set(NAMES["linalg"])
    bad = []
    for line, chain in _uses(path):
        if len(chain) == 1:
            if chain[0] not in namespace and chain[0] not in NOT_ARRAY_FUNCTIONS:
                bad.append(f"{path.name}:{line}: xp.{chain[0]}")
        elif chain[0] == "linalg":
            if chain[1] not in linalg:
                bad.append(f"{path.name}:{line}: xp.linalg.{chain[1]}")
        elif chain[0] not in NOT_ARRAY_FUNCTIONS:
            bad.append(f"{path.name}:{line}: xp.{'.'.join(chain)} (not an array-API call)")
    assert not bad, "names CuPy's namespace lacks:\n" + "\n".join(bad)


def test_the_name_list_is_cupys():
    assert NAMES["versions"]["cupy"].split(".")[0].isdigit()
    assert {"matmul", "permute_dims", "astype", "take", "concat"} <= set(NAMES["namespace"])
