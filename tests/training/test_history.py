import json
import math
import sys

import numpy as np
import pytest

from chainrule.training import History


def sample():
    h = History()
    h.append(0, {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.2, "val_accuracy": 0.4})
    h.append(1, {"loss": 0.5, "accuracy": 0.75, "val_loss": 0.9, "val_accuracy": 0.6})
    h.append(
        2, {"loss": 0.25, "accuracy": 0.875, "val_loss": 1.0, "val_accuracy": 0.65, "lr": 0.01}
    )
    return h


def test_append_pads_new_keys_with_nan():
    h = sample()
    assert h.epoch == [0, 1, 2] and len(h) == 3
    assert math.isnan(h.history["lr"][0]) and h.history["lr"][2] == 0.01


def test_csv_round_trip(tmp_path):
    h = sample()
    h.to_csv(tmp_path / "h.csv")
    lines = (tmp_path / "h.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss,accuracy,val_loss,val_accuracy,lr"
    assert lines[1].startswith("1,1.0,0.5,")
    back = History.from_csv(tmp_path / "h.csv")
    assert back.epoch == h.epoch
    assert back.history["val_loss"] == h.history["val_loss"]


def test_json_round_trip_writes_nan_as_null(tmp_path):
    h = sample()
    h.to_json(tmp_path / "h.json")
    raw = json.loads((tmp_path / "h.json").read_text())
    assert raw["history"]["lr"][0] is None
    back = History.from_json(tmp_path / "h.json")
    assert back.history["loss"] == h.history["loss"] and math.isnan(back.history["lr"][0])


def test_plot_writes_a_png_with_train_and_validation_curves(tmp_path):
    pytest.importorskip("matplotlib")
    h = sample()
    path = tmp_path / "sub" / "curves.png"
    h.plot(path, title="test")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    from PIL import Image

    img = np.asarray(Image.open(path))
    assert img.shape[1] > img.shape[0]  # two panels side by side: loss and accuracy


def test_plot_picks_a_metric_with_validation_values(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    h = History()
    h.append(
        0,
        {
            "loss": 1.0,
            "penalty": 0.1,
            "mae": 0.5,
            "accuracy": 0.5,
            "val_loss": 1.0,
            "val_accuracy": 0.4,
            "lr": 0.1,
        },
    )
    labels = []
    real = Figure.savefig

    def spy(self, *args, **kwargs):
        labels.extend(ax.get_ylabel() for ax in self.axes)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    h.plot(tmp_path / "c.png")
    assert labels == ["loss", "accuracy"]
    h.plot(tmp_path / "d.png", metric="mae")
    assert labels[2:] == ["loss", "mae"]


def test_plot_without_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[plot\]'"):
        sample().plot(tmp_path / "x.png")


def test_plot_of_empty_history_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least one recorded epoch"):
        History().plot(tmp_path / "x.png")
