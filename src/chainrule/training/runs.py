"""Run folders: train a multilayer perceptron from a config, then reuse it.

This is the engine of the ``chainrule`` command line, and the one owner of
a run folder (writing, resuming and loading it).  Models, optimisers and
schedules come from the shared vocabulary, :mod:`chainrule.training.recipes`.  A run folder holds

* ``config.json``: the model/optimiser/data settings and what the data
  looked like (task, classes, feature names and order, the target column's
  name and position, the dataset's absolute path and sha256, a digest of
  the test split), with its own SHA-256 (an edited config is refused);
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
pickled.  A folder is written by one process at a time (a lock), a
non-empty folder chainrule did not write is refused, and every file is
written atomically (see :mod:`chainrule.training._run_folder`).
Settings are checked (ranges in ``_run_config.LIMITS``) before anything is written.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
import warnings

import numpy as np

from .. import distributed as dist
from .. import nn
from .. import random as _random
from .. import regularization as R
from .._backend import is_numpy, parse_device
from ..data.datasets import BUNDLED, load_split
from ..data.validation import check_features, check_targets
from ..nn import functional as F
from . import checkpoint as ckpt
from . import recipes
from ._run_config import DEFAULTS, check_config
from ._run_config import flag as _flag
from ._run_folder import (
    RunFolderError,
    RunLock,
    check_writable,
    file_sha256,
    read_config,
    write_config,
    write_text,
)
from ._run_inputs import read_input as _read_input
from .callbacks import EarlyStopping, ModelCheckpoint
from .divergence import divergence_message
from .trainer import Trainer, predict

__all__ = ["DEFAULTS", "build_model", "evaluate_run", "load_run", "predict_run", "train_run"]

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


def _setup(config: dict, data_info: dict, device=None, xp=None):
    """Model and optimiser for a config, initialised from the generator in scope.

    The weights are drawn on the host (the same on every device), then the
    model moves to ``device``/``xp`` (see ``Module.to``) before the
    optimiser is built, so its state lives there too.
    """
    n_out = data_info["n_classes"] if data_info["task"] == "classification" else 1
    model = build_model(config, data_info["n_features"], n_out)
    if not is_numpy(parse_device(device, xp)[0]):
        model.to(device, xp=xp)
    opt = build_optimizer(config, model.parameters())
    return model, opt


def _device_text(device, xp) -> str:
    """How a run's device is recorded in config.json ("cpu", "cuda:0", "array_api_strict:...")."""
    if xp is None:
        return "cpu" if device is None else str(device)
    return f"{getattr(xp, '__name__', xp)}:{device}"


def _is_file_dataset(name) -> bool:
    return str(name) not in BUNDLED


def _split_digest(ds) -> str:
    h = hashlib.sha256()
    for a in (ds.X_test, ds.y_test):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _data_info(cfg: dict, ds) -> dict:
    info = {
        "task": ds.task,
        "n_features": ds.n_features,
        "n_classes": ds.n_classes,
        "classes": ds.classes,
        "feature_names": ds.feature_names,
        "target_name": ds.target_name,
        "target_index": ds.extra.get("target_index"),
        "header": ds.extra.get("header"),
        "n_train": len(ds.y_train),
        "n_test": len(ds.y_test),
        "split_sha256": _split_digest(ds),
        "dataset_sha256": None,
    }
    if _is_file_dataset(cfg["dataset"]):
        info["dataset_sha256"] = file_sha256(cfg["dataset"])
    return info


