"""Task 6, anomaly detection (book §5.1.1): flag the unusual examples.

An autoencoder is trained (unsupervised, §5.1.3) on the digits 0-4 only.
It learns to reconstruct those well; a digit from 5-9 is unusual and
comes back worse.  The anomaly score is the reconstruction error
‖x - g(f(x))‖², and the quality measure the ROC AUC on the held-out
digits (0-4 normal, 5-9 anomalous) via ``sklearn.metrics.roc_auc_score``.

Architecture: 64 → 64 → 16 → 64 → 64 with ReLU units and a sigmoid
output trained by Bernoulli cross-entropy on the pixel intensities.

Baselines: the distance to the mean normal image, and the reconstruction
error of PCA with the same code size (a linear autoencoder).

Run: ``python examples/tasks/anomaly_detection.py``
"""

from __future__ import annotations

import numpy as np
from _common import digits, mlp, one_blas_thread, predict, report, train

import chainrule as cr
import chainrule.nn.functional as F

NORMAL_CLASSES = (0, 1, 2, 3, 4)
CODE = 16
#: the autoencoder's AUC must reach this and beat both baselines
AUC_BAR = 0.9


def run(small: bool = False, seed: int = 0) -> dict:
    """Train the autoencoder on normal digits; return ROC AUCs."""
    from sklearn.decomposition import PCA
    from sklearn.metrics import roc_auc_score

    cr.manual_seed(seed)
    Xtr, ytr, Xte, yte = digits(seed=seed)
    normal = Xtr[np.isin(ytr, NORMAL_CLASSES)]
    is_anomaly = ~np.isin(yte, NORMAL_CLASSES)

    ae = mlp(64, 64, CODE, 64, 64)

    def reconstruction_nll(out, target):
        return F.binary_cross_entropy_with_logits(out, target)

    train(ae, normal, None, reconstruction_nll, epochs=20 if small else 150,
          batch_size=32, lr=2e-3)
    recon = 1.0 / (1.0 + np.exp(-predict(ae, Xte)))
    score = np.sum((Xte - recon) ** 2, axis=1)
    auc = float(roc_auc_score(is_anomaly, score))

    mean_score = np.sum((Xte - normal.mean(axis=0)) ** 2, axis=1)
    mean_auc = float(roc_auc_score(is_anomaly, mean_score))
    pca = PCA(n_components=CODE, random_state=seed).fit(normal)
    pca_recon = pca.inverse_transform(pca.transform(Xte))
    pca_auc = float(roc_auc_score(is_anomaly, np.sum((Xte - pca_recon) ** 2, axis=1)))

    report("anomaly detection: AE trained on digits 0-4 flags 5-9, test ROC AUC", [
        ("autoencoder recon. error", auc, "distance to mean image", mean_auc),
        ("autoencoder recon. error", auc, f"PCA({CODE}) recon. error", pca_auc),
    ])
    print(f"   bar: AUC >= {AUC_BAR} and above both baselines")
    return {"auc": auc, "mean_distance_auc": mean_auc, "pca_auc": pca_auc}


if __name__ == "__main__":
    with one_blas_thread():
        run()
