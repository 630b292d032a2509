"""The CuPy path of :mod:`chainrule._backend.fused`: one ``ElementwiseKernel``
generated from a formula's source (imported only when CuPy arrays ask).

:func:`cuda_source` translates the formula's Python into the body of an
elementwise kernel: every value has the arrays' type ``T`` (float literals
are cast to it), ``if x is None`` is decided when the kernel is made (one
kernel per pattern of given arrays), ``where`` becomes ``?:`` and
``maximum``/``minimum`` ``max``/``min``.  Inputs are copied into locals
named as in the formula, in-place outputs are ``io_`` parameters, new ones
``out_`` parameters.  Row vectors broadcast as CuPy broadcasts.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

__all__ = ["cuda_source", "run_cupy"]

_CALLS = {"sqrt": "sqrt", "exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1",
          "tanh": "tanh", "maximum": "max", "minimum": "min"}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


class _Translator:
    def __init__(self, spec, present: dict):
        self.spec = spec
        self.present = present
        self.declared: set = set()
        self.lines: list = []

    def expr(self, node) -> str:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return "true" if node.value else "false"
            if isinstance(node.value, int):
                return str(node.value)
            if isinstance(node.value, float):
                return f"((T){node.value!r})"
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return f"({self.expr(node.left)} {_BINOPS[type(node.op)]} {self.expr(node.right)})"
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            return f"pow({self.expr(node.left)}, {self.expr(node.right)})"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return f"(-{self.expr(node.operand)})"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return f"(!{self.expr(node.operand)})"
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMPOPS:
            op = _CMPOPS[type(node.ops[0])]
            return f"({self.expr(node.left)} {op} {self.expr(node.comparators[0])})"
        if isinstance(node, ast.BoolOp):
            op = " && " if isinstance(node.op, ast.And) else " || "
            return "(" + op.join(self.expr(v) for v in node.values) + ")"
        if isinstance(node, ast.IfExp):
            return f"({self.expr(node.test)} ? {self.expr(node.body)} : {self.expr(node.orelse)})"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            args = [self.expr(a) for a in node.args]
            if node.func.id == "where" and len(args) == 3:
                return f"({args[0]} ? {args[1]} : {args[2]})"
            if node.func.id in _CALLS:
                return f"{_CALLS[node.func.id]}({', '.join(args)})"
        raise NotImplementedError(
            f"{self.spec.name}: cannot run {ast.unparse(node)!r} in a CuPy kernel"
        )

    def none_test(self, node):
        """True/False for ``x is None`` / ``x is not None`` on an array parameter, else None."""
        if (isinstance(node, ast.Compare) and len(node.ops) == 1
                and isinstance(node.ops[0], (ast.Is, ast.IsNot))
                and isinstance(node.left, ast.Name) and node.left.id in self.present
                and isinstance(node.comparators[0], ast.Constant)
                and node.comparators[0].value is None):
            missing = not self.present[node.left.id]
            return missing if isinstance(node.ops[0], ast.Is) else not missing
        return None

    def statements(self, body) -> None:
        for node in body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # the docstring
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                    node.targets[0], ast.Name):
                name = node.targets[0].id
                value = self.expr(node.value)
                if name in self.declared:
                    self.lines.append(f"{name} = {value};")
                else:
                    self.declared.add(name)
                    self.lines.append(f"T {name} = {value};")
            elif isinstance(node, ast.If) and self.none_test(node.test) is not None:
                self.statements(node.body if self.none_test(node.test) else node.orelse)
            elif isinstance(node, ast.Return):
                values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                for output, item in zip(self.spec.outputs, values):
                    name = str(output)
                    if item is None or (isinstance(item, ast.Constant) and item.value is None):
                        continue
                    if name in self.spec.arrays and not self.present[name]:
                        continue
                    prefix = "io_" if name in self.spec.arrays else "out_"
                    self.lines.append(f"{prefix}{name} = {self.expr(item)};")
            else:
                raise NotImplementedError(
                    f"{self.spec.name}: cannot run {ast.unparse(node)!r} in a CuPy kernel "
                    "(use where() for a choice between values)"
                )


def cuda_source(spec, present: dict) -> tuple:
    """``(in_params, out_params, body, name)`` of the kernel for the arrays in ``present``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(spec.fn)))
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    ins, outs, head = [], [], []
    for a in spec.arrays:
        if not present[a]:
            continue
        if a in spec.outputs:
            outs.append(f"T io_{a}")
            head.append(f"T {a} = io_{a};")
        else:
            ins.append(f"T in_{a}")
            head.append(f"T {a} = in_{a};")
    ins += [f"T {s}" for s in spec.scalars]
    outs += [f"T out_{o}" for o in spec.outputs if o not in spec.arrays]
    t = _Translator(spec, present)
    t.declared.update(a for a in spec.arrays if present[a])
    t.statements(fn.body)
    pattern = "".join("1" if present[a] else "0" for a in spec.arrays)
    return ", ".join(ins), ", ".join(outs), "\n".join(head + t.lines), \
        f"chainrule_{spec.name}_{pattern}"


def run_cupy(spec, named: dict, first, out) -> tuple:
    """Run kernel ``spec`` on CuPy arrays (see :class:`~chainrule._backend.fused.Elementwise`)."""
    import cupy

    present = {a: named[a] is not None for a in spec.arrays}
    key = tuple(present.values())
    k = spec._cupy.get(key)
    if k is None:
        k = spec._cupy[key] = cupy.ElementwiseKernel(*cuda_source(spec, present))
    dtype = first.dtype
    args = [named[a] for a in spec.arrays if present[a] and a not in spec.outputs]
    args += [v if isinstance(v, bool) else dtype.type(v) for v in (named[s] for s in spec.scalars)]
    fresh = {}
    for o in spec.outputs:
        if o in spec.arrays:
            if present[o]:
                args.append(named[o])
            continue
        given = None if out is None else out.get(o)
        fresh[o] = cupy.empty(first.shape, dtype) if given is None else given
    args += list(fresh.values())
    k(*args)
    return tuple(fresh[o] if o in fresh else named.get(o) for o in spec.outputs)