def train_run(
    config: dict,
    out: str,
    resume: bool = False,
    verbose="auto",
    log=print,
    device=None,
    xp=None,
) -> dict:
    """Train per ``config`` into folder ``out``; return the test metrics.

    The folder is locked while the run writes it (a second writer is
    refused), a non-empty folder chainrule did not write is refused, and a
    folder holding a started run (a checkpoint) needs ``resume``.  With
    ``resume``, ``config`` must be the one saved in ``out`` (``epochs`` may
    be raised) and the run continues from ``out/checkpoint.npz``.

    ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:N"``) or ``xp=`` a namespace
    with one of its devices picks where the model trains (``Module.to``);
    it is not part of the config: a run may resume on another device, as
    every file of the folder holds host arrays.
    """
    parse_device(device, xp)  # an unknown device or a missing CuPy fails before any file
    cfg = dict(DEFAULTS)
    cfg.update(config)
    check_config(cfg)
    if _is_file_dataset(cfg["dataset"]):
        cfg["dataset"] = os.path.abspath(str(cfg["dataset"]))
    if dist.launched_with_several_ranks():
        dist.init()
        if dist.rank() != 0:
            return _train_replica(cfg, out, resume, device, xp)
    check_writable(out)
    with RunLock(out):
        ck_path = os.path.join(out, "checkpoint.npz")
        saved = _check_start(out, cfg, resume, ck_path)
        t0 = time.perf_counter()
        ds = _split(cfg)
        info = _data_info(cfg, ds)
        if saved is not None and saved["data"].get("dataset_sha256") != info["dataset_sha256"]:
            raise RunFolderError(
                f"Expected the dataset {cfg['dataset']!r} unchanged since the run started "
                "(--resume continues on the same data). Received: a file with another sha256"
            )
        is_clf = ds.task == "classification"
        y_mean = float(ds.y_train.mean()) if not is_clf else 0.0
        y_scale = float(ds.y_train.std() or 1.0) if not is_clf else 1.0
        y_tr = ds.y_train if is_clf else (ds.y_train - y_mean) / y_scale
        info["world_size"] = dist.world_size()
        info["device"] = _device_text(device, xp)
        digest = write_config(out, cfg, info)
        dist.barrier()  # the other ranks start once the folder is checked and claimed
        # the run's own generator (seeded by ``seed``) draws initialisation,
        # shuffling and dropout; a checkpoint saves and restores its state
        with _random.use_generator(int(cfg["seed"])):
            history, model, start_loss = _train(
                cfg, info, ds, y_tr, out, resume, verbose, device, xp
            )
        extra = {"y_mean": y_mean, "y_scale": y_scale, "config_sha256": digest}
        return _finish(cfg, info, ds, model, history, out, extra, start_loss, t0, log)


def _train_replica(cfg: dict, out: str, resume: bool, device=None, xp=None) -> dict:
    """A rank other than 0 of ``mpiexec -n R chainrule train``: train, write nothing.

    Rank 0 owns the folder (lock, config, checkpoints, results); this rank
    waits until rank 0 has checked and claimed it, then trains its shard of
    every global minibatch (the Trainer is data-parallel under MPI) and
    returns no metrics.  A resumed run reads rank 0's checkpoint.
    """
    dist.barrier()
    ds = _split(cfg)
    is_clf = ds.task == "classification"
    y_tr = ds.y_train
    if not is_clf:
        y_tr = (ds.y_train - float(ds.y_train.mean())) / float(ds.y_train.std() or 1.0)
    info = _data_info(cfg, ds)
    with _random.use_generator(int(cfg["seed"])):
        _train(cfg, info, ds, y_tr, out, resume, 0, device, xp)
    return {}


def _check_start(out: str, cfg: dict, resume: bool, ck_path: str):
    """The saved config of a resumed run (None for a new one), after the checks."""
    has_ckpt = os.path.exists(ck_path)
    if not resume:
        if has_ckpt:
            raise FileExistsError(
                f"Expected a new run folder. Received: {out!r} already holds a run; pass "
                "--resume to continue it or choose another --out"
            )
        return None
    if not has_ckpt:
        raise FileNotFoundError(
            f"Expected {ck_path!r} to resume from. Received: no checkpoint (the run never "
            "finished a step); start it again without --resume"
        )
    saved = read_config(out)
    changed = [k for k in DEFAULTS if k != "epochs" and saved["config"].get(k) != cfg[k]]
    if changed:
        raise ValueError(
            f"Expected the saved config of {out!r} on --resume. Received: other values "
            f"for {[_flag(k) for k in changed]}"
        )
    if cfg["epochs"] < saved["config"]["epochs"]:
        raise ValueError(
            f"Expected --epochs >= {saved['config']['epochs']} (the run's total) with "
            f"--resume. Received: --epochs {cfg['epochs']}"
        )
    return saved


def _train(cfg: dict, info: dict, ds, y_tr, out: str, resume: bool, verbose, device=None,
           xp=None):
    """Build the model and optimiser and run the Trainer (in the run's generator).

    The data stays NumPy on the host (minibatches go to the model's device);
    ``predict`` brings outputs of host data back as NumPy, so scoring and
    every file written stay on the host.
    """
    is_clf = ds.task == "classification"
    model, opt = _setup(cfg, info, device, xp)
    start_loss = _plain_loss(predict(model, ds.X_train), y_tr, is_clf)  # draws nothing
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
    return history, model, start_loss


def _plain_loss(out: np.ndarray, y: np.ndarray, is_clf: bool) -> float:
    """Mean negative log-likelihood (classes) or mean squared error of outputs."""
    z = out.astype(np.float64)
    if not is_clf:
        return float(np.mean((z[:, 0] - y) ** 2))
    z -= z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def _divergence(history, start_loss: float) -> str | None:
    """A warning when the last epoch's training loss ended far above its start (the rule
    of :mod:`chainrule.training.divergence`)."""
    losses = history.history.get("loss", []) if hasattr(history, "history") else []
    return divergence_message(start_loss, float(losses[-1]), hint="--lr") if losses else None


