"""Run folders: train a multilayer perceptron from a config, then reuse it.

This is the engine of the ``chainrule`` command line, and the one owner of
a run folder (writing, resuming and loading it).  Models, optimisers and
schedules come from the shared vocabulary, :mod:`chainrule.training.recipes`;
the settings and their checks from one table, :mod:`._run_config`.  A run folder holds

* ``config.json``: the settings and what the data looked like (task,
  classes, feature names and order, the target column's name and
  position, the dataset's absolute path, its path relative to the folder
  and its sha256, a digest of the test split), with its own SHA-256 (an
  edited config is refused);
* ``checkpoint.npz``: the last full training state (``resume`` continues
  from it, bit for bit);
* ``model.npz``: the final parameters (the best ones under early
  stopping) with the preprocessing statistics (feature mean and scale,
  target mean and scale for regression);
* ``history.csv``, ``history.json``, ``learning_curves.png`` (if matplotlib
  is installed) and ``metrics.json`` (test metrics, see :mod:`._run_scores`).

A folder is written by one process at a time (a lock), a non-empty folder
chainrule did not write is refused, every file is written atomically (see
:mod:`._run_folder`), and settings and the device are checked before
anything is written.  An extension (``resume`` with a higher ``epochs``)
writes its new config only once its first checkpoint is saved, and the
finished model stays loadable throughout, so an interrupted extension
leaves a usable folder that resumes again.  A project moved with its data
resumes from the data file's path relative to the folder (or a ``dataset``
given anew whose sha256 matches).

Under ``mpiexec`` (decided here, once) rank 0 owns the folder and every
rank trains its shard of each minibatch (the Trainer's data parallelism).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable

import numpy as np

from .. import distributed as dist
from .. import nn
from .. import random as _random
from .. import regularization as R
from .._backend import from_host, is_numpy, parse_device
from ..data.datasets import BUNDLED, load_split
from ..data.loader import DataLoader, TensorDataset, train_val_split
from ..data.validation import check_features, check_targets
from ..nn import functional as F
from . import checkpoint as ckpt
from . import recipes
from ._placement import library_name
from ._run_config import DEFAULTS, check_config, flag
from ._run_folder import (
    RunFolderError,
    RunLock,
    check_writable,
    default_run_dir,
    file_sha256,
    model_digest,
    read_config,
    write_config,
    write_text,
)
from ._run_inputs import read_input as _read_input
from ._run_scores import divergence, plain_loss, score
from .callbacks import EarlyStopping, ModelCheckpoint
from .trainer import Trainer, predict

__all__ = ["DEFAULTS", "build_model", "evaluate_run", "load_run", "predict_run", "train_run"]


def _split(cfg: dict):
    """The run's dataset split, exactly as its config describes it."""
    try:
        return load_split(cfg["dataset"], test_size=cfg["test_size"], seed=cfg["split_seed"],
                          target=cfg["target"], task=cfg["task"])
    except ValueError as err:
        if "val_fraction" not in str(err):  # the loader's words for a split it cannot make
            raise
        raise ValueError(
            f"Expected --test-size to leave at least one row for training and one for testing. "
            f"Received: --test-size {cfg['test_size']} of the dataset's rows"
        ) from None


def build_model(config: dict, n_features: int, n_outputs: int) -> nn.Module:
    """The run's MLP (:func:`~chainrule.training.recipes.build_mlp` from the config)."""
    return recipes.build_mlp(
        [n_features, *config["hidden"], n_outputs],
        config["activation"],
        dropout=float(config["dropout"] or 0.0),
        batch_norm=bool(config["batch_norm"]),
    )


def _regularizers(config: dict):
    regs: list = [R.L2Penalty(float(config["l2"]))] if config["l2"] else []
    regs += [R.L1Penalty(float(config["l1"]))] if config["l1"] else []
    cons = [R.MaxNorm(float(config["max_norm"]))] if config["max_norm"] else []
    return regs, cons


def _loss(config: dict, task: str):
    if task == "regression":
        return "mse"
    if config["label_smoothing"]:
        return functools.partial(F.cross_entropy, label_smoothing=float(config["label_smoothing"]))
    return "cross_entropy"


