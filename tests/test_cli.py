import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from chainrule.cli import main

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
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
