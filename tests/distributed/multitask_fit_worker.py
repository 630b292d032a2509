"""A multi-task ``training.fit`` under MPI (started by mpiexec or directly), for tests/distributed.

Usage: python multitask_fit_worker.py OUT_PREFIX
Trains nn.MultiTask (digit and "digit >= 5") on digits with a dict of
targets and losses, per-task metrics and a validation split; saves this
rank's weights and history.
"""

import json
import sys

import numpy as np
from sklearn.datasets import load_digits

import chainrule as cr
from chainrule import nn
from chainrule.training import fit

prefix = sys.argv[1]
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
cr.manual_seed(0)
model = nn.MultiTask(nn.Sequential(nn.Linear(64, 32), nn.ReLU()),
                     {"digit": nn.Linear(32, 10), "big": nn.Linear(32, 1)})
opt = cr.optim.Adam(model.parameters(), lr=3e-3)
history = fit(model, X, {"digit": y, "big": (y >= 5).astype(np.float32)},
              loss={"digit": "cross_entropy", "big": "bce"}, loss_weights={"big": 0.5},
              optimizer=opt, epochs=2, batch_size=64, validation_split=0.2,
              metrics={"digit": ["accuracy"]}, verbose=0, generator=7)

import chainrule.distributed as dist

r = dist.rank()
np.savez(f"{prefix}.rank{r}.npz", **model.state_dict())
with open(f"{prefix}.rank{r}.json", "w") as f:
    json.dump(history.history, f)
