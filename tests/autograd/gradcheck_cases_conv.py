"""Finite-difference cases for the convolution and pooling primitives.

Loaded by ``test_gradcheck.py``.  The cases cover both im2col layouts
(few channels: column-major; many channels: row-major), both input
gradient paths (stride 1: a transposed convolution; stride > 1: col2im),
padding, dilation, 1-D and 2-D, with and without bias.  Max pooling gets
distinct inputs (``D``) so that every window has a unique maximum.
"""

from __future__ import annotations

from gradcheck_cases import D, case, op

import chainrule.nn.functional as F

conv = op("conv_nd")
max_pool = op("max_pool_nd")
avg_pool = op("avg_pool_nd")


def _conv(stride, padding, dilation, bias=True):
    def fn(x, w, *b):
        return conv(x, w, b[0] if bias else None, stride=stride,
                    padding=padding, dilation=dilation)

    return fn


# 2-D, few channels (column layout), stride 1 (transposed-conv input grad)
case("conv_nd", _conv((1, 1), ((1, 1), (1, 1)), (1, 1)),
     (2, 2, 5, 4), (3, 2, 3, 3), (3,), id="conv2d-few-ch-pad1")
# 2-D, many channels (row layout), stride 2 (col2im), uneven padding, dilation
case("conv_nd", _conv((2, 1), ((0, 1), (2, 2)), (1, 2)),
     (2, 6, 6, 7), (3, 6, 2, 3), (3,), id="conv2d-many-ch-stride2-dil2")
# 2-D, many channels, stride 1 with dilation and no bias
case("conv_nd", _conv((1, 1), ((2, 2), (0, 0)), (2, 1), bias=False),
     (1, 5, 6, 5), (2, 5, 3, 2), id="conv2d-many-ch-dil-nobias")
# stride 1 but padding wider than the dilated kernel: the col2im path
case("conv_nd", _conv((1, 1), ((3, 3), (3, 3)), (1, 1)),
     (1, 2, 3, 3), (2, 2, 2, 2), (2,), id="conv2d-wide-pad")
# 1-D
case("conv_nd", _conv((1,), ((2, 2),), (1,)),
     (3, 2, 9), (4, 2, 5), (4,), id="conv1d-pad2")
case("conv_nd", _conv((3,), ((1, 1),), (2,)),
     (2, 7, 11), (3, 7, 3), (3,), id="conv1d-stride3-dil2")

case("max_pool_nd",
     lambda x: max_pool(x, kernel_size=(2, 2), stride=(2, 2),
                        padding=((0, 0), (0, 0)), dilation=(1, 1)),
     D((2, 3, 4, 6)), id="max_pool2d-2x2")
case("max_pool_nd",
     lambda x: max_pool(x, kernel_size=(3, 2), stride=(1, 2),
                        padding=((1, 1), (1, 1)), dilation=(1, 1)),
     D((2, 2, 5, 5)), id="max_pool2d-overlap-pad")
case("max_pool_nd",
     lambda x: max_pool(x, kernel_size=(3,), stride=(2,),
                        padding=((1, 1),), dilation=(2,)),
     D((2, 3, 9)), id="max_pool1d-dil2")

case("avg_pool_nd",
     lambda x: avg_pool(x, kernel_size=(2, 2), stride=(2, 2),
                        padding=((0, 0), (0, 0))),
     (2, 3, 4, 5), id="avg_pool2d-2x2")
case("avg_pool_nd",
     lambda x: avg_pool(x, kernel_size=(3, 3), stride=(2, 1),
                        padding=((1, 1), (1, 1)), count_include_pad=False),
     (2, 2, 5, 4), id="avg_pool2d-overlap-exclude-pad")
case("avg_pool_nd",
     lambda x: avg_pool(x, kernel_size=(3,), stride=(1,), padding=((1, 1),)),
     (2, 3, 7), id="avg_pool1d-overlap")

# the functional forms, end to end (argument handling, "same" padding)
case("F.conv2d", lambda x, w, b: F.conv2d(x, w, b, padding="same", dilation=2),
     (1, 2, 6, 5), (3, 2, 3, 2), (3,), id="F.conv2d-same")
case("F.conv1d", lambda x, w: F.conv1d(x, w, stride=2), (2, 1, 8), (2, 1, 3))
case("F.max_pool2d", lambda x: F.max_pool2d(x, 2, padding=1), D((1, 2, 5, 4)))
case("F.avg_pool1d", lambda x: F.avg_pool1d(x, 3, stride=2, padding=1), (2, 2, 8))
