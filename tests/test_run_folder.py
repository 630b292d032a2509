"""A run folder is never left unusable, and each run fact has one owner (issues 22, 23, 25)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from test_cli import SRC, TINY, run  # the CLI tests' helpers (the source tree, tiny flags)

from chainrule.training.checkpoint import load_checkpoint


def _one_line_error(code, err, *parts):
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for p in parts:
        assert p in err, err


def _blobs_csv(path, n=60, header=("a", "b", "c", "label")):
    rng = np.random.default_rng(0)
    k = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 3)) + 3.0 * np.eye(3)[k]
    with open(path, "w") as f:
        if header:
            f.write(",".join(header) + "\n")
        f.writelines(f"{x[0]:.4f},{x[1]:.4f},{x[2]:.4f},{c}\n" for x, c in zip(X, k))
    return path


def _epoch_of(folder) -> int:
    return int(load_checkpoint(folder / "checkpoint.npz")["epoch"])


def _extend_and_stop(folder, sig, epochs="5000"):
    """``train --out folder --resume --epochs 5000`` in a subprocess, stopped by ``sig``
    half a second after it saved its first new checkpoint."""
    before = _epoch_of(folder)
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.Popen(
        [sys.executable, "-m", "chainrule.cli", "train", "--out", str(folder), "--resume",
         "--epochs", epochs, "--verbose", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if _epoch_of(folder) > before:  # its first new checkpoint is saved
                break
        except Exception:  # noqa: BLE001, S110 - not yet there
            pass
        time.sleep(0.05)
    time.sleep(0.5)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def test_an_interrupted_extension_leaves_the_run_usable(tmp_path, capsys):
    """Ctrl-C, then SIGKILL, during ``--resume --epochs 5000`` of a finished run: evaluate and
    predict still use the finished model, and the extension resumes again."""
    folder = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", folder, *TINY)
    assert code == 0, err
    _, finished, _ = run(capsys, "evaluate", folder, "--json")
    from sklearn.datasets import load_iris

    np.savetxt(tmp_path / "in.csv", load_iris().data[:5], delimiter=",")
    _, predicted, _ = run(capsys, "predict", folder, "--input", tmp_path / "in.csv")

    code, err = _extend_and_stop(folder, signal.SIGINT)
    assert code == 130 and "interrupted" in err and "Traceback" not in err, err
    assert json.loads((folder / "config.json").read_text())["config"]["epochs"] == 5000
    code, out, err = run(capsys, "evaluate", folder, "--json")
    assert code == 0 and out == finished, err
    code, out, err = run(capsys, "predict", folder, "--input", tmp_path / "in.csv")
    assert code == 0 and out == predicted, err

    reached = _epoch_of(folder)
    code, err = _extend_and_stop(folder, signal.SIGKILL)  # a second --resume works
    assert code == -signal.SIGKILL, err
    assert _epoch_of(folder) > reached
    code, out, err = run(capsys, "evaluate", folder, "--json")
    assert code == 0 and out == finished, err


def test_an_extension_writes_its_config_only_after_its_first_checkpoint(tmp_path, capsys,
                                                                         monkeypatch):
    """Stopped before its first new checkpoint, an extension leaves config.json as it was."""
    from chainrule.training import trainer

    folder = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", folder, *TINY)
    assert code == 0, err
    before = {n: (folder / n).read_bytes() for n in ("config.json", "model.npz",
                                                     "checkpoint.npz")}

    def stop(self, path):
        raise KeyboardInterrupt  # as Ctrl-C during the first save

    monkeypatch.setattr(trainer.Trainer, "save_checkpoint", stop)
    code, _, err = run(capsys, "train", "--out", folder, "--resume", "--epochs", "9")
    assert code == 130, err
    assert {n: (folder / n).read_bytes() for n in before} == before
    monkeypatch.undo()
    code, _, err = run(capsys, "train", "--out", folder, "--resume", "--epochs", "4")
    assert code == 0, err
    assert _epoch_of(folder) == 4


def test_a_moved_project_resumes(tmp_path, capsys, monkeypatch):
    """The data file is found relative to the run folder, or given again with --dataset
    (the same sha256); another file is refused."""
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    _blobs_csv(project / "data" / "d.csv")
    monkeypatch.chdir(project)
    code, _, err = run(capsys, "train", "--dataset", "data/d.csv", "--out", "runs/a", *TINY)
    assert code == 0, err
    shutil.copytree(project / "runs" / "a", project / "runs" / "b")
    moved = tmp_path / "moved"
    shutil.move(str(project), str(moved))
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "train", "--out", moved / "runs" / "a", "--resume", "--epochs", "4")
    assert code == 0, err
    code, _, err = run(capsys, "evaluate", moved / "runs" / "a")
    assert code == 0 and "warning" not in err, err
    # the data moved elsewhere: named with --dataset, checked by its sha256
    shutil.move(str(moved / "data"), str(tmp_path / "elsewhere"))
    code, _, err = run(capsys, "train", "--out", moved / "runs" / "b", "--resume", "--epochs", "4")
    _one_line_error(code, err, "--dataset NEW_PATH")
    other = _blobs_csv(tmp_path / "other.csv", n=61)
    code, _, err = run(capsys, "train", "--out", moved / "runs" / "b", "--resume",
                       "--epochs", "4", "--dataset", other)
    _one_line_error(code, err, "another sha256")
    code, _, err = run(capsys, "train", "--out", moved / "runs" / "b", "--resume",
                       "--epochs", "4", "--dataset", tmp_path / "elsewhere" / "d.csv")
    assert code == 0, err
    a = load_checkpoint(moved / "runs" / "a" / "model.npz")["model"]
    b = load_checkpoint(moved / "runs" / "b" / "model.npz")["model"]
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_resume_is_owned_by_the_run_folder(tmp_path):
    """train_run(resume=True) takes only the changes; the saved settings are kept."""
    from chainrule.training.runs import train_run

    quiet = {"verbose": 0, "log": lambda *a: None}
    cfg = {"dataset": "iris", "hidden": [8], "epochs": 2, "batch_size": 16, "l2": 0.0}
    out = str(tmp_path / "r")
    train_run(cfg, out, **quiet)
    train_run({"epochs": 3}, out, resume=True, **quiet)
    straight = train_run({**cfg, "epochs": 3}, str(tmp_path / "s"), **quiet)
    saved = json.loads((tmp_path / "r" / "config.json").read_text())["config"]
    assert saved["hidden"] == [8] and saved["l2"] == 0.0 and saved["epochs"] == 3
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["loss"] == straight["loss"]
    with pytest.raises(ValueError, match="--hidden"):
        train_run({"hidden": [9]}, out, resume=True, **quiet)


def test_adamw_with_weight_decay_zero_trains_the_adam_model(tmp_path, capsys):
    from chainrule import nn
    from chainrule.training import recipes

    models = {}
    for name, flags in (("adam", ["--optimizer", "adam"]),
                        ("adamw0", ["--optimizer", "adamw", "--weight-decay", "0"]),
                        ("adamw", ["--optimizer", "adamw"])):
        if name == "adamw":  # without --weight-decay: the optimiser's default, recorded as such
            code, _, err = run(capsys, "train", "--dataset", "iris", "--out", tmp_path / name,
                               *TINY, *flags, "--epochs", "1")
            assert code == 0, err
            break
        code, _, err = run(capsys, "train", "--dataset", "iris", "--out", tmp_path / name,
                           *TINY, *flags, "--lr", "0.01")
        assert code == 0, err
        models[name] = load_checkpoint(tmp_path / name / "model.npz")["model"]
    for k in models["adam"]:
        np.testing.assert_allclose(models["adamw0"][k], models["adam"][k], rtol=1e-6, atol=1e-7)
    saved = json.loads((tmp_path / "adamw" / "config.json").read_text())["config"]
    assert saved["weight_decay"] is None
    params = nn.Linear(2, 2).parameters()
    opt = recipes.build_optimizer("adamw", params, lr=0.1, weight_decay=saved["weight_decay"])
    assert opt.param_groups[0]["weight_decay"] == recipes.ADAMW_WEIGHT_DECAY == 1e-2
    opt = recipes.build_optimizer("adamw", nn.Linear(2, 2).parameters(), lr=0.1, weight_decay=0)
    assert opt.param_groups[0]["weight_decay"] == 0


def test_a_device_that_cannot_run_is_found_before_anything_is_written(tmp_path, capsys,
                                                                     monkeypatch):
    from chainrule.training import runs

    class NoDriver:  # CuPy installed, no NVIDIA driver: arrays cannot be made
        __name__ = "cupy"

        def asarray(self, *a, **k):
            raise RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is "
                               "insufficient for CUDA runtime version")

    monkeypatch.setattr(runs, "parse_device", lambda device, xp=None: (NoDriver(), 0))
    out = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", "iris", "--device", "cuda", "--out", out)
    _one_line_error(code, err, "cudaErrorInsufficientDriver", "--device cpu")
    assert not out.exists()
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)  # no default folder under runs/ either
    code, _, err = run(capsys, "train", "--dataset", "iris", "--device", "cuda:x")
    _one_line_error(code, err, "cuda:x")
    assert not (tmp_path / "runs").exists()


def test_duplicate_header_names_are_refused_at_training(tmp_path, capsys):
    path = _blobs_csv(tmp_path / "d.csv", header=("a", "b", "a", "label"))
    out = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", path, "--out", out, *TINY)
    _one_line_error(code, err, "distinct column names", "['a']")
    assert not out.exists()


def test_predict_ignores_the_labels_of_a_target_column(tmp_path, capsys):
    path = _blobs_csv(tmp_path / "d.csv")
    out = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", path, "--out", out, *TINY)
    assert code == 0, err
    lines = path.read_text().splitlines()
    (tmp_path / "new.csv").write_text("\n".join(lines[:3] + [lines[3].rsplit(",", 1)[0] +
                                                             ",unseen"]) + "\n")
    code, out_text, err = run(capsys, "predict", out, "--input", tmp_path / "new.csv")
    assert code == 0, err
    assert len(out_text.strip().splitlines()) == 4  # header + 3 rows
    code, _, err = run(capsys, "evaluate", out, "--input", tmp_path / "new.csv")
    _one_line_error(code, err, "unseen labels ['unseen']")  # evaluate needs them


@pytest.mark.parametrize("flags, part", [(["--test-size", "0.001"], "--test-size 0.001"),
                                         (["--val-fraction", "0.001"], "--val-fraction 0.001")])
def test_a_split_that_leaves_no_row_names_its_flag(tmp_path, capsys, flags, part):
    out = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", "iris", "--out", out, *TINY, *flags)
    _one_line_error(code, err, part)
    assert "val_fraction" not in err
