"""Depth versus width at (nearly) equal parameter count (book §6.4.1, Figs 6.6/6.7).

The book reports that, for the same number of parameters, deeper networks
generalise better: a deep model expresses the belief that the function is a
composition of simpler ones.  Here the MLPs of MNIST-1D (40 inputs, 10
classes, ReLU) with 1 to 6 hidden layers get the width that brings them
closest to a parameter budget (two budgets, as Fig. 6.7 compares model
sizes), and are trained the same way: Adam 3e-3, minibatches of 100, a
fixed number of epochs, no regularisation.  Test accuracy, mean ± std over
seeds (initial weights and minibatch order).

Run: ``python examples/strategies/depth_vs_width.py [--plot depth_width.png]``
(the plot needs matplotlib; the PNG is not part of the repository).
"""

from __future__ import annotations

import argparse
import math

import chainrule as cr
from chainrule import nn
from chainrule.training import fit

try:
    from _strategies import accuracy, mnist1d, one_blas_thread, report, summarize
except ImportError:  # run from elsewhere
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _strategies import accuracy, mnist1d, one_blas_thread, report, summarize

N_IN, N_OUT = 40, 10


def n_params(depth: int, width: int) -> int:
    """Weights and biases of an MLP 40 -> width (x depth) -> 10."""
    return (N_IN + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * N_OUT


def width_for(depth: int, budget: int) -> int:
    """The width whose parameter count is closest to ``budget``."""
    a, b = depth - 1, N_IN + 1 + (depth - 1) + N_OUT  # a w² + b w + 10 = budget
    w = (budget - N_OUT) / b if a == 0 else (-b + math.sqrt(b * b + 4 * a * (budget - N_OUT))) / (2 * a)
    lo = max(1, math.floor(w))
    return min((lo, lo + 1), key=lambda v: abs(n_params(depth, v) - budget))


def mlp(depth: int, width: int) -> nn.Sequential:
    layers = []
    for i in range(depth):
        layers += [nn.Linear(N_IN if i == 0 else width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, N_OUT))


def train(X, y, depth: int, width: int, epochs: int, seed: int):
    cr.manual_seed(seed)
    net = mlp(depth, width)
    fit(net, X, y, loss="cross_entropy", optimizer=cr.optim.Adam(net.parameters(), lr=3e-3),
        epochs=epochs, batch_size=100, verbose=0)
    return net


def run(small: bool = False, seed: int = 0, plot: str | None = None) -> dict:
    """Accuracy per (budget, depth); returns ``{(budget, depth): (mean, std)}`` and more."""
    depths = (1, 2, 4) if small else (1, 2, 3, 4, 6)
    budgets = (10_000,) if small else (10_000, 40_000)
    seeds = [seed + i for i in range(2 if small else 4)]
    epochs = 20 if small else 40
    X, y, Xt, yt = mnist1d()
    results, table, widths = {}, {}, {}
    for budget in budgets:
        for depth in depths:
            w = width_for(depth, budget)
            widths[budget, depth] = w
            accs = [accuracy(train(X, y, depth, w, epochs, s), Xt, yt) for s in seeds]
            results[budget, depth] = summarize(accs)
            table[f"{depth} hidden x {w:<4d} ({n_params(depth, w):,} parameters)"] = accs
    report(f"depth vs width on MNIST-1D at equal parameter count ({epochs} epochs)", table)
    if plot:
        _plot(results, depths, budgets, plot)
    return {"accuracy": results, "widths": widths, "per_method": table}


def _plot(results, depths, budgets, path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("   (matplotlib is not installed: no plot)")
        return
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for budget in budgets:
        m = [results[budget, d][0] for d in depths]
        s = [results[budget, d][1] for d in depths]
        ax.errorbar(depths, m, yerr=s, marker="o", capsize=3, label=f"{budget:,} parameters")
    ax.set_xlabel("hidden layers (width adjusted to the budget)")
    ax.set_ylabel("test accuracy")
    ax.set_title("MNIST-1D: depth vs width")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"   plot saved to {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", default=None, help="save the figure to this PNG")
    parser.add_argument("--small", action="store_true", help="the quick version")
    args = parser.parse_args()
    with one_blas_thread():
        run(small=args.small, plot=args.plot)
