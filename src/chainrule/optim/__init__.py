"""Optimisers (book ch. 8) with PyTorch's names and update rules.

``SGD`` (momentum, Nesterov), ``Adagrad``, ``RMSprop`` (momentum, centred,
and the book's RMSProp with Nesterov momentum), ``Adam`` and ``AdamW``;
learning-rate schedules in :mod:`chainrule.optim.lr_scheduler`.
Like torch.optim, each keeps ``param_groups`` and a state dict per
parameter (``step``, ``exp_avg``, ``momentum_buffer``, ...) and updates
``p.data`` in place, so arrays taken from a parameter stay its data (see
:mod:`chainrule.optim.optimizer`).
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
