"""Training script for the SIGKILL-and-resume test (run as a subprocess).

    python sigkill_worker.py OUT_DIR full      # uninterrupted run
    python sigkill_worker.py OUT_DIR run N     # writes OUT_DIR/reached after step N, then hangs
    python sigkill_worker.py OUT_DIR resume    # continues from OUT_DIR/ckpt.npz

The final parameters go to OUT_DIR/final.npz.  The model has dropout and
the run has a learning-rate schedule and early stopping, so resuming is
bit-identical only if the RNG, loader order, optimiser, scheduler and
callback states all come back exactly.
"""

import os
import sys
import time

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.training import EarlyStopping, LambdaCallback, ModelCheckpoint, fit

EPOCHS = 5
CHECKPOINT_EVERY = 4


def data():
    rng = np.random.default_rng(123)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(np.int64)
    return X, y


def train(out: str, mode: str, stop_at: int = 0) -> list:
    X, y = data()
    cr.manual_seed(2024)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=60)
    ckpt = os.path.join(out, "ckpt.npz")
    callbacks = [
        ModelCheckpoint(ckpt, every_n_steps=CHECKPOINT_EVERY),
        EarlyStopping(monitor="val_loss", patience=50),
    ]
    if mode == "run":

        def hang(step, logs):
            if step == stop_at:
                with open(os.path.join(out, "reached"), "w") as f:
                    f.write(str(step))
                while True:  # wait to be killed
                    time.sleep(0.05)

        callbacks.append(LambdaCallback(on_batch_end=hang))
    fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        scheduler=sched,
        epochs=EPOCHS,
        batch_size=16,
        validation_split=0.2,
        metrics=["accuracy"],
        callbacks=callbacks,
        verbose=0,
        checkpoint=ckpt if mode == "resume" else None,
    )
    params = [p.data.copy() for p in model.parameters()]
    np.savez(os.path.join(out, "final.npz"), *params)
    return params


if __name__ == "__main__":
    out_dir, run_mode = sys.argv[1], sys.argv[2]
    train(out_dir, run_mode, int(sys.argv[3]) if len(sys.argv) > 3 else 0)
