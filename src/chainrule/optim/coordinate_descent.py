"""Block coordinate descent (book §8.7.2), and the book's example: sparse coding.

Coordinate descent minimises f(x) over one coordinate, or one block of
coordinates, at a time, cycling through the blocks; when each block's
minimisation is exact or at least decreases f, f never increases.  It
pays where the variables split into groups whose sub-problems are easy,
as in sparse coding,

    J(H, W) = λ Σᵢⱼ |Hᵢⱼ| + Σᵢⱼ (X - H W)ᵢⱼ²,

which is not convex in (H, W) together but is convex in each: the codes H
(a lasso problem, one proximal-gradient "ISTA" step at a time) and the
dictionary W (linear least squares, solved exactly).

:class:`BlockCoordinateDescent` cycles through blocks, each an optimiser
over one parameter group (a gradient step on that block only) or a
callable that updates its block itself (an exact solve);
:func:`sparse_coding` runs the alternation of the book's example.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..autograd.engine import enable_grad
from .optimizer import Optimizer

__all__ = ["BlockCoordinateDescent", "sparse_coding"]


class BlockCoordinateDescent:
    """Cycle through blocks of parameters, moving one block per step (book §8.7.2).

    Each block is either an :class:`~chainrule.optim.Optimizer` over that
    block's parameters (e.g. ``SGD([H], lr=0.1)``; it steps on the gradient
    the closure computes, so only its own parameters move) or a callable
    ``update() -> None`` that sets its block directly (an exact minimisation
    such as a least-squares solve).  ``step(closure)`` advances the current
    block once; after ``steps_per_block`` steps the next block takes over,
    cyclically.  ``needs_closure`` is True, so :func:`~chainrule.training.fit`
    hands it the minibatch closure.

    Args:
        blocks: the blocks, in the order they are visited.
        steps_per_block: steps on a block before moving to the next (an int
            for all, or one per block).

    Attributes:
        block: index of the block the next step moves.
        param_groups: every optimiser block's parameter groups (for
            schedulers and logs).

    Example:
        >>> bcd = BlockCoordinateDescent([SGD([H], lr=0.05), SGD([W], lr=0.05)],
        ...                              steps_per_block=10)
        >>> for _ in range(200):
        ...     bcd.step(closure)   # closure: zero_grad, loss, backward, return loss
    """

    needs_closure = True

    def __init__(self, blocks: Sequence, steps_per_block: int | Sequence[int] = 1):
        blocks = list(blocks)
        if not blocks:
            raise ValueError("Expected at least one block. Received: blocks=[]")
        for i, b in enumerate(blocks):
            if not (isinstance(b, Optimizer) or callable(b)):
                raise TypeError(
                    f"Expected each block to be an Optimizer or a callable update(). "
                    f"Received: {type(b).__name__} at block {i}"
                )
        if isinstance(steps_per_block, (int, np.integer)):
            steps = [int(steps_per_block)] * len(blocks)
        else:
            steps = [int(s) for s in steps_per_block]
        if len(steps) != len(blocks) or min(steps) < 1:
            raise ValueError(
                f"Expected steps_per_block >= 1, one number or one per block "
                f"({len(blocks)}). Received: {steps_per_block!r}"
            )
        self.blocks = blocks
        self.steps_per_block = steps
        self.block = 0
        self._taken = 0  # steps on the current block

    @property
    def param_groups(self) -> list:
        return [g for b in self.blocks if isinstance(b, Optimizer) for g in b.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every optimiser block's gradients."""
        for b in self.blocks:
            if isinstance(b, Optimizer):
                b.zero_grad(set_to_none)

    def step(self, closure: Callable | None = None):
        """Move the current block once; return the closure's loss (None for a callable block).

        An optimiser block needs the closure (it computes the gradient); a
        closure-driven block (L-BFGS, ...) receives it, a first-order one
        steps after it.
        """
        b = self.blocks[self.block]
        loss = None
        if isinstance(b, Optimizer):
            if getattr(b, "needs_closure", False):
                loss = b.step(closure)
            else:
                if closure is None:
                    raise ValueError(
                        "Expected a closure (zero_grad, loss, backward, return loss) for an "
                        "optimiser block. Received: None"
                    )
                self.zero_grad()
                with enable_grad():
                    loss = closure()
                b.step()
        else:
            b()
        self._taken += 1
        if self._taken >= self.steps_per_block[self.block]:
            self._taken = 0
            self.block = (self.block + 1) % len(self.blocks)
        return loss

    def state_dict(self) -> dict:
        """The position in the cycle and every optimiser block's state."""
        return {
            "block": self.block,
            "taken": self._taken,
            "blocks": [b.state_dict() if isinstance(b, Optimizer) else None for b in self.blocks],
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved."""
        if len(state["blocks"]) != len(self.blocks):
            raise ValueError(
                f"Expected a state of {len(self.blocks)} blocks. Received: {len(state['blocks'])}"
            )
        self.block = int(state["block"])
        self._taken = int(state["taken"])
        for b, s in zip(self.blocks, state["blocks"]):
            if s is not None:
                b.load_state_dict(s)


def _objective(X, H, W, lam) -> float:
    r = X - H @ W
    return float(lam * np.abs(H).sum() + (r * r).sum())


def sparse_coding(
    X,
    n_atoms: int,
    lam: float,
    *,
    sweeps: int = 50,
    code_steps: int = 1,
    dictionary: str = "lstsq",
    seed: int = 0,
):
    """The book's sparse coding by block coordinate descent over codes and dictionary.

    Minimises J(H, W) = λ Σ|H| + ‖X - H W‖²_F (X: n × d, H: n × k codes,
    W: k × d dictionary) with :class:`BlockCoordinateDescent` over two
    blocks, each step never increasing J:

    * codes H: ``code_steps`` ISTA steps, H ← S_{λt}(H - t ∇_H), with
      ∇_H = 2 (H W - X) Wᵀ, step t = 1 / (2 ‖W Wᵀ‖₂) and the soft threshold
      S_a(z) = sign(z) max(|z| - a, 0) (the lasso's proximal step);
    * dictionary W: ``"lstsq"``, the exact minimiser argmin_W ‖X - H W‖²
      (``numpy.linalg.lstsq``; the minimum-norm one if H is rank-deficient),
      or ``"gradient"``, one step W ← W - ∇_W / (2 ‖HᵀH‖₂).

    Args:
        X: the data, (n, d).
        n_atoms: k, the number of dictionary rows.
        lam: λ >= 0, the weight of the L1 penalty.
        sweeps: passes over the two blocks (codes, then dictionary).
        code_steps: ISTA steps on H per sweep.
        dictionary: ``"lstsq"`` or ``"gradient"``.
        seed: seeds the initial dictionary (unit-norm random rows) and
            codes (zeros).

    Returns:
        ``(H, W, objective)``: float64 codes and dictionary, and J after
        each block step (``1 + sweeps · (code_steps + 1)`` values, the first
        at the start).

    Example:
        >>> H, W, J = sparse_coding(X, n_atoms=32, lam=0.5, sweeps=30)
        >>> bool(np.all(np.diff(J) <= 1e-9 * J[0]))
        True
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.size == 0:
        raise ValueError(f"Expected X of shape (n, d). Received: shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("Expected finite X. Received: NaN or inf entries")
    if int(n_atoms) < 1:
        raise ValueError(f"Expected n_atoms >= 1. Received: {n_atoms!r}")
    if not float(lam) >= 0.0:
        raise ValueError(f"Expected lam >= 0. Received: {lam!r}")
    if dictionary not in ("lstsq", "gradient"):
        raise ValueError(f"Expected dictionary 'lstsq' or 'gradient'. Received: {dictionary!r}")
    lam = float(lam)
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((int(n_atoms), X.shape[1]))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    H = np.zeros((X.shape[0], int(n_atoms)))
    trace = [_objective(X, H, W, lam)]

    def code_step():
        lip = 2.0 * np.linalg.norm(W @ W.T, 2)
        if lip == 0.0:
            H[...] = 0.0
        else:
            t = 1.0 / lip
            Z = H - t * 2.0 * ((H @ W - X) @ W.T)
            H[...] = np.sign(Z) * np.maximum(np.abs(Z) - lam * t, 0.0)
        trace.append(_objective(X, H, W, lam))

    def dictionary_step():
        if dictionary == "lstsq":
            W[...] = np.linalg.lstsq(H, X, rcond=None)[0]
        else:
            lip = 2.0 * np.linalg.norm(H.T @ H, 2)
            if lip > 0.0:
                W[...] -= (2.0 * (H.T @ (H @ W - X))) / lip
        trace.append(_objective(X, H, W, lam))

    bcd = BlockCoordinateDescent([code_step, dictionary_step],
                                 steps_per_block=[int(code_steps), 1])
    for _ in range(int(sweeps) * (int(code_steps) + 1)):
        bcd.step()
    return H, W, np.asarray(trace)
