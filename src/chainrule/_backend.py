"""The one array namespace every op computes with.

All array math in chainrule goes through ``xp``.  Today it is NumPy; a CuPy
backend can later be swapped in here without touching any op.
"""

import numpy

xp = numpy

#: Default floating dtype of tensors and parameters.
DEFAULT_DTYPE = numpy.float32


def as_float_array(data, dtype=None):
    """Return ``data`` as an array; float data becomes ``DEFAULT_DTYPE``."""
    arr = xp.asarray(data, dtype=dtype)
    if dtype is None and arr.dtype.kind == "f" and arr.dtype != DEFAULT_DTYPE:
        arr = arr.astype(DEFAULT_DTYPE)
    return arr
