"""The one vocabulary of training recipes: names of activations, optimisers, schedules, losses.

The command line (``chainrule train``, :mod:`chainrule.training.runs`) and
the scikit-learn estimators (:mod:`chainrule.sklearn`) both build their
networks and optimisers here, so a name means the same thing everywhere:

* :data:`ACTIVATIONS`: hidden-unit names -> ``nn`` layer classes (book §6.3);
  ``"logistic"`` is scikit-learn's name of ``"sigmoid"``;
* :data:`OPTIMIZERS`: optimiser names, built by :func:`build_optimizer`
  (book §8.3-8.5);
* :data:`SCHEDULES`: per-step learning-rate schedules over a run, built by
  :func:`build_scheduler` (book §8.3.1);
* :data:`LOSSES`: loss names accepted by ``fit`` (re-exported from
  :mod:`chainrule.training.losses`), and :data:`METRICS`;
* :func:`resolve_name`: a loss, metric or optimiser name as Keras users
  write it (:data:`ALIASES`) -> the names above.

Example:
    >>> model = build_mlp([4, 16, 3], activation="tanh", dropout=0.1)
    >>> opt = build_optimizer("nesterov", model.parameters(), lr=0.1, momentum=0.9)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from .. import nn, optim
from .losses import LOSSES

__all__ = [
    "ACTIVATIONS",
    "ADAMW_WEIGHT_DECAY",
    "ALIASES",
    "LOSSES",
    "METRICS",
    "OPTIMIZERS",
    "SCHEDULES",
    "build_mlp",
    "build_optimizer",
    "build_scheduler",
    "resolve_name",
]

#: hidden-unit name -> layer class
ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
    "leaky_relu": nn.LeakyReLU,
    "softplus": nn.Softplus,
    "abs": nn.Abs,
}

#: optimiser names understood by :func:`build_optimizer`
OPTIMIZERS = (
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "rmsprop_nesterov",
    "adam",
    "adamw",
    "lbfgs",
)

#: AdamW's decoupled weight decay when none is given (PyTorch's default)
ADAMW_WEIGHT_DECAY = 1e-2

#: schedule names understood by :func:`build_scheduler`
SCHEDULES = ("none", "linear", "step", "cosine")


def _choice(kind: str, name, options) -> None:
    if name not in options:
        raise ValueError(f"Expected {kind} in {sorted(options)}. Received: {name!r}")


def build_mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    *,
    dropout: float = 0.0,
    dropout_mode: str = "inverted",
    batch_norm: bool = False,
) -> nn.Sequential:
    """A multilayer perceptron: Linear → [BatchNorm1d] → activation → [Dropout] per hidden layer.

    Args:
        sizes: layer widths ``[n_in, h_1, ..., h_k, n_out]`` (at least two).
        activation: a name in :data:`ACTIVATIONS`.
        dropout: drop probability after each hidden activation (0: none).
        dropout_mode: ``"inverted"`` or ``"weight_scaling"`` (see ``nn.Dropout``).
        batch_norm: batch normalisation before each hidden activation (§8.7.1).

    Returns:
        An ``nn.Sequential``; its parameters draw from ``chainrule.random.generator()``.
    """
    _choice("activation", activation, ACTIVATIONS)
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"Expected at least two positive layer widths. Received: {sizes}")
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(sizes[:-1]):
        layers.append(nn.Linear(fan_in, fan_out))
        if batch_norm:
            layers.append(nn.BatchNorm1d(fan_out))
        layers.append(ACTIVATIONS[activation]())
        if dropout:
            layers.append(nn.Dropout(float(dropout), mode=dropout_mode))
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


def build_optimizer(
    name: str,
    params,
    *,
    lr: float,
    momentum: float = 0.9,
    betas: tuple = (0.9, 0.999),
    eps: float | None = None,
    rho: float | None = None,
    weight_decay: float | None = None,
) -> optim.Optimizer:
    """An optimiser by name over ``params``.

    Names: ``"sgd"`` (plain, book alg. 8.1; with ``momentum`` > 0 heavy-ball
    momentum is *not* added: use ``"momentum"``), ``"momentum"`` (alg. 8.2),
    ``"nesterov"`` (alg. 8.3), ``"adagrad"`` (alg. 8.4), ``"rmsprop"``
    (alg. 8.5), ``"rmsprop_nesterov"`` (alg. 8.6, with ``momentum``),
    ``"adam"`` (alg. 8.7), ``"adamw"`` (decoupled weight decay,
    :data:`ADAMW_WEIGHT_DECAY` when ``weight_decay`` is None) and ``"lbfgs"`` (§8.6.3: L-BFGS with a strong-Wolfe
    line search, ``lr`` its first trial step — 1 is the usual choice; one
    ``step`` per batch runs up to 20 iterations; no weight decay).

    Args:
        name: a name in :data:`OPTIMIZERS`.
        params: the parameters (or parameter groups).
        lr: the learning rate ε.
        momentum: α of the momentum methods.
        betas: Adam's (ρ₁, ρ₂).
        eps: δ of Adagrad, RMSProp and Adam (None: the optimiser's default).
        rho: RMSProp's decay ρ (None: the optimiser's default).
        weight_decay: L2 weight decay added to the gradient (AdamW: decoupled);
            None: the optimiser's default (0, AdamW :data:`ADAMW_WEIGHT_DECAY`); 0 means none.
    """
    _choice("optimizer", name, OPTIMIZERS)
    if weight_decay is None:
        weight_decay = ADAMW_WEIGHT_DECAY if name == "adamw" else 0.0
    lr, wd = float(lr), float(weight_decay)
    if name == "lbfgs":
        if wd:
            raise ValueError(
                "Expected weight_decay=0 with the lbfgs optimizer (add an L2 penalty to "
                f"the loss instead). Received: weight_decay={wd}"
            )
        return optim.LBFGS(params, lr=lr, line_search_fn="strong_wolfe")
    extra: dict[str, Any] = {} if eps is None else {"eps": float(eps)}
    if name == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=wd)
    if name in ("momentum", "nesterov"):
        nesterov = name == "nesterov" and momentum > 0
        return optim.SGD(params, lr=lr, momentum=float(momentum), nesterov=nesterov,
                         weight_decay=wd)
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr, weight_decay=wd, **extra)
    if name in ("rmsprop", "rmsprop_nesterov"):
        if rho is not None:
            extra["alpha"] = float(rho)
        if name == "rmsprop_nesterov":
            extra.update(momentum=float(momentum), nesterov=True)
        return optim.RMSprop(params, lr=lr, weight_decay=wd, **extra)
    betas = (float(betas[0]), float(betas[1]))
    if name == "adam":
        return optim.Adam(params, lr=lr, betas=betas, weight_decay=wd, **extra)
    return optim.AdamW(params, lr=lr, betas=betas, weight_decay=wd, **extra)


def build_scheduler(name: str, optimizer, *, total_steps: int, lr: float):
    """A per-step learning-rate schedule over a run of ``total_steps`` steps (None for "none").

    ``"linear"``: book eq. 8.14 down to 1% of ``lr`` at the end;
    ``"step"``: halve three times over the run; ``"cosine"``: cosine annealing.
    """
    _choice("schedule", name, SCHEDULES)
    sched = optim.lr_scheduler
    if name == "none":
        return None
    if name == "linear":
        return sched.LinearDecay(optimizer, end_lr=float(lr) * 0.01, tau=total_steps)
    if name == "step":
        return sched.StepLR(optimizer, step_size=max(total_steps // 4, 1), gamma=0.5)
    return sched.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))


#: metric names understood by ``fit`` (see :mod:`chainrule.training.metrics`)
METRICS = ("accuracy", "mse", "mae", "log_likelihood", "loss")

#: Keras's (and PyTorch's) spellings of the names above, per kind.  Losses
#: take logits whatever the spelling (Keras's ``from_logits=True``);
#: ``"categorical_crossentropy"`` reads one-hot targets as class ids.
ALIASES = {
    "loss": {
        "sparse_categorical_crossentropy": "cross_entropy",
        "categorical_crossentropy": "cross_entropy",
        "crossentropy": "cross_entropy",
        "binary_crossentropy": "bce",
        "binary_cross_entropy": "bce",
        "mean_squared_error": "mse",
        "mae": "l1",
        "mean_absolute_error": "l1",
        "gaussian_nll_loss": "gaussian_nll",
    },
    "metric": {
        "acc": "accuracy",
        "sparse_categorical_accuracy": "accuracy",
        "categorical_accuracy": "accuracy",
        "binary_accuracy": "accuracy",
        "mean_squared_error": "mse",
        "mean_absolute_error": "mae",
    },
    "optimizer": {},
}


def resolve_name(kind: str, name) -> str:
    """The vocabulary's name for a loss, metric or optimiser name as users write it.

    Case is ignored; Keras's spellings (:data:`ALIASES`) map to the names
    of :data:`LOSSES`, :data:`METRICS` and :data:`OPTIMIZERS`.

    Args:
        kind: ``"loss"``, ``"metric"`` or ``"optimizer"``.
        name: the name given, e.g. ``"Adam"``, ``"sparse_categorical_crossentropy"``.

    Raises:
        ValueError: an unknown name; the message lists the accepted ones.
    """
    known = {"loss": tuple(LOSSES), "metric": METRICS, "optimizer": OPTIMIZERS}
    _choice("kind", kind, known)
    if not isinstance(name, str):
        raise TypeError(f"Expected the {kind} as a name (a string). Received: {type(name).__name__}")
    key = name.strip().lower()
    if key in known[kind]:
        return key
    if key in ALIASES[kind]:
        return ALIASES[kind][key]
    accepted = sorted(set(known[kind]) | set(ALIASES[kind]))
    article = "an" if kind[0] in "aeiou" else "a"
    raise ValueError(f"Expected {article} {kind} in {accepted}. Received: {name!r}")
