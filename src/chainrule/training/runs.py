"""Run folders: train a multilayer perceptron from a config, then reuse it.

This is the engine of the ``chainrule`` command line, and the one owner of
a run folder (writing, resuming and loading it).  Models, optimisers and
schedules come from the shared vocabulary, :mod:`chainrule.training.recipes`.  A run folder holds

* ``config.json``: the model/optimiser/data settings and what the data
  looked like (task, classes, feature count and names);
* ``checkpoint.npz``: the last full training state (``--resume`` continues
  from it, bit for bit);
* ``model.npz``: the final parameters (the best ones under early
  stopping) with the preprocessing statistics (feature mean and scale,
  target mean and scale for regression);
* ``history.csv``, ``history.json``, ``learning_curves.png`` (if matplotlib
  is installed) and ``metrics.json`` (test metrics).

The history's ``loss``/``val_loss`` are the training objective (with
label smoothing if set); the test ``loss`` in ``metrics.json`` is the
plain negative log-likelihood, −(1/m) Σ log p(y|x).

All files are plain JSON/CSV or the safe checkpoint format; nothing is
pickled.
"""

from __future__ import annotations

import functools
import json
import os
import time

import numpy as np

from .. import nn
from .. import random as _random
from .. import regularization as R
from ..data.datasets import load_split
from ..data.files import csv_columns, read_csv, read_npz
from ..data.validation import check_features, check_targets
from ..nn import functional as F
from . import checkpoint as ckpt
from . import recipes
from .callbacks import EarlyStopping, ModelCheckpoint
from .trainer import Trainer, predict

__all__ = ["DEFAULTS", "build_model", "evaluate_run", "load_run", "predict_run", "train_run"]

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

def _split(cfg: dict):
    """The run's dataset split, exactly as its config describes it."""
    return load_split(
        cfg["dataset"],
        test_size=cfg["test_size"],
        seed=cfg["split_seed"],
        target=cfg["target"],
        task=cfg["task"],
    )


def build_model(config: dict, n_features: int, n_outputs: int) -> nn.Module:
    """The run's MLP (:func:`~chainrule.training.recipes.build_mlp` from the config)."""
    return recipes.build_mlp(
        [n_features, *config["hidden"], n_outputs],
        config["activation"],
        dropout=float(config["dropout"] or 0.0),
        batch_norm=bool(config["batch_norm"]),
    )


def build_optimizer(config: dict, params):
    """The run's optimiser (:func:`~chainrule.training.recipes.build_optimizer`)."""
    return recipes.build_optimizer(
        config["optimizer"],
        params,
        lr=float(config["lr"]),
        momentum=float(config["momentum"]),
        weight_decay=float(config["weight_decay"]),
    )


def build_scheduler(config: dict, opt, total_steps: int):
    """Per-iteration schedules over the whole run (``total_steps`` steps)."""
    return recipes.build_scheduler(
        config["schedule"], opt, total_steps=total_steps, lr=float(config["lr"])
    )


def _regularizers(config: dict):
    regs, cons = [], []
    if config["l2"] or config["l1"] or config["max_norm"]:
        if config["l2"]:
            regs.append(R.L2Penalty(float(config["l2"])))
        if config["l1"]:
            regs.append(R.L1Penalty(float(config["l1"])))
        if config["max_norm"]:
            cons.append(R.MaxNorm(float(config["max_norm"])))
    return regs, cons


def _loss(config: dict, task: str):
    if task == "regression":
        return "mse"
    if config["label_smoothing"]:
        return functools.partial(F.cross_entropy, label_smoothing=float(config["label_smoothing"]))
    return "cross_entropy"


def _write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1)


def _setup(config: dict, data_info: dict):
    """Model and optimiser for a config, initialised from the generator in scope."""
    n_out = data_info["n_classes"] if data_info["task"] == "classification" else 1
    model = build_model(config, data_info["n_features"], n_out)
    opt = build_optimizer(config, model.parameters())
    return model, opt


