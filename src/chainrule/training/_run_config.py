"""The settings of a run, declared once: name, kind, default, allowed values, help.

:data:`SETTINGS` is the one table.  The command line builds its ``train``
flags from it (``--test-size`` is the setting ``test_size``),
:data:`DEFAULTS` is read off it, and :func:`check_config` checks a config
against it, once, in :func:`chainrule.training.runs.train_run` before
anything is written, so a bad value (say ``--lr -1``) leaves no folder
behind; its message names the flag and the allowed range.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from . import recipes

__all__: list[str] = []


class Setting(NamedTuple):
    """One run setting.

    ``kind``: "number", "whole", "choice", "flag" (on/off), "text" or "widths"
    (whole numbers >= 1); ``bounds``: ``(low, high, low_inclusive,
    high_inclusive)`` of a number (``high`` None: unbounded); ``none_means``:
    what None stands for where None is allowed (said in ``--help``).
    """

    default: Any
    kind: str
    group: str
    help: str
    bounds: tuple | None = None
    choices: tuple = ()
    none_means: str | None = None


_UNIT = (0.0, 1.0, True, False)
_POSITIVE = (0.0, None, False, False)
_NONNEGATIVE = (0.0, None, True, False)
_SEED = (0, 2**32 - 1, True, True)

#: every setting of ``chainrule train``; the defaults reach >= 98% test accuracy on digits
SETTINGS: dict[str, Setting] = {
    "dataset": Setting("digits", "text", "data", "digits, breast_cancer, wine, iris, diabetes, "
                       "mnist1d, or a path to a .csv (header optional) or .npz (X, y) file"),
    "target": Setting(None, "text", "data", "CSV target column name or index",
                      none_means="the last column"),
    "task": Setting("auto", "choice", "data", "what to learn; auto decides from the target column",
                    choices=("auto", "classification", "regression")),
    "test_size": Setting(0.25, "number", "data", "share of rows held out for the test metrics",
                         (0.0, 1.0, False, False)),
    "val_fraction": Setting(0.1, "number", "data", "share of training rows used for "
                            "validation curves and early stopping", _UNIT),
    "hidden": Setting([256, 256], "widths", "model", "hidden layer widths, e.g. --hidden 256 256"),
    "activation": Setting("relu", "choice", "model", "hidden units",
                          choices=tuple(sorted(recipes.ACTIVATIONS))),
    "dropout": Setting(0.0, "number", "model", "dropout probability after each hidden layer",
                       _UNIT),
    "batch_norm": Setting(False, "flag", "model", "BatchNorm1d after each hidden Linear"),
    "optimizer": Setting("adam", "choice", "optimisation", "the update rule",
                         choices=recipes.OPTIMIZERS),
    "lr": Setting(1e-3, "number", "optimisation", "learning rate ε₀", _POSITIVE),
    "momentum": Setting(0.9, "number", "optimisation", "α of --optimizer momentum, nesterov "
                        "and rmsprop_nesterov", _UNIT),
    "weight_decay": Setting(None, "number", "optimisation", "optimiser weight decay, decoupled for "
                            "AdamW", _NONNEGATIVE,
                            none_means=f"{recipes.ADAMW_WEIGHT_DECAY} with adamw, else 0"),
    "schedule": Setting("none", "choice", "optimisation", "learning-rate schedule over all "
                        "steps of the run", choices=recipes.SCHEDULES),
    "epochs": Setting(40, "whole", "optimisation", "number of epochs; with --resume the new "
                      "total, at least the saved one", (1, None, True, False)),
    "batch_size": Setting(64, "whole", "optimisation", "rows per minibatch",
                          (1, None, True, False)),
    "seed": Setting(0, "whole", "optimisation", "seeds initialisation, dropout and shuffling",
                    _SEED),
    "split_seed": Setting(0, "whole", "optimisation", "seeds the train/test split, fixed so that "
                          "runs compare", _SEED),
    "patience": Setting(0, "whole", "optimisation", "early stopping patience in epochs, 0 "
                        "for none; restores the best weights", (0, None, True, False)),
    "l2": Setting(1e-3, "number", "regularisation", "L2 penalty weight α (½α‖w‖²)", _NONNEGATIVE),
    "l1": Setting(0.0, "number", "regularisation", "L1 penalty weight α (α‖w‖₁)", _NONNEGATIVE),
    "max_norm": Setting(None, "number", "regularisation", "max-norm radius of each unit's "
                        "incoming weights", _POSITIVE, none_means="no constraint"),
    "label_smoothing": Setting(0.1, "number", "regularisation", "label smoothing ε, "
                               "PyTorch's form", _UNIT),
    "checkpoint_every": Setting(0, "whole", "run", "also checkpoint every N optimiser steps; "
                                "0: once per epoch only", (0, None, True, False)),
}

#: the default of every setting
DEFAULTS = {name: s.default for name, s in SETTINGS.items()}


def flag(key: str) -> str:
    """The command-line flag of a setting: ``test_size`` -> ``--test-size``."""
    return "--" + key.replace("_", "-")


def range_text(bounds: tuple) -> str:
    """``> 0``, ``>= 1`` or ``in [0.0, 1.0)``."""
    low, high, low_in, high_in = bounds
    if high is None:
        return f"{'>=' if low_in else '>'} {low}"
    return f"in {'[' if low_in else '('}{low}, {high}{']' if high_in else ')'}"


def _problem(s: Setting, value) -> str | None:
    """What is wrong with ``value`` for setting ``s`` ("expected ..."), or None."""
    if value is None and s.none_means is not None:
        return None
    if s.kind in ("number", "whole"):
        assert s.bounds is not None  # every number has its range
        allowed = range_text(s.bounds)
        whole = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if s.kind == "whole" and not whole:
            return f"a whole number {allowed}"
        if s.kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"a number {allowed}"
        low, high, low_in, high_in = s.bounds
        above = value >= low if low_in else value > low
        below = high is None or (value <= high if high_in else value < high)
        return None if above and below and not np.isnan(value) else allowed
    if s.kind == "choice":
        return None if value in s.choices else f"among {sorted(s.choices)}"
    if s.kind == "flag":
        return None if isinstance(value, bool) else "true or false"
    if s.kind == "widths":
        ok = isinstance(value, list) and all(
            isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in value)
        return None if ok else "widths that are whole numbers >= 1"
    return None if isinstance(value, (str, int)) and not isinstance(value, bool) else "a text"


def check_config(cfg: dict) -> None:
    """Raise ValueError naming the first bad setting (as its flag) and what it allows."""
    missing = [k for k in SETTINGS if k not in cfg]
    unknown = [k for k in cfg if k not in SETTINGS]
    if missing or unknown:
        raise ValueError(
            f"Expected the run settings {sorted(SETTINGS)}. Received: a config "
            + "; ".join(([f"without {missing}"] if missing else [])
                        + ([f"with unknown {unknown}"] if unknown else []))
        )
    for key, s in SETTINGS.items():
        problem = _problem(s, cfg[key])
        if problem is not None:
            raise ValueError(f"Expected {flag(key)} {problem}. Received: {cfg[key]!r}")
    if cfg["patience"] and not cfg["val_fraction"]:
        raise ValueError("Expected --val-fraction > 0 with --patience (early stopping watches "
                         "the validation loss). Received: --val-fraction 0")
