"""Data-parallel training run for the MPI tests (started by mpiexec or directly).

Usage: python mpi_worker.py OUT.npz MODE
MODE: "train" (2 epochs, saves this rank's weights to OUT.rank<r>.npz),
      "raise" (rank 1 raises mid-training), "kill" (rank 1 SIGKILLs itself).
"""

import os
import signal
import sys

import numpy as np
from sklearn.datasets import load_digits

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn
from chainrule.data import DataLoader, TensorDataset
from chainrule.nn import functional as F

out, mode = sys.argv[1], sys.argv[2]
dist.init()
r, world = dist.rank(), dist.world_size()

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)

cr.manual_seed(0)
model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
if r == 1:
    # a different start on rank 1: broadcast_parameters must make them equal
    for p in model.parameters():
        p.data[...] = 0.5
dist.broadcast_parameters(model, root=0)
opt = dist.DistributedOptimizer(cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))

with cr.random.use_generator(123):  # the same global batches on every rank
    loader = dist.ShardedLoader(DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True))
    for epoch in range(2):
        for step, (xb, yb, n_global) in enumerate(loader):
            if mode == "raise" and r == 1 and step == 3:
                raise RuntimeError("rank 1 failed on purpose")
            if mode == "kill" and r == 1 and step == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            loss = F.cross_entropy(model(cr.tensor(xb)), yb)
            opt.zero_grad()
            loss.backward()
            opt.set_share(len(xb), n_global)
            opt.step()

np.savez(f"{out}.rank{r}.npz", **model.state_dict())

# collectives keep shapes and dtypes
s = dist.all_reduce(np.array(float(r)), op="sum")
assert s.shape == () and float(s) == sum(range(world)), s
m = dist.all_reduce(np.full((2, 3), r, dtype=np.float32))
assert m.shape == (2, 3) and m.dtype == np.float32 and np.all(m == (world - 1) / 2), m
mx = dist.all_reduce(np.array([r, -r]), op="max")
assert mx.tolist() == [world - 1, 0], mx
