"""MLPClassifier(solver="lbfgs"): chainrule vs scikit-learn on digits, same settings.

Run from the repository root:

    PYTHONPATH=src python benchmarks/bench_lbfgs.py [--rounds 5] [--hidden 100] [--max-iter 200]

Both get scikit-learn's digits (75/25 stratified split, pixels / 16), one
hidden layer of ReLUs, ``solver="lbfgs"``, ``alpha=1e-4``, ``tol=1e-4`` and
the same ``max_iter`` (L-BFGS iterations) and ``random_state``.  Each round
fits chainrule, then scikit-learn, with the same seed, so both see the same
machine load.  The table gives the median fit time, the mean test accuracy
and the mean number of iterations; the last line the accuracy difference
(must be ≥ -0.01) and the time ratio (chainrule / scikit-learn, must be ≤ 1).
Both minimise with SciPy's L-BFGS-B (chainrule through
``cr.optim.ScipyMinimize``, which hands it chainrule's loss and gradient);
the pixels go in as float64 and both compute in float64 (chainrule keeps
the input's dtype, as scikit-learn does).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLP

from chainrule.sklearn import MLPClassifier as CrMLP


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--max-iter", type=int, default=200)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.25, stratify=y,
                                          random_state=0)
    results = {"chainrule": [], "scikit-learn": []}
    for seed in range(args.rounds):
        for name, cls in (("chainrule", CrMLP), ("scikit-learn", SkMLP)):
            est = cls(hidden_layer_sizes=(args.hidden,), solver="lbfgs", alpha=1e-4,
                      max_iter=args.max_iter, tol=1e-4, random_state=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                est.fit(Xtr, ytr)
                elapsed = time.perf_counter() - start
            results[name].append((elapsed, est.score(Xte, yte), est.n_iter_))
    print(f"digits, hidden ({args.hidden},), solver='lbfgs', max_iter={args.max_iter}, "
          f"{args.rounds} rounds")
    print(f"{'':14s}{'fit time (median)':>20s}{'test accuracy':>16s}{'iterations':>12s}")
    summary = {}
    for name, rows in results.items():
        t = statistics.median(r[0] for r in rows)
        acc = float(np.mean([r[1] for r in rows]))
        its = float(np.mean([r[2] for r in rows]))
        summary[name] = (t, acc)
        print(f"{name:14s}{t:18.3f} s{acc:16.4f}{its:12.1f}")
    (t_cr, a_cr), (t_sk, a_sk) = summary["chainrule"], summary["scikit-learn"]
    print(f"accuracy difference {a_cr - a_sk:+.4f}, time ratio {t_cr / t_sk:.2f}")


if __name__ == "__main__":
    main()
