"""Task 4, transcription (book §5.1.1): an image strip → the digit string it shows.

Each input is a strip of three 8x8 digits side by side (8 x 28 pixels)
with random gaps and a random horizontal offset, so the digits are not at
fixed places.  The target is the 3-digit string.  The network is an MLP
with *one softmax head per position*: its 30 outputs are read as (3, 10)
logits and trained with the sum of three cross-entropies, i.e. the NLL of
p(string | strip) = Π_j p(digit_j | strip) (book §6.2.2.3).

The metric is *sequence accuracy*: the fraction of strips whose whole
string is right.  Baselines: chance (1/1000) and the classic pipeline
"cut the strip at fixed positions, classify each window" with a
logistic-regression digit classifier trained on single digits.  For
reference it also prints that classifier with the *true* cuts, which
the network never sees.

Training strips are assembled from the training digits only, test strips
from the held-out digits.

Run: ``python examples/tasks/transcription.py``
"""

from __future__ import annotations

import numpy as np
from _common import digits, mlp, one_blas_thread, predict, report, train

import chainrule as cr
import chainrule.nn.functional as F

N_DIGITS = 3
HEIGHT, WIDTH = 8, 28
#: bars on sequence accuracy asserted by the gallery test
SMALL_BAR, FULL_BAR = 0.7, 0.8


def make_strips(images: np.ndarray, labels: np.ndarray, n: int, rng) -> tuple:
    """``n`` strips of three random digits with random gaps (0-1 px) and offset (0-2 px).

    Returns:
        ``(X, y, starts)``: X float32 (n, 8*28), y int64 (n, 3) — the digit
        string, and the column where each digit starts (n, 3).
    """
    pick = rng.integers(0, len(images), size=(n, N_DIGITS))
    strips = np.zeros((n, HEIGHT, WIDTH), dtype=np.float32)
    gaps = rng.integers(0, 2, size=(n, N_DIGITS))
    gaps[:, 0] = rng.integers(0, 3, size=n)  # offset of the first digit
    starts = np.cumsum(gaps, axis=1) + 8 * np.arange(N_DIGITS)
    imgs = images.reshape(-1, 8, 8)
    rows = np.arange(n)[:, None, None]
    for j in range(N_DIGITS):  # three placements, each vectorised over strips
        cols = starts[:, j, None] + np.arange(8)[None, :]  # (n, 8) column indices
        strips[rows, np.arange(8)[None, :, None], cols[:, None, :]] += imgs[pick[:, j]]
    return strips.reshape(n, -1), labels[pick].astype(np.int64), starts


def transcription_loss(out, yb):
    """Sum over positions of the softmax cross-entropy: -log p(string | strip)."""
    logits = out.reshape(-1, N_DIGITS, 10).transpose(0, 2, 1)  # (N, C=10, 3)
    return F.cross_entropy(logits, yb) * float(N_DIGITS)


def decode(out: np.ndarray) -> np.ndarray:
    """Most probable digit per position: (N, 30) logits -> (N, 3) strings."""
    return out.reshape(-1, N_DIGITS, 10).argmax(axis=2)


def _window_baselines(Xtr, ytr, X, y, starts) -> dict:
    """Logistic regression on single digits, applied to 8-px windows of the strip.

    Two segmentations: fixed windows at the middle of each digit's possible
    range (the classic pipeline), and the true digit positions (an oracle
    that the networks are not given).
    """
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=0.1, max_iter=300).fit(Xtr, ytr)
    strips = X.reshape(-1, HEIGHT, WIDTH)
    rows = np.arange(len(X))[:, None, None]
    out = {}
    fixed = np.broadcast_to(np.array([1, 9, 18]), starts.shape)
    for name, left in (("fixed", fixed), ("oracle", starts)):
        cols = left[:, :, None] + np.arange(8)  # (n, 3, 8)
        pred = np.stack([
            clf.predict(strips[rows, np.arange(8)[None, :, None],
                               cols[:, j, None, :]].reshape(len(X), -1))
            for j in range(N_DIGITS)
        ], axis=1)
        out[name] = (float(np.mean((pred == y).all(axis=1))), float(np.mean(pred == y)))
    return out


def run(small: bool = False, seed: int = 0) -> dict:
    """Train the 3-head MLP; return sequence and per-digit accuracy and baselines."""
    cr.manual_seed(seed)
    Xtr_d, ytr_d, Xte_d, yte_d = digits(seed=seed)
    rng = np.random.default_rng(seed)
    Xtr, ytr, _ = make_strips(Xtr_d, ytr_d, 20000 if small else 40000, rng)
    Xte, yte, starts = make_strips(Xte_d, yte_d, 2000, rng)

    net = mlp(HEIGHT * WIDTH, 256, 256, N_DIGITS * 10)
    train(net, Xtr, ytr, transcription_loss, epochs=3 if small else 12,
          batch_size=64 if small else 128, lr=2e-3)
    pred = decode(predict(net, Xte))
    seq_acc = float(np.mean((pred == yte).all(axis=1)))
    digit_acc = float(np.mean(pred == yte))
    base = _window_baselines(Xtr_d, ytr_d, Xte, yte, starts)
    (base_seq, base_digit), (oracle_seq, oracle_digit) = base["fixed"], base["oracle"]

    report("transcription: 3-digit strips -> string (test strips)", [
        ("sequence accuracy, 3-head MLP", seq_acc, "fixed windows + logistic reg.", base_seq),
        ("per-digit accuracy", digit_acc, "fixed windows + logistic reg.", base_digit),
        ("sequence accuracy", seq_acc, "chance", 1.0 / 10**N_DIGITS),
        ("sequence accuracy", seq_acc, "(oracle cuts + logistic reg.)", oracle_seq),
    ])
    print(f"   bar: sequence accuracy >= {SMALL_BAR if small else FULL_BAR}")
    return {"sequence_accuracy": seq_acc, "digit_accuracy": digit_acc,
            "baseline_sequence_accuracy": base_seq, "baseline_digit_accuracy": base_digit,
            "oracle_sequence_accuracy": oracle_seq, "oracle_digit_accuracy": oracle_digit,
            "chance": 1.0 / 10**N_DIGITS}


if __name__ == "__main__":
    with one_blas_thread():
        run()