def _finish(cfg, info, ds, model, history, out, extra, start_loss, t0, log) -> dict:
    ckpt.save_model(
        os.path.join(out, "model.npz"),
        model,
        extra={"mean": ds.mean, "scale": ds.scale, **extra},
    )
    history.to_csv(os.path.join(out, "history.csv"))
    history.to_json(os.path.join(out, "history.json"))
    try:
        history.plot(
            os.path.join(out, "learning_curves.png"),
            title=f"{os.path.basename(cfg['dataset'])}: hidden {cfg['hidden']}",
        )
    except ImportError:
        log("matplotlib is not installed: no learning_curves.png (pip install 'chainrule[plot]')")
    metrics = _score(model, info, ds.X_test, ds.y_test, extra["y_mean"], extra["y_scale"])
    metrics["train_seconds"] = round(time.perf_counter() - t0, 2)
    metrics["epochs_run"] = len(history)
    warning = _divergence(history, start_loss)
    if warning:
        metrics["warning"] = warning
    write_text(os.path.join(out, "metrics.json"), json.dumps(metrics, indent=1))
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


_INFO_KEYS = ("task", "n_features", "n_classes", "classes", "feature_names", "target_name")


def load_run(run_dir: str):
    """``(model, config, data_info, extra)`` of a finished run folder.

    config.json is verified against its checksum and against the digest
    stored with the model, so an edited config (say, reordered classes)
    is refused rather than silently changing every prediction.
    """
    cfg_path = os.path.join(run_dir, "config.json")
    model_path = os.path.join(run_dir, "model.npz")
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(
            f"Expected a finished run folder with config.json. Received: {run_dir!r} "
            "is not a folder"
        )
    for p in (cfg_path, model_path):
        if not os.path.exists(p):
            raise FileNotFoundError(
                f"Expected a finished run folder with {os.path.basename(p)}."
                f" Received: {run_dir!r} has no {os.path.basename(p)}"
            )
    saved = read_config(run_dir)
    cfg, info = saved["config"], saved["data"]
    missing = [k for k in DEFAULTS if k not in cfg] + [k for k in _INFO_KEYS if k not in info]
    if missing:
        raise RunFolderError(f"Expected the keys {missing} in {cfg_path!r}. Received: none")
    check_config(cfg)
    # a throwaway generator draws the initial weights that the saved ones
    # replace: loading never touches the caller's generator
    with _random.use_generator(int(cfg["seed"])):
        model, _ = _setup(cfg, info)
    state = ckpt.load_model_state(model_path, model)
    extra = state.get("extra")
    if not isinstance(extra, dict) or extra.get("config_sha256") != saved["sha256"]:
        raise RunFolderError(
            f"Expected {cfg_path!r} to be the config model.npz was trained with. "
            "Received: another config (copied from another run?)"
        )
    model.eval()
    return model, cfg, info, extra


def _standardize(X, info, extra):
    X = check_features(X, name="X", n_features=info["n_features"])
    return ((X - extra["mean"]) / extra["scale"]).astype(np.float32)


def _check_dataset_unchanged(cfg: dict, info: dict) -> None:
    if not _is_file_dataset(cfg["dataset"]):
        return
    path = cfg["dataset"]
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Expected the run's dataset at {path!r} (recorded at training). Received: no such "
            "file; pass --input FILE to score other data"
        )
    if file_sha256(path) != info.get("dataset_sha256"):
        warnings.warn(
            f"the dataset {path!r} changed since the run was trained (other sha256): the "
            "test split is taken from the file as it is now",
            UserWarning,
            stacklevel=3,
        )


def evaluate_run(run_dir: str, input_path: str | None = None) -> dict:
    """Test metrics of a saved run: on its own test split, or on ``input_path``."""
    model, cfg, info, extra = load_run(run_dir)
    if input_path is None:
        _check_dataset_unchanged(cfg, info)
        ds = _split(cfg)
        X, y = ds.X_test, ds.y_test
    else:
        X, y = _read_input(input_path, info, need_target=True)
        X = _standardize(X, info, extra)
        is_clf = info["task"] == "classification"
        y = check_targets(y, X.shape[0], integer=is_clf)
    return _score(model, info, X, y, float(extra["y_mean"]), float(extra["y_scale"]))


def predict_run(run_dir: str, input_path: str) -> tuple[list, np.ndarray | None, list]:
    """Predictions for a file: ``(labels_or_values, probabilities, class_names)``.

    A CSV with a header is matched to the training columns by name (any
    order; a target column is ignored); without one, by position.
    """
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
