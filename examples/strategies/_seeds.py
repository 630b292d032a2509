"""Helpers shared by the strategy examples: several seeds, mean ± spread.

The data and network helpers come from the task gallery
(``examples/tasks/_common.py``); this file adds the multi-seed summary
every strategy example prints: for each method, the mean and the standard
deviation over seeds of each metric.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

_TASKS = str(Path(__file__).resolve().parents[1] / "tasks")
if _TASKS not in sys.path:
    sys.path.insert(0, _TASKS)

from _common import accuracy, digits, mlp, one_blas_thread, predict

__all__ = ["accuracy", "digits", "mlp", "one_blas_thread", "predict", "summarize", "table"]


def summarize(per_seed: list[dict]) -> dict:
    """{method: {metric: value}} per seed -> {method: {metric: (mean, std)}}."""
    out = {}
    for method in per_seed[0]:
        out[method] = {}
        for metric in per_seed[0][method]:
            values = np.array([run[method][metric] for run in per_seed], dtype=np.float64)
            out[method][metric] = (float(values.mean()), float(values.std()))
    return out


def table(title: str, summary: dict, n_seeds: int) -> None:
    """Print one row per method, one ``mean ± std`` column per metric."""
    metrics = list(next(iter(summary.values())))
    print(f"== {title} (mean ± std over {n_seeds} seeds)")
    print("   " + f"{'method':<26s}" + "".join(f"{m:>22s}" for m in metrics))
    for method, row in summary.items():
        cells = "".join(f"{row[m][0]:>13.4f} ± {row[m][1]:<6.4f}" for m in metrics)
        print(f"   {method:<26s}{cells}")
