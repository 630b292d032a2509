"""Task 3, regression with a learned (heteroscedastic) variance (book §5.1.1, §6.2.2.4).

Diabetes progression (scikit-learn's diabetes set, 442 patients, 10
features).  The model outputs a Gaussian p(y | x) = N(y; μ(x), σ²(x)): one
linear layer gives μ and log σ², so the predicted noise level varies with
the patient (heteroscedastic).  It is trained by maximum likelihood, the
loss being the exact negative log-likelihood
``F.gaussian_nll_loss(mu, var, y, full=True)`` = ½ log 2πσ² + (y-μ)²/(2σ²).

Baselines, also fitted by maximum likelihood:

* linear regression with one constant variance (σ² = the mean squared
  training residual) — the usual least-squares model;
* a constant Gaussian N(ȳ, s²) that ignores x.

The metric is the held-out NLL per patient (nats, on standardised y),
averaged over a 5-fold cross-validation because 442 patients make a
single split noisy.  A small L2 penalty (Adam's ``weight_decay``) keeps
the variance head from chasing the noise.

Run: ``python examples/tasks/regression.py``
"""

from __future__ import annotations

import numpy as np
from _common import one_blas_thread, predict, report, train

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

LOG_2PI = float(np.log(2 * np.pi))


def gaussian_nll(mu, var, y) -> float:
    """Mean of -log N(y; μ, σ²) = ½ log 2πσ² + (y-μ)²/(2σ²)."""
    return float(np.mean(0.5 * (LOG_2PI + np.log(var)) + 0.5 * (y - mu) ** 2 / var))


def heteroscedastic_nll(out, yb):
    """Training loss: the model's outputs are (μ, log σ²) per row."""
    mu = out[:, :1]
    var = cr.exp(out[:, 1:])
    return F.gaussian_nll_loss(mu, var, yb.reshape(-1, 1), full=True)


def _standardise(train_part, test_part):
    mu, sd = train_part.mean(axis=0), train_part.std(axis=0)
    return ((train_part - mu) / sd).astype(np.float32), ((test_part - mu) / sd).astype(np.float32)


def run(small: bool = False, seed: int = 0) -> dict:
    """5-fold cross-validated held-out NLL of the three models."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import KFold

    X, y = load_diabetes(return_X_y=True)
    epochs, batch = (150, 64) if small else (300, 64)
    scores = {"heteroscedastic": [], "linear": [], "constant": []}
    rmse = []
    for fold, (tr, te) in enumerate(KFold(5, shuffle=True, random_state=seed).split(X)):
        Xtr, Xte = _standardise(X[tr], X[te])
        ytr, yte = _standardise(y[tr], y[te])

        cr.manual_seed(seed + fold)
        model = nn.Linear(10, 2)  # columns: μ(x), log σ²(x)
        train(model, Xtr, ytr, heteroscedastic_nll, epochs=epochs, batch_size=batch, lr=1e-2,
              weight_decay=3e-2)
        out = predict(model, Xte)
        scores["heteroscedastic"].append(gaussian_nll(out[:, 0], np.exp(out[:, 1]), yte))
        rmse.append(float(np.sqrt(np.mean((out[:, 0] - yte) ** 2))))

        lin = LinearRegression().fit(Xtr, ytr)
        resid_var = float(np.mean((ytr - lin.predict(Xtr)) ** 2))  # MLE of σ²
        scores["linear"].append(gaussian_nll(lin.predict(Xte), resid_var, yte))
        scores["constant"].append(gaussian_nll(ytr.mean(), ytr.var(), yte))

    result = {k: float(np.mean(v)) for k, v in scores.items()}
    report("regression (diabetes): held-out NLL per patient, 5-fold CV (lower is better)", [
        ("heteroscedastic N(mu(x), s2(x))", result["heteroscedastic"],
         "linear, constant variance", result["linear"]),
        ("(same model)", result["heteroscedastic"], "constant N(mean, var)",
         result["constant"]),
    ])
    print(f"   heteroscedastic model's RMSE (standardised y): {np.mean(rmse):.4f}; "
          "bar: NLL below both baselines")
    return {"nll": result["heteroscedastic"], "linear_baseline_nll": result["linear"],
            "constant_baseline_nll": result["constant"], "rmse": float(np.mean(rmse))}


if __name__ == "__main__":
    with one_blas_thread():
        run()
