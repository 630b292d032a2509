"""Task 2, classification with missing inputs (book §5.1.1).

When any subset of the inputs may be missing, the book suggests learning
one function that handles every pattern of missingness.  Here: at test
time a random half of each digit's 64 pixels is missing.

* model: an MLP that sees the observed pixels *and* the mask, [x ⊙ m, m]
  (128 inputs), trained with a fresh random mask per minibatch (a random
  fraction 0-75% of pixels hidden), so it learns to classify from whatever
  is observed;
* baseline: the usual recipe, mean imputation (each missing pixel set to
  its training-set mean) followed by the same MLP trained on complete
  images.

Run: ``python examples/tasks/missing_inputs.py``
"""

from __future__ import annotations

import numpy as np
from _common import (
    accuracy,
    digits,
    mlp,
    one_blas_thread,
    predict,
    random_mask,
    report,
    train,
    with_mask,
)

import chainrule as cr
import chainrule.nn.functional as F

#: the masked model must beat mean imputation by at least this much accuracy
#: (full run; the small run's shorter training gets the smaller margin)
MARGIN, SMALL_MARGIN = 0.05, 0.03


def run(small: bool = False, seed: int = 0) -> dict:
    """Train both models; return accuracies on test images with half the pixels missing."""
    cr.manual_seed(seed)
    Xtr, ytr, Xte, yte = digits(seed=seed)
    epochs = 25 if small else 100
    test_rng = np.random.default_rng(1000 + seed)
    test_mask = random_mask(Xte.shape, 0.5, test_rng)

    # model trained to cope with missing inputs: the training rows are
    # [x, 1] and each minibatch gets a new random mask
    def mask_batch(xb, yb):
        rng = cr.random.generator()
        x = xb[:, :64]
        m = random_mask(x.shape, rng.uniform(0.25, 0.75, size=len(x)), rng)
        return with_mask(x, m), yb

    net = mlp(128, 256, 10)
    train(net, with_mask(Xtr, np.ones_like(Xtr)), ytr, F.cross_entropy,
          epochs=epochs, lr=2e-3, transform=mask_batch)
    masked_acc = accuracy(predict(net, with_mask(Xte, test_mask)), yte)

    # baseline: plain classifier + mean imputation at test time
    plain = mlp(64, 256, 10)
    train(plain, Xtr, ytr, F.cross_entropy, epochs=epochs, lr=2e-3)
    mean = Xtr.mean(axis=0)
    imputed = np.where(test_mask > 0, Xte, mean).astype(np.float32)
    base_acc = accuracy(predict(plain, imputed), yte)
    complete_acc = accuracy(predict(plain, Xte), yte)

    report("classification with half the pixels missing: test accuracy", [
        ("MLP on [x*mask, mask]", masked_acc, "mean imputation + MLP", base_acc),
    ])
    margin = SMALL_MARGIN if small else MARGIN
    print(f"   (the plain MLP on complete test images: {complete_acc:.4f}); "
          f"bar: masked model >= baseline + {margin}")
    return {"accuracy": masked_acc, "baseline_accuracy": base_acc,
            "complete_input_accuracy": complete_acc}


if __name__ == "__main__":
    with one_blas_thread():
        run()
