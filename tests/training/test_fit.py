import io
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.data import DataLoader, TensorDataset
from chainrule.training import (
    Callback,
    LambdaCallback,
    NonFiniteLossError,
    Trainer,
    evaluate,
    fit,
    predict,
)


def blobs(n=120, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centers = rng.normal(0, 3, size=(k, d))
    X = (centers[y] + rng.normal(size=(n, d))).astype(np.float32)
    return X, y.astype(np.int64)


def mlp(d=4, k=3, h=16, dropout=0.0):
    layers = [nn.Linear(d, h), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(h, k))


def test_fit_learns_and_records_history():
    X, y = blobs()
    model = mlp()
    opt = cr.optim.Adam(model.parameters(), lr=0.02)
    hist = fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=8,
        batch_size=16,
        validation_split=0.25,
        metrics=["accuracy"],
        verbose=0,
    )
    assert hist.epoch == list(range(8))
    assert set(hist.history) == {"loss", "accuracy", "lr", "val_loss", "val_accuracy"}
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert hist.history["val_accuracy"][-1] > 0.9
    assert not model.training  # left in eval mode


def test_fit_is_the_plain_minibatch_sgd_loop():
    # fit must do exactly: shuffle, forward, loss, zero_grad, backward, step
    X, y = blobs(50)
    cr.manual_seed(5)
    m1 = mlp()
    o1 = cr.optim.SGD(m1.parameters(), lr=0.1, momentum=0.9)
    fit(m1, X, y, loss="cross_entropy", optimizer=o1, epochs=3, batch_size=8, verbose=0)
    cr.manual_seed(5)
    m2 = mlp()
    o2 = cr.optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True)
    for _ in range(3):
        for xb, yb in loader:
            loss = F.cross_entropy(m2(cr.tensor(xb)), yb)
            o2.zero_grad()
            loss.backward()
            o2.step()
    for a, b in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


