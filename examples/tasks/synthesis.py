"""Task 7, synthesis and sampling (book §5.1.1): new examples like the training data.

A small variational autoencoder (Kingma & Welling 2014) learns a generative
model of the 8x8 digits: z ~ N(0, I) in 4 dimensions, and a decoder network
gives p(x | z), independent Bernoulli pixels with probabilities σ(g(z)).
It is trained by maximising the evidence lower bound

    log p(x) ≥ E_{q(z|x)}[log p(x | z)] - KL(q(z|x) ‖ N(0, I)),

with q(z|x) = N(μ(x), diag σ²(x)) from an encoder network and the
reparameterisation z = μ + σ ⊙ ε, ε ~ N(0, I), so the gradient flows
through the sample.  New digits: decode z ~ N(0, I) (we show the pixel
probabilities σ(g(z)), the mean of p(x | z)).

Judging samples: a separately trained classifier (an MLP on the real
training digits) reads each sample.  Good samples look like some digit —
high *confidence* (mean of the largest class probability) — and cover all
digits — high *diversity*, the entropy of the histogram of predicted
classes (ln 10 ≈ 2.303 when all ten are equally frequent).

Baselines: uniform noise images, and the fully factorised model where each
pixel is drawn independently from its own training marginal.  Real test
digits give the reference.

Run: ``python examples/tasks/synthesis.py``
"""

from __future__ import annotations

import numpy as np
from _common import digits, mlp, one_blas_thread, predict, report, train

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

LATENT = 4
#: bars on the VAE samples, asserted by the gallery test
CONFIDENCE_MARGIN = 0.1  # above both baselines' confidence
INCEPTION_RATIO = 1.5  # times the better baseline's inception score
DIVERSITY_BAR = 2.0


class VAE(nn.Module):
    """Encoder x → (μ, log σ²) and decoder z → pixel logits (book §20.10.3).

    ``forward`` returns the decoder logits for a reparameterised sample of z
    concatenated with μ and log σ², shape (N, 64 + 2·latent), so the whole
    ELBO can be computed by one loss function (see :func:`negative_elbo`).
    """

    def __init__(self, n_pixels: int = 64, hidden: int = 256, latent: int = LATENT):
        super().__init__()
        self.latent = latent
        self.encoder = mlp(n_pixels, hidden, 2 * latent)
        self.decoder = mlp(latent, hidden, n_pixels)

    def forward(self, x):
        stats = self.encoder(x)
        mu = stats[:, :self.latent]
        log_var = stats[:, self.latent:]
        if self.training:
            eps = cr.random.generator().standard_normal(mu.shape).astype(np.float32)
            z = mu + cr.exp(log_var * 0.5) * eps  # reparameterisation
        else:
            z = mu
        return cr.concatenate([self.decoder(z), mu, log_var], axis=1)

    def sample(self, n: int, rng) -> np.ndarray:
        """Pixel probabilities σ(g(z)) for ``n`` draws z ~ N(0, I)."""
        z = rng.standard_normal((n, self.latent)).astype(np.float32)
        return 1.0 / (1.0 + np.exp(-predict(self.decoder, z)))


def negative_elbo(out, x):
    """-ELBO per image: Bernoulli reconstruction NLL + KL(q(z|x) ‖ N(0, I)).

    KL = ½ Σ_j (μ_j² + σ_j² - log σ_j² - 1), in closed form.
    """
    n_pix = x.shape[1]
    logits = out[:, :n_pix]
    mu = out[:, n_pix:n_pix + LATENT]
    log_var = out[:, n_pix + LATENT:]
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") * (1.0 / len(x))
    kl = (mu * mu + cr.exp(log_var) - log_var - 1.0).sum() * (0.5 / len(x))
    return recon + kl


def judge(classifier, images: np.ndarray) -> tuple[float, float, float]:
    """(confidence, diversity, inception score) of images under a classifier.

    confidence: mean over images of max_y p(y | x); diversity: entropy of
    the histogram of predicted classes; inception score (Salimans et al.
    2016): exp(E_x KL(p(y | x) ‖ p(y))), high only when both are.
    """
    logits = predict(classifier, images.astype(np.float32))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    counts = np.bincount(p.argmax(axis=1), minlength=10) / len(images)
    nz = counts[counts > 0]
    p_y = p.mean(axis=0)
    kl = np.sum(p * (np.log(p + 1e-12) - np.log(p_y + 1e-12)), axis=1)
    return (float(p.max(axis=1).mean()), float(-(nz * np.log(nz)).sum()),
            float(np.exp(kl.mean())))


def run(small: bool = False, seed: int = 0) -> dict:
    """Train the VAE and the judge; score 1000 samples and the baselines."""
    cr.manual_seed(seed)
    Xtr, ytr, Xte, _ = digits(seed=seed)

    # the judge: an MLP with weight decay, which keeps it from being confident
    # far from the data (an unregularised ReLU net is sure about pure noise)
    judge_net = mlp(64, 128, 10)
    train(judge_net, Xtr, ytr, F.cross_entropy, epochs=30, lr=3e-3, weight_decay=1e-2)

    vae = VAE()
    if small:
        train(vae, Xtr, None, negative_elbo, epochs=30, batch_size=64, lr=3e-3)
    else:
        train(vae, Xtr, None, negative_elbo, epochs=200, batch_size=32, lr=2e-3)

    rng = np.random.default_rng(seed)
    n = 1000
    samples = vae.sample(n, rng)
    noise = rng.random((n, 64), dtype=np.float32)
    # fully factorised model: pixel j of each sample copied from a random training image
    factorised = Xtr[rng.integers(0, len(Xtr), size=(n, 64)), np.arange(64)]

    scores = {name: judge(judge_net, imgs) for name, imgs in (
        ("vae", samples), ("noise", noise), ("factorised", factorised), ("real", Xte))}
    rows = []
    for i, metric in enumerate(("confidence", "class diversity (nats)", "inception score")):
        for base, label in (("noise", "uniform noise"), ("factorised", "independent pixels"),
                            ("real", "(real test digits)")):
            rows.append((f"VAE {metric}", scores["vae"][i], label, scores[base][i]))
    report("synthesis: 1000 samples judged by a separate classifier", rows)
    print(f"   bars: confidence >= baselines + {CONFIDENCE_MARGIN}; inception score >= "
          f"{INCEPTION_RATIO} x baselines'; diversity >= {DIVERSITY_BAR} "
          f"(ln 10 = {np.log(10):.3f})")
    if not small:
        _ascii(samples[:6])
    out = {}
    for name, (conf, div, incep) in scores.items():
        prefix = "" if name == "vae" else f"{name}_"
        out.update({f"{prefix}confidence": conf, f"{prefix}diversity": div,
                    f"{prefix}inception_score": incep})
    return out


def _ascii(images: np.ndarray) -> None:
    """Print a few 8x8 samples side by side."""
    shades = " .:-=+*#%@"
    for r in range(8):
        row = []
        for img in images:
            px = img.reshape(8, 8)[r]
            row.append("".join(shades[min(int(v * 10), 9)] for v in px))
        print("   " + "  ".join(row))


if __name__ == "__main__":
    with one_blas_thread():
        run()
