"""Meta-algorithms that train several models by driving the training loop.

They sit above :mod:`chainrule.training` (each trains through ``fit`` /
``Trainer`` or a ``train`` callable) and below nothing but the command
line:

* :class:`Bagging`, :func:`combine_predictions`,
  :func:`inverse_variance_weights`: bootstrap aggregating (book §7.11);
* :func:`retrain_on_all_data`, :func:`continue_on_all_data`: the book's
  early-stopping algorithms 7.2 and 7.3 (§7.8);
* :func:`capacity_sweep`, :func:`training_size_sweep`, :func:`sweep`:
  training and test error as capacity or data grows (§5.2, figs. 5.3-5.4),
  in :mod:`chainrule.ensembles.capacity`.

Each run draws from its own generator (``seed``) put in scope with
``chainrule.random.use_generator``; the caller's generator is untouched.
"""

from .bagging import Bagging, combine_predictions, inverse_variance_weights
from .capacity import CapacityResult, capacity_sweep, sweep, training_size_sweep
from .early_stopping import EarlyStoppingResult, continue_on_all_data, retrain_on_all_data

__all__ = [
    "Bagging",
    "CapacityResult",
    "EarlyStoppingResult",
    "capacity_sweep",
    "combine_predictions",
    "continue_on_all_data",
    "inverse_variance_weights",
    "retrain_on_all_data",
    "sweep",
    "training_size_sweep",
]