class ModeSpy(nn.Module):
    """Identity layer that records (training flag, grad enabled) per call."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, cr.is_grad_enabled()))
        return x


def test_train_mode_for_steps_eval_mode_without_grad_for_validation_and_predict():
    X, y = blobs(40)
    spy = ModeSpy()
    model = nn.Sequential(nn.Linear(4, 3), spy)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    fit(
        model,
        X[:32],
        y[:32],
        loss="cross_entropy",
        optimizer=opt,
        epochs=1,
        batch_size=16,
        validation_data=(X[32:], y[32:]),
        verbose=0,
    )
    # probe(s) of the data checks, 2 training steps, 1 validation pass
    assert spy.calls[-3:] == [(True, True), (True, True), (False, False)]
    spy.calls.clear()
    predict(model, X)
    evaluate(model, X, y, loss="cross_entropy")
    assert all(c == (False, False) for c in spy.calls)


def test_metrics_match_independent_computations():
    from scipy.special import log_softmax

    X, y = blobs(60)
    model = mlp()
    out = predict(model, X)
    res = evaluate(
        model,
        X,
        y,
        loss="cross_entropy",
        metrics=["accuracy", "log_likelihood", "loss"],
        batch_size=7,
    )
    logp = log_softmax(out.astype(np.float64), axis=1)[np.arange(60), y]
    assert res["accuracy"] == pytest.approx(np.mean(out.argmax(1) == y))
    assert res["log_likelihood"] == pytest.approx(logp.mean(), rel=1e-6)
    assert res["loss"] == pytest.approx(-logp.mean(), rel=1e-5)
    # regression: mse, mae and the Gaussian log-likelihood at the ML variance
    reg = nn.Linear(4, 1)
    t = np.random.default_rng(1).normal(size=60).astype(np.float32)
    pred = predict(reg, X)[:, 0].astype(np.float64)
    res = evaluate(reg, X, t, loss="mse", metrics=["mse", "mae", "log_likelihood"])
    mse = np.mean((pred - t) ** 2)
    assert res["mse"] == pytest.approx(mse, rel=1e-5)
    assert res["loss"] == pytest.approx(mse, rel=1e-5)
    assert res["mae"] == pytest.approx(np.mean(np.abs(pred - t)), rel=1e-5)
    assert res["log_likelihood"] == pytest.approx(-0.5 * np.log(2 * np.pi * mse) - 0.5, rel=1e-5)


def test_binary_accuracy_and_bernoulli_log_likelihood():
    X, _ = blobs(50)
    t = (X[:, 0] > 0).astype(np.int64)
    model = nn.Linear(4, 1)
    z = predict(model, X)[:, 0].astype(np.float64)
    res = evaluate(model, X, t, loss="bce", metrics=["accuracy", "log_likelihood"])
    assert res["accuracy"] == pytest.approx(np.mean((z > 0) == t))
    ll = np.where(t == 1, -np.logaddexp(0, -z), -np.logaddexp(0, z)).mean()
    assert res["log_likelihood"] == pytest.approx(ll, rel=1e-6)
    assert res["loss"] == pytest.approx(-ll, rel=1e-5)


def test_user_metric_and_user_loss_callable():
    X, y = blobs(30)
    model = mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.05)

    def top_logit(out, target):
        return float(out.max(axis=1).mean())

    def my_loss(out, target):
        return F.cross_entropy(out, target, label_smoothing=0.1)

    hist = fit(model, X, y, loss=my_loss, optimizer=opt, epochs=2, metrics=[top_logit], verbose=0)
    assert len(hist.history["top_logit"]) == 2
    with pytest.raises(ValueError, match="Expected a metric"):
        fit(model, X, y, loss="cross_entropy", optimizer=opt, metrics=["f1"])
    with pytest.raises(ValueError, match="Expected a loss"):
        fit(model, X, y, loss="hinge", optimizer=opt)


def test_regularizers_constraints_and_penalty_log():
    from chainrule.regularization import L2Penalty, MaxNorm

    X, y = blobs(60)
    model = mlp(h=32)
    opt = cr.optim.SGD(model.parameters(), lr=0.5)
    hist = fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=3,
        verbose=0,
        regularizers=[L2Penalty(1e-3)],
        constraints=[MaxNorm(0.5)],
    )
    assert all(p > 0 for p in hist.history["penalty"])
    for layer in (model[0], model[2]):
        norms = np.sqrt((layer.weight.data.astype(np.float64) ** 2).sum(axis=0))
        assert norms.max() <= 0.5 * (1 + 1e-5)


def test_scheduler_per_step_and_per_epoch():
    X, y = blobs(40)
    for interval, expected in (("step", [0.1 * 0.5**5, 0.1 * 0.5**10]), ("epoch", [0.1, 0.05])):
        model = mlp()
        opt = cr.optim.SGD(model.parameters(), lr=0.1)
        sched = cr.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        hist = fit(
            model,
            X,
            y,
            loss="cross_entropy",
            optimizer=opt,
            scheduler=sched,
            scheduler_interval=interval,
            epochs=2,
            batch_size=8,
            verbose=0,
        )
        np.testing.assert_allclose(hist.history["lr"], expected, rtol=1e-12)


def test_transform_applies_to_training_batches_only():
    X, y = blobs(32)
    seen = []

    def augment(xb, yb):
        seen.append(len(xb))
        return xb + cr.random.generator().normal(0, 0.1, xb.shape).astype(np.float32), yb

    model = mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.05)
    fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=2,
        batch_size=16,
        transform=augment,
        validation_data=(X, y),
        verbose=0,
    )
    assert seen == [16, 16, 16, 16]


def test_y_none_trains_an_autoencoder():
    X, _ = blobs(64, d=6)
    model = nn.Sequential(nn.Linear(6, 3), nn.Tanh(), nn.Linear(3, 6))
    opt = cr.optim.Adam(model.parameters(), lr=0.02)
    hist = fit(model, X, loss="mse", optimizer=opt, epochs=15, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.6 * hist.history["loss"][0]


def test_user_callback_can_stop_training_and_sees_trainer():
    X, y = blobs(40)
    model = mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.05)
    events = []

    class Stopper(Callback):
        def on_train_begin(self, logs):
            events.append(("begin", self.trainer.optimizer is opt, self.model is model))

        def on_epoch_end(self, epoch, logs):
            events.append(("epoch", epoch))
            if epoch == 1:
                self.trainer.stop_training = True

    hook_log = []
    lam = LambdaCallback(
        on_batch_end=lambda step, logs: hook_log.append(step),
        on_train_end=lambda logs: hook_log.append("end"),
    )
    hist = fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=10,
        batch_size=20,
        callbacks=[Stopper(), lam],
        verbose=0,
    )
    assert events == [("begin", True, True), ("epoch", 0), ("epoch", 1)]
    assert len(hist) == 2 and hook_log == [1, 2, 3, 4, "end"]


def test_stop_training_in_the_middle_of_an_epoch():
    X, y = blobs(64)
    model = mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.05)
    losses = []

    def record(out, target):
        loss = F.cross_entropy(out, target)
        losses.append(float(loss.data))
        return loss

    def stop_at_3(step, logs):
        if step == 3:
            trainer.stop_training = True

    cb = LambdaCallback(on_batch_end=stop_at_3)
    trainer = Trainer(model, loss=record, optimizer=opt, callbacks=[cb], verbose=0)
    hist = trainer.fit(X, y, epochs=5, batch_size=16)
    assert len(hist) == 1 and trainer.global_step == 3 and len(losses) == 3
    assert hist.history["loss"][0] == pytest.approx(np.mean(losses))
    assert trainer.loader.position == 0
    # the same trainer can run again: a new run from epoch 0
    hist = trainer.fit(X, y, epochs=1, batch_size=64)
    assert len(hist) == 1 and trainer.global_step == 1


# --- non-finite losses -----------------------------------------------------------
def test_nan_loss_stops_with_epoch_and_step_and_keeps_finite_parameters():
    X, y = blobs(64)
    model = mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.01)
    calls = {"n": 0}
    kept = {}

    def flaky(out, target):
        calls["n"] += 1
        if calls["n"] == 7:  # 7th step: epoch 2, batch 3 with 4 batches/epoch
            kept.update({i: p.data.copy() for i, p in enumerate(model.parameters())})
            return F.cross_entropy(out, target) * float("nan")
        return F.cross_entropy(out, target)

    with pytest.raises(NonFiniteLossError, match=r"epoch 2/5, batch 3/4") as info:
        fit(model, X, y, loss=flaky, optimizer=opt, epochs=5, batch_size=16, verbose=0)
    assert (info.value.epoch, info.value.batch, info.value.global_step) == (2, 3, 6)
    for i, p in enumerate(model.parameters()):  # untouched by the bad step
        np.testing.assert_array_equal(p.data, kept[i])


def test_diverging_run_restores_the_last_finite_parameters(tmp_path):
    from chainrule.training import ModelCheckpoint, load_checkpoint

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32) * 100
    t = (X @ np.array([1.0, 2.0, 3.0])).astype(np.float32)
    model = nn.Linear(3, 1)
    opt = cr.optim.SGD(model.parameters(), lr=1.0)  # far too large: blows up
    path = tmp_path / "ck.npz"
    fit(
        model,
        X,
        t,
        loss="mse",
        optimizer=cr.optim.SGD(model.parameters(), lr=1e-6),
        epochs=1,
        batch_size=16,
        callbacks=[ModelCheckpoint(path)],
        verbose=0,
    )
    before = path.read_bytes()
    with np.errstate(all="ignore"), pytest.raises(NonFiniteLossError, match="Loss became inf"):
        fit(
            model,
            X,
            t,
            loss="mse",
            optimizer=opt,
            epochs=50,
            batch_size=16,
            verbose=0,
            callbacks=[ModelCheckpoint(path, every_n_epochs=100)],
        )
    assert all(np.all(np.isfinite(p.data)) for p in model.parameters())
    load_checkpoint(path)  # the last good checkpoint is still intact
    assert path.read_bytes() == before


def test_non_finite_parameters_are_rolled_back_to_the_epoch_start():
    X, y = blobs(64)
    model = mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.01)
    at_epoch_start = {}

    def remember(epoch, logs):
        at_epoch_start[epoch] = [p.data.copy() for p in model.parameters()]

    steps = []

    def sabotage(m):  # a constraint (run after each step) that corrupts the weights after step 6
        steps.append(1)
        if len(steps) == 6:
            m[0].weight.data[0, 0] = np.nan

    with (
        np.errstate(all="ignore"),
        pytest.raises(
            NonFiniteLossError, match="epoch 2/3, batch 3/4.*from the start of this epoch"
        ),
    ):
        fit(
            model,
            X,
            y,
            loss="cross_entropy",
            optimizer=opt,
            epochs=3,
            batch_size=16,
            constraints=[sabotage],
            callbacks=[LambdaCallback(on_epoch_begin=remember)],
            verbose=0,
        )
    for a, p in zip(at_epoch_start[1], model.parameters()):
        np.testing.assert_array_equal(a, p.data)


# --- bad input ----------------------------------------------------------------------
def _with_nan(X, y):
    X = X.copy()
    X[3, 1] = np.nan
    return X, y


@pytest.mark.parametrize(
    "make, message",
    [
        (_with_nan, "NaN or inf in row 3"),
        (lambda X, y: (X[:, 0], y), "1-D array"),
        (lambda X, y: (X[:0], y[:0]), "at least one sample"),
        (lambda X, y: (X, y[:10]), "Expected y with 40 entries"),
        (lambda X, y: (X, np.where(np.arange(40) == 5, 7, y)), r"0\.\.2 .*Received: 7 in row 5"),
        (lambda X, y: (X, y + 0.5), "integer class ids"),
        (lambda X, y: (X[:, :3], y), "cannot take X of shape"),
        (lambda X, y: (np.array([["a"] * 4] * 40), y), "hold numbers"),
    ],
)
def test_bad_training_data_is_refused_before_any_step(make, message):
    args = make(*blobs(40))
    model = mlp()
    before = [p.data.copy() for p in model.parameters()]
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises((ValueError, TypeError), match=message):
        fit(model, *args, loss="cross_entropy", optimizer=opt, epochs=1, verbose=0)
    for a, p in zip(before, model.parameters()):
        np.testing.assert_array_equal(a, p.data)


def test_bad_targets_for_regression_and_validation_data():
    X, _ = blobs(20)
    t = np.ones(20, np.float32)
    t[4] = np.inf
    model = nn.Linear(4, 1)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="finite values in y.*row 4"):
        fit(model, X, t, loss="mse", optimizer=opt, verbose=0)
    good = np.ones(20, np.float32)
    with pytest.raises(ValueError, match="X_val"):
        fit(model, X, good, loss="mse", optimizer=opt, verbose=0, validation_data=(X[:, :2], good))
    with pytest.raises(ValueError, match="not both"):
        fit(
            model,
            X,
            good,
            loss="mse",
            optimizer=opt,
            validation_data=(X, good),
            validation_split=0.2,
        )
    with pytest.raises(ValueError, match="0/1 labels"):
        fit(model, X, good * 2, loss="bce", optimizer=opt, verbose=0)


def test_wrong_feature_count_at_predict_and_evaluate():
    model = mlp()
    with pytest.raises(ValueError, match=r"expected input \(\*, 4\)"):
        predict(model, np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="cannot take X"):
        evaluate(model, np.zeros((3, 5), np.float32), np.zeros(3, np.int64))


# --- progress display -------------------------------------------------------------------
def _run_quiet(verbose, monkeypatch, tty=False, no_tqdm=False):
    X, y = blobs(32)
    model = mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.05)
    err = io.StringIO()
    err.isatty = lambda: tty
    monkeypatch.setattr(sys, "stderr", err)
    if no_tqdm:
        monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=2,
        batch_size=8,
        metrics=["accuracy"],
        verbose=verbose,
    )
    return err.getvalue()


def test_progress_is_quiet_when_not_a_terminal(monkeypatch):
    assert _run_quiet("auto", monkeypatch, tty=False) == ""
    assert _run_quiet(0, monkeypatch, tty=True) == ""


def test_progress_bar_on_a_terminal_or_when_asked(monkeypatch):
    out = _run_quiet("auto", monkeypatch, tty=True)
    assert "Epoch 2/2" in out and "loss=" in out and "accuracy=" in out
    out = _run_quiet(1, monkeypatch, tty=False, no_tqdm=True)  # built-in bar
    assert "Epoch 1/2 [" in out and "4/4" in out and "loss=" in out
    lines = _run_quiet(2, monkeypatch).strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2")


def test_transform_may_change_the_input_width():
    # a transform that appends a mask column: the model takes 2k inputs
    X, y = blobs(32)

    def add_mask(xb, yb):
        return np.concatenate([xb, np.ones_like(xb)], axis=1), yb

    model = nn.Sequential(nn.Linear(2 * X.shape[1], 3))
    opt = cr.optim.SGD(model.parameters(), lr=0.05)
    hist = fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=1,
               batch_size=16, transform=add_mask, verbose=0)
    assert len(hist.history["loss"]) == 1


def test_user_loss_named_like_a_library_loss_accepts_real_targets():
    X, _ = blobs(32)
    target = X.sum(axis=1, keepdims=True).astype(np.float32)

    def nll_loss(out, t):  # a user's Gaussian NLL that happens to share a name
        return ((out - t) * (out - t)).mean()

    model = nn.Sequential(nn.Linear(X.shape[1], 1))
    opt = cr.optim.SGD(model.parameters(), lr=0.01)
    hist = fit(model, X, target, loss=nll_loss, optimizer=opt, epochs=1,
               batch_size=16, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