def _place(device, xp) -> tuple:
    """``(namespace, device)`` parsed once, and checked to run (one tiny array) there."""
    xp, device_ = parse_device(device, xp)
    if not is_numpy(xp):
        try:
            from_host(np.zeros(1, np.float32), xp, device_)
        except Exception as err:  # noqa: BLE001 - any library's fault, said in one line
            raise ValueError(
                f"Expected a device that can run arrays. Received: device {device!r} "
                f"({library_name(xp)}) fails with {type(err).__name__}: {err} (is its driver "
                "installed? use --device cpu otherwise)"
            ) from None
    return xp, device_


def _device_text(xp, device) -> str:
    """How a run's device is recorded in config.json ("cpu", "cuda:0", "array_api_strict:...")."""
    if is_numpy(xp):
        return "cpu"
    if library_name(xp) == "cupy":
        return f"cuda:{getattr(device, 'id', device)}"
    return f"{getattr(xp, '__name__', xp)}:{device}"


def _setup(config: dict, data_info: dict, xp=np, device="cpu"):
    """Model and optimiser for a config, initialised from the generator in scope.

    The weights are drawn on the host (the same on every device), then the
    model moves to ``device`` of ``xp`` before the optimiser is built, so
    its state lives there too.
    """
    n_out = data_info["n_classes"] if data_info["task"] == "classification" else 1
    model = build_model(config, data_info["n_features"], n_out)
    if not is_numpy(xp):
        model.to(device, xp=xp)
    opt = recipes.build_optimizer(config["optimizer"], model.parameters(), lr=config["lr"],
                                  momentum=config["momentum"], weight_decay=config["weight_decay"])
    return model, opt


def _is_file_dataset(name) -> bool:
    return str(name) not in BUNDLED


def _data_info(cfg: dict, ds) -> dict:
    names = list(ds.feature_names or []) + ([ds.target_name] if ds.extra.get("header") else [])
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise ValueError(
            f"Expected distinct column names in the header of {cfg['dataset']!r} (predict "
            f"matches columns by name). Received: {dup} more than once; rename them"
        )
    digest = hashlib.sha256()
    for a in (ds.X_test, ds.y_test):
        digest.update(np.ascontiguousarray(a).tobytes())
    info = {
        "task": ds.task, "n_features": ds.n_features, "n_classes": ds.n_classes,
        "classes": ds.classes, "feature_names": ds.feature_names,
        "target_name": ds.target_name, "target_index": ds.extra.get("target_index"),
        "header": ds.extra.get("header"), "n_train": len(ds.y_train), "n_test": len(ds.y_test),
        "split_sha256": digest.hexdigest(), "dataset_sha256": None,
    }
    if _is_file_dataset(cfg["dataset"]):
        info["dataset_sha256"] = file_sha256(cfg["dataset"])
    return info


def _find_dataset(run_dir: str, saved: dict, given=None, strict: bool = True) -> str:
    """The path of a run's data file now: as recorded, relative to the folder, or ``given``.

    ``strict`` (resuming): the file must have the recorded sha256; otherwise
    (scoring the run's own test split) a changed file is used with a warning.
    """
    recorded, data = saved["config"]["dataset"], saved["data"]
    if not _is_file_dataset(recorded):
        if given is not None and given != recorded:
            raise ValueError(f"Expected --dataset {recorded} (the run's). Received: {given!r}")
        return recorded
    if given is not None:
        places = [os.path.abspath(str(given))]
    else:
        rel = data.get("dataset_relpath")
        places = [recorded] + ([os.path.join(os.path.abspath(run_dir), rel)] if rel else [])
    found = [p for p in places if os.path.isfile(p)]
    for path in found:
        if file_sha256(path) == data.get("dataset_sha256"):
            return os.path.normpath(path)
    if not found:
        raise FileNotFoundError(
            f"Expected the run's dataset at {places[0]!r}. Received: no such file; if the "
            "project moved, pass --dataset NEW_PATH with --resume (or --input FILE to score)"
        )
    if strict:
        raise RunFolderError(
            f"Expected the dataset {found[0]!r} unchanged since the run started (--resume "
            "continues on the same data). Received: a file with another sha256"
        )
    warnings.warn(f"the dataset {found[0]!r} changed since the run was trained (other "
                  "sha256): the test split is taken from the file as it is now", UserWarning,
                  stacklevel=3)
    return found[0]


