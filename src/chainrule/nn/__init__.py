"""Layers, activations and losses: ``chainrule.nn``."""

from . import functional, init, utils
from .activation import (
    GELU,
    Abs,
    Identity,
    LeakyReLU,
    LogSoftmax,
    PReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from .attention import MultiheadAttention
from .batchnorm import BatchNorm1d, BatchNorm2d
from .container import ModuleList, Sequential
from .conv import Conv1d, Conv2d, Flatten
from .dropout import Dropout, GaussianNoise
from .embedding import Embedding
from .linear import Linear
from .module import Module
from .multitask import MultiTask
from .normalization import LayerNorm
from .parameter import Parameter
from .pooling import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from .recurrent import GRU, LSTM, RNN, RNNBase

__all__ = [
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "Abs",
    "AvgPool1d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "GaussianNoise",
    "Identity",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MaxPool1d",
    "MaxPool2d",
    "Module",
    "ModuleList",
    "MultiTask",
    "MultiheadAttention",
    "PReLU",
    "Parameter",
    "RNNBase",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "functional",
    "init",
    "utils",
]
