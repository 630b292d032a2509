"""Task 8, imputation of missing values (book §5.1.1): fill in the hidden entries.

Given a digit with a random half of its pixels missing, predict the
missing ones.  A *masked autoencoder* reads [x ⊙ m, m] (observed pixels,
zeros, and the mask m) and outputs all 64 pixels through sigmoid units.
It is trained with a fresh random mask for every minibatch (25-75% of
pixels hidden) and the Bernoulli cross-entropy on the hidden pixels only,
so it learns p(x_missing | x_observed) for any pattern of missingness.

Metric: root mean squared error on the hidden entries of held-out digits
(each with a fixed random half hidden).  Baselines: mean imputation (each
missing pixel set to its training mean) and scikit-learn's KNNImputer
(average of the 5 nearest training images on the observed pixels).

Run: ``python examples/tasks/imputation.py``
"""

from __future__ import annotations

import numpy as np
from _common import digits, mlp, one_blas_thread, predict, random_mask, report, train, with_mask

import chainrule as cr
import chainrule.nn.functional as F

#: the autoencoder's RMSE must be at most this fraction of mean imputation's
BAR_FRACTION = 0.7


def run(small: bool = False, seed: int = 0) -> dict:
    """Train the masked autoencoder; return RMSE on hidden test pixels."""
    from sklearn.impute import KNNImputer

    cr.manual_seed(seed)
    Xtr, _, Xte, _ = digits(seed=seed)
    test_mask = random_mask(Xte.shape, 0.5, np.random.default_rng(1000 + seed))
    hidden = test_mask == 0

    # training rows are [x, 1, x]: the input with a full mask, then the target;
    # every minibatch hides a new random subset of the input
    def mask_batch(xb, yb):
        rng = cr.random.generator()
        x = xb[:, :64]
        m = random_mask(x.shape, rng.uniform(0.25, 0.75, size=len(x)), rng)
        return with_mask(x, m), np.hstack([x, m])

    def hidden_pixel_nll(out, target):
        x, m = target[:, :64], target[:, 64:]
        per_pixel = F.binary_cross_entropy_with_logits(out, x, reduction="none")
        return (per_pixel * (1.0 - m)).sum() * (1.0 / max(float((1.0 - m).sum()), 1.0))

    net = mlp(128, 256, 256, 64)
    epochs, lr = (60, 5e-3) if small else (400, 3e-3)
    train(net, with_mask(Xtr, np.ones_like(Xtr)), np.hstack([Xtr, np.ones_like(Xtr)]),
          hidden_pixel_nll, epochs=epochs, batch_size=128, lr=lr, transform=mask_batch)
    recon = 1.0 / (1.0 + np.exp(-predict(net, with_mask(Xte, test_mask))))

    def rmse(filled):
        return float(np.sqrt(np.mean((filled[hidden] - Xte[hidden]) ** 2)))

    ae_rmse = rmse(recon)
    mean_rmse = rmse(np.broadcast_to(Xtr.mean(axis=0), Xte.shape))
    knn = KNNImputer(n_neighbors=5).fit(Xtr)
    knn_rmse = rmse(knn.transform(np.where(hidden, np.nan, Xte)))

    report("imputation: half the pixels hidden, RMSE on the hidden pixels (test)", [
        ("masked autoencoder", ae_rmse, "mean imputation", mean_rmse),
        ("masked autoencoder", ae_rmse, "KNNImputer (k=5)", knn_rmse),
    ])
    print(f"   bar: RMSE <= {BAR_FRACTION} x mean imputation's")
    return {"rmse": ae_rmse, "mean_imputation_rmse": mean_rmse, "knn_rmse": knn_rmse}


if __name__ == "__main__":
    with one_blas_thread():
        run()
