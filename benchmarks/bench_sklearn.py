"""cr.sklearn.MLPClassifier vs sklearn.neural_network.MLPClassifier on digits.

Run from the repository root:

    PYTHONPATH=src python benchmarks/bench_sklearn.py

Both estimators get the same data (scikit-learn's digits, 75/25 stratified
split, standardised; float32 and, in a second table, float64: each library
trains in the input's dtype), the same network (one hidden layer of 100
ReLUs), solver (Adam, ε = 1e-3), minibatch size (200), L2 penalty
(α = 1e-4) and number of epochs; early stopping is off and ``tol=0`` with
a huge ``n_iter_no_change`` makes both run every epoch.  Each round fits
chainrule and then scikit-learn with the same ``random_state``, so both see
the same machine load; the table gives the median fit time and the mean
test accuracy over the rounds.

Two settings are measured:

* ``as shipped``: each library as installed.  chainrule runs small layers
  on one BLAS thread (see ``chainrule/sklearn/_threads.py``); scikit-learn
  uses OpenBLAS's default thread count.
* ``1 BLAS thread``: both inside ``threadpoolctl.threadpool_limits(1)``,
  so the comparison is the same arithmetic on the same core.

Options: --epochs N (default 50), --rounds N (default 5), --hidden N
(default 100), --mode shipped|one-thread|both, --dtype float32|float64|both.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from contextlib import nullcontext

import numpy as np
import sklearn
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLP
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

import chainrule as cr


def digits(dtype=np.float32):
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0,
                                              stratify=y)
    scaler = StandardScaler().fit(X_tr)
    return (scaler.transform(X_tr).astype(dtype), y_tr,
            scaler.transform(X_te).astype(dtype), y_te)


def settings(args, seed):
    return {"hidden_layer_sizes": (args.hidden,), "activation": "relu", "solver": "adam",
            "alpha": 1e-4, "batch_size": 200, "learning_rate_init": 1e-3,
            "max_iter": args.epochs, "shuffle": True, "tol": 0.0, "n_iter_no_change": 10**9,
            "early_stopping": False, "random_state": seed}


def timed_fit(Est, params, data):
    X_tr, y_tr, X_te, y_te = data
    est = Est(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        est.fit(X_tr, y_tr)
        elapsed = time.perf_counter() - start
    assert est.n_iter_ == params["max_iter"], "both must run every epoch"
    return elapsed, est.score(X_te, y_te)


def run(mode, args, data):
    times = {"chainrule": [], "sklearn": []}
    accs = {"chainrule": [], "sklearn": []}
    for seed in range(args.rounds):
        params = settings(args, seed)
        scope = threadpool_limits(1) if mode == "one-thread" else nullcontext()
        with scope:
            for name, Est in (("chainrule", cr.sklearn.MLPClassifier), ("sklearn", SkMLP)):
                t, acc = timed_fit(Est, params, data)
                times[name].append(t)
                accs[name].append(acc)
    return times, accs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--mode", choices=["shipped", "one-thread", "both"], default="both")
    parser.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    args = parser.parse_args(argv)

    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    blas = [f"{i['internal_api']} {i['version']} ({i['num_threads']} threads)"
            for i in threadpool_info() if i["user_api"] == "blas"]
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"scikit-learn {sklearn.__version__}, BLAS: {', '.join(blas) or '?'}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    data = digits()
    print(f"digits: {len(data[1])} train / {len(data[3])} test rows; "
          f"MLP 64-{args.hidden}-10 relu, adam lr=1e-3, batch 200, alpha=1e-4, "
          f"{args.epochs} epochs, {args.rounds} rounds\n")
    modes = ["shipped", "one-thread"] if args.mode == "both" else [args.mode]
    header = (f"{'input':<8} {'setting':<15} {'library':<10} {'fit s (median)':>15} "
              f"{'min':>8} {'test acc':>9} {'speed-up':>9}")
    print(header)
    print("-" * len(header))
    for dtype in dtypes:
        data = digits(np.dtype(dtype))
        for mode in modes:
            times, accs = run(mode, args, data)
            ours = statistics.median(times["chainrule"])
            theirs = statistics.median(times["sklearn"])
            label = "as shipped" if mode == "shipped" else "1 BLAS thread"
            for name in ("chainrule", "sklearn"):
                ratio = f"{theirs / ours:8.1f}x" if name == "chainrule" else ""
                print(f"{dtype:<8} {label:<15} {name:<10} "
                      f"{statistics.median(times[name]):15.3f} {min(times[name]):8.3f} "
                      f"{np.mean(accs[name]):9.4f} {ratio:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
