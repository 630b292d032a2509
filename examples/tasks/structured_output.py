"""Task 5, structured output (book §5.1.1): predict a whole image half at once.

The input is the top half of a digit (rows 0-3, 32 pixels); the output is
the bottom half (rows 4-7, 32 pixels), a vector whose entries are strongly
related to each other — the strokes must continue the top half and join up.
One MLP predicts all 32 pixels jointly from a shared hidden representation,
each pixel with a sigmoid output unit trained by its Bernoulli
cross-entropy (pixel intensities in [0, 1] as targets, §6.2.2.2).

Metric: mean squared error per pixel of the predicted bottom half on
held-out digits.  Baselines: the mean bottom half of the training images
(ignores the input), and ridge regression, a linear map from top to bottom.

Run: ``python examples/tasks/structured_output.py``
"""

from __future__ import annotations

import numpy as np
from _common import digits, mlp, one_blas_thread, predict, report, train

import chainrule as cr
import chainrule.nn.functional as F

#: the MLP's MSE must be at most this fraction of the mean-image baseline's
BAR_FRACTION = 0.6


def halves(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split 8x8 images (n, 64) into top (n, 32) and bottom (n, 32) halves."""
    return X[:, :32], X[:, 32:]


def run(small: bool = False, seed: int = 0) -> dict:
    """Train the MLP; return the test MSE of it and of the baselines."""
    from sklearn.linear_model import Ridge

    cr.manual_seed(seed)
    Xtr, _, Xte, _ = digits(seed=seed)
    top_tr, bottom_tr = halves(Xtr)
    top_te, bottom_te = halves(Xte)

    net = mlp(32, 256, 256, 32)

    def bernoulli_nll(out, yb):
        return F.binary_cross_entropy_with_logits(out, yb)

    if small:
        train(net, top_tr, bottom_tr, bernoulli_nll, epochs=20, batch_size=64, lr=2e-3,
              weight_decay=1e-4)
    else:
        train(net, top_tr, bottom_tr, bernoulli_nll, epochs=120, batch_size=32, lr=1e-3,
              weight_decay=1e-4)
    pred = 1.0 / (1.0 + np.exp(-predict(net, top_te)))  # sigmoid of the logits
    mse = float(np.mean((pred - bottom_te) ** 2))

    mean_mse = float(np.mean((bottom_tr.mean(axis=0) - bottom_te) ** 2))
    ridge = Ridge(alpha=1.0).fit(top_tr, bottom_tr)
    ridge_mse = float(np.mean((ridge.predict(top_te) - bottom_te) ** 2))

    report("structured output: bottom half from top half, test MSE per pixel", [
        ("MLP, 32 sigmoid outputs", mse, "mean bottom half", mean_mse),
        ("MLP, 32 sigmoid outputs", mse, "ridge regression (linear)", ridge_mse),
    ])
    print(f"   bar: MLP MSE <= {BAR_FRACTION} x mean-image MSE and below ridge")
    return {"mse": mse, "mean_image_mse": mean_mse, "ridge_mse": ridge_mse}


if __name__ == "__main__":
    with one_blas_thread():
        run()
