"""Optimisers (book ch. 8) with PyTorch's names and update rules.

``SGD`` (momentum, Nesterov), ``Adagrad``, ``RMSprop`` (momentum, centred,
and the book's RMSProp with Nesterov momentum), ``Adam`` and ``AdamW``;
learning-rate schedules in :mod:`chainrule.optim.lr_scheduler`.
Like torch.optim, each keeps ``param_groups`` and a state dict per
parameter (``step``, ``exp_avg``, ``momentum_buffer``, ...) and updates
``p.data`` in place, so arrays taken from a parameter stay its data (see
:mod:`chainrule.optim.optimizer`).  The second-order methods of §8.6
(``Newton``, ``ConjugateGradient``, ``BFGS``, ``LBFGS``) take
``step(closure)`` and work on a one-vector view of the parameters
(``_closure.py``); ``ScipyMinimize`` hands the same closure to SciPy's
L-BFGS-B (scikit-learn's ``solver="lbfgs"``); ``AveragedModel``/``update_bn`` give Polyak averaging
(§8.7.3, also as ``optim.swa_utils`` like torch); ``BlockCoordinateDescent``
cycles through parameter blocks (§8.7.2; ``sparse_coding`` is the book's example).
"""

from . import lr_scheduler, swa_utils  # noqa: F401  (cr.optim.swa_utils, as torch)
from ._errors import NonFiniteStepError
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .bfgs import BFGS
from .conjugate_gradient import ConjugateGradient
from .coordinate_descent import BlockCoordinateDescent, sparse_coding
from .lbfgs import LBFGS
from .newton import Newton
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .scipy_minimize import ScipyMinimize
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
    "BlockCoordinateDescent",
    "ConjugateGradient",
    "Newton",
    "NonFiniteStepError",
    "Optimizer",
    "RMSprop",
    "ScipyMinimize",
    "lr_scheduler",
    "sparse_coding",
    "update_bn",
]
