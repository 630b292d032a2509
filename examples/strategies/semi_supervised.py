"""Semi-supervised learning (book §7.6): few labels + many unlabelled rows, one shared encoder.

scikit-learn's 8x8 digits: 450 test images; of the rest, 20, 50 or 100
carry their label and the others (about 1,300) are unlabelled.  The model
is ``nn.MultiTask(encoder, {"label": classifier, "input": decoder})``:
the classifier models P(y | x), the decoder reconstructs x (the
unsupervised criterion, a stand-in for P(x)), both through the same
encoder.  Three methods, each the same number of Adam steps:

* **labels only**: encoder + classifier on the labelled rows;
* **+ reconstruction**: the shared model, J = L_label + λ·L_input, on the
  labelled rows only (no unlabelled data);
* **+ unlabelled rows**: the same objective, with
  ``fit(..., unlabeled=X_u)``: the unlabelled rows train the
  reconstruction term only.  The labelled rows are repeated so that about
  half of each minibatch carries a label (otherwise a minibatch holds one
  labelled row in seventy and the supervised term gets few steps).

What the measurement says (full figures in docs/ch7_regularization.md):
the unlabelled rows do train the shared encoder and decoder (the test
reconstruction error is three times lower than without them at 20 labels,
a fifth lower at 100), but the
test **accuracy does not improve** at 20, 50 or 100 labels: all three
methods are equal within the seed-to-seed spread.  Reconstruction keeps
every detail of the strokes; what separates the classes is not what it
rewards, so sharing it with the classifier neither helps nor hurts much
here (λ from 1 to 50 and a 10-unit code gave the same picture, or worse at
large λ).  The semi-supervised methods that do help on digits build the
class structure into the unsupervised term (graph-based label
propagation, ladder networks with noise, consistency training).

Run: ``python examples/strategies/semi_supervised.py``
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.training import fit, predict

try:
    from _strategies import digits, one_blas_thread
except ImportError:  # run from elsewhere
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _strategies import digits, one_blas_thread


LAMBDA = 1.0  # weight of the reconstruction term
N_TEST = 450
METHODS = ("labels only", "+ reconstruction", "+ unlabelled rows")


def _model(method: str, seed: int):
    cr.manual_seed(seed)
    encoder = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
    nn.init.he_uniform_(encoder[0].weight)
    nn.init.he_uniform_(encoder[2].weight)
    heads = {"label": nn.Linear(32, 10)}
    if method != "labels only":
        heads["input"] = nn.Linear(32, 64)
    return nn.MultiTask(encoder, heads)


def _train(method, X_l, y_l, X_u, seed, steps):
    model = _model(method, seed)
    targets, losses, weights, extra = {"label": y_l}, {"label": "cross_entropy"}, None, {}
    if method != "labels only":
        targets["input"], losses["input"], weights = None, "mse", {"input": LAMBDA}
    n_rows = len(X_l)
    if method == "+ unlabelled rows":
        reps = max(1, len(X_u) // len(X_l))  # about half of each minibatch labelled
        X_l, targets["label"] = np.tile(X_l, (reps, 1)), np.tile(y_l, reps)
        extra["unlabeled"] = X_u
        n_rows = len(X_l) + len(X_u)
    fit(model, X_l, targets, loss=losses, loss_weights=weights,
        optimizer=cr.optim.Adam(model.parameters(), lr=3e-3),
        epochs=max(1, round(steps * 32 / n_rows)), batch_size=32, verbose=0,
        generator=seed, **extra)
    return model


def _one_seed(seed: int, n_labels: int, steps: int) -> dict:
    X, y = digits()
    perm = np.random.default_rng(seed).permutation(len(X))
    test, pool = perm[:N_TEST], perm[N_TEST:]
    labelled, unlabelled = pool[:n_labels], pool[n_labels:]
    res = {}
    for method in METHODS:
        model = _train(method, X[labelled], y[labelled], X[unlabelled], seed, steps)
        out = predict(model, X[test])
        res[f"{method}/accuracy"] = float(np.mean(out["label"].argmax(axis=1) == y[test]))
        if "input" in out:
            res[f"{method}/reconstruction"] = float(np.mean((out["input"] - X[test]) ** 2))
    return res


def run(small: bool = False, seed: int = 0) -> dict:
    """Test accuracy vs number of labels, with and without the unlabelled rows.

    Returns ``{n_labels: {"<method>/accuracy": (mean, std), ...}}``.
    """
    seeds = range(seed, seed + (2 if small else 10))
    label_counts = (20, 100) if small else (20, 50, 100)
    steps = 250 if small else 600
    result = {}
    for n in label_counts:
        runs = [_one_seed(s, n, steps) for s in seeds]
        result[n] = {k: (float(np.mean([r[k] for r in runs])), float(np.std([r[k] for r in runs])))
                     for k in runs[0]}
    print(f"semi-supervised (book 7.6), digits: test accuracy over {len(seeds)} seeds, "
          f"mean +- std ({steps} Adam steps, lambda = {LAMBDA})")
    print(f"  {'labels':>6} " + " ".join(f"{m:>18}" for m in METHODS))
    for n in label_counts:
        cells = " ".join(
            f"{result[n][m + '/accuracy'][0]:>9.4f} +- {result[n][m + '/accuracy'][1]:.4f}"
            for m in METHODS)
        print(f"  {n:>6} {cells}")
    print("  test reconstruction MSE, + reconstruction vs + unlabelled rows:")
    for n in label_counts:
        a, b = (result[n][f"{m}/reconstruction"][0] for m in METHODS[1:])
        print(f"  {n:>6} {a:.4f} vs {b:.4f}")
    print("  The unlabelled rows train the encoder (lower reconstruction error) but do not")
    print("  raise the accuracy on this data (see the docstring).")
    return result


if __name__ == "__main__":
    with one_blas_thread():
        run()
