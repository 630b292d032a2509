"""Function transforms on top of reverse mode: vjp, jvp, hvp, vhp, jacobian, hessian.

The same signatures and return values as ``torch.autograd.functional``:
``func`` takes a Tensor (or a tuple of Tensors) and returns a Tensor (or a
tuple); ``inputs`` and ``v`` are a Tensor or a tuple of them, and the
results have the structure of what they pair with.  Everything is built
from :func:`chainrule.autograd.grad`:

- ``vjp``: vᵀ J, one backward pass.
- ``jvp``: J v by the double-vjp trick: g(u) = Jᵀ u is linear in a dummy
  cotangent u, so J v = ∂<g(u), v>/∂u (two backward passes, the first recorded).
- ``hvp``/``vhp``: H v = ∇(∇f · v) ("Pearlmutter's trick", book §8.6.1 uses
  H to pick Newton's step); the Hessian is never formed.
- ``jacobian``/``hessian``: one backward pass per output element (small problems).

Example:
    >>> f = lambda x: (x ** 3).sum()
    >>> x = cr.tensor([1.0, 2.0], dtype=np.float64)
    >>> cr.autograd.functional.hvp(f, x, cr.tensor([1.0, 0.0], dtype=np.float64))[1]
    tensor([6., 0.])
"""

from __future__ import annotations

import numpy as np

from .._backend import namespace_of
from .engine import Tensor, enable_grad, grad

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


def _ns(t):
    return namespace_of(t.data)


def _zeros_like(t) -> Tensor:
    """Zeros of ``t``'s shape, dtype, namespace and device (no gradient)."""
    return Tensor(_ns(t).zeros_like(t.data), dtype=t.dtype)


def _ones_like(t) -> Tensor:
    """Ones of ``t``'s shape, dtype, namespace and device (no gradient)."""
    return Tensor(_ns(t).ones_like(t.data), dtype=t.dtype)


def _as_tuple(x, what):
    single = isinstance(x, Tensor)
    items = (x,) if single else tuple(x)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"Expected {what} to be a Tensor or a tuple of Tensors. "
                f"Received: {type(t).__name__} at position {i}"
            )
    return single, items


