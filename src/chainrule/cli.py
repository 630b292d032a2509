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
import io
import json
import os
import sys

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line on stderr (exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _whole(text: str) -> int:
    """argparse type: a whole number; "2.5" or "1e3" gets a message saying so."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, received {text!r}"
        ) from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, received {text!r}") from None


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
        type=_number,
        default=D["test_size"],
        help="share of rows held out for the test metrics",
    )
    g.add_argument(
        "--val-fraction",
        type=_number,
        default=D["val_fraction"],
        help="share of training rows used for validation curves/early stopping",
    )
    g = p.add_argument_group("model")
    g.add_argument(
        "--hidden",
        type=_whole,
        nargs="*",
        default=D["hidden"],
        help="hidden layer widths, e.g. --hidden 256 256",
    )
    g.add_argument("--activation", default=D["activation"], choices=sorted(ACTIVATIONS))
    g.add_argument(
        "--dropout",
        type=_number,
        default=D["dropout"],
        help="dropout probability after each hidden layer",
    )
    g.add_argument("--batch-norm", action="store_true", help="BatchNorm1d after each Linear")
    g = p.add_argument_group("optimisation")
    g.add_argument("--optimizer", default=D["optimizer"], choices=OPTIMIZERS)
    g.add_argument("--lr", type=_number, default=D["lr"], help="learning rate ε₀")
    g.add_argument(
        "--momentum", type=_number, default=D["momentum"], help="for --optimizer momentum/nesterov"
    )
    g.add_argument(
        "--weight-decay",
        type=_number,
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
        type=_whole,
        default=None,
        help=f"number of epochs (default {D['epochs']}; with --resume: the saved total)",
    )
    g.add_argument("--batch-size", type=_whole, default=D["batch_size"])
    g.add_argument(
        "--seed", type=_whole, default=D["seed"], help="seeds initialisation, dropout and shuffling"
    )
    g.add_argument(
        "--split-seed",
        type=_whole,
        default=D["split_seed"],
        help="seeds the train/test split (fixed by default, so runs compare)",
    )
    g.add_argument(
        "--patience",
        type=_whole,
        default=D["patience"],
        help="early stopping patience in epochs (0: off); restores the best weights",
    )
    g = p.add_argument_group("regularisation")
    g.add_argument("--l2", type=_number, default=D["l2"], help="L2 penalty weight α (½α‖w‖²)")
    g.add_argument("--l1", type=_number, default=D["l1"], help="L1 penalty weight α (α‖w‖₁)")
    g.add_argument(
        "--max-norm",
        type=_number,
        default=D["max_norm"],
        help="max-norm radius for each unit's incoming weights",
    )
    g.add_argument(
        "--label-smoothing",
        type=_number,
        default=D["label_smoothing"],
        help="label smoothing ε (PyTorch's form)",
    )
    g = p.add_argument_group("run")
    g.add_argument(
        "--out",
        default=None,
        help="run folder (default: a new runs/<dataset>-<timestamp>); an existing folder "
        "must be empty or a chainrule run",
    )
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its checkpoint.npz, with its saved "
        "config (only --epochs may change, to raise the total)",
    )
    g.add_argument(
        "--checkpoint-every",
        type=_whole,
        default=D["checkpoint_every"],
        help="also checkpoint every N optimiser steps (0: once per epoch)",
    )
    g.add_argument(
        "--device",
        default="cpu",
        help="where to train: cpu (NumPy) or cuda / cuda:N (CuPy, pip install "
        '"chainrule[cuda]"); may change on --resume',
    )
    g.add_argument(
        "--verbose",
        type=_whole,
        choices=(0, 1, 2),
        default=None,
        help="0 silent, 1 progress bar, 2 a line per epoch (default: a bar on a terminal only)",
    )
    p.set_defaults(func=_cmd_train)


#: flags that may be given with --resume; the others would change the saved run
_RESUME_FLAGS = {"--out", "--resume", "--epochs", "--verbose", "--debug", "--device"}


def _given_flags(argv: list) -> list:
    return [a.split("=", 1)[0] for a in argv if a.startswith("--")]


def _cmd_train(args) -> int:
    from . import distributed as dist
    from ._backend import parse_device
    from .training._run_folder import default_run_dir, read_config
    from .training.runs import DEFAULTS, check_config, train_run

    parse_device(args.device)  # an unknown device or a missing CuPy: one line, no folder
    verbose = "auto" if args.verbose is None else args.verbose
    if dist.launched_with_several_ranks():
        # data-parallel under mpiexec: rank 0 owns the run folder and prints
        dist.init()
        if dist.rank() != 0:
            return _train_rank(args, dist, read_config, DEFAULTS, train_run)
    if args.resume:
        if not args.out:
            raise ValueError("Expected --out RUN_DIR with --resume. Received: no --out")
        refused = [f for f in _given_flags(args.argv) if f not in _RESUME_FLAGS]
        if refused:
            raise ValueError(
                f"Expected only --epochs (to raise the total) with --resume: the run keeps "
                f"its saved config. Received: {', '.join(refused)}; start a new run with "
                "another --out to change them"
            )
        if not os.path.isdir(args.out):
            raise FileNotFoundError(
                f"Expected a run folder to resume. Received: {args.out!r} (no such folder)"
            )
        if not os.path.exists(os.path.join(args.out, "checkpoint.npz")):
            raise FileNotFoundError(
                f"Expected {args.out}/checkpoint.npz to resume from. Received: no checkpoint "
                "(the run never finished a step); start it again without --resume"
            )
        config = read_config(args.out)["config"]
        before = config["epochs"]
        if args.epochs is not None:
            config["epochs"] = args.epochs
        out = args.out
        change = f" (epochs {before} -> {config['epochs']})" if config["epochs"] != before else ""
        print(f"resuming {out}{change}")
    else:
        config = {k: getattr(args, k) for k in DEFAULTS}
        if config["epochs"] is None:
            config["epochs"] = DEFAULTS["epochs"]
        check_config(config)  # before any folder is made
        out = args.out or default_run_dir(args.dataset)
        print(f"run folder: {out}", flush=True)
    dist.broadcast_object(out)  # the other ranks train for this folder
    metrics = train_run(config, out, resume=args.resume, verbose=verbose, device=args.device)
    if args.resume:
        print(f"run folder: {out}")
    _print_metrics(metrics)
    if "warning" in metrics:
        print(f"chainrule train: warning: {metrics['warning']}", file=sys.stderr)
    return 0


def _train_rank(args, dist, read_config, defaults, train_run) -> int:
    """``chainrule train`` on an MPI rank other than 0: same config, silent, no files."""
    out = dist.broadcast_object(None)  # rank 0 checked the flags and chose the folder
    if args.resume:
        config = read_config(out)["config"]
        if args.epochs is not None:
            config["epochs"] = args.epochs
    else:
        config = {k: getattr(args, k) for k in defaults}
        if config["epochs"] is None:
            config["epochs"] = defaults["epochs"]
    train_run(config, out, resume=args.resume, verbose=0, device=args.device)
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
        from .training._run_folder import write_text

        buf = io.StringIO()
        csv.writer(buf).writerows(rows)
        write_text(args.output, buf.getvalue())  # atomic: no half-written file
        print(f"wrote {len(preds)} predictions to {args.output}")
    else:
        csv.writer(sys.stdout).writerows(rows)
        sys.stdout.flush()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="chainrule",
        description="Train and use multilayer perceptrons (chainrule, NumPy only).",
        allow_abbrev=False,
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the Python traceback of an error"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    _add_train(sub)
    _add_evaluate(sub)
    _add_predict(sub)
    for p in sub.choices.values():
        p.allow_abbrev = False  # --resume checks the flags given by their full names
        p.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS,
            help="show the Python traceback of an error",
        )
    return parser


def _one_line(err: BaseException) -> str:
    """An error as one line: its message, or what an OS error names."""
    if isinstance(err, MemoryError):
        return (
            "Expected enough memory. Received: MemoryError; try a smaller --batch-size, "
            "smaller --hidden layers, or a smaller dataset"
        )
    if isinstance(err, OSError) and err.strerror and not isinstance(
        err, (FileNotFoundError, FileExistsError)
    ) or (isinstance(err, (FileNotFoundError, FileExistsError)) and err.filename):
        where = f" {err.filename!r}" if err.filename else ""
        return f"cannot write or read{where}: {err.strerror}"
    text = str(err) or type(err).__name__
    if not isinstance(err, (ValueError, TypeError, OSError, ImportError, FloatingPointError)):
        text = f"{type(err).__name__}: {text} (an unexpected error; --debug shows where)"
    return " ".join(text.split())


def main(argv: list | None = None) -> int:
    """Entry point of the ``chainrule`` console script; returns the exit status.

    Every failure is one line on stderr and exit status 2 (``--debug``
    shows the traceback); a closed output pipe (``| head``) ends quietly.
    """
    import warnings

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            try:
                code = args.func(args)
            finally:
                for w in caught:  # chainrule's own; NumPy's overflow notes only with --debug
                    if issubclass(w.category, UserWarning) or args.debug:
                        print(f"chainrule {args.command}: warning: {w.message}", file=sys.stderr)
        return code
    except BrokenPipeError:
        # the reader went away (e.g. ``| head``): nothing left to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except (Exception, MemoryError) as err:
        if args.debug:
            raise
        print(f"chainrule {args.command}: error: {_one_line(err)}", file=sys.stderr)
        _end_other_ranks(2)
        return 2


def _end_other_ranks(code: int) -> None:
    """Under mpiexec, an error on one rank ends the whole job (never a hang)."""
    if "chainrule.distributed" in sys.modules:
        sys.modules["chainrule.distributed"].abort(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
