"""Supervised pretraining (book §8.7.4): train simple models first, then the hard one.

Two ways of handing a deep network a good starting point, both built on
the one training loop (:func:`~chainrule.training.fit`):

* :func:`greedy_pretrain`, greedy layer-wise *supervised* pretraining
  (Bengio et al., 2007): stage k trains hidden block k with a fresh output
  head on top of the blocks already trained, keeps the block and throws the
  head away.  With ``freeze=True`` (the greedy algorithm proper) the lower
  blocks do not move during stage k: their outputs are computed once and
  are the stage's inputs, so each stage is a one-hidden-layer problem.
  With ``freeze=False`` stage k trains all blocks 0..k and its head jointly
  (the variant of Yosinski et al. that fine-tunes everything each stage).
  The pretrained network is then fine-tuned as a whole.
* :func:`hint_train`, the first stage of FitNets (Romero et al., 2015): a
  thin, deep student's lower part ("guided" layer output v) is trained so
  that a small regressor r maps it onto a wide teacher's middle layer (the
  "hint" h):

      L_HT = (1/N) Σₙ ½ ‖h(xₙ) - r(v(xₙ))‖²          (:func:`hint_loss`)

  after which the whole student is trained on the task (the regressor is
  discarded).  The teacher is never changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..autograd.engine import Tensor, no_grad
from ..nn.container import Sequential
from ..nn.module import Module
from .trainer import fit

__all__ = ["greedy_pretrain", "hint_loss", "hint_train"]


def _features(modules: Sequence[Module], X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Outputs of ``modules`` chained, in eval mode and without a graph."""
    if not modules:
        return X
    net = Sequential(*modules)
    was = [m.training for m in modules]
    net.eval()
    outs = []
    with no_grad():
        for start in range(0, len(X), batch_size):
            outs.append(np.asarray(net(Tensor(X[start:start + batch_size])).data))
    for m, mode in zip(modules, was):
        m.train(mode)
    return np.concatenate(outs, axis=0) if outs else X[:0]


def _check_modules(blocks, name: str) -> list:
    blocks = list(blocks)
    if not blocks:
        raise ValueError(f"Expected at least one module in {name}. Received: none")
    for i, b in enumerate(blocks):
        if not isinstance(b, Module):
            raise TypeError(
                f"Expected chainrule Modules in {name}. Received: {type(b).__name__} at {i}"
            )
    return blocks


def greedy_pretrain(
    blocks: Sequence[Module],
    make_head: Callable[[int], Module],
    X,
    y,
    *,
    loss,
    make_optimizer: Callable,
    epochs: int | Sequence[int],
    freeze: bool = True,
    **fit_kwargs,
):
    """Greedy layer-wise supervised pretraining of ``blocks`` (book §8.7.4).

    Stage k = 0, 1, ... trains ``Sequential(block_k, make_head(k))``: with
    ``freeze=True`` on the outputs of the (already trained, now fixed)
    blocks 0..k-1, computed once in eval mode; with ``freeze=False`` on X,
    training blocks 0..k and the head together.  Each stage calls
    :func:`~chainrule.training.fit` with ``make_optimizer(params)``, a
    fresh optimiser over the parameters it trains.  The blocks are trained
    in place; each stage's head is kept only for the last stage.

    Args:
        blocks: the hidden blocks, bottom first (e.g.
            ``Sequential(Linear(40, 32), Tanh())`` each).
        make_head: ``k -> Module``, a fresh output layer taking block k's
            output (e.g. ``lambda k: nn.Linear(32, 10)``).
        X, y: the supervised training data.
        loss: the task's loss, as for ``fit``.
        make_optimizer: ``params -> optimiser`` (e.g.
            ``lambda p: cr.optim.Adam(p, lr=1e-3)``).
        epochs: epochs per stage: one number, or one per block.
        freeze: keep the lower blocks fixed in each stage (greedy) or train
            them too.
        **fit_kwargs: passed to every ``fit`` (``batch_size``, ``generator``, ...).

    Returns:
        ``(model, histories)``: ``Sequential(*blocks, last head)``, ready to
        be fine-tuned, and one History per stage.

    Example:
        >>> blocks = [nn.Sequential(nn.Linear(d, 32), nn.Tanh())] + [
        ...     nn.Sequential(nn.Linear(32, 32), nn.Tanh()) for _ in range(5)]
        >>> model, _ = greedy_pretrain(blocks, lambda k: nn.Linear(32, 10), X, y,
        ...     loss="cross_entropy", make_optimizer=lambda p: cr.optim.Adam(p, lr=1e-3),
        ...     epochs=5, batch_size=64)
        >>> fit(model, X, y, loss="cross_entropy", optimizer=cr.optim.Adam(model.parameters()))
    """
    blocks = _check_modules(blocks, "blocks")
    if not callable(make_head) or not callable(make_optimizer):
        raise TypeError("Expected make_head: k -> Module and make_optimizer: params -> optimiser")
    if isinstance(epochs, (int, np.integer)):
        stage_epochs = [int(epochs)] * len(blocks)
    else:
        stage_epochs = [int(e) for e in epochs]
        if len(stage_epochs) != len(blocks):
            raise ValueError(
                f"Expected one epochs entry per block ({len(blocks)}). "
                f"Received: {len(stage_epochs)}"
            )
    X = np.asarray(X, dtype=np.float32)
    histories = []
    head = None
    for k, block in enumerate(blocks):
        head = make_head(k)
        if not isinstance(head, Module):
            raise TypeError(
                f"Expected make_head({k}) to return a chainrule Module. "
                f"Received: {type(head).__name__}"
            )
        if freeze:
            inputs = _features(blocks[:k], X)
            stage = Sequential(block, head)
        else:
            inputs = X
            stage = Sequential(*blocks[: k + 1], head)
        optimizer = make_optimizer(list(stage.parameters()))
        histories.append(fit(stage, inputs, y, loss=loss, optimizer=optimizer,
                             epochs=stage_epochs[k], **fit_kwargs))
    model = Sequential(*blocks, head)
    model.train()
    return model, histories


