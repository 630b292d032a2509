"""Capacity, underfitting and overfitting (book §5.2, figures 5.2-5.4).

Three sweeps with :mod:`chainrule.ensembles.capacity`:

1. polynomial degree — the book's own example: a linear model on
   polynomial features of x (Legendre polynomials, which are well
   conditioned on [-1, 1]) fitted to a few noisy samples of a smooth curve.
   Low degrees underfit, high degrees interpolate the noise and overfit;
   the test error is U-shaped.
2. hidden width of a one-hidden-layer MLP on a 300-image subset of the
   digits.
3. number of training examples for a fixed MLP (figure 5.4): the gap
   shrinks as the training set grows.

Each prints a table and its verdicts and writes a PNG next to it.

Run: ``python examples/capacity_sweep.py [output_dir]``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.ensembles.capacity import capacity_sweep, mean_squared_error, training_size_sweep


def polynomial_data(n_train: int = 15, n_test: int = 500, noise: float = 0.2, seed: int = 0):
    """Noisy samples of y = sin(πx): training x evenly spaced on [-1, 1],
    test x uniform; float32 columns."""
    rng = np.random.default_rng(seed)
    x_tr = np.linspace(-1, 1, n_train)
    x_te = rng.uniform(-1, 1, n_test)
    f = lambda x: np.sin(np.pi * x)
    y_tr = f(x_tr) + noise * rng.normal(size=n_train)
    y_te = f(x_te) + noise * rng.normal(size=n_test)
    col = lambda a: a.astype(np.float32)[:, None]
    return col(x_tr), col(y_tr), col(x_te), col(y_te)


class PolynomialRegression(nn.Module):
    """ŷ = b + Σ_{k=1}^{degree} w_k P_k(x): linear in Legendre features P_k.

    Degree 0 is the constant model; capacity grows with the degree.
    """

    def __init__(self, degree: int):
        super().__init__()
        self.degree = degree
        self.linear = nn.Linear(max(degree, 1), 1)

    def features(self, x: np.ndarray) -> np.ndarray:
        v = np.polynomial.legendre.legvander(x[:, 0].astype(np.float64), self.degree)
        if self.degree == 0:
            return np.zeros((len(x), 1), dtype=np.float32)
        return v[:, 1:].astype(np.float32)

    def forward(self, x):
        return self.linear(cr.tensor(self.features(x.data)))


def fit_least_squares(model: PolynomialRegression, X, y) -> None:
    """Set w, b by the normal equations (book eq. 5.12), the Gaussian MLE.

    The minimum training MSE is reached exactly, so the sweep shows the
    capacity of each degree rather than how far an optimiser got.
    """
    Phi = np.hstack([model.features(X).astype(np.float64), np.ones((len(X), 1))])
    theta = np.linalg.lstsq(Phi, y.astype(np.float64), rcond=None)[0]
    model.linear.weight.data[...] = theta[:-1]
    model.linear.bias.data[...] = theta[-1]


def polynomial_sweep(small: bool = False, seed: int = 0):
    data = polynomial_data(seed=seed)
    degrees = [0, 1, 3, 5, 9, 12, 14] if small else [0, 1, 2, 3, 4, 5, 7, 9, 11, 12, 13, 14]
    return capacity_sweep(
        PolynomialRegression, degrees, *data, train=fit_least_squares,
        error=mean_squared_error, param_name="degree", seed=seed,
    )


def _digits_subset(n_train: int, seed: int):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    Xtr, Xte, ytr, yte = train_test_split(X, y, train_size=n_train, test_size=500,
                                          random_state=seed, stratify=y)
    return Xtr, ytr.astype(np.int64), Xte, yte.astype(np.int64)


def _fit_classifier(epochs: int):
    from chainrule.training import fit

    def train(model, X, y):
        opt = cr.optim.Adam(model.parameters(), lr=3e-3)
        fit(model, X, y, loss=F.cross_entropy, optimizer=opt, epochs=epochs,
            batch_size=32, verbose=0)

    return train


def width_sweep(small: bool = False, seed: int = 0):
    data = _digits_subset(300, seed)
    widths = [1, 2, 8, 64] if small else [1, 2, 4, 8, 32, 128, 512]
    return capacity_sweep(
        lambda w: nn.Sequential(nn.Linear(64, w), nn.ReLU(), nn.Linear(w, 10)),
        widths, *data, train=_fit_classifier(30 if small else 100),
        param_name="hidden width", seed=seed,
    )


def size_sweep(small: bool = False, seed: int = 0):
    Xtr, ytr, Xte, yte = _digits_subset(1000, seed)
    sizes = [25, 100, 1000] if small else [25, 50, 100, 200, 500, 1000]
    net = lambda: nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def train(model, X, y):  # the same number of steps (about 600) for every size
        _fit_classifier(max(20, 600 * 32 // len(X)))(model, X, y)

    return training_size_sweep(net, sizes, Xtr, ytr, Xte, yte, train=train, seed=seed)


def run(small: bool = False, seed: int = 0, out_dir: str | Path = ".") -> dict:
    """Run the three sweeps, print their verdicts, write their plots."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, fn in (("degree", polynomial_sweep), ("width", width_sweep),
                     ("size", size_sweep)):
        res = fn(small=small, seed=seed)
        print(f"== capacity sweep over {res.param_name}")
        print(res.summary())
        try:
            print(f"   plot: {res.plot(out / f'capacity_{name}.png')}")
        except ImportError as err:
            print(f"   (no plot: {err})")
        results[name] = res
    return results


if __name__ == "__main__":
    run(out_dir=sys.argv[1] if len(sys.argv) > 1 else ".")
