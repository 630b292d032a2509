"""Extra peak memory of ``fit`` over its data, at two data sizes (should stay flat: O(batch)).

Each case runs in a fresh process: a warm-up fit on a few rows (so compiled
kernels and BLAS buffers are in place), then float32 data of N rows x 784
features (a 784-128-10 MLP, Adam, batch 32, one epoch).  Reported per size:

* ``rss``: the process's peak resident memory during the fit minus its
  resident memory just before it (``VmHWM`` and ``VmRSS`` of /proc/self/status);
* ``traced``: the peak of NumPy/Python allocations during the fit over
  those before it (``tracemalloc``; a second process, as tracing slows it).

Run:  PYTHONPATH=src python benchmarks/bench_fit_memory.py [--rows 50000 100000]
      [--validation-split 0.1] [--torch]
(``--torch`` adds the same epoch through torch's DataLoader for reference.)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def _status(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB -> MB
    raise KeyError(key)


def _case(rows: int, features: int, split: float, traced: bool, use_torch: bool) -> dict:
    import tracemalloc

    import numpy as np

    rng = np.random.default_rng(0)

    if use_torch:
        import torch

        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(features, 128), torch.nn.ReLU(),
                                    torch.nn.Linear(128, 10))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()

        def run(X, y):
            ds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
            for xb, yb in torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True):
                opt.zero_grad()
                loss_fn(model(xb), yb).backward()
                opt.step()
    else:
        import chainrule as cr
        from chainrule import nn
        from chainrule.training import fit

        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(features, 128), nn.ReLU(), nn.Linear(128, 10))
        opt = cr.optim.Adam(model.parameters(), lr=1e-3)

        def run(X, y):
            fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=32,
                validation_split=split, verbose=0)

    # warm-up on a few rows: compiled kernels and buffers exist before the measurement
    run(rng.standard_normal((256, features), dtype=np.float32),
        rng.integers(0, 10, 256).astype(np.int64))
    X = rng.standard_normal((rows, features), dtype=np.float32)
    y = rng.integers(0, 10, rows).astype(np.int64)
    data_mb = (X.nbytes + y.nbytes) / 2**20
    if traced:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        run(X, y)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return {"data_mb": data_mb, "traced_mb": (peak - before) / 2**20}
    before = _status("VmRSS")
    run(X, y)
    return {"data_mb": data_mb, "rss_mb": _status("VmHWM") - before}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[50_000, 100_000])
    ap.add_argument("--features", type=int, default=784)
    ap.add_argument("--validation-split", type=float, default=0.0)
    ap.add_argument("--torch", action="store_true", help="also torch's DataLoader loop")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:  # a child process: one measurement, printed as JSON
        rows, traced, use_torch = json.loads(args.case)
        print(json.dumps(_case(rows, args.features, args.validation_split, traced, use_torch)))
        return
    libs = [False, True] if args.torch else [False]
    print(f"{'library':9} {'rows':>8} {'data MB':>8} {'rss MB':>8} {'traced MB':>10}")
    for use_torch in libs:
        for rows in args.rows:
            out = {}
            for traced in (False, True):
                if traced and use_torch:
                    continue
                cmd = [sys.executable, __file__, "--features", str(args.features),
                       "--validation-split", str(args.validation_split),
                       "--case", json.dumps([rows, traced, use_torch])]
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                out.update(json.loads(done.stdout.strip().splitlines()[-1]))
            traced_mb = f"{out['traced_mb']:10.1f}" if "traced_mb" in out else f"{'-':>10}"
            print(f"{'torch' if use_torch else 'chainrule':9} {rows:8d} {out['data_mb']:8.1f} "
                  f"{out['rss_mb']:8.1f} {traced_mb}")


if __name__ == "__main__":
    main()
