"""Curriculum learning (book §8.7.6): easy examples first, the harder ones paced in.

Curriculum learning (Bengio et al., 2009) is a continuation method over the
*data*: the early objectives are the loss on the easy examples only, and
the training set grows towards the whole set, so each stage warm-starts
the next.  :class:`CurriculumSampler` gives :class:`~chainrule.data.DataLoader`
the rows of each epoch: it sorts the rows once by a difficulty score
(lower = easier) and, in epoch ``e``, hands out the easiest
``ceil(pacing(e) · n)`` of them, in a fresh random order (the generator
in scope, so a seed fixes it), cut into minibatches by the loader.

The pacing function gives the fraction of the sorted data in use per
epoch; the named ones grow from ``start`` to 1 at epoch ``full_epoch``:

* ``"linear"``: ``start + (1 - start) · e / full_epoch``;
* ``"root"``: ``sqrt(start² + (1 - start²) · e / full_epoch)`` (more of the
  hard rows early; Platanios et al., 2019);
* ``"step"``: ``start`` until ``full_epoch``, then everything (the
  "baby steps" of two stages);

or any callable ``epoch -> fraction`` (values are clipped to [1/n, 1]).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .. import random as _random

__all__ = ["CurriculumSampler"]

_PACINGS = ("linear", "root", "step")


class CurriculumSampler:
    """Easy-first, paced rows for :class:`~chainrule.data.DataLoader` (book §8.7.6).

    Args:
        scores: one difficulty score per training row (lower = easier),
            e.g. a teacher model's loss, the distance to the class mean,
            a noise level.
        pacing: ``"linear"``, ``"root"``, ``"step"`` or a callable
            ``epoch -> fraction in (0, 1]`` (see the module notes).
        start: the fraction in use at epoch 0 (named pacings).
        full_epoch: the epoch from which every row is in use (named pacings).
        shuffle: shuffle the rows in use every epoch; otherwise they come
            easiest first.

    The loader asks for ``indices(epoch)`` at the start of each of its
    epochs; ``num_samples(epoch)`` is their number.  Ties in ``scores`` keep
    the row order (a stable sort), so the selection is reproducible.

    Example:
        >>> sampler = CurriculumSampler(scores, pacing="linear", start=0.25, full_epoch=10)
        >>> fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=20, sampler=sampler)
    """

    def __init__(
        self,
        scores,
        pacing: str | Callable = "linear",
        *,
        start: float = 0.25,
        full_epoch: int = 10,
        shuffle: bool = True,
    ):
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 1 or scores.size == 0:
            raise ValueError(
                f"Expected scores: one number per training row (a non-empty 1-D array). "
                f"Received: shape {scores.shape}"
            )
        bad = np.flatnonzero(~np.isfinite(scores))
        if bad.size:
            raise ValueError(
                f"Expected finite scores. Received: {scores[bad[0]]} at row {int(bad[0])}"
            )
        if not callable(pacing) and pacing not in _PACINGS:
            raise ValueError(
                f"Expected pacing in {_PACINGS} or a callable epoch -> fraction. "
                f"Received: {pacing!r}"
            )
        if not 0.0 < float(start) <= 1.0:
            raise ValueError(f"Expected start in (0, 1]. Received: start={start!r}")
        if not isinstance(full_epoch, (int, np.integer)) or full_epoch < 0:
            raise ValueError(
                f"Expected full_epoch: a whole number >= 0. Received: full_epoch={full_epoch!r}"
            )
        self.scores = scores
        self.pacing = pacing
        self.start = float(start)
        self.full_epoch = int(full_epoch)
        self.shuffle = bool(shuffle)
        #: row indices from easiest to hardest
        self.ranking = np.argsort(scores, kind="stable")

    def __len__(self) -> int:
        """Number of rows scored (the dataset's length)."""
        return int(self.scores.size)

    def fraction(self, epoch: int) -> float:
        """The share of the sorted rows in use in ``epoch`` (0-based)."""
        if callable(self.pacing):
            frac = float(self.pacing(int(epoch)))
            if not math.isfinite(frac) or frac <= 0.0:
                raise ValueError(
                    f"Expected the pacing function to return a fraction in (0, 1]. "
                    f"Received: {frac!r} at epoch {epoch}"
                )
            return min(frac, 1.0)
        if epoch >= self.full_epoch:
            return 1.0
        t = epoch / self.full_epoch
        s = self.start
        if self.pacing == "linear":
            return s + (1.0 - s) * t
        if self.pacing == "root":
            return math.sqrt(s * s + (1.0 - s * s) * t)
        return s  # "step"

    def num_samples(self, epoch: int) -> int:
        """How many rows ``epoch`` uses: ``ceil(fraction · n)``, at least 1."""
        n = len(self)
        # a tiny tolerance so that 0.3 * 10 is 3 rows, not 4
        return max(1, min(n, math.ceil(self.fraction(epoch) * n - 1e-9)))

    def indices(self, epoch: int) -> np.ndarray:
        """The rows of ``epoch``: the easiest ``num_samples(epoch)``, shuffled if asked."""
        rows = self.ranking[: self.num_samples(epoch)]
        if self.shuffle:
            rows = rows[_random.generator().permutation(rows.size)]
        return rows.astype(np.int64, copy=True)

    def __repr__(self) -> str:
        pacing = getattr(self.pacing, "__name__", repr(self.pacing))
        return (
            f"CurriculumSampler(n={len(self)}, pacing={pacing}, start={self.start}, "
            f"full_epoch={self.full_epoch})"
        )