def _resume_config(out, given: dict) -> tuple[dict, int]:
    """The saved config of run folder ``out`` with ``given`` changes (epochs, a moved dataset),
    and the saved total of epochs."""
    if out is None:
        raise ValueError("Expected --out RUN_DIR with --resume. Received: no --out")
    if not os.path.isdir(out):
        raise FileNotFoundError(
            f"Expected a run folder to resume. Received: {str(out)!r} (no such folder)")
    if not os.path.exists(os.path.join(out, "checkpoint.npz")):
        raise FileNotFoundError(
            f"Expected {os.path.join(out, 'checkpoint.npz')!r} to resume from. Received: no "
            "checkpoint (the run never finished a step); start it again without --resume")
    saved = read_config(out)
    changed = [flag(k) for k, v in given.items()
               if k not in ("epochs", "dataset") and saved["config"].get(k) != v]
    if changed:
        raise ValueError(
            f"Expected only --epochs (to raise the total) with --resume: the run keeps its "
            f"saved config. Received: other values for {', '.join(changed)}; start a new run "
            "with another --out to change them")
    cfg = {**saved["config"], "epochs": given.get("epochs", saved["config"]["epochs"])}
    check_config(cfg)
    if cfg["epochs"] < saved["config"]["epochs"]:
        raise ValueError(
            f"Expected --epochs >= {saved['config']['epochs']} (the run's total) with "
            f"--resume. Received: --epochs {cfg['epochs']}")
    cfg["dataset"] = _find_dataset(out, saved, given.get("dataset"))
    return cfg, saved["config"]["epochs"]


def _targets(ds):
    """``(training targets, y_mean, y_scale)``: regression targets standardised."""
    if ds.task == "classification":
        return ds.y_train, 0.0, 1.0
    y_mean, y_scale = float(ds.y_train.mean()), float(ds.y_train.std() or 1.0)
    return (ds.y_train - y_mean) / y_scale, y_mean, y_scale


def train_run(config: dict | None = None, out: str | None = None, resume: bool = False,
              verbose="auto", log=print, device=None, xp=None) -> dict:
    """Train per ``config`` into folder ``out``; return the test metrics.

    ``config`` holds the settings that differ from :data:`DEFAULTS`; with
    ``resume`` the run continues from ``out``'s checkpoint with its saved
    config, and ``config`` may only raise ``epochs`` or point ``dataset`` at
    the same file moved (same sha256).  ``out`` None: a new folder
    ``runs/<dataset>-<timestamp>``.  The folder is locked while the run
    writes it; a non-empty folder chainrule did not write is refused, and a
    folder holding a started run needs ``resume``.

    ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:N"``) or ``xp=`` a namespace
    with one of its devices picks where the model trains; it is checked to
    run before anything is written.  It is not part of the config: every
    file holds host arrays, so a run may resume on another device.  Under
    ``mpiexec`` every rank calls this; only rank 0 writes or returns metrics.
    """
    place = _place(device, xp)
    several = dist.launched_with_several_ranks()
    if several:
        dist.init()
        if dist.rank() != 0:
            return _train_replica(place, resume)
    config = dict(config or {})
    if resume:
        cfg, before = _resume_config(out, config)
        change = f" (epochs {before} -> {cfg['epochs']})" if cfg["epochs"] != before else ""
    else:
        cfg = {**DEFAULTS, **config}
        check_config(cfg)
        if _is_file_dataset(cfg["dataset"]):
            cfg["dataset"] = os.path.abspath(str(cfg["dataset"]))
    t0 = time.perf_counter()
    ds = _split(cfg)  # the data is read and checked before any folder is made
    info = _data_info(cfg, ds)
    if out is None:
        out = default_run_dir(cfg["dataset"])
    log(f"resuming {out}{change}" if resume else f"run folder: {out}")
    check_writable(out)
    with RunLock(out):
        if not resume and os.path.exists(os.path.join(out, "checkpoint.npz")):
            raise FileExistsError(
                f"Expected a new run folder. Received: {str(out)!r} already holds a run; "
                "pass --resume to continue it or choose another --out")
        if _is_file_dataset(cfg["dataset"]):  # a moved project finds its data from here
            try:
                info["dataset_relpath"] = os.path.relpath(cfg["dataset"], os.path.abspath(out))
            except ValueError:  # pragma: no cover - another drive (Windows)
                pass
        info.update(world_size=dist.world_size(), device=_device_text(*place))
        # a new run claims the folder at once; an extension once its first checkpoint is safe
        commit: Callable | None = functools.partial(write_config, out, cfg, info)
        if not resume:
            write_config(out, cfg, info)
            commit = None
        if several:
            dist.broadcast_object((out, cfg))  # the other ranks start now
        with _random.use_generator(int(cfg["seed"])):  # initialisation, shuffling, dropout
            history, model, start_loss = _train(cfg, info, ds, out, resume, verbose, place,
                                                several, commit)
        return _finish(cfg, info, ds, model, history, out, start_loss, t0, log)


