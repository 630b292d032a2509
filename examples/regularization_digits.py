"""Regularisation on scikit-learn's digits (book chapter 7).

A two-hidden-layer MLP (256 ReLU units each) is trained on only 300 of
the 1,797 images, and 20% of those training labels are replaced by random
classes.  Without regularisation the network memorises every training
label, noise included, and its error on the 1,497 other (clean) images
suffers.  The same network is then trained with each regulariser of
chapter 7 and its test error compared:

- L2 weight decay (§7.1.1), dropout (§7.12) alone and with max-norm
  (§7.2), dataset augmentation (§7.4: random shifts, rotations and zooms
  of the 8x8 images), input noise (§7.5), label smoothing (§7.5.1);
- bagging (§7.11): k = 5 networks on bootstrap resamples, versus the
  average error of its members.

One seed per setting, so differences of a point or two are noise; the
large ones are not.  BLAS is limited to one thread: these layers are too
small to gain from more, and on a busy machine extra threads cost a lot.

Run: ``python examples/regularization_digits.py`` (about half a minute).
"""

from __future__ import annotations

import contextlib
import time

import numpy as np
from sklearn.datasets import load_digits

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import ensembles as E
from chainrule import nn
from chainrule import regularization as R
from chainrule.optim import Adam
from chainrule.training import fit, predict

N_TRAIN = 300
LABEL_NOISE = 0.2
EPOCHS = 100
HIDDEN = 256


def load(n_train: int = N_TRAIN, label_noise: float = LABEL_NOISE, seed: int = 0):
    """Digits scaled to [0, 1]: a random training subset with a share of its
    labels replaced by random classes, and the other images (clean) as test set."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    tr, te = order[:n_train], order[n_train:]
    y_tr = y[tr].copy()
    flip = rng.random(n_train) < label_noise
    y_tr[flip] = rng.integers(0, 10, flip.sum())
    return X[tr], y_tr, X[te], y[te]


def one_blas_thread():
    """Limit BLAS to one thread if threadpoolctl (a scikit-learn dependency) is there."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def mlp(dropout: float = 0.0, input_dropout: float = 0.0):
    """64 -> 256 -> 256 -> 10 ReLU network, optionally with dropout."""
    layers = []
    if input_dropout:
        layers.append(nn.Dropout(input_dropout))
    size = 64
    for _ in range(2):
        layers.append(nn.Linear(size, HIDDEN))
        layers.append(nn.ReLU())
        if dropout:
            layers.append(nn.Dropout(dropout))
        size = HIDDEN
    layers.append(nn.Linear(size, 10))
    return nn.Sequential(*layers)


def adam(params):
    return Adam(params, lr=1e-3)


def error(model, X, y) -> float:
    return float((predict(model, X).argmax(1) != y).mean())


def run(name, data, model_fn, loss=F.cross_entropy, **fit_kwargs):
    X_tr, y_tr, X_te, y_te = data
    cr.manual_seed(0)
    model = model_fn()
    start = time.perf_counter()
    fit(model, X_tr, y_tr, loss=loss, optimizer=adam(model.parameters()), epochs=EPOCHS,
        batch_size=32, verbose=0, **fit_kwargs)
    seconds = time.perf_counter() - start
    train_err, test_err = error(model, X_tr, y_tr), error(model, X_te, y_te)
    print(f"{name:<42} train {100 * train_err:5.1f}%   test {100 * test_err:5.1f}%"
          f"   ({seconds:4.1f} s)")
    return test_err


def main() -> dict:
    data = load()
    X_tr, y_tr, X_te, y_te = data
    print(f"digits: {N_TRAIN} training images ({100 * LABEL_NOISE:.0f}% random labels), "
          f"{len(X_te)} clean test images; MLP 64-{HIDDEN}-{HIDDEN}-10, Adam lr 1e-3, "
          f"{EPOCHS} epochs.\nTrain errors count the noisy labels: memorising them gives 0%; "
          f"ignoring the noise gives about {100 * LABEL_NOISE * 0.9:.0f}%.\n")
    results = {}
    results["clean_labels"] = run("reference: clean labels, no regulariser",
                                  load(label_noise=0.0), mlp)
    results["none"] = run("no regularisation", data, mlp)
    results["l2"] = run("L2 weight decay (alpha = 0.01)", data, mlp,
                        regularizers=[R.L2Penalty(1e-2)])
    results["dropout"] = run("dropout (0.2 input, 0.5 hidden)", data,
                             lambda: mlp(dropout=0.5, input_dropout=0.2))
    results["dropout_maxnorm"] = run("dropout + max-norm 1", data,
                                     lambda: mlp(dropout=0.5, input_dropout=0.2),
                                     constraints=[R.MaxNorm(1.0)])
    augment = R.RandomAffine(degrees=10, translate=1.0, scale=(0.9, 1.1),
                             image_shape=(8, 8))
    results["augmentation"] = run("augmentation (shift/rotate/zoom)", data, mlp,
                                  transform=augment)
    results["input_noise"] = run("input noise (std 0.3)", data, mlp,
                                 transform=R.InputNoise(0.3))
    results["label_smoothing"] = run(
        "label smoothing (0.2)", data, mlp,
        loss=lambda out, yb: F.cross_entropy(out, yb, label_smoothing=0.2))

    start = time.perf_counter()
    bag = E.Bagging(mlp, k=5, loss="cross_entropy", optimizer_fn=adam, epochs=EPOCHS,
                    batch_size=32, combine="mean", seed=0, n_jobs=1).fit(X_tr, y_tr)
    outputs = bag.member_outputs(X_te)
    members = [float((p.argmax(1) != y_te).mean()) for p in outputs]
    bag_err = float((bag.predict(X_te) != y_te).mean())
    vote_err = float((E.combine_predictions(outputs, "vote") != y_te).mean())
    print(f"\nbagging, k = 5 ({time.perf_counter() - start:.1f} s): members' test errors "
          + ", ".join(f"{100 * e:.1f}%" for e in members))
    print(f"  average member {100 * np.mean(members):.1f}%   "
          f"ensemble (mean of probabilities) {100 * bag_err:.1f}%   "
          f"majority vote {100 * vote_err:.1f}%")
    results["bagging_members_mean"] = float(np.mean(members))
    results["bagging"] = bag_err
    results["bagging_vote"] = vote_err
    return results


if __name__ == "__main__":
    with one_blas_thread():
        main()
