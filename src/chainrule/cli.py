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


def _converter(kind: str):
    """argparse type of a setting's kind: text to number, or a one-line usage error."""
    def convert(text: str):
        try:
            return int(text) if kind in ("whole", "widths") else float(text)
        except ValueError:
            what = "a whole number" if kind in ("whole", "widths") else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, received {text!r}") from None
    return convert


def _default_text(s) -> str:
    if s.default is None:
        return s.none_means
    if s.kind == "flag":
        return "on" if s.default else "off"
    return " ".join(map(str, s.default)) if isinstance(s.default, list) else str(s.default)


def _add_train(sub) -> None:
    """``train``: one flag per setting of the table in ``training._run_config``.

    The flags have no argparse defaults: a run gets only the settings the
    user gave (:func:`~chainrule.training.runs.train_run` fills in the rest,
    or keeps the saved ones on ``--resume``); ``--help`` states each default
    once, from the table.
    """
    from .training._run_config import SETTINGS, flag

    p = sub.add_parser(
        "train",
        help="train a multilayer perceptron and write a run folder",
        description="Train a multilayer perceptron on a bundled dataset or a CSV/.npz file. "
        "Writes config.json, checkpoint.npz, model.npz, history.csv/json, "
        "learning_curves.png and metrics.json into the run folder and prints the test metrics.",
        argument_default=argparse.SUPPRESS,
    )
    groups: dict = {}
    for name, s in SETTINGS.items():
        if s.group not in groups:
            groups[s.group] = p.add_argument_group(s.group)
        g = groups[s.group]
        kwargs: dict = {"dest": name, "help": f"{s.help} (default: {_default_text(s)})"}
        if s.kind == "flag":
            kwargs["action"] = "store_true"
        elif s.kind == "choice":
            kwargs["choices"] = s.choices
        elif s.kind != "text":
            kwargs["type"] = _converter(s.kind)
            kwargs["nargs"] = "*" if s.kind == "widths" else None
        g.add_argument(flag(name), **kwargs)
    g = groups["run"]
    g.add_argument("--out", default=None, help="run folder, empty or a chainrule run (default: "
                   "a new runs/<dataset>-<timestamp>)")
    g.add_argument("--resume", action="store_true", default=False,
                   help="continue the run in --out from its checkpoint.npz with its saved "
                   "config; only --epochs (a higher total) and --dataset (the same file, "
                   "moved) may be given")
    g.add_argument("--device", default="cpu", help="where to train: cpu (NumPy) or cuda / "
                   'cuda:N (CuPy, pip install "chainrule[cuda]"); may change on --resume '
                   "(default: cpu)")
    g.add_argument("--verbose", type=_converter("whole"), choices=(0, 1, 2), default=None,
                   help="0 silent, 1 progress bar, 2 a line per epoch (default: a bar on a "
                   "terminal only)")
    p.set_defaults(func=_cmd_train)


def _cmd_train(args) -> int:
    from .training._run_config import SETTINGS
    from .training.runs import train_run

    given = {k: v for k, v in vars(args).items() if k in SETTINGS}
    verbose = "auto" if args.verbose is None else args.verbose
    metrics = train_run(given, args.out, resume=args.resume, verbose=verbose,
                        log=lambda text: print(text, flush=True), device=args.device)
    _print_metrics(metrics)
    if "warning" in metrics:
        print(f"chainrule train: warning: {metrics['warning']}", file=sys.stderr)
    return 0


def _print_metrics(metrics: dict) -> None:
    """The test metrics; the loss twice: plain, and as the epoch lines' loss/val_loss."""
    for key in ("accuracy", "loss", "log_likelihood", "mse", "rmse", "mae", "r2"):
        if key in metrics:
            plain = " (negative log-likelihood)" if key == "loss" else ""
            print(f"test {key.replace('_', ' ')}: {metrics[key]:.4f}{plain}")
    if "loss_as_trained" in metrics:
        print(f"test loss as trained: {metrics['loss_as_trained']:.4f} "
              f"({metrics['loss_as_trained_is']}, as loss and val_loss per epoch)")
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
        p.allow_abbrev = False  # a flag is given by its full name
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
    except KeyboardInterrupt:
        print(f"chainrule {args.command}: interrupted; a run folder keeps its last checkpoint "
              "(continue it with --resume)", file=sys.stderr)
        _end_other_ranks(130)
        return 130
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