def _train_replica(place, resume: bool) -> dict:
    """A rank other than 0 of ``mpiexec -n R chainrule train``: train, write nothing.

    Rank 0 owns the folder; this rank waits for its folder and config, then
    trains its shard of every global minibatch; a resumed run reads rank
    0's checkpoint.
    """
    out, cfg = dist.broadcast_object(None)
    ds = _split(cfg)
    info = {"task": ds.task, "n_features": ds.n_features, "n_classes": ds.n_classes}
    with _random.use_generator(int(cfg["seed"])):
        _train(cfg, info, ds, out, resume, 0, place, True, None)
    return {}


class _CommitAfterSave(ModelCheckpoint):
    """A checkpoint that runs ``commit`` (writing the new config) once its first save is done."""

    def __init__(self, path: str, commit, **kwargs):
        super().__init__(path, **kwargs)
        self.commit = commit

    def _committed(self) -> None:
        if self.commit is not None and self.last_saved is not None:
            self.commit()
            self.commit = None

    def on_batch_end(self, step, logs):
        super().on_batch_end(step, logs)
        self._committed()

    def on_epoch_end(self, epoch, logs):
        super().on_epoch_end(epoch, logs)
        self._committed()


def _train(cfg: dict, info: dict, ds, out: str, resume: bool, verbose, place, several: bool,
           commit):
    """Build the model and optimiser and run the Trainer (in the run's generator).

    The data stays NumPy on the host (minibatches go to the model's device);
    ``predict`` brings outputs of host data back as NumPy, so scoring and
    every file written stay on the host.
    """
    y_tr = _targets(ds)[0]
    model, opt = _setup(cfg, info, *place)
    start_loss = plain_loss(predict(model, ds.X_train), y_tr, ds.task == "classification")
    X, y, val = ds.X_train, y_tr, None
    if cfg["val_fraction"]:
        try:
            X, y, *val = train_val_split(X, y, float(cfg["val_fraction"]), seed=0)
        except ValueError:
            raise ValueError(
                "Expected --val-fraction to leave at least one row for training and one for "
                f"validation. Received: --val-fraction {cfg['val_fraction']} of "
                f"{len(y_tr)} training rows") from None
    batches = len(DataLoader(TensorDataset(X, y), batch_size=int(cfg["batch_size"])))
    scheduler = recipes.build_scheduler(cfg["schedule"], opt, lr=cfg["lr"],
                                        total_steps=batches * int(cfg["epochs"]))
    regs, cons = _regularizers(cfg)
    ck_path = os.path.join(out, "checkpoint.npz")
    saver = _CommitAfterSave(ck_path, commit, every_n_epochs=1,
                             every_n_steps=int(cfg["checkpoint_every"]) or None)
    callbacks: list = [saver]
    if cfg["patience"]:
        callbacks.append(EarlyStopping(patience=int(cfg["patience"])))
    trainer = Trainer(model, loss=_loss(cfg, ds.task), optimizer=opt,
                      metrics=["accuracy"] if ds.task == "classification" else ["mae"],
                      callbacks=callbacks, scheduler=scheduler, regularizers=regs,
                      constraints=cons, verbose=verbose, distributed=several)
    history = trainer.fit(X, y, epochs=int(cfg["epochs"]), batch_size=int(cfg["batch_size"]),
                          validation_data=tuple(val) if val else None,
                          checkpoint=ck_path if resume else None)
    if saver.commit is not None:  # no checkpoint was saved: the config is written now
        saver.commit()
    return history, model, start_loss


