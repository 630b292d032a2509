"""History: per-epoch training and validation metrics, saved and plotted.

Learning curves (book §5.2): training and validation loss per epoch show
under-fitting (both high), over-fitting (validation rising while training
keeps falling) and where early stopping would stop.
"""

from __future__ import annotations

import csv
import json
import math
import os
from typing import Any

__all__ = ["History"]


class History:
    """Per-epoch metrics of a training run, as returned by ``fit``.

    Attributes:
        history: dict name -> list with one value per epoch, e.g.
            ``{"loss": [...], "val_loss": [...], "accuracy": [...],
            "val_accuracy": [...], "lr": [...]}``.
        epoch: the 0-based index of each recorded epoch.

    Example:
        >>> h = fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=5)
        >>> h.history["loss"][-1]
        >>> h.to_csv("history.csv"); h.plot("curves.png")
    """

    def __init__(self, history: dict | None = None, epoch: list | None = None):
        self.history: dict[str, list] = {k: list(v) for k, v in (history or {}).items()}
        self.epoch: list[int] = list(epoch or [])
        #: the smoothing level of a continuation stage (``continuation``), else None
        self.level: Any = None

    def append(self, epoch: int, logs: dict) -> None:
        """Record one epoch's logs (missing names are padded with NaN)."""
        n = len(self.epoch)
        for key in logs:
            if key not in self.history:
                self.history[key] = [math.nan] * n
        for key, values in self.history.items():
            values.append(float(logs.get(key, math.nan)))
        self.epoch.append(int(epoch))

    def __len__(self) -> int:
        return len(self.epoch)

    def last(self) -> dict:
        """The last epoch's logs (``{}`` before the first epoch)."""
        return {k: v[-1] for k, v in self.history.items()} if self.epoch else {}

    def __repr__(self) -> str:
        return f"History(epochs={len(self)}, keys={list(self.history)})"

    # --- saving ---------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "history": {k: list(v) for k, v in self.history.items()},
            "epoch": list(self.epoch),
        }

    def load_state_dict(self, state: dict) -> None:
        self.history = {k: [float(x) for x in v] for k, v in state["history"].items()}
        self.epoch = [int(e) for e in state["epoch"]]

    def to_json(self, path) -> None:
        """Write ``{"epoch": [...], "history": {...}}`` (NaN written as null)."""
        clean = {k: [None if math.isnan(x) else x for x in v] for k, v in self.history.items()}
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"epoch": self.epoch, "history": clean}, f, indent=1)

    @classmethod
    def from_json(cls, path) -> History:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        hist = {
            k: [math.nan if x is None else float(x) for x in v] for k, v in d["history"].items()
        }
        return cls(hist, d["epoch"])

    def to_csv(self, path) -> None:
        """One row per epoch: ``epoch,loss,val_loss,...`` (epoch 1-based)."""
        keys = list(self.history)
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["epoch"] + keys)
            for i, e in enumerate(self.epoch):
                w.writerow([e + 1] + [repr(self.history[k][i]) for k in keys])

    @classmethod
    def from_csv(cls, path) -> History:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        keys = rows[0][1:]
        hist = {k: [float(r[j + 1]) for r in rows[1:]] for j, k in enumerate(keys)}
        return cls(hist, [int(r[0]) - 1 for r in rows[1:]])

    # --- plotting -------------------------------------------------------------
    def plot(self, path, metric: str | None = None, title: str | None = None) -> None:
        """Save learning curves to an image (PNG): train vs validation.

        Left panel: loss; right panel: ``metric`` (default: the first
        metric with validation values, e.g. accuracy; not lr or the
        penalty), if any.  Needs
        matplotlib (``pip install 'chainrule[plot]'``); renders with Agg
        without touching pyplot, so it works without a display.
        """
        try:
            # a bare Figure renders with Agg and leaves pyplot's backend alone
            from matplotlib.figure import Figure
        except ImportError as err:
            raise ImportError(
                "History.plot needs matplotlib, an optional extra. "
                "Install it with: pip install 'chainrule[plot]'"
            ) from err
        if not self.epoch:
            raise ValueError("Expected at least one recorded epoch to plot. Received: none")
        if metric is None:
            skip = ("loss", "lr", "penalty")
            others = [k for k in self.history if not k.startswith("val_") and k not in skip]
            # prefer a metric that also has validation values
            others.sort(key=lambda k: f"val_{k}" not in self.history)
            metric = others[0] if others else None
        panels = ["loss"] + ([metric] if metric else [])
        fig = Figure(figsize=(5 * len(panels), 3.8))
        x = [e + 1 for e in self.epoch]
        for i, name in enumerate(panels):
            ax = fig.add_subplot(1, len(panels), i + 1)
            if name in self.history:
                ax.plot(x, self.history[name], label=f"train {name}")
            if f"val_{name}" in self.history:
                ax.plot(x, self.history[f"val_{name}"], label=f"validation {name}")
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
            ax.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fig.savefig(path, dpi=100)
