"""``training.fit`` under MPI (started by mpiexec or directly), for tests/distributed.

Usage: python fit_worker.py OUT_PREFIX
Trains an MLP on digits with fit() (validation split, accuracy, a
checkpoint every epoch) and saves this rank's weights and history.
"""

import json
import os
import sys

import numpy as np
from sklearn.datasets import load_digits

import chainrule as cr
from chainrule import nn
from chainrule.training import ModelCheckpoint, fit

prefix = sys.argv[1]
launcher_rank = os.environ.get("PMI_RANK", "0")  # the rank mpiexec (MPICH) gave this process
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
cr.manual_seed(0)
model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
opt = cr.optim.Adam(model.parameters(), lr=3e-3)
history = fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=3, batch_size=64,
              validation_split=0.2, metrics=["accuracy"], verbose=2, generator=7,
              callbacks=[ModelCheckpoint(f"{prefix}.ckpt.rank{launcher_rank}.npz")])

import chainrule.distributed as dist

r = dist.rank()
np.savez(f"{prefix}.rank{r}.npz", **model.state_dict())
with open(f"{prefix}.rank{r}.json", "w") as f:
    json.dump(history.history, f)
