"""A Trainer callback that logs the curvature of the loss each epoch (book §8.2.1)."""

from __future__ import annotations

import math

import numpy as np

from ..autograd.engine import Tensor
from ..diagnostics import curvature, hessian_eigenvalues
from ._placement import is_host, model_place, on_model
from .callbacks import Callback

__all__ = ["CurvatureMonitor"]


class CurvatureMonitor(Callback):
    """Log ‖g‖², gᵀHg and the predicted change ½ε²gᵀHg − εgᵀg at each epoch's end.

    The gradient g and Hessian H are those of the training loss on a fixed
    sample (``X``, ``y``), in eval mode (no dropout noise); ε is the
    optimiser's current learning rate (or ``lr``).  The history gets the
    columns ``grad_norm_sq``, ``gHg``, ``predicted_change`` and
    ``curvature_ratio`` (ε gᵀHg / 2gᵀg: above 1 the gradient step raises the
    cost), and ``hessian_max_eig`` with ``eigenvalues=True``.  The book's
    Figure 8.1 is ``grad_norm_sq`` growing while the error falls.

    Args:
        X, y: the sample the curvature is measured on (e.g. 512 training rows).
        lr: the step ε (None: the optimiser's first group's ``lr``).
        eigenvalues: also log the Hessian's largest eigenvalue (Lanczos).
        every: measure every this many epochs.
    """

    def __init__(self, X, y, lr: float | None = None, eigenvalues: bool = False,
                 every: int = 1):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"Expected every >= 1. Received: every={every!r}")
        self.X = np.asarray(X) if is_host(X) else X  # a device array stays on its device
        self.y = np.asarray(y) if is_host(y) else y
        self.lr = lr
        self.eigenvalues = bool(eigenvalues)
        self.every = int(every)

    def on_train_begin(self, logs: dict) -> None:
        # the sample goes to the model's device once per run
        xp, device = model_place(self.model)
        self._X = on_model(self.X, xp, device, "X")
        self._y = self.y if xp is np else on_model(self.y, xp, device, "y")

    def _loss(self):
        X = getattr(self, "_X", self.X)
        return self.trainer.loss_fn(self.model(Tensor(X)), getattr(self, "_y", self.y))

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if (epoch + 1) % self.every:
            return
        lr = self.lr
        if lr is None:
            lr = self.trainer.optimizer.param_groups[0].get("lr")
        was_training = self.model.training
        self.model.eval()
        try:
            params = [p for p in self.model.parameters() if p.requires_grad]
            values = curvature(self._loss, params, lr=lr)
            values.pop("loss")
            if self.eigenvalues:
                values["hessian_max_eig"] = float(hessian_eigenvalues(self._loss, params, 1)[0])
        finally:
            self.model.train(was_training)
        history = self.trainer.history
        n = len(history)
        for key, value in values.items():
            logs[key] = value
            column = history.history.setdefault(key, [])
            column.extend([math.nan] * (n - len(column)))
            column[-1] = float(value)
