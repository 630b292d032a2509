import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.training import (
    EarlyStopping,
    LambdaCallback,
    LearningRateSchedulerCallback,
    ModelCheckpoint,
    fit,
    load_checkpoint,
)


def data(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] > 0).astype(np.int64)
    return X, y


def model_and_opt(lr=0.05):
    m = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))
    return m, cr.optim.SGD(m.parameters(), lr=lr)


class Script(LambdaCallback):
    """Feeds a scripted 'score' into the logs and records parameters per epoch."""

    def __init__(self, scores):
        super().__init__()
        self.scores = scores
        self.params = []

    def on_epoch_end(self, epoch, logs):
        logs["score"] = self.scores[epoch]
        self.params.append([p.data.copy() for p in self.model.parameters()])


def run(scores, epochs, **es):
    X, y = data()
    model, opt = model_and_opt()
    script = Script(scores)
    stop = EarlyStopping(monitor="score", **es)
    hist = fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=epochs,
        batch_size=20,
        callbacks=[script, stop],
        verbose=0,
    )
    return model, script, stop, hist


def test_early_stopping_stops_after_patience_and_restores_best():
    scores = [5.0, 3.0, 4.0, 2.5, 2.6, 2.7, 2.8, 1.0]
    model, script, stop, hist = run(scores, 8, patience=3)
    assert len(hist) == 7  # best at epoch 3, three epochs without improvement
    assert (stop.best, stop.best_epoch, stop.best_step) == (2.5, 3, 16)
    assert stop.stopped_epoch == 6
    for a, p in zip(script.params[3], model.parameters()):
        np.testing.assert_array_equal(a, p.data)


def test_early_stopping_restores_best_also_when_epochs_run_out():
    model, script, stop, hist = run([3.0, 1.0, 2.0, 2.5], 4, patience=10)
    assert len(hist) == 4 and stop.stopped_epoch is None and stop.best_epoch == 1
    for a, p in zip(script.params[1], model.parameters()):
        np.testing.assert_array_equal(a, p.data)


def test_early_stopping_mode_and_min_delta():
    # "max" mode: accuracy-like names go up; auto picks max for them
    assert EarlyStopping(monitor="val_accuracy").mode == "max"
    assert EarlyStopping(monitor="val_loss").mode == "min"
    _, _, stop, hist = run([1.0, 0.95, 0.9, 0.85, 0.8], 5, patience=2, min_delta=0.1)
    assert len(hist) == 3 and stop.best == 1.0  # improvements of 0.05 do not count
    _, _, stop, _ = run([1.0, 2.0, 3.0], 3, patience=1, mode="max")
    assert stop.best == 3.0
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_early_stopping_without_the_monitored_key_says_so():
    X, y = data()
    model, opt = model_and_opt()
    with pytest.raises(KeyError, match="val_loss.*validation data"):
        fit(
            model,
            X,
            y,
            loss="cross_entropy",
            optimizer=opt,
            callbacks=[EarlyStopping()],
            verbose=0,
        )


def test_model_checkpoint_every_epoch_and_best_only(tmp_path):
    X, y = data()
    model, opt = model_and_opt()
    every = ModelCheckpoint(tmp_path / "e{epoch}.npz")
    best = ModelCheckpoint(tmp_path / "best.npz", monitor="score", save_best_only=True)
    saved_at = []
    best_save = best._save
    best._save = lambda epoch: (saved_at.append(epoch), best_save(epoch))
    fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=4,
        batch_size=20,
        callbacks=[best, every, Script([3.0, 1.0, 2.0, 0.5])],
        verbose=0,
    )
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "e1.npz", "e2.npz", "e3.npz", "e4.npz"]
    assert saved_at == [0, 1, 3]
    state = load_checkpoint(tmp_path / "e2.npz")
    assert state["epoch"] == 2 and state["global_step"] == 8
    assert len(state["history"]["epoch"]) == 2
    final = load_checkpoint(tmp_path / "e4.npz")
    for (name, arr), p in zip(final["model"].items(), model.parameters()):
        np.testing.assert_array_equal(arr, p.data)


def test_model_checkpoint_every_n_steps(tmp_path):
    X, y = data()
    model, opt = model_and_opt()
    fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=2,
        batch_size=20,
        callbacks=[ModelCheckpoint(tmp_path / "s{step}.npz", every_n_steps=3, every_n_epochs=0)],
        verbose=0,
    )
    assert sorted(os.listdir(tmp_path)) == ["s3.npz", "s6.npz"]
    state = load_checkpoint(tmp_path / "s6.npz")
    assert state["epoch"] == 1 and state["loader"]["position"] == 2


def test_learning_rate_scheduler_callback_function_and_object():
    X, y = data()
    model, opt = model_and_opt(lr=0.1)
    halve = LearningRateSchedulerCallback(lambda epoch, lr: lr / 2)
    hist = fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=3,
        batch_size=40,
        callbacks=[halve],
        verbose=0,
    )
    assert hist.history["lr"] == [0.1, 0.05, 0.025]
    model, opt = model_and_opt(lr=0.1)
    sched = cr.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=2,
        batch_size=40,
        callbacks=[LearningRateSchedulerCallback(sched, interval="step")],
        verbose=0,
    )
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.1**2)
    with pytest.raises(ValueError, match="interval"):
        LearningRateSchedulerCallback(sched, interval="batch")


def test_lambda_callback_hook_order():
    X, y = data(40)
    model, opt = model_and_opt()
    log = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: log.append("train_begin"),
        on_epoch_begin=lambda e, logs: log.append(f"epoch_begin {e}"),
        on_batch_end=lambda s, logs: log.append(f"batch {s}"),
        on_epoch_end=lambda e, logs: log.append(f"epoch_end {e} {sorted(logs)}"),
        on_train_end=lambda logs: log.append("train_end"),
    )
    fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=2,
        batch_size=20,
        validation_data=(X, y),
        callbacks=[cb],
        verbose=0,
    )
    keys = "['loss', 'lr', 'val_loss']"
    assert log == [
        "train_begin",
        "epoch_begin 0",
        "batch 1",
        "batch 2",
        f"epoch_end 0 {keys}",
        "epoch_begin 1",
        "batch 3",
        "batch 4",
        f"epoch_end 1 {keys}",
        "train_end",
    ]
    with pytest.raises(TypeError, match="callable"):
        LambdaCallback(on_epoch_end=3)
    with pytest.raises(TypeError, match="Callback instances"):
        fit(model, X, y, loss="cross_entropy", optimizer=opt, callbacks=[print])


@pytest.mark.parametrize("kwargs", [{"every_n_steps": -1}, {"every_n_epochs": -2},
                                    {"every_n_steps": 2.5}])
def test_model_checkpoint_refuses_negative_or_fractional_periods(tmp_path, kwargs):
    from chainrule.training.callbacks import ModelCheckpoint

    with pytest.raises(ValueError, match=f"Expected {next(iter(kwargs))} to be a whole number"):
        ModelCheckpoint(tmp_path / "c.npz", **kwargs)
