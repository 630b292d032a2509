"""The settings of a run: their defaults and allowed ranges, checked in one place.

The command line and :func:`chainrule.training.runs.train_run` both call
:func:`check_config` before anything is written, so a bad value (say
``--lr -1``) leaves no folder behind; its message names the flag and the
allowed range.
"""

from __future__ import annotations

import numpy as np

from . import recipes

__all__ = []

#: defaults of ``chainrule train``: ≥ 98% test accuracy on digits
DEFAULTS = {
    "dataset": "digits",
    "target": None,
    "task": "auto",
    "test_size": 0.25,
    "hidden": [256, 256],
    "activation": "relu",
    "dropout": 0.0,
    "batch_norm": False,
    "optimizer": "adam",
    "lr": 1e-3,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "schedule": "none",
    "l2": 1e-3,
    "l1": 0.0,
    "max_norm": None,
    "label_smoothing": 0.1,
    "epochs": 40,
    "batch_size": 64,
    "seed": 0,
    "split_seed": 0,
    "patience": 0,
    "val_fraction": 0.1,
    "checkpoint_every": 0,
}

#: allowed values of the numeric settings: (kind, low, high, low_inclusive, high_inclusive)
LIMITS = {
    "test_size": (float, 0.0, 1.0, False, False),
    "val_fraction": (float, 0.0, 1.0, True, False),
    "dropout": (float, 0.0, 1.0, True, False),
    "lr": (float, 0.0, float("inf"), False, False),
    "momentum": (float, 0.0, 1.0, True, False),
    "weight_decay": (float, 0.0, float("inf"), True, False),
    "l2": (float, 0.0, float("inf"), True, False),
    "l1": (float, 0.0, float("inf"), True, False),
    "max_norm": (float, 0.0, float("inf"), False, False),
    "label_smoothing": (float, 0.0, 1.0, True, False),
    "epochs": (int, 1, None, True, False),
    "batch_size": (int, 1, None, True, False),
    "seed": (int, 0, 2**32 - 1, True, True),
    "split_seed": (int, 0, 2**32 - 1, True, True),
    "patience": (int, 0, None, True, False),
    "checkpoint_every": (int, 0, None, True, False),
}

def flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _range_text(low, high, low_in, high_in) -> str:
    if high is None or high == float("inf"):
        return f"{'>=' if low_in else '>'} {low}"
    return f"in {'[' if low_in else '('}{low}, {high}{']' if high_in else ')'}"


def check_config(cfg: dict) -> None:
    """Raise ValueError naming the setting (as its CLI flag) and its allowed range."""
    missing = [k for k in DEFAULTS if k not in cfg]
    if missing:
        raise ValueError(f"Expected every run setting. Received: a config without {missing}")
    for key, (kind, low, high, low_in, high_in) in LIMITS.items():
        value = cfg[key]
        if value is None and key == "max_norm":
            continue
        allowed = _range_text(low, high, low_in, high_in)
        whole = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if kind is int and not whole:
            raise ValueError(
                f"Expected a whole number {allowed} for {flag(key)}. Received: {value!r}"
            )
        if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"Expected a number {allowed} for {flag(key)}. Received: {value!r}")
        above = value >= low if low_in else value > low
        below = high is None or (value <= high if high_in else value < high)
        if not (above and below) or np.isnan(value):
            raise ValueError(f"Expected {flag(key)} {allowed}. Received: {value!r}")
    hidden = cfg["hidden"]
    if not isinstance(hidden, list) or not all(
        isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in hidden
    ):
        raise ValueError(f"Expected --hidden widths that are whole numbers >= 1. Received: {hidden}")
    choices: dict[str, list[str]] = {
        "activation": sorted(recipes.ACTIVATIONS),
        "optimizer": sorted(recipes.OPTIMIZERS),
        "schedule": sorted(recipes.SCHEDULES),
    }
    for setting, names in choices.items():
        if cfg[setting] not in names:
            raise ValueError(
                f"Expected {flag(setting)} among {names}. Received: {cfg[setting]!r}"
            )
