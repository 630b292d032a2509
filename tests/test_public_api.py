"""Every name API.md promises exists, with the promised argument names."""

import inspect

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

TOP = ["tensor", "Tensor", "exp", "log", "sqrt", "abs", "where", "concatenate", "stack",
       "no_grad", "manual_seed"]
TENSOR = ["data", "grad", "shape", "ndim", "dtype", "requires_grad", "backward", "numpy",
          "item", "detach", "sum", "mean", "max", "reshape", "T", "transpose"]
FUNCTIONAL = ["relu", "leaky_relu", "prelu", "sigmoid", "tanh", "softplus", "softmax",
              "log_softmax", "logsumexp", "linear", "dropout", "cross_entropy", "nll_loss",
              "binary_cross_entropy_with_logits", "mse_loss", "l1_loss", "gaussian_nll_loss"]
MODULES = ["Module", "Parameter", "Linear", "Sequential", "ReLU", "LeakyReLU", "PReLU", "Abs",
           "Sigmoid", "Tanh", "Softplus", "Dropout", "BatchNorm1d", "BatchNorm2d",
           "GaussianNoise", "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d",
           "AvgPool2d", "Flatten"]
INIT = ["glorot_uniform_", "glorot_normal_", "he_uniform_", "he_normal_", "zeros_", "constant_"]


@pytest.mark.parametrize("name", TOP)
def test_top_level(name):
    assert hasattr(cr, name)


@pytest.mark.parametrize("name", TENSOR)
def test_tensor_attributes(name):
    assert hasattr(cr.tensor(np.ones((2, 3))), name)


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_functional(name):
    assert callable(getattr(F, name))


@pytest.mark.parametrize("name", MODULES)
def test_modules(name):
    assert issubclass(getattr(nn, name), nn.Module) or name == "Parameter"


@pytest.mark.parametrize("name", INIT)
def test_init(name):
    assert callable(getattr(nn.init, name))


@pytest.mark.parametrize(
    "fn, args",
    [
        (F.leaky_relu, ["x", "negative_slope"]),
        (F.softmax, ["x", "axis"]),
        (F.logsumexp, ["x", "axis", "keepdims"]),
        (F.linear, ["x", "weight", "bias"]),
        (F.dropout, ["x", "p", "training"]),
        (F.cross_entropy, ["logits", "target", "label_smoothing", "reduction"]),
        (F.gaussian_nll_loss, ["mean", "var", "target"]),
        (nn.Linear, ["in_features", "out_features", "bias"]),
        (nn.PReLU, ["num_parameters", "init"]),
        (nn.Dropout, ["p", "mode"]),
        (nn.BatchNorm1d, ["num_features", "eps", "momentum"]),
        (cr.optim.SGD, ["params", "lr", "momentum", "nesterov", "weight_decay"]),
        (cr.optim.Adagrad, ["params", "lr", "eps", "weight_decay"]),
        (cr.optim.RMSprop,
         ["params", "lr", "alpha", "eps", "momentum", "nesterov", "weight_decay"]),
        (cr.optim.Adam, ["params", "lr", "betas", "eps", "weight_decay"]),
        (cr.optim.lr_scheduler.LinearDecay, ["optimizer", "end_lr", "tau"]),
    ],
)
def test_argument_names(fn, args):
    params = list(inspect.signature(fn).parameters)
    for a in args:
        assert a in params, f"{fn.__name__} lacks argument {a!r}: has {params}"


def test_estimators():
    from sklearn.base import ClassifierMixin, RegressorMixin

    assert issubclass(cr.sklearn.MLPClassifier, ClassifierMixin)
    assert issubclass(cr.sklearn.MLPRegressor, RegressorMixin)


def test_import_is_light():
    # `import chainrule` alone must not pull in the heavy optional packages
    import subprocess
    import sys

    code = ("import sys, chainrule; bad = [m for m in ('torch', 'sklearn', 'matplotlib', "
            "'scipy') if m in sys.modules]; print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
