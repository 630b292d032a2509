"""The data takes the model's dtype: the rule of ``fit``, ``evaluate`` and ``predict``.

A network computes in one floating dtype, that of its parameters
(float32 unless it was made otherwise, e.g. ``model.double()``).  When
the user hands ``fit`` a model, the data follow the model:

* a float64 model trains, scores and predicts on float64 data: float64
  inputs and real targets keep their precision, float32 or integer ones
  are widened (exactly);
* a float32 model reads float32 data: float64 NumPy inputs are rounded to
  float32, and ``fit`` says so once per call site with a
  :class:`DtypeConversionWarning` naming the way to train in float64.

Where chainrule builds the network itself (the ``MLPClassifier`` /
``MLPRegressor`` estimators, the command line), the network is built in
the data's dtype instead (float32 stays float32, anything else becomes
float64, as scikit-learn keeps the input's precision); the rule is the
same, one dtype through the network and its data.  The check sees host
(NumPy) data; arrays of a device library are cast on their device.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._backend import namespace_of
from ..autograd.engine import Tensor

__all__ = [
    "DtypeConversionWarning",
    "as_input",
    "keep_model_dtype",
    "model_dtype",
    "warn_if_narrowed",
]


class DtypeConversionWarning(UserWarning):
    """Data were converted to the model's (narrower) floating dtype."""


def model_dtype(model) -> np.dtype:
    """The floating dtype of the model's first floating parameter (float32 without one)."""
    params = getattr(model, "parameters", None)
    for p in params() if callable(params) else ():
        name = str(p.dtype).rsplit(".", 1)[-1]
        if name.startswith("float"):
            return np.dtype(name)
    return np.dtype(np.float32)


def _is_float64_host(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype == np.float64


def keep_model_dtype(model, X, y, Xc, yc):
    """Checked (float32) data ``Xc, yc`` in the model's dtype, read again from ``X, y``.

    A float32 model gets ``Xc, yc`` back unchanged.  For a float64 model
    the features (and real-valued targets; class ids stay int64) are taken
    from the caller's arrays at full precision, in the checked shapes, so
    nothing is rounded through float32 on the way.
    """
    dtype = model_dtype(model)
    if dtype == Xc.dtype or not isinstance(Xc, np.ndarray) or Xc.dtype.kind != "f":
        return Xc, yc
    X64 = np.asarray(X, dtype=dtype).reshape(Xc.shape)
    if y is None:
        return X64, X64
    if isinstance(yc, np.ndarray) and yc.dtype.kind == "f" and not isinstance(y, dict):
        yc = np.asarray(y, dtype=dtype).reshape(yc.shape)
    return X64, yc


def warn_if_narrowed(model, X, name: str = "X", stacklevel: int = 3) -> None:
    """Warn once per call site when float64 NumPy data meets a float32 model."""
    if _is_float64_host(X) and model_dtype(model) == np.float32:
        warnings.warn(
            f"{name} is float64 and the model computes in float32: {name} is converted to "
            "float32 (call model.double() before fit to train in float64)",
            DtypeConversionWarning,
            stacklevel=stacklevel,
        )


def as_input(xb) -> Tensor:
    """A minibatch as the model's input Tensor: float64 stays float64 (any library)."""
    xp = namespace_of(xb)
    f64 = getattr(xb, "dtype", None) == (np.float64 if xp is np else xp.float64)
    return Tensor(xb, dtype=np.float64 if f64 else None)
