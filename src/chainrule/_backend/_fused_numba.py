"""The compiled CPU path of :mod:`chainrule._backend.fused`: numba loops generated
from a formula's source, cached on disk.

Imported only on first use of a kernel on NumPy arrays (``import chainrule``
never imports numba).  The math names a formula may use are defined here
for one element (numba's ``math`` functions keep float32 as float32), and
:func:`build` writes a small module holding the formula and a loop over its
elements, which numba compiles with ``nogil=True, cache=True``: the first
call of a kernel compiles it (about a second), later processes load the
machine code from the cache folder (:func:`cache_dir`).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import math
import os
import sys
import tempfile
import textwrap

import numba

__all__ = ["build", "cache_dir"]

sqrt = math.sqrt
exp = math.exp
log = math.log
log1p = math.log1p
expm1 = math.expm1
tanh = math.tanh


@numba.njit(inline="always")
def where(cond, a, b):  # pragma: no cover - compiled
    return a if cond else b


@numba.njit(inline="always")
def maximum(a, b):  # pragma: no cover - compiled
    # NaN wins, as in np.maximum
    return a if (a >= b or a != a) else b  # noqa: PLR0124


@numba.njit(inline="always")
def minimum(a, b):  # pragma: no cover - compiled
    return a if (a <= b or a != a) else b  # noqa: PLR0124


_HEADER = """\
import numba
from chainrule._backend._fused_numba import (
    exp, expm1, log, log1p, maximum, minimum, sqrt, tanh, where)

"""


def cache_dir() -> str:
    """The folder of the generated kernel modules and numba's cache of them.

    ``CHAINRULE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/chainrule/kernels``
    (``~/.cache/chainrule/kernels``); a fresh temporary folder when neither
    can be written (then nothing is kept between processes).
    """
    base = os.environ.get("CHAINRULE_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "chainrule", "kernels")
    try:
        os.makedirs(base, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=base):
            pass
        return base
    except OSError:
        return tempfile.mkdtemp(prefix="chainrule-kernels-")


class _Prune(ast.NodeTransformer):
    """Keep only the taken branch of each ``if x is None`` / ``if x is not None``
    on an array parameter (numba's own pruning leaves the loop unvectorised
    when the dead branch assigns to ``x``)."""

    def __init__(self, present: dict):
        self.present = present

    def visit_If(self, node):
        self.generic_visit(node)
        t = node.test
        if (isinstance(t, ast.Compare) and len(t.ops) == 1
                and isinstance(t.ops[0], (ast.Is, ast.IsNot))
                and isinstance(t.left, ast.Name) and t.left.id in self.present
                and isinstance(t.comparators[0], ast.Constant)
                and t.comparators[0].value is None):
            missing = not self.present[t.left.id]
            taken = missing if isinstance(t.ops[0], ast.Is) else not missing
            body = node.body if taken else node.orelse
            return body or [ast.Pass()]
        return node


def _formula_source(fn, present: dict) -> str:
    """The formula's ``def`` without decorators, renamed ``formula``, its
    ``x is None`` branches decided for the arrays ``present``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    func.decorator_list = []
    func.name = "formula"
    func = ast.fix_missing_locations(_Prune(present).visit(func))
    return "@numba.njit(inline='always', error_model='numpy')\n" + ast.unparse(func) + "\n"


def _loop_source(spec, present, rows: bool, check: bool, dtype: str) -> str:
    """The loop over elements: ``present[k]`` says whether input array k is given;
    ``spec.fresh`` names the new output arrays, passed after the inputs."""
    names = [a for a, here in zip(spec.inputs, present) if here] + list(spec.fresh)
    args = [f"A_{a}" for a in names] + [f"S_{s}" for s in spec.scalars]
    call = []
    body = []  # every input loaded before any store: no aliasing question for the compiler
    for a, here in zip(spec.inputs, present):
        if not here:
            call.append("None")
            continue
        body.append(f"x_{a} = A_{a}[c]" if a in spec.rows else f"x_{a} = A_{a}[i]")
        call.append(f"x_{a}")
    call += [f"s_{s}" for s in spec.scalars]
    outs = [o for o in spec.outputs if o in names]
    results = [f"o_{o}" for o in spec.outputs]
    lhs = ", ".join(results)
    body.append(f"{lhs} = formula({', '.join(call)})")
    if check:
        # z is 0 when every output is finite, NaN otherwise: no branch, so the
        # loop stays vectorised (stores become blends)
        z = " + ".join(f"(o_{o} - o_{o})" for o in outs) or "0"
        body.append(f"z = {z}")
        body.append("ok = z == z")
        body.append("bad = bad | (z != z)")
        # only the first output keeps its old value (the parameter of an
        # update): guarding every store costs the vectorised loop 5x
        for n, o in enumerate(outs):
            if n == 0 and o in spec.inputs:
                body.append(f"A_{o}[i] = o_{o} if ok else x_{o}")
            else:
                body.append(f"A_{o}[i] = o_{o}")
    else:
        for o in outs:
            body.append(f"A_{o}[i] = o_{o}")
    lines = ["@numba.njit(nogil=True, cache=True, error_model='numpy')",
             f"def loop({', '.join(args + ['lo', 'hi', 'C'])}):",
             "    bad = False"]
    # the scalars arrive as Python numbers (float64): cast once to the arrays' type
    lines += [f"    s_{s} = numba.{dtype}(S_{s})" for s in spec.scalars]
    # unsigned indices: with a signed one that may be negative numba wraps it
    # around, and the loop is not vectorised
    if rows:
        lines += ["    cols = numba.uint64(C)",
                  "    for k in range(hi - lo):",
                  "        r = numba.uint64(lo) + numba.uint64(k)",
                  "        for j in range(C):",
                  "            c = numba.uint64(j)",
                  "            i = r * cols + c"]
        indent = " " * 12
    else:
        lines += ["    for k in range(hi - lo):",
                  "        i = numba.uint64(lo) + numba.uint64(k)"]
        indent = " " * 8
    lines += [indent + b for b in body]
    lines.append("    return bad")
    return "\n".join(lines) + "\n"


_HELPERS = hashlib.sha256(inspect.getsource(sys.modules[__name__]).encode()).hexdigest()[:12]


def build(spec, present: tuple, rows: bool, check: bool, dtype: str):
    """The compiled loop of ``spec`` for the given arrays (``present``), row
    broadcasting, finiteness check and dtype (``"float32"`` or ``"float64"``):
    written to a module in
    :func:`cache_dir` (once) and imported."""
    given = dict(zip(spec.inputs, present))
    src = (_HEADER + _formula_source(spec.fn, given) + "\n\n"
           + _loop_source(spec, present, rows, check, dtype))
    digest = hashlib.sha256((src + _HELPERS + numba.__version__).encode()).hexdigest()[:16]
    name = f"chainrule_kernel_{spec.name}_{digest}"
    folder = cache_dir()
    path = os.path.join(folder, name + ".py")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(src)
        os.replace(tmp, path)  # atomic: another process may write the same file
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
    sys.modules[name] = module  # numba's cache finds the module's globals by name
    module_spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.loop
