"""MPI fault cases for test_mpi_faults.py (started by mpiexec -n 2).

Usage: python fault_worker.py MODE
MODE: "freeze"      rank 1 stops itself (SIGSTOP) before an all_reduce;
      "freeze-grad" rank 1 stops itself mid-training (the gradient all-reduce);
      "lengths"     fit() on data sets of different lengths on the two ranks;
      "ok"          every collective once, then prints "done".
"""

import os
import signal
import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn
from chainrule.nn import functional as F

mode = sys.argv[1]
dist.init()
r = dist.rank()
rng = np.random.default_rng(0)

if mode == "freeze":
    if r == 1:
        os.kill(os.getpid(), signal.SIGSTOP)
    dist.all_reduce(np.ones(3))
elif mode == "freeze-grad":
    model = nn.Sequential(nn.Linear(4, 2))
    dist.broadcast_parameters(model)
    opt = dist.DistributedOptimizer(cr.optim.SGD(model.parameters(), lr=0.1))
    x, y = rng.standard_normal((8, 4)).astype(np.float32), rng.integers(0, 2, 8)
    for step in range(5):
        if r == 1 and step == 2:
            os.kill(os.getpid(), signal.SIGSTOP)
        opt.zero_grad()
        F.cross_entropy(model(cr.tensor(x)), y).backward()
        opt.step()
elif mode == "lengths":
    n = 40 if r == 0 else 30
    X, y = rng.standard_normal((n, 4)).astype(np.float32), rng.integers(0, 2, n)
    model = nn.Sequential(nn.Linear(4, 2))
    cr.training.fit(model, X, y, loss=F.cross_entropy,
                    optimizer=cr.optim.SGD(model.parameters(), lr=0.1), epochs=1,
                    batch_size=8, verbose=0)
elif mode == "ok":
    dist.barrier()
    assert dist.broadcast_object({"a": [1, 2]} if r == 0 else None) == {"a": [1, 2]}
    assert float(dist.all_reduce(np.array(float(r)), op="sum")) == 1.0
    dist._comm.check_same(7, "rows")
    print("done", r, dist._comm.timeout())