def hint_loss(prediction: Tensor, hint) -> Tensor:
    """FitNets' hint loss: the mean over rows of ½ ‖hint - prediction‖².

    Args:
        prediction: r(v(x)), the regressor's output, (N, ...).
        hint: h(x), the teacher's hint-layer output, same shape (an array
            or Tensor; no gradient flows into it).

    Returns:
        A scalar Tensor, (1/N) Σₙ ½ Σⱼ (hₙⱼ - rₙⱼ)².
    """
    hint = hint.data if isinstance(hint, Tensor) else np.asarray(hint)
    if tuple(prediction.shape) != tuple(hint.shape):
        raise ValueError(
            f"Expected the regressor's output to have the hint's shape {tuple(hint.shape)}. "
            f"Received: {tuple(prediction.shape)}"
        )
    dtype = prediction.data.dtype
    diff = prediction - Tensor(hint.astype(dtype, copy=False), dtype=dtype)
    n = prediction.shape[0]
    return (diff * diff).sum() * (0.5 / n)


def hint_train(
    student_lower: Module,
    regressor: Module,
    teacher_lower: Module,
    X,
    *,
    optimizer,
    epochs: int,
    **fit_kwargs,
):
    """Train a student's lower part to predict a teacher's hint layer (FitNets stage 1).

    The teacher's hints h(x) = ``teacher_lower(x)`` are computed once (eval
    mode, no graph, the teacher untouched); then
    ``Sequential(student_lower, regressor)`` is trained by
    :func:`~chainrule.training.fit` on (X, h) with :func:`hint_loss`.
    Afterwards build the whole student on ``student_lower`` and train it
    on the task; the regressor only served the hint.

    Args:
        student_lower: the student's layers up to its guided layer (trained in place).
        regressor: maps the guided layer's output to the hint's shape
            (FitNets' r; trained here, then discarded).
        teacher_lower: the teacher's layers up to its hint layer (a trained
            network; not changed).
        X: the training inputs (no labels needed).
        optimizer: an optimiser over the student's and the regressor's
            parameters (e.g. ``Adam([*s.parameters(), *r.parameters()])``).
        epochs: training epochs.
        **fit_kwargs: passed to ``fit`` (``batch_size``, ``generator``, ...).

    Returns:
        The History of the hint training (its ``loss`` is :func:`hint_loss`).
    """
    for name, m in (("student_lower", student_lower), ("regressor", regressor),
                    ("teacher_lower", teacher_lower)):
        if not isinstance(m, Module):
            raise TypeError(f"Expected {name} to be a chainrule Module. Received: "
                            f"{type(m).__name__}")
    X = np.asarray(X, dtype=np.float32)
    hints = _features([teacher_lower], X).astype(np.float32, copy=False)
    return fit(Sequential(student_lower, regressor), X, hints, loss=hint_loss,
               optimizer=optimizer, epochs=epochs, **fit_kwargs)
