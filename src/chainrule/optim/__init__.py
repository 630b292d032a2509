"""Optimisers (book ch. 8) with PyTorch's names and update rules.

``SGD`` (momentum, Nesterov), ``Adagrad``, ``RMSprop`` (momentum, centred,
and the book's RMSProp with Nesterov momentum), ``Adam`` and ``AdamW``;
learning-rate schedules in :mod:`chainrule.optim.lr_scheduler`.  The
second-order methods of §8.6 (``Newton``, ``ConjugateGradient``, ``BFGS``,
``LBFGS``) take ``step(closure)`` and keep their own one-vector view of the
parameters (``_closure.py``); ``AveragedModel``/``update_bn`` give Polyak
averaging (§8.7.3, also as ``optim.swa_utils`` like torch).
All of them keep a model's parameters and gradients in flat float32
buffers and update them in place (see :mod:`chainrule.optim.optimizer`).
"""

from . import lr_scheduler, swa_utils  # noqa: F401  (cr.optim.swa_utils, as torch)
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .bfgs import BFGS
from .conjugate_gradient import ConjugateGradient
from .lbfgs import LBFGS
from .newton import Newton
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD
from .swa_utils import AveragedModel, update_bn

__all__ = [
    "BFGS",
    "LBFGS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "AveragedModel",
    "ConjugateGradient",
    "Newton",
    "Optimizer",
    "RMSprop",
    "lr_scheduler",
    "update_bn",
]
