"""Training on a CUDA GPU (CuPy) end to end: the same losses as on NumPy.

Run on a machine with an NVIDIA GPU and CuPy (a minute at most):

    PYTHONPATH=src python benchmarks/gpu_train_check.py

It trains an MLP (Linear, BatchNorm1d, ReLU, Linear) with Adam and a CNN
(Conv2d, MaxPool2d, Flatten, Linear) with SGD-momentum through ``fit`` on
NumPy and on ``model.to("cuda")`` from the same initial weights (no
dropout: CuPy draws its masks from its own generator), and checks

* the per-epoch losses agree (relative 1e-4) and the history holds floats;
* ``predict`` gives NumPy for NumPy data and CuPy for CuPy data;
* a dataset already on the GPU trains to the same losses;
* a checkpoint written on the GPU holds host arrays and resumes on NumPy;
* ``chainrule train --device cuda`` finishes with the CPU run's metrics.

Exit status 0 when every check passes; each failure is printed.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np


def main() -> int:
    import cupy

    import chainrule as cr
    from chainrule import nn
    from chainrule.cli import main as cli
    from chainrule.training import ModelCheckpoint, Trainer, predict
    from chainrule.training.checkpoint import load_checkpoint

    failures = []

    def check(ok: bool, what: str) -> None:
        print(("ok    " if ok else "FAIL  ") + what, flush=True)
        if not ok:
            failures.append(what)

    def mlp():
        cr.manual_seed(3)
        return nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 4))

    def cnn():
        cr.manual_seed(3)
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(8 * 8 * 8, 4))

    rng = np.random.default_rng(0)
    data = {
        "mlp": (rng.normal(size=(512, 20)).astype(np.float32), rng.integers(0, 4, 512)),
        "cnn": (rng.normal(size=(256, 3, 16, 16)).astype(np.float32), rng.integers(0, 4, 256)),
    }

    def opt(kind, model):
        if kind == "mlp":
            return cr.optim.Adam(model.parameters(), lr=1e-3)
        return cr.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)

    def train(kind, device=None, on_gpu_data=False, callbacks=(), epochs=3, checkpoint=None):
        model = mlp() if kind == "mlp" else cnn()
        if device:
            model.to(device)
        X, y = data[kind]
        if on_gpu_data:
            X, y = cupy.asarray(X), cupy.asarray(y)
        trainer = Trainer(model, loss="cross_entropy", optimizer=opt(kind, model),
                          metrics=["accuracy"], callbacks=callbacks, verbose=0, generator=5)
        hist = trainer.fit(X, y, epochs=epochs, batch_size=32, checkpoint=checkpoint)
        return model, hist.history

    for kind in ("mlp", "cnn"):
        _, ref = train(kind)
        model, got = train(kind, "cuda")
        close = np.allclose(got["loss"], ref["loss"], rtol=1e-4)
        check(close, f"{kind}: losses on cuda {np.round(got['loss'], 6).tolist()} vs numpy "
                     f"{np.round(ref['loss'], 6).tolist()}")
        check(all(type(v) is float for v in got["loss"] + got["accuracy"]),
              f"{kind}: history values are Python floats")
        X, _ = data[kind]
        check(isinstance(predict(model, X), np.ndarray), f"{kind}: predict(NumPy) is NumPy")
        check(isinstance(predict(model, cupy.asarray(X)), cupy.ndarray),
              f"{kind}: predict(CuPy) is CuPy")
        _, whole = train(kind, "cuda", on_gpu_data=True)
        check(np.allclose(whole["loss"], ref["loss"], rtol=1e-4),
              f"{kind}: a dataset on the GPU trains alike")

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/ck.npz"
        train("mlp", "cuda", callbacks=[ModelCheckpoint(path, every_n_epochs=1)], epochs=1)
        saved = load_checkpoint(path)
        check(all(isinstance(a, np.ndarray) for a in saved["model"].values()),
              "a checkpoint from the GPU holds host arrays")
        _, straight = train("mlp")
        _, resumed = train("mlp", checkpoint=path)
        check(np.allclose(resumed["loss"], straight["loss"], rtol=1e-4),
              "a GPU checkpoint resumes on NumPy with the same losses")
        X, y = data["mlp"]
        np.savez(f"{tmp}/d.npz", X=X, y=y)
        codes = [cli(["train", "--dataset", f"{tmp}/d.npz", "--hidden", "32", "--epochs", "2",
                      "--out", f"{tmp}/{dev}", "--verbose", "0", "--device", dev])
                 for dev in ("cpu", "cuda")]
        check(codes == [0, 0], f"chainrule train --device cpu/cuda exit status {codes}")
        m = [json.loads(Path(f"{tmp}/{dev}/metrics.json").read_text()) for dev in ("cpu", "cuda")]
        check(abs(m[0]["loss"] - m[1]["loss"]) <= 1e-4 * abs(m[0]["loss"]),
              f"the CLI's test loss on cpu {m[0]['loss']:.6f} and cuda {m[1]['loss']:.6f}")
    print("all passed" if not failures else f"{len(failures)} failed")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