def _prepare(inputs, create_graph):
    """Inputs the function will be differentiated at: new leaves, or (create_graph)
    the inputs themselves when they already carry a graph, so results stay linked."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t)
        else:
            out.append(Tensor(t.data, requires_grad=True, dtype=t.dtype))
    return tuple(out)


def _finish(grads, like, create_graph, strict, what):
    """Zeros for None gradients (or an error when ``strict``); detach unless create_graph."""
    result = []
    for i, (g, x) in enumerate(zip(grads, like)):
        if g is None:
            if strict:
                raise RuntimeError(
                    f"{what}: the output is independent of input {i} (strict=True)"
                )
            g = _zeros_like(x)
        elif not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)


def _check_v(v, like, what):
    _, vs = _as_tuple(v, "v")
    if len(vs) != len(like):
        raise ValueError(f"{what}: expected {len(like)} tensors in v. Received: {len(vs)}")
    for i, (a, b) in enumerate(zip(vs, like)):
        if a.shape != b.shape:
            raise ValueError(
                f"{what}: expected v[{i}] of shape {b.shape}. Received: {a.shape}"
            )
    return vs


def _outputs(func, inputs):
    with enable_grad():
        out = func(*inputs)
    return _as_tuple(out, "the function's output")


def _detached(single, outs, create_graph):
    outs = outs if create_graph else tuple(o.detach() for o in outs)
    return outs[0] if single else outs


def _grads(outs, inputs, cotangents, create_graph):
    """grad() of the outputs that have a graph; None for inputs none of them use."""
    pairs = [(o, c) for o, c in zip(outs, cotangents) if o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad([o for o, _ in pairs], inputs, [c for _, c in pairs],
                create_graph=create_graph, allow_unused=True)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), vᵀ J): the vector-Jacobian product (as torch.autograd.functional.vjp).

    Args:
        func: Tensor(s) -> Tensor(s).
        inputs: a Tensor or tuple of Tensors.
        v: cotangent(s) shaped like the output(s); may be None for a single-element output.
        create_graph: make the result differentiable.
        strict: raise if an input does not affect the output.
    """
    single_in, inputs = _as_tuple(inputs, "inputs")
    inputs = _prepare(inputs, create_graph)
    single_out, outs = _outputs(func, inputs)
    if v is None:
        if len(outs) != 1 or outs[0].data.size != 1:
            raise RuntimeError("vjp: v can be None only for a single-element output")
        vs = (_ones_like(outs[0]),)
    else:
        vs = _check_v(v, outs, "vjp")
    with enable_grad():
        grads = _grads(outs, inputs, vs, create_graph)
    result = _finish(grads, inputs, create_graph, strict, "vjp")
    return _detached(single_out, outs, create_graph), result[0] if single_in else result


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product by the double-vjp trick.

    g(u) = Jᵀ u is recorded for a dummy cotangent u; J v = ∂<g(u), v>/∂u.
    """
    _, inputs = _as_tuple(inputs, "inputs")
    inputs = _prepare(inputs, create_graph)
    if v is None:
        if len(inputs) != 1 or inputs[0].data.size != 1:
            raise RuntimeError("jvp: v can be None only for a single-element input")
        vs = (_ones_like(inputs[0]),)
    else:
        vs = _check_v(v, inputs, "jvp")
    single_out, outs = _outputs(func, inputs)
    with enable_grad():
        dummies = tuple(Tensor(_ns(o).zeros_like(o.data), requires_grad=True, dtype=o.dtype) for o in outs)
        gs = _grads(outs, inputs, dummies, True)
        pairs = [(g, w) for g, w in zip(gs, vs) if g is not None and g.requires_grad]
        if pairs:
            jv = grad([g for g, _ in pairs], dummies, [w for _, w in pairs],
                      create_graph=create_graph, allow_unused=True)
        else:
            jv = (None,) * len(outs)
    result = _finish(jv, outs, create_graph, strict, "jvp")
    return _detached(single_out, outs, create_graph), result[0] if single_out else result


def _scalar_output(func, inputs, what):
    single_out, outs = _outputs(func, inputs)
    if not single_out or outs[0].data.size != 1:
        raise RuntimeError(
            f"{what}: expected a function with a single-element Tensor output. "
            f"Received: {len(outs)} output(s), first of shape {outs[0].shape}"
        )
    return outs[0]


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar ``func``: the Hessian-vector product.

    H v = ∇(∇f(x) · v), two backward passes; H is never formed.  (H is
    symmetric, so this equals :func:`vhp`.)
    """
    single_in, inputs = _as_tuple(inputs, "inputs")
    inputs = _prepare(inputs, create_graph)
    vs = _check_v(v, inputs, "hvp") if v is not None else None
    if vs is None:
        if len(inputs) != 1 or inputs[0].data.size != 1:
            raise RuntimeError("hvp: v can be None only for a single-element input")
        vs = (_ones_like(inputs[0]),)
    out = _scalar_output(func, inputs, "hvp")
    with enable_grad():
        gs = grad(out, inputs, create_graph=True, allow_unused=True)
        pairs = [(g, w) for g, w in zip(gs, vs) if g is not None and g.requires_grad]
        hv = (grad([g for g, _ in pairs], inputs, [w for _, w in pairs],
                   create_graph=create_graph, allow_unused=True)
              if pairs else (None,) * len(inputs))
    result = _finish(hv, inputs, create_graph, strict, "hvp")
    out = out if create_graph else out.detach()
    return out, result[0] if single_in else result


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), vᵀ H): equal to :func:`hvp` (the Hessian is symmetric)."""
    return hvp(func, inputs, v, create_graph=create_graph, strict=strict)


def _rows(outs, inputs, create_graph, strict, what):
    """For each output, J rows: result[i][j] of shape out_i.shape + in_j.shape."""
    table = []
    for i, o in enumerate(outs):
        flat = o.reshape(-1) if o.requires_grad else None
        rows = [[] for _ in inputs]
        for k in range(o.size):
            gs = (grad(flat[k], inputs, create_graph=create_graph, allow_unused=True)
                  if flat is not None else (None,) * len(inputs))
            gs = _finish(gs, inputs, create_graph, strict, what)
            for j, g in enumerate(gs):
                rows[j].append(g)
        table.append(tuple(_stack_rows(r, o.shape, x.shape, x.dtype)
                           for r, x in zip(rows, inputs)))
    return table


def _stack_rows(rows, out_shape, in_shape, dtype):
    from . import ops

    if not rows:
        return Tensor(np.zeros(out_shape + in_shape, dtype=dtype), dtype=dtype)
    return ops.reshape(ops.stack(*rows, axis=0), shape=tuple(out_shape) + tuple(in_shape))


def jacobian(func, inputs, create_graph=False, strict=False):
    """The Jacobian of ``func`` at ``inputs`` (as torch.autograd.functional.jacobian).

    For one input and one output: a Tensor of shape out.shape + in.shape;
    tuples give a tuple (per output) of tuples (per input).
    """
    single_in, inputs = _as_tuple(inputs, "inputs")
    inputs = _prepare(inputs, create_graph)
    single_out, outs = _outputs(func, inputs)
    with enable_grad():
        table = _rows(outs, inputs, create_graph, strict, "jacobian")
    table = [row[0] if single_in else row for row in table]
    return table[0] if single_out else tuple(table)


def hessian(func, inputs, create_graph=False, strict=False):
    """The Hessian of a scalar ``func`` at ``inputs`` (as torch.autograd.functional.hessian).

    One input: a Tensor of shape in.shape + in.shape; a tuple of n inputs: an
    n × n tuple of tuples, block (i, j) of shape in_i.shape + in_j.shape.
    """
    single_in, inputs = _as_tuple(inputs, "inputs")
    inputs = _prepare(inputs, create_graph)
    out = _scalar_output(func, inputs, "hessian")
    with enable_grad():
        gs = grad(out, inputs, create_graph=True, allow_unused=True)
        gs = tuple(_zeros_like(x) if g is None else g
                   for g, x in zip(gs, inputs))
        table = _rows(gs, inputs, create_graph, strict, "hessian")
    return table[0][0] if single_in else tuple(table)
