"""Task 9, denoising (book §5.1.1, §14.5): recover a clean image from a corrupted one.

A denoising autoencoder is trained on pairs (x̃, x), where x̃ = x + ε with
Gaussian noise ε ~ N(0, σ²I), σ = 0.3 on pixels in [0, 1]; a new ε is drawn
for every minibatch (the training inputs are never the same twice).  It
outputs the pixels through sigmoid units, trained by the Bernoulli
cross-entropy to the clean image, and so learns E[x | x̃].

Metric: mean squared error per pixel to the clean held-out image.
Baselines: the noisy input itself (error ≈ σ²) and a Gaussian blur of it
(the classic linear filter, scipy.ndimage, width chosen on training images).

Run: ``python examples/tasks/denoising.py``
"""

from __future__ import annotations

import numpy as np
from _common import digits, mlp, one_blas_thread, predict, report, train

import chainrule as cr
import chainrule.nn.functional as F

SIGMA = 0.3
#: the autoencoder's error must be at most this fraction of the noisy input's
BAR_FRACTION = 0.35


def blur(images: np.ndarray, width: float) -> np.ndarray:
    """Gaussian blur of each 8x8 image (not across images)."""
    from scipy.ndimage import gaussian_filter

    out = gaussian_filter(images.reshape(-1, 8, 8), sigma=(0, width, width), mode="nearest")
    return out.reshape(len(images), 64)


def run(small: bool = False, seed: int = 0) -> dict:
    """Train the denoising autoencoder; return clean-image MSEs."""
    cr.manual_seed(seed)
    Xtr, _, Xte, _ = digits(seed=seed)
    rng = np.random.default_rng(1000 + seed)
    noisy_te = (Xte + SIGMA * rng.standard_normal(Xte.shape)).astype(np.float32)

    def corrupt(xb, yb):  # fresh noise per minibatch; the target stays clean
        eps = cr.random.generator().standard_normal(xb.shape, dtype=np.float32)
        return xb + np.float32(SIGMA) * eps, yb

    def clean_nll(out, clean):
        return F.binary_cross_entropy_with_logits(out, clean)

    dae = mlp(64, 256, 256, 64)
    epochs, batch, lr = (60, 128, 5e-3) if small else (150, 32, 2e-3)
    train(dae, Xtr, Xtr, clean_nll, epochs=epochs, batch_size=batch, lr=lr, transform=corrupt)
    denoised = 1.0 / (1.0 + np.exp(-predict(dae, noisy_te)))

    def mse(images):
        return float(np.mean((images - Xte) ** 2))

    noisy_tr = Xtr + SIGMA * rng.standard_normal(Xtr.shape)
    width = min((0.5, 0.7, 1.0, 1.5), key=lambda w: np.mean((blur(noisy_tr, w) - Xtr) ** 2))
    dae_mse, noisy_mse, blur_mse = mse(denoised), mse(noisy_te), mse(blur(noisy_te, width))

    report(f"denoising: Gaussian noise sigma={SIGMA}, MSE to the clean test image", [
        ("denoising autoencoder", dae_mse, "noisy input", noisy_mse),
        ("denoising autoencoder", dae_mse, f"Gaussian blur (width {width})", blur_mse),
    ])
    print(f"   bar: MSE <= {BAR_FRACTION} x the noisy input's")
    return {"mse": dae_mse, "noisy_mse": noisy_mse, "blur_mse": blur_mse}


if __name__ == "__main__":
    with one_blas_thread():
        run()
