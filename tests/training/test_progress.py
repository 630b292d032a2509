"""Progress display: every epoch figure shows at any width; notebooks get a bar by default."""

import io
import sys
import types

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.training import fit
from chainrule.training import progress as P

LOGS = {"loss": 0.123456, "accuracy": 0.9512, "lr": 0.001, "val_loss": 0.2345678,
        "val_accuracy": 0.93114, "penalty": 0.01, "objective": 0.133}


@pytest.mark.parametrize("width", [20, 40, 60, 80, 200])
def test_epoch_figures_wrap_to_the_width_and_keep_validation(width):
    lines = P.format_logs(LOGS, width, head="Epoch 3/10 (0.2s)")
    text = "\n".join(lines)
    for key in LOGS:
        assert f"{key}=" in text  # no figure lost
    for line in lines:  # within the width, unless one figure alone is longer
        assert len(line) <= width or line.strip().count("=") == 1
    assert lines[0].startswith("Epoch 3/10")
    if width >= 200:
        assert len(lines) == 1
    else:
        assert all(line.startswith("  ") for line in lines[1:])


def test_figures_in_order_of_importance():
    text = " ".join(P.format_logs(LOGS, 500))
    order = [text.index(f"{k}=") for k in
             ("loss", "val_loss", "accuracy", "val_accuracy", "penalty", "objective", "lr")]
    assert order == sorted(order)


@pytest.mark.parametrize("level", [1, 2])
def test_bar_and_epoch_line_on_a_narrow_terminal(level):
    out = io.StringIO()
    bar = P.ProgressBar(level, epochs=2, file=out, width=30)
    bar.epoch_begin(0, 3)
    for _ in range(3):
        bar.batch_end({"loss": 0.5, "accuracy": 0.8})
    bar.epoch_end(0, LOGS)
    bar.close()
    text = out.getvalue()
    assert "val_accuracy=0.9311" in text and "val_loss=0.2346" in text
    for line in text.rstrip("\n").split("\n"):  # the bar's redraws too
        assert max(len(part) for part in line.split("\r")) <= 30


def test_fit_keeps_to_the_terminal_width(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "48")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    cr.manual_seed(0)
    fit(nn.Sequential(nn.Linear(3, 2)), X, y, loss="cross_entropy", optimizer="adam", epochs=2,
        metrics=["accuracy"], validation_split=0.25, verbose=1)
    err = capsys.readouterr().err
    assert err.count("val_accuracy=") == 2 and err.count("val_loss=") == 2
    for line in err.rstrip("\n").split("\n"):
        assert max(len(part) for part in line.split("\r")) <= 48


def test_auto_shows_a_bar_in_a_notebook(monkeypatch):
    class ZMQInteractiveShell:
        pass

    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: ZMQInteractiveShell()
    monkeypatch.setitem(sys.modules, "IPython", fake)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    assert P.in_notebook()
    assert P.resolve_verbose("auto") == 1
    fake.get_ipython = lambda: None  # plain Python with IPython imported
    assert P.resolve_verbose("auto") == 0


def test_falls_back_to_text_bars(monkeypatch):
    pytest.importorskip("tqdm")
    import tqdm.auto

    def no_widget(*args, **kwargs):
        raise ImportError("IProgress not found")

    monkeypatch.setattr(tqdm.auto, "tqdm", no_widget)
    out = io.StringIO()
    bar = P._new_bar(4, 0, "Epoch 1/1", out)
    assert type(bar).__module__ == "tqdm.std"
    bar.close()
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # tqdm not installed
    bar = P._new_bar(4, 1, "Epoch 1/1", out)
    assert isinstance(bar, P._SimpleBar) and bar.n == 1
    bar.close()


def test_fit_prints_validation_figures(capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2))
    fit(model, X, y, loss="cross_entropy", optimizer="adam", epochs=2, metrics=["accuracy"],
        validation_split=0.25, verbose=2)
    err = capsys.readouterr().err
    assert err.count("val_accuracy=") == 2 and "Epoch 2/2" in err
