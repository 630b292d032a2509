"""Layers, activations and losses: ``chainrule.nn``."""

from . import functional, init
from .activation import (
    Abs, Identity, LeakyReLU, LogSoftmax, PReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh,
)
from .batchnorm import BatchNorm1d, BatchNorm2d
from .container import ModuleList, Sequential
from .conv import Conv1d, Conv2d, Flatten
from .dropout import Dropout, GaussianNoise
from .linear import Linear
from .module import Module
from .parameter import Parameter
from .pooling import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d

__all__ = [
    "functional", "init", "Module", "Parameter", "Linear", "Sequential",
    "ModuleList", "ReLU", "LeakyReLU", "PReLU", "Abs", "Sigmoid", "Tanh",
    "Softplus", "Softmax", "LogSoftmax", "Identity", "Dropout", "GaussianNoise",
    "BatchNorm1d", "BatchNorm2d",
    "Conv1d", "Conv2d", "Flatten", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
]
