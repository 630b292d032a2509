"""DistributedOptimizer on its default path (no set_share), for tests/distributed.

Usage: mpiexec -n R python average_worker.py OUT_PREFIX
Rank r sets every gradient to r + 1 and takes one SGD step with lr=1 from
zero: the averaged gradient is (R + 1) / 2, the sum would be R (R + 1) / 2.
"""

import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn

dist.init()
r = dist.rank()
layer = nn.Linear(3, 2)
for p in layer.parameters():
    p.data[...] = 0.0
    p.grad = np.full(p.data.shape, r + 1.0, dtype=p.data.dtype)
opt = dist.DistributedOptimizer(cr.optim.SGD(layer.parameters(), lr=1.0))
opt.step()
np.savez(f"{sys.argv[1]}.rank{r}.npz", **layer.state_dict())
