"""The TensorBoard callback writes fit's logs as scalar series."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.training import TensorBoard, fit


class RecordingWriter:
    def __init__(self):
        self.scalars = []
        self.flushes = 0

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def flush(self):
        self.flushes += 1


def _fit(callback, epochs=3):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    return fit(model, X, y, loss="cross_entropy", optimizer=cr.optim.SGD(model.parameters(),
               lr=0.1), epochs=epochs, batch_size=10, validation_split=0.25,
               metrics=["accuracy"], callbacks=[callback], verbose=0)


def test_epoch_and_batch_scalars_match_history():
    writer = RecordingWriter()
    history = _fit(TensorBoard(writer=writer, batch_every=2))
    epoch = {(t, s): v for t, v, s in writer.scalars if t.startswith("epoch/")}
    for name, values in history.history.items():
        for e, v in enumerate(values):
            assert epoch[(f"epoch/{name}", e)] == pytest.approx(v)
    steps = sorted({s for t, _, s in writer.scalars if t == "batch/loss"})
    assert steps and all(s % 2 == 0 for s in steps)
    assert writer.flushes == 3


def test_tensorboardx_event_files(tmp_path):
    pytest.importorskip("tensorboardX", reason="needs tensorboardX")
    _fit(TensorBoard(tmp_path / "tb"), epochs=2)
    files = list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert files and files[0].stat().st_size > 0


def test_bad_arguments():
    with pytest.raises(TypeError, match="add_scalar"):
        TensorBoard(writer=object())
    with pytest.raises(ValueError, match="batch_every"):
        TensorBoard(writer=RecordingWriter(), batch_every=-1)
