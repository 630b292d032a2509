"""Optimisers (book ch. 8) with PyTorch's names and update rules.

``SGD`` (momentum, Nesterov), ``Adagrad``, ``RMSprop`` (momentum, centred,
and the book's RMSProp with Nesterov momentum), ``Adam`` and ``AdamW``;
learning-rate schedules in :mod:`chainrule.optim.lr_scheduler`.
"""

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler"]
