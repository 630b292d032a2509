"""Regularisation (book chapter 7): penalties, constraints, noise, augmentation,
dropout ensembles, early-stopping algorithms and bagging.

Layers that regularise live in :mod:`chainrule.nn` (``Dropout``,
``GaussianNoise``, ``BatchNorm1d/2d``); label smoothing is an argument of
``F.cross_entropy``; the ``EarlyStopping`` callback is in
:mod:`chainrule.training`.
"""

from .augmentation import Compose, InputNoise, RandomAffine, affine_transform
from .bagging import Bagging, combine_predictions, inverse_variance_weights
from .constraints import MaxNorm
from .early_stopping import EarlyStoppingResult, continue_on_all_data, retrain_on_all_data
from .mc_dropout import mc_dropout_predict
from .noise import WeightNoise, book_to_torch_smoothing, smoothed_targets
from .penalties import L1Penalty, L2Penalty, exclude, penalized_parameters

__all__ = [
    "Bagging",
    "Compose",
    "EarlyStoppingResult",
    "InputNoise",
    "L1Penalty",
    "L2Penalty",
    "MaxNorm",
    "RandomAffine",
    "WeightNoise",
    "affine_transform",
    "book_to_torch_smoothing",
    "combine_predictions",
    "continue_on_all_data",
    "exclude",
    "inverse_variance_weights",
    "mc_dropout_predict",
    "penalized_parameters",
    "retrain_on_all_data",
    "smoothed_targets",
]
