"""Layers, activations and losses: ``chainrule.nn``."""

from . import functional, init
from .activation import (
    Abs,
    Identity,
    LeakyReLU,
    LogSoftmax,
    PReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from .batchnorm import BatchNorm1d, BatchNorm2d
from .container import ModuleList, Sequential
from .conv import Conv1d, Conv2d, Flatten
from .dropout import Dropout, GaussianNoise
from .linear import Linear
from .module import Module
from .multitask import MultiTask
from .parameter import Parameter
from .pooling import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d

__all__ = [
    "Abs",
    "AvgPool1d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "GaussianNoise",
    "Identity",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MaxPool1d",
    "MaxPool2d",
    "Module",
    "ModuleList",
    "MultiTask",
    "PReLU",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "functional",
    "init",
]
