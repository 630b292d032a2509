import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule
from chainrule.cli import main

# the source tree of the chainrule under test (subprocesses run the same code)
SRC = os.path.dirname(os.path.dirname(os.path.abspath(chainrule.__file__)))
TINY = ["--hidden", "8", "--epochs", "3", "--batch-size", "16", "--verbose", "0"]


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("sub", [[], ["train"], ["evaluate"], ["predict"]])
def test_help_everywhere(capsys, sub):
    with pytest.raises(SystemExit) as info:
        main(sub + ["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: chainrule" in out
    if sub == ["train"]:
        for flag in (
            "--hidden",
            "--activation",
            "--dropout",
            "--batch-norm",
            "--optimizer",
            "--lr",
            "--schedule",
            "--l2",
            "--l1",
            "--max-norm",
            "--label-smoothing",
            "--epochs",
            "--batch-size",
            "--seed",
            "--patience",
            "--dataset",
            "--out",
            "--resume",
        ):
            assert flag in out


def _help_entries(text: str) -> dict:
    """``{flags: help text}`` of argparse's option list."""
    entries: dict = {}
    key = None
    for line in text.splitlines():
        if line.startswith("  -"):
            key = line.split()[0].rstrip(",")
            entries[key] = line
        elif line.startswith("    ") and key:
            entries[key] += " " + line.strip()
        else:
            key = None
    return entries


@pytest.mark.parametrize("sub", ["train", "evaluate", "predict"])
def test_help_states_each_default_once(capsys, sub):
    from chainrule.training._run_config import DEFAULTS, flag

    with pytest.raises(SystemExit):
        main([sub, "--help"])
    entries = _help_entries(capsys.readouterr().out)
    for text in entries.values():
        assert text.count("default") <= 1, text
    if sub == "train":
        for name, value in DEFAULTS.items():
            text = entries[flag(name)]
            assert text.count("default") == 1, text
            if isinstance(value, float):
                assert f"(default: {value})" in text, text
        assert "default: 0.001)" in entries["--l2"] and "default: 0.1)" in entries[
            "--label-smoothing"]


def test_printed_losses_say_which_objective(tmp_path, capsys):
    """The test loss is printed plain and under the training objective (label smoothing),
    the latter being the epoch lines' loss on the test rows."""
    from chainrule.autograd.engine import Tensor
    from chainrule.data import load_split
    from chainrule.nn import functional as F
    from chainrule.training import predict
    from chainrule.training.runs import load_run

    out_dir = tmp_path / "r"
    code, out, err = run(capsys, "train", "--dataset", "iris", "--out", out_dir, *TINY)
    assert code == 0, err
    assert "test loss: " in out and "(negative log-likelihood)" in out
    assert "test loss as trained: " in out and "label smoothing 0.1" in out
    metrics = json.loads((out_dir / "metrics.json").read_text())
    model = load_run(str(out_dir))[0]
    ds = load_split("iris", test_size=0.25, seed=0)
    logits = Tensor(predict(model, ds.X_test))
    smoothed = F.cross_entropy(logits, ds.y_test, label_smoothing=0.1).data
    plain = F.cross_entropy(logits, ds.y_test).data
    assert metrics["loss_as_trained"] == pytest.approx(float(smoothed), rel=1e-5)
    assert metrics["loss"] == pytest.approx(float(plain), rel=1e-5)
    assert f"test loss as trained: {metrics['loss_as_trained']:.4f}" in out


def test_console_script_entry_point():
    env = dict(os.environ, PYTHONPATH=SRC)
    done = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", "evaluate", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "RUN_DIR" in done.stdout.upper()


def test_train_evaluate_predict_on_iris(tmp_path, capsys):
    out_dir = tmp_path / "iris"
    code, out, err = run(
        capsys,
        "train",
        "--dataset",
        "iris",
        "--out",
        out_dir,
        *TINY,
        "--epochs",
        "30",
        "--hidden",
        "16",
        "--lr",
        "0.01",
    )
    assert code == 0, err
    assert "test accuracy: " in out
    acc = float(out.split("test accuracy: ")[1].split()[0])
    assert acc > 0.8
    files = set(os.listdir(out_dir))
    assert {
        "config.json",
        "checkpoint.npz",
        "model.npz",
        "history.csv",
        "history.json",
        "learning_curves.png",
        "metrics.json",
    } <= files
    cfg = json.loads((out_dir / "config.json").read_text())
    assert cfg["config"]["hidden"] == [16] and cfg["data"]["n_classes"] == 3
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(acc, abs=1e-4)
    # evaluate recomputes the same test metrics from the saved run
    code, out, _ = run(capsys, "evaluate", out_dir, "--json")
    assert code == 0 and json.loads(out)["accuracy"] == pytest.approx(metrics["accuracy"])
    # predict on raw (unstandardised) features from a CSV
    from sklearn.datasets import load_iris

    iris = load_iris()
    inp = tmp_path / "new.csv"
    np.savetxt(inp, iris.data[:50:7], delimiter=",", fmt="%.2f")
    target = tmp_path / "pred.csv"
    code, out, err = run(capsys, "predict", out_dir, "--input", inp, "--output", target)
    assert code == 0, err
    rows = list(csv.reader(target.read_text().splitlines()))
    assert rows[0] == ["prediction", "p_setosa", "p_versicolor", "p_virginica"]
    assert [r[0] for r in rows[1:]] == ["setosa"] * 8  # the first 50 rows are setosa
    assert all(abs(sum(map(float, r[1:])) - 1) < 1e-4 for r in rows[1:])
    # wrong number of features: a clear error, exit status 2
    bad = tmp_path / "bad.csv"
    np.savetxt(bad, iris.data[:5, :2], delimiter=",")
    code, _, err = run(capsys, "predict", out_dir, "--input", bad)
    assert code == 2 and "as at training. Received: 2 columns" in err
    # NaN in the input and unseen labels at evaluate: clear errors too
    nan = tmp_path / "nan.csv"
    nan.write_text("5.1,3.5,nan,0.2\n4.9,3.0,1.4,0.2\n")
    code, _, err = run(capsys, "predict", out_dir, "--input", nan)
    assert code == 2 and "NaN or inf in row 0" in err
    unseen = tmp_path / "unseen.csv"
    unseen.write_text("5.1,3.5,1.4,0.2,setosa\n4.9,3.0,1.4,0.2,rosa\n")
    code, _, err = run(capsys, "evaluate", out_dir, "--input", unseen)
    assert code == 2 and "['rosa']" in err
    # an .npz with class ids works; an id out of range is refused
    ids = tmp_path / "ids.npz"
    np.savez(ids, X=iris.data, y=iris.target)
    code, out, err = run(capsys, "evaluate", out_dir, "--input", ids, "--json")
    assert code == 0, err
    assert json.loads(out)["accuracy"] > 0.8
    np.savez(ids, X=iris.data[:3], y=np.array([0, 1, 3]))
    code, _, err = run(capsys, "evaluate", out_dir, "--input", ids)
    assert code == 2 and "class ids in 0..2" in err and "Received: [3]" in err


def test_regression_csv_with_target_name_and_evaluate_on_a_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = 3 * X[:, 0] - 2 * X[:, 1] + 100
    path = tmp_path / "house.csv"
    with open(path, "w") as f:
        f.write("price,a,b,c\n")
        f.writelines(f"{yi:.4f},{xi[0]:.4f},{xi[1]:.4f},{xi[2]:.4f}\n" for xi, yi in zip(X, y))
    out_dir = tmp_path / "run"
    code, out, err = run(
        capsys,
        "train",
        "--dataset",
        path,
        "--target",
        "price",
        "--out",
        out_dir,
        "--hidden",
        "16",
        "--epochs",
        "60",
        "--lr",
        "0.01",
        "--verbose",
        "0",
    )
    assert code == 0, err
    assert "test rmse:" in out and "test r2:" in out
    r2 = float(out.split("test r2: ")[1].split()[0])
    assert r2 > 0.9
    code, out, err = run(capsys, "evaluate", out_dir, "--input", path, "--json")
    assert code == 0, err
    assert json.loads(out)["r2"] > 0.9
    code, out, err = run(capsys, "predict", out_dir, "--input", path)
    preds = [float(r[0]) for r in list(csv.reader(out.splitlines()))[1:]]
    assert np.corrcoef(preds, y)[0, 1] > 0.95


def test_resume_continues_a_run_from_its_checkpoint(tmp_path, capsys):
    out_dir = tmp_path / "wine"
    code, _, err = run(
        capsys, "train", "--dataset", "wine", "--out", out_dir, *TINY, "--epochs", "2"
    )
    assert code == 0, err
    code, out, err = run(capsys, "train", "--out", out_dir, "--resume", "--epochs", "4")
    assert code == 0, err
    assert "resuming" in out
    hist = json.loads((out_dir / "history.json").read_text())
    assert hist["epoch"] == [0, 1, 2, 3]
    # the same folder is never overwritten by a new run
    code, _, err = run(capsys, "train", "--dataset", "wine", "--out", out_dir, *TINY)
    assert code == 2 and "already holds a run" in err


def test_options_build_the_model_they_name(tmp_path, capsys):
    out_dir = tmp_path / "bc"
    code, _, err = run(
        capsys,
        "train",
        "--dataset",
        "breast_cancer",
        "--out",
        out_dir,
        *TINY,
        "--hidden",
        "8",
        "8",
        "--activation",
        "tanh",
        "--dropout",
        "0.2",
        "--batch-norm",
        "--optimizer",
        "nesterov",
        "--lr",
        "0.05",
        "--schedule",
        "cosine",
        "--l2",
        "1e-4",
        "--l1",
        "1e-5",
        "--max-norm",
        "3",
        "--patience",
        "2",
    )
    assert code == 0, err
    from chainrule.training.runs import load_run

    model = load_run(str(out_dir))[0]
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "BatchNorm1d", "Tanh", "Dropout"] * 2 + ["Linear"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--dataset", "/no/such/file.csv"], "no such file"),
        (["train", "--dataset", "cifar"], "Expected a bundled dataset name"),
        (["evaluate", "/no/such/run"], "finished run folder"),
        (["train", "--resume"], "--out"),
    ],
)
def test_errors_are_one_clear_line(tmp_path, capsys, args, message):
    code, _, err = run(capsys, *args, *(["--out", tmp_path / "x"] if "--dataset" in args else []))
    assert code == 2
    assert message in err and "Traceback" not in err


