"""The ``chainrule`` command: train, evaluate and predict with MLPs.

Examples::

    chainrule train --dataset digits                  # ≥ 98% test accuracy
    chainrule train --dataset data.csv --target price --hidden 64 --epochs 100
    chainrule train --out runs/digits --resume        # continue a killed run
    chainrule evaluate runs/digits
    chainrule predict runs/digits --input new.csv --output predictions.csv

Every subcommand has ``--help``.  See :mod:`chainrule.training.runs` for
the run-folder layout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

__all__ = ["build_parser", "main"]


def _default_out(dataset: str) -> str:
    stem = os.path.splitext(os.path.basename(str(dataset)))[0] or "run"
    out = os.path.join("runs", stem)
    k = 2
    while os.path.exists(out):
        out = os.path.join("runs", f"{stem}-{k}")
        k += 1
    return out


def _add_train(sub) -> None:
    from .training.recipes import ACTIVATIONS, OPTIMIZERS, SCHEDULES
    from .training.runs import DEFAULTS as D

    p = sub.add_parser(
        "train",
        help="train a multilayer perceptron and write a run folder",
        description="Train a multilayer perceptron on a bundled dataset or a CSV/.npz file. "
        "Writes config.json, checkpoint.npz, model.npz, history.csv/json, "
        "learning_curves.png and metrics.json into the run folder and prints the test metrics.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = p.add_argument_group("data")
    g.add_argument(
        "--dataset",
        default=D["dataset"],
        help="digits, breast_cancer, wine, iris, diabetes, mnist1d, "
        "or a path to a .csv (header optional) or .npz (X, y) file",
    )
    g.add_argument(
        "--target", default=None, help="CSV target column name or index (default: the last column)"
    )
    g.add_argument("--task", default="auto", choices=("auto", "classification", "regression"))
    g.add_argument(
        "--test-size",
        type=float,
        default=D["test_size"],
        help="share of rows held out for the test metrics",
    )
    g.add_argument(
        "--val-fraction",
        type=float,
        default=D["val_fraction"],
        help="share of training rows used for validation curves/early stopping",
    )
    g = p.add_argument_group("model")
    g.add_argument(
        "--hidden",
        type=int,
        nargs="*",
        default=D["hidden"],
        help="hidden layer widths, e.g. --hidden 256 256",
    )
    g.add_argument("--activation", default=D["activation"], choices=sorted(ACTIVATIONS))
    g.add_argument(
        "--dropout",
        type=float,
        default=D["dropout"],
        help="dropout probability after each hidden layer",
    )
    g.add_argument("--batch-norm", action="store_true", help="BatchNorm1d after each Linear")
    g = p.add_argument_group("optimisation")
    g.add_argument("--optimizer", default=D["optimizer"], choices=OPTIMIZERS)
    g.add_argument("--lr", type=float, default=D["lr"], help="learning rate ε₀")
    g.add_argument(
        "--momentum", type=float, default=D["momentum"], help="for --optimizer momentum/nesterov"
    )
    g.add_argument(
        "--weight-decay",
        type=float,
        default=D["weight_decay"],
        help="optimiser weight decay (AdamW: decoupled, default 0.01)",
    )
    g.add_argument(
        "--schedule",
        default=D["schedule"],
        choices=SCHEDULES,
        help="learning-rate schedule over all steps of the run",
    )
    g.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"number of epochs (default {D['epochs']}; with --resume: the saved total)",
    )
    g.add_argument("--batch-size", type=int, default=D["batch_size"])
    g.add_argument(
        "--seed", type=int, default=D["seed"], help="seeds initialisation, dropout and shuffling"
    )
    g.add_argument(
        "--split-seed",
        type=int,
        default=D["split_seed"],
        help="seeds the train/test split (fixed by default, so runs compare)",
    )
    g.add_argument(
        "--patience",
        type=int,
        default=D["patience"],
        help="early stopping patience in epochs (0: off); restores the best weights",
    )
    g = p.add_argument_group("regularisation")
    g.add_argument("--l2", type=float, default=D["l2"], help="L2 penalty weight α (½α‖w‖²)")
    g.add_argument("--l1", type=float, default=D["l1"], help="L1 penalty weight α (α‖w‖₁)")
    g.add_argument(
        "--max-norm",
        type=float,
        default=D["max_norm"],
        help="max-norm radius for each unit's incoming weights",
    )
    g.add_argument(
        "--label-smoothing",
        type=float,
        default=D["label_smoothing"],
        help="label smoothing ε (PyTorch's form)",
    )
    g = p.add_argument_group("run")
    g.add_argument("--out", default=None, help="run folder (default: runs/<dataset>[-N])")
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its checkpoint.npz, with its saved "
        "config (--epochs may raise the total)",
    )
    g.add_argument(
        "--checkpoint-every",
        type=int,
        default=D["checkpoint_every"],
        help="also checkpoint every N optimiser steps (0: once per epoch)",
    )
    g.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=None,
        help="0 silent, 1 progress bar, 2 a line per epoch (default: a bar on a terminal only)",
    )
    p.set_defaults(func=_cmd_train)


def _cmd_train(args) -> int:
    from .training.runs import DEFAULTS, train_run

    verbose = "auto" if args.verbose is None else args.verbose
    if args.resume:
        if not args.out:
            raise ValueError("Expected --out RUN_DIR with --resume. Received: no --out")
        cfg_path = os.path.join(args.out, "config.json")
        if not os.path.exists(os.path.join(args.out, "checkpoint.npz")):
            raise FileNotFoundError(
                f"Expected {args.out}/checkpoint.npz to resume from. "
                "Received: no checkpoint (was the run started?)"
            )
        with open(cfg_path, encoding="utf-8") as f:
            config = json.load(f)["config"]
        if args.epochs is not None:
            config["epochs"] = args.epochs
        out = args.out
        print(f"resuming {out} (epochs {config['epochs']})")
    else:
        config = {k: getattr(args, k) for k in DEFAULTS}
        if config["epochs"] is None:
            config["epochs"] = DEFAULTS["epochs"]
        out = args.out or _default_out(args.dataset)
        if os.path.exists(os.path.join(out, "config.json")):
            raise FileExistsError(
                f"Expected a new run folder. Received: {out!r} already holds a run; pass "
                "--resume to continue it or choose another --out"
            )
    metrics = train_run(config, out, resume=args.resume, verbose=verbose)
    print(f"run folder: {out}")
    _print_metrics(metrics)
    return 0


def _print_metrics(metrics: dict) -> None:
    for key in ("accuracy", "loss", "log_likelihood", "mse", "rmse", "mae", "r2"):
        if key in metrics:
            print(f"test {key.replace('_', ' ')}: {metrics[key]:.4f}")
    if "train_seconds" in metrics:
        print(f"time: {metrics['train_seconds']:.1f} s, epochs: {metrics['epochs_run']}")


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="test metrics of a saved run",
        description="Score a saved run on its own test split, or on a labelled "
        "CSV/.npz file given with --input (same features as at training, "
        "target in the last column or under its training name).",
    )
    p.add_argument("run_dir", help="a run folder written by 'chainrule train'")
    p.add_argument("--input", default=None, help="labelled .csv or .npz file")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args) -> int:
    from .training.runs import evaluate_run

    metrics = evaluate_run(args.run_dir, args.input)
    if args.json:
        print(json.dumps(metrics))
    else:
        _print_metrics(metrics)
    return 0


def _add_predict(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="predictions of a saved run for new data",
        description="Predict for the rows of a CSV/.npz file with the features "
        "used at training (a target column, if present, is ignored). Writes a CSV "
        "with a 'prediction' column (and class probabilities).",
    )
    p.add_argument("run_dir", help="a run folder written by 'chainrule train'")
    p.add_argument("--input", required=True, help=".csv or .npz file of features")
    p.add_argument("--output", default=None, help="CSV to write (default: standard output)")
    p.set_defaults(func=_cmd_predict)


def _cmd_predict(args) -> int:
    from .training.runs import predict_run

    preds, proba, classes = predict_run(args.run_dir, args.input)
    header = ["prediction"] + [f"p_{c}" for c in classes]
    rows = [header]
    for i, v in enumerate(preds):
        row = [v if isinstance(v, str) else repr(float(v))]
        if proba is not None:
            row += [f"{q:.6g}" for q in proba[i]]
        rows.append(row)
    if args.output:
        with open(args.output, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
    else:
        csv.writer(sys.stdout).writerows(rows)
    if args.output:
        print(f"wrote {len(preds)} predictions to {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Train and use multilayer perceptrons (chainrule, NumPy only).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_train(sub)
    _add_evaluate(sub)
    _add_predict(sub)
    return parser


def main(argv: list | None = None) -> int:
    """Entry point of the ``chainrule`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (
        ValueError,
        TypeError,
        FileNotFoundError,
        FileExistsError,
        ImportError,
        FloatingPointError,
    ) as err:
        print(f"chainrule {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
