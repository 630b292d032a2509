"""Regularisation building blocks (book chapter 7): penalties, constraints,
noise, augmentation, Monte Carlo dropout, sparse representations,
adversarial training and tangent propagation.

Layers that regularise live in :mod:`chainrule.nn` (``Dropout``,
``GaussianNoise``, ``BatchNorm1d/2d``); label smoothing is an argument of
``F.cross_entropy``; the ``EarlyStopping`` callback is in
:mod:`chainrule.training`.  Meta-algorithms that train several models
(bagging, early-stopping algorithms 7.2/7.3) are in
:mod:`chainrule.ensembles`, above the training loop; nothing here imports
:mod:`chainrule.training`.
"""

from .activity import ActivityRegularizer, activity_kl, activity_l1, activity_student_t
from .adversarial import AdversarialTraining, fgsm, pgd
from .augmentation import Compose, InputNoise, RandomAffine, affine_transform
from .constraints import MaxNorm
from .mc_dropout import mc_dropout_predict
from .noise import WeightNoise, book_to_torch_smoothing, smoothed_targets
from .penalties import L1Penalty, L2Penalty, MinibatchL2, exclude, penalized_parameters
from .tangent import TangentProp, image_tangents, tangent_prop_penalty

__all__ = [
    "ActivityRegularizer",
    "AdversarialTraining",
    "Compose",
    "InputNoise",
    "L1Penalty",
    "L2Penalty",
    "MaxNorm",
    "MinibatchL2",
    "RandomAffine",
    "TangentProp",
    "WeightNoise",
    "activity_kl",
    "activity_l1",
    "activity_student_t",
    "affine_transform",
    "book_to_torch_smoothing",
    "exclude",
    "fgsm",
    "image_tangents",
    "mc_dropout_predict",
    "penalized_parameters",
    "pgd",
    "smoothed_targets",
    "tangent_prop_penalty",
]