def test_bad_csv_column_is_named(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("a,colour,y\n1,red,0\n2,blue,1\n3,red,0\n4,blue,1\n")
    code, _, err = run(capsys, "train", "--dataset", path, "--out", tmp_path / "r", *TINY)
    assert code == 2 and "'colour'" in err and "'red'" in err


def test_readme_command_defaults_reach_98_percent_on_digits(tmp_path, capsys):
    # `chainrule train --dataset digits` with its defaults (a ~2 s run on 2 cores)
    code, out, err = run(
        capsys, "train", "--dataset", "digits", "--out", tmp_path / "d", "--verbose", "0"
    )
    assert code == 0, err
    metrics = json.loads((tmp_path / "d" / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.98
    assert f"test accuracy: {metrics['accuracy']:.4f}" in out


# --- issue 11: bad input and faults (each was a reproduction on main) -----------------
def _csv(path, X, y, header=None, fmt="{:.4f}", yfmt="{}"):
    with open(path, "w") as f:
        if header:
            f.write(",".join(header) + "\n")
        f.writelines(
            ",".join(fmt.format(v) for v in xi) + "," + yfmt.format(yi) + "\n"
            for xi, yi in zip(X, y)
        )
    return path


def _blobs(n=90, seed=0, labels=(1, 2, 3)):
    rng = np.random.default_rng(seed)
    k = rng.integers(0, len(labels), n)
    X = rng.normal(size=(n, 3)) + 3.0 * np.eye(3)[k]
    return X, np.array(labels)[k]


def _one_line_error(code, err, *parts):
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for p in parts:
        assert p in err, err


def test_a_run_folder_has_one_writer(tmp_path, capsys):
    from chainrule.training._run_folder import RunLock

    out_dir = tmp_path / "busy"
    with RunLock(str(out_dir)):  # another process would hold the same lock
        code, _, err = run(capsys, "train", "--dataset", "iris", "--out", out_dir, *TINY)
    _one_line_error(code, err, str(out_dir), f"pid {os.getpid()}")
    assert not (out_dir / "config.json").exists()
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", out_dir, *TINY)
    assert code == 0, err  # the lock went with its holder


def test_two_writers_in_two_processes(tmp_path):
    out_dir = tmp_path / "race"
    cmd = [sys.executable, "-m", "chainrule.cli", "train", "--dataset", "iris", "--out",
           str(out_dir), "--hidden", "8", "--epochs", "30", "--verbose", "0"]
    env = dict(os.environ, PYTHONPATH=SRC)
    procs = [subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes == [0, 2], results
    err = next(e for c, e in results if c == 2)
    assert ("is writing this run folder" in err or "already holds a run" in err), err
    assert "Traceback" not in err


def test_default_run_folders_are_unique_and_printed(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outs = []
    for _ in range(2):
        code, out, err = run(capsys, "train", "--dataset", "iris", *TINY)
        assert code == 0, err
        outs.append(out.split("run folder: ")[1].split("\n")[0])
    assert outs[0] != outs[1] and all(o.startswith(os.path.join("runs", "iris-")) for o in outs)
    assert all((tmp_path / o / "model.npz").exists() for o in outs)


def test_a_folder_of_the_users_files_is_refused_and_untouched(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in ("history.csv", "metrics.json", "model.npz"):
        (mine / name).write_text(f"my own {name}")
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", mine, *TINY)
    _one_line_error(code, err, "did not write", "history.csv")
    for name in ("history.csv", "metrics.json", "model.npz"):
        assert (mine / name).read_text() == f"my own {name}"
    assert sorted(os.listdir(mine)) == ["history.csv", "metrics.json", "model.npz"]


def test_stale_temporary_files_are_removed_on_the_next_start(tmp_path, capsys):
    out_dir = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", out_dir, *TINY)
    assert code == 0, err
    (out_dir / ".tmp-killed.npz").write_bytes(b"half a checkpoint")
    code, _, err = run(capsys, "train", "--out", out_dir, "--resume", "--epochs", "4")
    assert code == 0, err
    assert not [n for n in os.listdir(out_dir) if n.startswith(".tmp-")]


def test_real_valued_target_is_regression(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 3))
    y = np.round(150 + 40 * X[:, 0] + 20 * X[:, 1])  # whole values, written as 151.0
    path = _csv(tmp_path / "d.csv", X, y, yfmt="{:.1f}")
    code, out, err = run(capsys, "train", "--dataset", path, "--out", tmp_path / "r", *TINY)
    assert code == 0, err
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["data"]["task"] == "regression" and "test rmse" in out
    # written as integers with many distinct values: ambiguous, so ask
    path = _csv(tmp_path / "i.csv", X, y.astype(int))
    code, _, err = run(capsys, "train", "--dataset", path, "--out", tmp_path / "q", *TINY)
    _one_line_error(code, err, "--task")
    code, _, err = run(capsys, "train", "--dataset", path, "--out", tmp_path / "q", *TINY,
                       "--task", "regression")
    assert code == 0, err


def test_task_flag_is_honoured_on_a_class_dataset(tmp_path, capsys):
    code, out, err = run(capsys, "train", "--dataset", "iris", "--task", "regression",
                         "--out", tmp_path / "r", *TINY)
    assert code == 0, err
    assert json.loads((tmp_path / "r" / "config.json").read_text())["data"]["task"] == "regression"
    assert "test rmse" in out


def test_evaluate_on_a_headerless_file_uses_the_training_target_column(tmp_path, capsys):
    X, y = _blobs(labels=(0, 1, 2))
    path = tmp_path / "h.csv"
    with open(path, "w") as f:  # target first
        f.writelines(f"{yi},{xi[0]:.4f},{xi[1]:.4f},{xi[2]:.4f}\n" for xi, yi in zip(X, y))
    out_dir = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", path, "--target", "0", "--out", out_dir,
                       "--hidden", "16", "--epochs", "30", "--lr", "0.01", "--verbose", "0")
    assert code == 0, err
    code, out, err = run(capsys, "evaluate", out_dir, "--input", path, "--json")
    assert code == 0, err
    code, pred, err = run(capsys, "predict", out_dir, "--input", path)
    assert code == 0, err
    labels = [int(r[0]) for r in list(csv.reader(pred.splitlines()))[1:]]
    assert json.loads(out)["accuracy"] == pytest.approx(np.mean(np.array(labels) == y))
    assert json.loads(out)["accuracy"] > 0.6  # the model learnt something from column 0


def test_predict_matches_columns_by_name(tmp_path, capsys):
    X, y = _blobs()
    path = _csv(tmp_path / "d.csv", X, y, header=["a", "b", "c", "label"])
    out_dir = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", path, "--out", out_dir, *TINY)
    assert code == 0, err
    code, straight, err = run(capsys, "predict", out_dir, "--input", path)
    assert code == 0, err
    with open(tmp_path / "swapped.csv", "w") as f:  # same columns, another order
        f.write("c,label,a,b\n")
        f.writelines(f"{xi[2]:.4f},{yi},{xi[0]:.4f},{xi[1]:.4f}\n" for xi, yi in zip(X, y))
    code, swapped, err = run(capsys, "predict", out_dir, "--input", tmp_path / "swapped.csv")
    assert code == 0, err
    assert swapped == straight
    (tmp_path / "missing.csv").write_text("a,b,d\n1,2,3\n")
    code, _, err = run(capsys, "predict", out_dir, "--input", tmp_path / "missing.csv")
    _one_line_error(code, err, "missing ['c']", "unknown ['d']")
    (tmp_path / "count.csv").write_text("1,2\n3,4\n")
    code, _, err = run(capsys, "predict", out_dir, "--input", tmp_path / "count.csv")
    _one_line_error(code, err, "Received: 2 columns")


def test_unseen_labels_are_an_error_naming_them(tmp_path, capsys):
    X, y = _blobs(labels=(1, 2, 3))
    path = _csv(tmp_path / "d.csv", X, y)
    out_dir = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", path, "--out", out_dir, *TINY)
    assert code == 0, err
    new = _csv(tmp_path / "new.csv", X[:4], [0, 1, 2, 7])
    code, _, err = run(capsys, "evaluate", out_dir, "--input", new)
    _one_line_error(code, err, "unseen labels ['0', '7']")


def test_divergence_is_caught_for_every_optimiser(tmp_path, capsys):
    # Adam's steps are bounded by lr: the loss explodes but stays finite
    out_dir = tmp_path / "adam"
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", out_dir,
                       "--optimizer", "adam", "--lr", "1e6", "--hidden", "16",
                       "--epochs", "3", "--verbose", "0")
    assert code == 0 and err.count("\n") == 1, err
    assert "warning: training diverged" in err
    assert "diverged" in json.loads((out_dir / "metrics.json").read_text())["warning"]
    # SGD's loss becomes NaN: stopped naming epoch and step, the last checkpoint kept
    out_dir = tmp_path / "sgd"
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", out_dir,
                       "--optimizer", "sgd", "--lr", "1e6", "--hidden", "16",
                       "--epochs", "3", "--verbose", "0")
    _one_line_error(code, err, "Loss became nan at epoch", "optimiser steps")
    from chainrule.training.checkpoint import load_checkpoint

    state = load_checkpoint(out_dir / "checkpoint.npz")
    assert all(np.isfinite(v).all() for v in state["model"].values())


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
def test_sane_runs_give_no_divergence_warning(tmp_path, capsys, optimizer):
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", tmp_path / "r",
                       "--optimizer", optimizer, "--lr", "0.01", *TINY)
    assert code == 0 and "warning" not in err, err
    assert "warning" not in json.loads((tmp_path / "r" / "metrics.json").read_text())


@pytest.mark.parametrize(
    "flags, parts",
    [
        (["--checkpoint-every", "-1"], ["--checkpoint-every", ">= 0", "-1"]),
        (["--batch-size", "0"], ["--batch-size", ">= 1"]),
        (["--lr", "-1"], ["--lr", "> 0"]),
        (["--test-size", "0"], ["--test-size", "(0.0, 1.0)"]),
        (["--dropout", "1.5"], ["--dropout", "[0.0, 1.0)"]),
        (["--epochs", "2.5"], ["--epochs", "whole number", "'2.5'"]),
        (["--batch-size", "1e3"], ["--batch-size", "whole number"]),
        (["--lr", "fast"], ["--lr", "number", "'fast'"]),
    ],
)
def test_bad_flags_are_one_line_naming_the_flag_and_range(tmp_path, capsys, flags, parts):
    out_dir = tmp_path / "r"
    try:
        code = main(["train", "--dataset", "iris", "--out", str(out_dir), *flags])
    except SystemExit as stop:  # argparse's own check (type errors)
        code = stop.code
    err = capsys.readouterr().err
    _one_line_error(code, err, *parts)
    assert not out_dir.exists()  # nothing was made, so the same --out works next
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", out_dir, *TINY)
    assert code == 0, err


def test_resume_refuses_flags_that_would_change_the_run(tmp_path, capsys):
    out_dir = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", out_dir, *TINY)
    assert code == 0, err
    before = (out_dir / "config.json").read_text()
    for flags, part in ((["--lr", "0.1"], "--lr"), (["--epochs", "1"], "--epochs >= 3"),
                        (["--dataset", "wine"], "--dataset")):
        code, _, err = run(capsys, "train", "--out", out_dir, "--resume", *flags)
        _one_line_error(code, err, part)
    assert (out_dir / "config.json").read_text() == before
    code, _, err = run(capsys, "train", "--out", tmp_path / "never", "--resume")
    _one_line_error(code, err, "no such folder")


def test_edited_config_is_refused(tmp_path, capsys):
    out_dir = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", out_dir, *TINY)
    assert code == 0, err
    path = out_dir / "config.json"
    good = path.read_text()
    saved = json.loads(good)
    saved["data"]["classes"].reverse()
    path.write_text(json.dumps(saved))
    code, _, err = run(capsys, "predict", out_dir, "--input", tmp_path / "any.csv")
    _one_line_error(code, err, "config.json", "checksum")
    # a key removed, checksum forged to match: named, no KeyError
    from chainrule.training._run_folder import content_sha256

    saved = json.loads(good)
    del saved["config"]["hidden"]
    saved["sha256"] = content_sha256({"config": saved["config"], "data": saved["data"]})
    path.write_text(json.dumps(saved))
    code, _, err = run(capsys, "evaluate", out_dir)
    _one_line_error(code, err, "'hidden'")
    path.write_text("{not json")
    code, _, err = run(capsys, "evaluate", out_dir)
    _one_line_error(code, err, "config.json", "JSONDecodeError")


def test_config_from_another_run_is_refused(tmp_path, capsys):
    for name, hidden in (("a", "8"), ("b", "8")):
        code, _, err = run(capsys, "train", "--dataset", "iris", "--out", tmp_path / name,
                           *TINY, "--seed", "1" if name == "a" else "2", "--hidden", hidden)
        assert code == 0, err
    (tmp_path / "a" / "config.json").write_text((tmp_path / "b" / "config.json").read_text())
    code, _, err = run(capsys, "evaluate", tmp_path / "a")
    _one_line_error(code, err, "another config")


@pytest.mark.parametrize(
    "fault, parts",
    [
        (OSError(28, "No space left on device", "model.npz"), ["No space left", "model.npz"]),
        (MemoryError(), ["memory", "--batch-size"]),
        (KeyError("x"), ["KeyError", "--debug"]),
    ],
)
def test_faults_while_saving_are_one_line(tmp_path, capsys, monkeypatch, fault, parts):
    from chainrule.training import checkpoint

    def fail(*args, **kwargs):
        raise fault

    monkeypatch.setattr(checkpoint, "save_model", fail)
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", tmp_path / "r", *TINY)
    _one_line_error(code, err, *parts)
    with pytest.raises(type(fault)):
        main(["--debug", "train", "--dataset", "iris", "--out", str(tmp_path / "d"), *TINY])


def test_impossible_output_path_is_one_line(tmp_path, capsys):
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", afile / "sub", *TINY)
    _one_line_error(code, err, "file.txt")
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", afile, *TINY)
    _one_line_error(code, err, "is a file")
    assert afile.read_text() == "x"


def test_dataset_path_that_is_a_folder(tmp_path, capsys):
    (tmp_path / "data.csv").mkdir()
    code, _, err = run(capsys, "train", "--dataset", tmp_path / "data.csv",
                       "--out", tmp_path / "r", *TINY)
    _one_line_error(code, err, "is a folder")


def test_predict_into_a_closed_pipe_is_quiet(tmp_path, capsys):
    out_dir = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", out_dir, *TINY)
    assert code == 0, err
    from sklearn.datasets import load_iris

    data = np.tile(load_iris().data, (200, 1))  # enough rows to fill the pipe
    np.savetxt(tmp_path / "in.csv", data, delimiter=",", fmt="%.2f")
    env = dict(os.environ, PYTHONPATH=SRC)
    cmd = (f"{sys.executable} -m chainrule.cli predict {out_dir} --input {tmp_path / 'in.csv'}"
           " | head -n 2")
    done = subprocess.run(cmd, shell=True, capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert done.stdout.count("\n") == 2
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_relative_dataset_path_works_from_another_folder(tmp_path, capsys, monkeypatch):
    X, y = _blobs()
    work = tmp_path / "work"
    work.mkdir()
    _csv(work / "d.csv", X, y)
    monkeypatch.chdir(work)
    code, _, err = run(capsys, "train", "--dataset", "d.csv", "--out", tmp_path / "r", *TINY)
    assert code == 0, err
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["config"]["dataset"] == str(work / "d.csv")
    assert len(saved["data"]["dataset_sha256"]) == 64
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "evaluate", tmp_path / "r", "--json")
    assert code == 0 and "warning" not in err, err
    first = json.loads(out)
    # the dataset changed after training: evaluate still scores, with a warning
    with open(work / "d.csv", "a") as f:
        f.write("0.1,0.2,0.3,1\n")
    code, out, err = run(capsys, "evaluate", tmp_path / "r", "--json")
    assert code == 0 and "warning: the dataset" in err and "changed" in err, err
    assert set(json.loads(out)) == set(first)


def test_split_seed_seeds_the_split_and_seed_does_not(tmp_path, capsys):
    digests = {}
    for name, flags in (("a", ["--seed", "1"]), ("b", ["--seed", "2"]),
                        ("c", ["--seed", "1", "--split-seed", "5"])):
        code, _, err = run(capsys, "train", "--dataset", "iris", "--out", tmp_path / name,
                           *TINY, *flags)
        assert code == 0, err
        saved = json.loads((tmp_path / name / "config.json").read_text())
        digests[name] = saved["data"]["split_sha256"]
    assert digests["a"] == digests["b"] != digests["c"]


@pytest.mark.parametrize("drop", ["optimizer", "history", "rng"])
def test_forged_checkpoint_on_resume_is_one_line(tmp_path, capsys, drop):
    from chainrule.training import checkpoint

    out_dir = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", out_dir, *TINY)
    assert code == 0, err
    state = checkpoint.load_checkpoint(out_dir / "checkpoint.npz")
    del state[drop]  # saved again: the checksum is valid, the content is not
    checkpoint.save_checkpoint(out_dir / "checkpoint.npz", state)
    code, _, err = run(capsys, "train", "--out", out_dir, "--resume", "--epochs", "4")
    _one_line_error(code, err, "checkpoint.npz", "forged or foreign")


def test_predict_output_into_a_missing_folder_names_it(tmp_path, capsys):
    out_dir = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", out_dir, *TINY)
    assert code == 0, err
    from sklearn.datasets import load_iris

    np.savetxt(tmp_path / "in.csv", load_iris().data[:5], delimiter=",")
    target = tmp_path / "no" / "such" / "p.csv"
    code, _, err = run(capsys, "predict", out_dir, "--input", tmp_path / "in.csv",
                       "--output", target)
    _one_line_error(code, err, str(target), "No such file or directory")
    assert ".tmp-" not in err


def test_sigkill_then_resume_is_bit_identical_and_frees_the_folder(tmp_path, capsys):
    import signal
    import time

    from chainrule.training.checkpoint import load_checkpoint

    flags = ["--dataset", "iris", "--hidden", "16", "--dropout", "0.2", "--epochs", "150",
             "--batch-size", "16", "--checkpoint-every", "5", "--verbose", "0"]
    code, _, err = run(capsys, "train", "--out", tmp_path / "whole", *flags)
    assert code == 0, err
    killed = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.Popen([sys.executable, "-m", "chainrule.cli", "train", "--out",
                             str(killed), *flags], env=env)
    deadline = time.monotonic() + 60
    while not (killed / "checkpoint.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (killed / "metrics.json").exists()  # killed mid-run
    code, _, err = run(capsys, "train", "--out", killed, "--resume")
    assert code == 0, err  # the killed writer's lock went with it
    a = load_checkpoint(tmp_path / "whole" / "model.npz")["model"]
    b = load_checkpoint(killed / "model.npz")["model"]
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not [n for n in os.listdir(killed) if n.startswith(".tmp-")]
