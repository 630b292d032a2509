"""Layers, activations and losses: ``chainrule.nn``."""

from . import functional, init
from .activation import (
    Abs, Identity, LeakyReLU, LogSoftmax, PReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh,
)
from .batchnorm import BatchNorm1d, BatchNorm2d
from .container import ModuleList, Sequential
from .dropout import Dropout, GaussianNoise
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = [
    "functional", "init", "Module", "Parameter", "Linear", "Sequential",
    "ModuleList", "ReLU", "LeakyReLU", "PReLU", "Abs", "Sigmoid", "Tanh",
    "Softplus", "Softmax", "LogSoftmax", "Identity", "Dropout", "GaussianNoise",
    "BatchNorm1d", "BatchNorm2d",
]