def train_run(config: dict, out: str, resume: bool = False, verbose="auto", log=print) -> dict:
    """Train per ``config`` into folder ``out``; return the test metrics.

    With ``resume``, ``config`` must be the one saved in ``out`` and the
    run continues from ``out/checkpoint.npz``.
    """
    cfg = dict(DEFAULTS)
    cfg.update(config)
    t0 = time.perf_counter()
    ds = _split(cfg)
    is_clf = ds.task == "classification"
    y_mean = float(ds.y_train.mean()) if not is_clf else 0.0
    y_scale = float(ds.y_train.std() or 1.0) if not is_clf else 1.0
    y_tr = ds.y_train if is_clf else (ds.y_train - y_mean) / y_scale
    info = {
        "task": ds.task,
        "n_features": ds.n_features,
        "n_classes": ds.n_classes,
        "classes": ds.classes,
        "feature_names": ds.feature_names,
        "target_name": ds.target_name,
        "n_train": len(ds.y_train),
        "n_test": len(ds.y_test),
    }
    os.makedirs(out, exist_ok=True)
    _write_json(os.path.join(out, "config.json"), {"config": cfg, "data": info})
    # the run's own generator (seeded by ``seed``) draws initialisation,
    # shuffling and dropout; a checkpoint saves and restores its state
    with _random.use_generator(int(cfg["seed"])):
        history, model = _train(cfg, info, ds, y_tr, out, resume, verbose)
    return _finish(cfg, info, ds, model, history, out, y_mean, y_scale, t0, log)


