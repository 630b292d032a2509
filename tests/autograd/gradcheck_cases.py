"""The finite-difference case table: one or more cases per primitive.

``test_gradcheck.py`` checks every case in float64 against a central
difference, and fails when a primitive of ``chainrule.autograd.PRIMITIVES``
has no case here.  So adding a primitive means adding a case:

- here, with ``case("my_op", fn, *args)``, or
- in a file of your own beside this one named ``gradcheck_cases_<topic>.py``
  (e.g. ``gradcheck_cases_conv.py``) that does
  ``from gradcheck_cases import case, P, N`` and calls ``case`` the same
  way; ``test_gradcheck.py`` loads every such file.

A case is ``case(name, fn, *args, id=...)``.  ``name`` is the primitive's
registry name, or ``"F.<name>"`` for a composite op built from primitives.
``fn`` takes float64 tensors (one per arg) and returns a tensor.  Each arg
is a shape (random normal input), ``P(shape)`` (positive, for log/sqrt),
``N(shape)`` (|x| ≥ 0.3, away from kinks of relu/abs), ``D(shape)``
(distinct values at least 0.1 apart, for max/min), or an explicit array.
Constants (targets, indices, masks) live inside ``fn``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import chainrule as cr
import chainrule.nn  # registers the primitives defined in nn (batch norm, conv)
import chainrule.nn.functional as F
from chainrule.autograd import PRIMITIVES

__all__ = ["CASES", "D", "N", "P", "case", "const", "op"]


@dataclass(frozen=True)
class P:
    """A random positive input, uniform in [0.3, 2)."""

    shape: tuple


@dataclass(frozen=True)
class N:
    """A random input with |x| in [0.3, 2) and random sign."""

    shape: tuple


@dataclass(frozen=True)
class D:
    """Distinct values 0.1 apart, shuffled: no ties for max/min."""

    shape: tuple


@dataclass
class Case:
    name: str
    id: str
    fn: Callable
    args: tuple


#: primitive (or "F.<composite>") name -> its cases
CASES: dict[str, list[Case]] = {}


def case(name: str, fn: Callable, *args, id: str | None = None) -> None:
    """Add a finite-difference case for primitive ``name`` (see the module doc)."""
    cases = CASES.setdefault(name, [])
    cases.append(Case(name, id or f"{name}-{len(cases)}", fn, args))


def make_input(spec, rng) -> np.ndarray:
    """A float64 input array from a spec (shape, P, N, D or an array)."""
    if isinstance(spec, np.ndarray):
        return spec.astype(np.float64)
    if isinstance(spec, P):
        return rng.uniform(0.3, 2.0, spec.shape)
    if isinstance(spec, N):
        return rng.uniform(0.3, 2.0, spec.shape) * rng.choice([-1.0, 1.0], spec.shape)
    if isinstance(spec, D):
        n = int(np.prod(spec.shape))
        return (rng.permutation(n) * 0.1 - 0.05 * n).reshape(spec.shape)
    return rng.standard_normal(spec)


def const(x) -> cr.Tensor:
    """A float64 constant tensor (no gradient) for use inside a case."""
    return cr.tensor(np.asarray(x, dtype=np.float64), dtype=np.float64)


def op(name: str) -> Callable:
    """The registered primitive ``name`` (so cases call exactly that op)."""
    return PRIMITIVES[name]


# --------------------------------------------------------------------------
# arithmetic

for _name in ("add", "sub", "mul"):
    case(_name, op(_name), (3,), (3,))
    case(_name, op(_name), (2, 3), (3,), id=f"{_name}-broadcast-row")
    case(_name, op(_name), (4, 1), (1, 5), id=f"{_name}-broadcast-outer")
    case(_name, op(_name), (), (2, 3), id=f"{_name}-scalar")
case("div", op("div"), (2, 3), N((2, 3)))
case("div", op("div"), (4, 1), N((1, 5)), id="div-broadcast")
case("div", lambda b: 2.0 / b, N((3,)), id="div-rdiv")
case("neg", op("neg"), (2, 3))
case("pow", lambda a: a**3, N((2, 3)), id="pow-cube")
case("pow", lambda a: a**-1.5, P((2, 3)), id="pow-negative-exponent")
case("pow", op("pow"), P((2, 3)), (2, 3), id="pow-tensor-exponent")
case("pow", op("pow"), P((3, 1)), (1, 4), id="pow-broadcast")
case("pow", lambda b: 2.0**b, (3,), id="pow-rpow")

# matmul: 2-D, batched, broadcast batches, 1-D on either side; square
# operands too, where a vjp with its operands swapped or untransposed gives
# gradients of the right shape and wrong values
for _sa, _sb in [((3, 4), (4, 5)), ((4, 4), (4, 4)), ((2, 4, 4), (4, 4)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
                 ((2, 1, 3, 4), (5, 4, 2)), ((4,), (4, 5)), ((3, 4), (4,)),
                 ((4,), (4,)), ((4,), (2, 4, 5)), ((2, 3, 4), (4,))]:
    case("matmul", op("matmul"), _sa, _sb, id=f"matmul{_sa}@{_sb}")

# --------------------------------------------------------------------------
# elementwise

case("exp", op("exp"), (2, 3))
case("log", op("log"), P((2, 3)))
case("sqrt", op("sqrt"), P((2, 3)))
case("abs", op("abs"), N((2, 3)))
case("relu", op("relu"), N((2, 3)))
case("leaky_relu", op("leaky_relu"), N((2, 3)))
case("leaky_relu", lambda a: op("leaky_relu")(a, negative_slope=0.2), N((2, 3)),
     id="leaky_relu-0.2")
case("sigmoid", op("sigmoid"), np.array([-30.0, -3.0, -0.5, 0.0, 0.5, 3.0, 30.0]))
case("tanh", op("tanh"), (2, 3))
case("softplus", op("softplus"), np.array([-30.0, -3.0, -0.5, 0.0, 0.5, 3.0, 30.0]))

# --------------------------------------------------------------------------
# reductions

for _axis, _keep in [(None, False), (1, False), (-1, True), ((0, 2), False), ((0, 2), True)]:
    _tag = f"axis={_axis}-keep={_keep}"
    case("sum", lambda a, ax=_axis, k=_keep: a.sum(ax, k), (2, 3, 4), id=f"sum-{_tag}")
    case("mean", lambda a, ax=_axis, k=_keep: a.mean(ax, k), (2, 3, 4), id=f"mean-{_tag}")
    case("max", lambda a, ax=_axis, k=_keep: a.max(ax, k), D((2, 3, 4)), id=f"max-{_tag}")
    case("min", lambda a, ax=_axis, k=_keep: a.min(ax, k), D((2, 3, 4)), id=f"min-{_tag}")

# --------------------------------------------------------------------------
# shape and indexing

_IDX = np.array([0, 2, 2, 1, 0])
_MASK = np.array([[True, False, True, True], [False, False, True, False],
                  [True, True, False, False]])
case("reshape", lambda a: a.reshape(4, 6), (2, 3, 4))
case("transpose", lambda a: a.T, (3, 4), id="transpose-T")
case("transpose", lambda a: a.transpose(0, -1, 1), (2, 3, 4), id="transpose-negative")
case("transpose", lambda a: a.transpose(2, 0, 1), (2, 3, 4), id="transpose-cycle")
case("getitem", lambda a: a[1:, ::2], (3, 4), id="getitem-slices")
case("getitem", lambda a: a[_IDX], (3, 4), id="getitem-repeats")
case("getitem", lambda a: a[_IDX, _IDX[::-1] % 4], (3, 4), id="getitem-pairs")
case("getitem", lambda a: a[_MASK], (3, 4), id="getitem-mask")
case("getitem", lambda a: a[..., None, 2], (2, 3, 4), id="getitem-ellipsis-newaxis")
case("astype", lambda a: op("astype")(a, dtype=np.float64) * 2.0, (2, 3))
case("where", lambda a, b: op("where")(_MASK, a, b), (3, 4), (3, 4))
case("where", lambda a, b: op("where")(_MASK, a, b), (3, 1), (4,), id="where-broadcast")
case("concatenate", lambda a, b, c: cr.concatenate([a, b, c], axis=1),
     (2, 1), (2, 3), (2, 2))
case("concatenate", lambda a, b: cr.concatenate([a, b], axis=0), (1, 3), (2, 3),
     id="concatenate-axis0")
case("stack", lambda a, b, c: cr.stack([a, b, c], axis=1), (2, 3), (2, 3), (2, 3))
case("stack", lambda a, b: cr.stack([a, b], axis=-1), (3,), (3,), id="stack-last")

# --------------------------------------------------------------------------
# fused ops

case("linear", op("linear"), (5, 3), (3, 4), (4,))
case("linear", op("linear"), (2, 5, 3), (3, 4), (4,), id="linear-3d")
case("linear", lambda x, w: op("linear")(x, w), (5, 3), (3, 4), id="linear-nobias")
case("linear", op("linear"), (4, 4), (4, 4), (4,), id="linear-square")
case("linear", op("linear"), (2, 4, 4), (4, 4), (4,), id="linear-3d-square")
for _axis in (0, -1):
    case("softmax", lambda a, ax=_axis: op("softmax")(a, axis=ax), (3, 4),
         id=f"softmax-axis{_axis}")
    case("log_softmax", lambda a, ax=_axis: op("log_softmax")(a, axis=ax), (3, 4),
         id=f"log_softmax-axis{_axis}")
    case("logsumexp", lambda a, ax=_axis: op("logsumexp")(a, axis=ax), (3, 4),
         id=f"logsumexp-axis{_axis}")
case("logsumexp", lambda a: op("logsumexp")(a, axis=(0, 2), keepdims=True), (2, 3, 4),
     id="logsumexp-tuple-keepdims")

_Y = np.array([0, 3, 2, 2, 1])
for _red in ("mean", "sum", "none"):
    for _eps in (0.0, 0.2):
        case("softmax_cross_entropy",
             lambda z, r=_red, e=_eps: op("softmax_cross_entropy")(
                 z, target=_Y, smoothing=e, reduction=r),
             (5, 4), id=f"softmax_cross_entropy-{_red}-eps{_eps}")
case("bce_with_logits", op("bce_with_logits"), (3, 4), P((3, 4)))
case("bce_with_logits", lambda z: op("bce_with_logits")(z, const(np.eye(4)[:3])),
     (3, 4), id="bce_with_logits-const-target")

# --------------------------------------------------------------------------
# composite ops (no vjp of their own, but easy to get wrong)

case("F.prelu", F.prelu, N((4, 3)), P((1,)), id="prelu-single")
case("F.prelu", F.prelu, N((2, 3, 5)), P((3,)), id="prelu-per-channel")
case("F.gaussian_nll_loss", F.gaussian_nll_loss, (4, 3), P((4, 3)), (4, 3),
     id="gaussian_nll")
case("F.gaussian_nll_loss", F.gaussian_nll_loss, (4, 3), P((4,)), (4, 3),
     id="gaussian_nll-row-variance")
case("F.gaussian_nll_loss",
     lambda m, v, y: F.gaussian_nll_loss(m, v, y, full=True, reduction="none"),
     (4, 3), P((4, 1)), (4, 3), id="gaussian_nll-full-none")
case("F.nll_loss", lambda z: F.nll_loss(z, _Y), (5, 4), id="nll_loss-mean")
case("F.nll_loss", lambda z: F.nll_loss(F.log_softmax(z), _Y, reduction="sum"), (5, 4),
     id="nll_loss-of-log_softmax")
case("F.cross_entropy",
     lambda z: F.cross_entropy(z, np.array([[0, 2], [1, 1]]), label_smoothing=0.1),
     (2, 3, 2), id="cross_entropy-NCd")
case("F.mse_loss", F.mse_loss, (4, 3), (4, 3))
case("F.l1_loss", F.l1_loss, (4, 3), (4, 3))
case("F.binary_cross_entropy_with_logits",
     lambda z: F.binary_cross_entropy_with_logits(z, const(np.eye(4)[:3]), reduction="sum"),
     (3, 4))
case("F.abs_rectification", F.abs_rectification, N((2, 3)))

# --------------------------------------------------------------------------
# primitives defined outside autograd/ops.py

case("batch_norm_train", op("batch_norm_train"), (5, 3), P((3,)), (3,), id="batch_norm-2d")
case("batch_norm_train", op("batch_norm_train"), (2, 3, 2, 2), P((3,)), (3,),
     id="batch_norm-4d")
case("batch_norm_train", lambda x: op("batch_norm_train")(x, None, None), (4, 2, 3),
     id="batch_norm-no-affine")

# ---------------------------------------------------------------- issue 14
# the two primitives that make indexing and broadcasting differentiable to any
# order (the vjp of getitem is scatter_add, whose vjp is getitem again)
case("scatter_add", lambda g: op("scatter_add")(g, shape=(3, 4), index=(slice(1, None),
                                                                        slice(None, None, 2))),
     (2, 2), id="scatter_add-slices")
case("scatter_add", lambda g: op("scatter_add")(g, shape=(3, 4), index=_IDX), (len(_IDX), 4),
     id="scatter_add-repeats")
case("broadcast_to", lambda a: op("broadcast_to")(a, shape=(2, 3, 4)), (3, 1))
case("broadcast_to", lambda a: op("broadcast_to")(a, shape=(3, 4)), (), id="broadcast_to-scalar")