def _finish(cfg, info, ds, model, history, out, start_loss, t0, log) -> dict:
    _, y_mean, y_scale = _targets(ds)
    extra = {"y_mean": y_mean, "y_scale": y_scale, "config_sha256": model_digest(cfg, info)}
    ckpt.save_model(os.path.join(out, "model.npz"), model,
                    extra={"mean": ds.mean, "scale": ds.scale, **extra})
    history.to_csv(os.path.join(out, "history.csv"))
    history.to_json(os.path.join(out, "history.json"))
    try:
        history.plot(os.path.join(out, "learning_curves.png"),
                     title=f"{os.path.basename(cfg['dataset'])}: hidden {cfg['hidden']}")
    except ImportError:
        log("matplotlib is not installed: no learning_curves.png (pip install 'chainrule[plot]')")
    metrics = score(predict(model, ds.X_test), ds.y_test, info["task"], y_mean, y_scale,
                    float(cfg["label_smoothing"]))
    metrics["train_seconds"] = round(time.perf_counter() - t0, 2)
    metrics["epochs_run"] = len(history)
    warning = divergence(history, start_loss)
    if warning:
        metrics["warning"] = warning
    write_text(os.path.join(out, "metrics.json"), json.dumps(metrics, indent=1))
    return metrics


_INFO_KEYS = ("task", "n_features", "n_classes", "classes", "feature_names", "target_name")


def load_run(run_dir: str):
    """``(model, config, data_info, extra)`` of a finished run folder.

    config.json is verified against its checksum and against the digest
    stored with the model, so an edited config (say, reordered classes)
    or one from another run is refused rather than silently changing
    every prediction.
    """
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(
            f"Expected a finished run folder with config.json. Received: {run_dir!r} "
            "is not a folder")
    for name in ("config.json", "model.npz"):
        if not os.path.exists(os.path.join(run_dir, name)):
            raise FileNotFoundError(f"Expected a finished run folder with {name}. "
                                    f"Received: {run_dir!r} has no {name}")
    cfg_path = os.path.join(run_dir, "config.json")
    saved = read_config(run_dir)
    cfg, info = saved["config"], saved["data"]
    missing = [k for k in _INFO_KEYS if k not in info]
    if missing:
        raise RunFolderError(f"Expected the keys {missing} in {cfg_path!r}. Received: none")
    check_config(cfg)
    # a throwaway generator draws the initial weights that the saved ones
    # replace: loading never touches the caller's generator
    with _random.use_generator(int(cfg["seed"])):
        model, _ = _setup(cfg, info)
    state = ckpt.load_model_state(os.path.join(run_dir, "model.npz"), model)
    extra = state.get("extra")
    digest = extra.get("config_sha256") if isinstance(extra, dict) else None
    if digest not in (model_digest(cfg, info), saved["sha256"]):
        raise RunFolderError(
            f"Expected {cfg_path!r} to be the config model.npz was trained with. "
            "Received: another config (copied from another run?)")
    model.eval()
    return model, cfg, info, extra


def _standardize(X, info, extra):
    X = check_features(X, name="X", n_features=info["n_features"])
    return ((X - extra["mean"]) / extra["scale"]).astype(np.float32)


def evaluate_run(run_dir: str, input_path: str | None = None) -> dict:
    """Test metrics of a saved run: on its own test split, or on ``input_path``."""
    model, cfg, info, extra = load_run(run_dir)
    if input_path is None:
        saved = {"config": cfg, "data": info}
        ds = _split({**cfg, "dataset": _find_dataset(run_dir, saved, strict=False)})
        X, y = ds.X_test, ds.y_test
    else:
        X, y = _read_input(input_path, info, need_target=True)
        X = _standardize(X, info, extra)
        y = check_targets(y, X.shape[0], integer=info["task"] == "classification")
    return score(predict(model, X), y, info["task"], float(extra["y_mean"]),
                 float(extra["y_scale"]), float(cfg["label_smoothing"]))


def predict_run(run_dir: str, input_path: str) -> tuple[list, np.ndarray | None, list]:
    """Predictions for a file: ``(labels_or_values, probabilities, class_names)``.

    A CSV with a header is matched to the training columns by name (any
    order; a target column is ignored); without one, by position.
    """
    model, _, info, extra = load_run(run_dir)
    X, _ = _read_input(input_path, info, need_target=False)
    out = predict(model, _standardize(X, info, extra))
    if info["task"] == "classification":
        z = out.astype(np.float64) - out.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return [info["classes"][k] for k in out.argmax(axis=1)], p, info["classes"]
    values = out[:, 0].astype(np.float64) * float(extra["y_scale"]) + float(extra["y_mean"])
    return list(values), None, []