def _train(cfg: dict, info: dict, ds, y_tr, out: str, resume: bool, verbose):
    """Build the model and optimiser and run the Trainer (in the run's generator)."""
    is_clf = ds.task == "classification"
    model, opt = _setup(cfg, info)
    n_fit = len(y_tr) - (round(len(y_tr) * cfg["val_fraction"]) if cfg["val_fraction"] else 0)
    steps_per_epoch = -(-n_fit // int(cfg["batch_size"]))
    scheduler = build_scheduler(cfg, opt, steps_per_epoch * int(cfg["epochs"]))
    regs, cons = _regularizers(cfg)
    ck_path = os.path.join(out, "checkpoint.npz")
    callbacks = [
        ModelCheckpoint(
            ck_path, every_n_epochs=1, every_n_steps=int(cfg["checkpoint_every"]) or None
        )
    ]
    if cfg["patience"]:
        if not cfg["val_fraction"]:
            raise ValueError(
                "Expected --val-fraction > 0 with --patience (early stopping "
                "watches the validation loss). Received: --val-fraction 0"
            )
        callbacks.append(EarlyStopping(patience=int(cfg["patience"])))
    metrics = ["accuracy"] if is_clf else ["mae"]
    trainer = Trainer(
        model,
        loss=_loss(cfg, ds.task),
        optimizer=opt,
        metrics=metrics,
        callbacks=callbacks,
        scheduler=scheduler,
        regularizers=regs,
        constraints=cons,
        verbose=verbose,
    )
    history = trainer.fit(
        ds.X_train,
        y_tr,
        epochs=int(cfg["epochs"]),
        batch_size=int(cfg["batch_size"]),
        validation_split=float(cfg["val_fraction"]),
        checkpoint=ck_path if resume else None,
    )
    return history, model


def _finish(cfg, info, ds, model, history, out, y_mean, y_scale, t0, log) -> dict:
    ckpt.save_model(
        os.path.join(out, "model.npz"),
        model,
        extra={"mean": ds.mean, "scale": ds.scale, "y_mean": y_mean, "y_scale": y_scale},
    )
    history.to_csv(os.path.join(out, "history.csv"))
    history.to_json(os.path.join(out, "history.json"))
    try:
        history.plot(
            os.path.join(out, "learning_curves.png"),
            title=f"{cfg['dataset']}: hidden {cfg['hidden']}",
        )
    except ImportError:
        log("matplotlib is not installed: no learning_curves.png (pip install 'chainrule[plot]')")
    metrics = _score(model, info, ds.X_test, ds.y_test, y_mean, y_scale)
    metrics["train_seconds"] = round(time.perf_counter() - t0, 2)
    metrics["epochs_run"] = len(history)
    _write_json(os.path.join(out, "metrics.json"), metrics)
    return metrics


def _score(model, info: dict, X: np.ndarray, y: np.ndarray, y_mean: float, y_scale: float) -> dict:
    out = predict(model, X)
    if info["task"] == "classification":
        z = out.astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        ll = float(logp[np.arange(len(y)), y].mean())
        return {
            "accuracy": float((out.argmax(axis=1) == y).mean()),
            "loss": -ll,
            "log_likelihood": ll,
        }
    pred = out[:, 0].astype(np.float64) * y_scale + y_mean
    d = pred - y
    mse = float(np.mean(d * d))
    return {
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "mae": float(np.mean(np.abs(d))),
        "r2": float(1 - mse / max(np.var(y), 1e-300)),
    }


def load_run(run_dir: str):
    """``(model, config, data_info, extra)`` of a finished run folder."""
    cfg_path = os.path.join(run_dir, "config.json")
    model_path = os.path.join(run_dir, "model.npz")
    for p in (cfg_path, model_path):
        if not os.path.exists(p):
            raise FileNotFoundError(
                f"Expected a finished run folder with {os.path.basename(p)}."
                f" Received: {run_dir!r} has no {os.path.basename(p)}"
            )
    with open(cfg_path, encoding="utf-8") as f:
        saved = json.load(f)
    cfg, info = saved["config"], saved["data"]
    # a throwaway generator draws the initial weights that the saved ones
    # replace: loading never touches the caller's generator
    with _random.use_generator(int(cfg["seed"])):
        model, _ = _setup(cfg, info)
    state = ckpt.load_model_state(model_path, model)
    model.eval()
    return model, cfg, info, state["extra"]


def _read_input(path: str, info: dict, need_target: bool):
    """Features (and targets if present/needed) of a user's file, raw units."""
    path = str(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".csv", ".npz"):
        raise ValueError(f"Expected an input file ending in .csv or .npz. Received: {path!r}")
    if suffix == ".npz":
        raw = read_npz(path, require_target=need_target)
        return raw["X"], _encode_labels(raw.get("y"), info, path)
    n = info["n_features"]
    n_cols, names = csv_columns(path)
    tname = info.get("target_name")
    if n_cols != n + 1:  # features only (a wrong count is reported later)
        if need_target:
            raise ValueError(
                f"Expected {n} feature columns and a target column in {path!r}. "
                f"Received: {n_cols} columns"
            )
        return read_csv(path, has_target=False)["X"], None
    # one extra column: the target, under its training name or last
    t_idx = names.index(tname) if names and tname in names else n_cols - 1
    raw = read_csv(path, target=t_idx)
    return raw["X"], _encode_labels(raw["y"], info, path)


def _encode_labels(y, info: dict, path: str):
    """Map a file's labels to class ids: by class name, else as ids already."""
    if info["task"] != "classification" or y is None:
        return y
    classes = info["classes"]
    lookup = {c: i for i, c in enumerate(classes)}
    keys = [str(v.item() if hasattr(v, "item") else v) for v in np.asarray(y).ravel()]
    unknown = sorted({k for k in keys if k not in lookup})
    if not unknown:
        return np.array([lookup[k] for k in keys], np.int64)
    as_ids = all(k.lstrip("-").isdigit() for k in keys)
    if as_ids and not any(k in lookup for k in keys):
        ids = np.array([int(k) for k in keys], np.int64)
        bad = ids[(ids < 0) | (ids >= len(classes))]
        if bad.size:
            raise ValueError(
                f"Expected class ids in 0..{len(classes) - 1}. Received: {int(bad[0])} in {path!r}"
            )
        return ids
    raise ValueError(
        f"Expected labels seen at training {classes}. Received: {unknown[:5]} in {path!r}"
    )


def _standardize(X, info, extra):
    X = check_features(X, name="X", n_features=info["n_features"])
    return ((X - extra["mean"]) / extra["scale"]).astype(np.float32)


def evaluate_run(run_dir: str, input_path: str | None = None) -> dict:
    """Test metrics of a saved run: on its own test split, or on ``input_path``."""
    model, cfg, info, extra = load_run(run_dir)
    if input_path is None:
        ds = _split(cfg)
        X, y = ds.X_test, ds.y_test
    else:
        X, y = _read_input(input_path, info, need_target=True)
        X = _standardize(X, info, extra)
        is_clf = info["task"] == "classification"
        y = check_targets(y, X.shape[0], integer=is_clf)
    return _score(model, info, X, y, float(extra["y_mean"]), float(extra["y_scale"]))


def predict_run(run_dir: str, input_path: str) -> tuple[list, np.ndarray | None, list]:
    """Predictions for a file: ``(labels_or_values, probabilities, class_names)``."""
    model, _, info, extra = load_run(run_dir)
    X, _ = _read_input(input_path, info, need_target=False)
    X = _standardize(X, info, extra)
    out = predict(model, X)
    if info["task"] == "classification":
        z = out.astype(np.float64) - out.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return [info["classes"][k] for k in out.argmax(axis=1)], p, info["classes"]
    values = out[:, 0].astype(np.float64) * float(extra["y_scale"]) + float(extra["y_mean"])
    return list(values), None, []
