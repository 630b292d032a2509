"""The scikit-learn epoch rules as Trainer pieces, each on its own.

ToleranceStopping, InverseScalingLR, EpochScore (training/tolerance.py),
the gradient-side MinibatchL2 regulariser and ``drop_last``.
"""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.autograd import ops
from chainrule.regularization import MinibatchL2
from chainrule.training import (
    Callback,
    EpochScore,
    InverseScalingLR,
    ToleranceStopping,
    Trainer,
    fit,
)


def _data(n=40):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


def _net():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2))


def _fit(model, callbacks, epochs, lr=0.1, **kw):
    X, y = _data()
    opt = optim.SGD(model.parameters(), lr=lr)
    trainer = Trainer(model, loss="cross_entropy", optimizer=opt, callbacks=callbacks,
                      verbose=0, **kw)
    trainer.fit(X, y, epochs=epochs, batch_size=10)
    return trainer


def _values(seq):
    """An EpochScore that reports seq[epoch] (under the name 'v')."""
    it = iter(seq)
    return EpochScore(lambda model: next(it), name="v")


def test_adaptive_divides_by_5_after_n_iter_no_change_stalled_epochs():
    # a flat value: epoch 0 sets the best, epochs 1, 2, 3 stall (count 1, 2, 3);
    # count 3 > n_iter_no_change=2 divides by 5 and restarts the count
    stop = ToleranceStopping("v", tol=1e-4, n_iter_no_change=2, mode="min", reduce_lr_by=5)
    trainer = _fit(_net(), [_values([1.0] * 7), stop], epochs=4)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / 5)
    assert stop.count == 0 and not stop.stopped and trainer.epoch == 4
    trainer = _fit(_net(), [_values([1.0] * 7), stop.__class__(
        "v", tol=1e-4, n_iter_no_change=2, mode="min", reduce_lr_by=5)], epochs=7)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / 25)


def test_improvements_smaller_than_tol_count_as_stalls():
    # each epoch improves by 1e-5 < tol: stalls 1, 2 and the third stops
    values = [1.0 - 1e-5 * k for k in range(10)]
    stop = ToleranceStopping("v", tol=1e-4, n_iter_no_change=2, mode="min")
    trainer = _fit(_net(), [_values(values), stop], epochs=10)
    assert stop.stopped and trainer.epoch == 4
    assert stop.best == pytest.approx(values[3])  # the best still follows the values


def test_adaptive_stops_once_the_rate_is_at_min_lr():
    stop = ToleranceStopping("v", n_iter_no_change=1, mode="min", reduce_lr_by=5, min_lr=0.1)
    trainer = _fit(_net(), [_values([1.0] * 10), stop], epochs=10)
    assert stop.stopped and trainer.epoch == 3
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.1)


def test_max_mode_restores_the_weights_of_the_best_epoch():
    class Snap(Callback):
        def __init__(self):
            super().__init__()
            self.weights = []

        def on_epoch_end(self, epoch, logs):
            self.weights.append(self.model[0].weight.data.copy())

    snap = Snap()
    stop = ToleranceStopping("v", tol=0.0, n_iter_no_change=2, mode="max",
                             restore_best_weights=True)
    model = _net()
    _fit(model, [_values([0.5, 0.9, 0.6, 0.6, 0.6, 0.6]), snap, stop], epochs=6)
    assert stop.stopped and len(snap.weights) == 5 and stop.best == 0.9
    np.testing.assert_array_equal(model[0].weight.data, snap.weights[1])
    assert not np.array_equal(snap.weights[1], snap.weights[4])


def test_tolerance_stopping_counts_carry_over_fits_until_reset():
    stop = ToleranceStopping("v", n_iter_no_change=5, mode="min")
    _fit(_net(), [_values([1.0, 1.0]), stop], epochs=2)
    assert stop.count == 1
    _fit(_net(), [_values([1.0]), stop], epochs=1)
    assert stop.count == 2
    stop.reset()
    assert stop.count == 0 and stop.best == np.inf


def test_inverse_scaling_sets_lr0_over_samples_seen():
    sched = InverseScalingLR(0.2, power_t=0.25)
    trainer = _fit(_net(), [sched], epochs=3)
    assert sched.t == 120
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.2 / 121**0.25)
    _fit(_net(), [sched], epochs=1)  # t continues
    assert sched.t == 160


def test_epoch_score_is_seen_by_later_callbacks():
    seen = []

    class Read(Callback):
        def on_epoch_end(self, epoch, logs):
            seen.append(logs["score"])

    score = EpochScore(lambda model: float(model[0].weight.data.sum()), name="score")
    model = _net()
    _fit(model, [score, Read()], epochs=2)
    assert len(seen) == 2 and seen[-1] == pytest.approx(float(model[0].weight.data.sum()))


def test_minibatch_l2_gradient_is_the_graphs_gradient_of_its_penalty():
    model = _net()
    for p in model.parameters():
        p.grad = np.zeros_like(p.data)
    alpha, m = 0.3, 8
    value = MinibatchL2(alpha).add_gradient(model, m)
    twin = _net()
    weights = [twin[0].weight, twin[2].weight]
    total = None
    for w in weights:
        term = ops.sum(w * w)
        total = term if total is None else total + term
    penalty = total * (alpha / (2 * m))
    penalty.backward()
    assert value == pytest.approx(float(penalty.data), rel=1e-6)
    np.testing.assert_allclose(model[0].weight.grad, twin[0].weight.grad, rtol=1e-6)
    np.testing.assert_allclose(model[2].weight.grad, twin[2].weight.grad, rtol=1e-6)
    np.testing.assert_array_equal(model[0].bias.grad, 0)  # biases are not penalised


def test_trainer_logs_minibatch_l2_as_penalty_and_objective():
    X, y = _data()
    model = _net()
    opt = optim.SGD(model.parameters(), lr=0.0)  # weights stay: the penalty is exact
    hist = fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=10,
               regularizers=[MinibatchL2(0.5)], verbose=0)
    sq = sum(float((w.data.astype(np.float64) ** 2).sum())
             for w in (model[0].weight, model[2].weight))
    assert hist.history["penalty"][0] == pytest.approx(0.5 / 20 * sq, rel=1e-5)
    assert hist.history["objective"][0] == pytest.approx(
        hist.history["loss"][0] + hist.history["penalty"][0])


def test_a_regularizer_that_is_neither_kind_is_refused():
    with pytest.raises(TypeError, match="add_gradient"):
        Trainer(_net(), loss="mse", optimizer=optim.SGD(_net().parameters(), lr=0.1),
                regularizers=[3])


def test_drop_last_skips_the_short_minibatch():
    X, y = _data(43)
    trainer = Trainer(_net(), loss="cross_entropy",
                      optimizer=optim.SGD(_net().parameters(), lr=0.1), verbose=0)
    trainer.fit(X, y, epochs=2, batch_size=10, drop_last=True)
    assert trainer.global_step == 8
    trainer.fit(X, y, epochs=2, batch_size=10)
    assert trainer.global_step == 10


def test_tolerance_stopping_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_iter_no_change"):
        ToleranceStopping(n_iter_no_change=0)
    with pytest.raises(ValueError, match="reduce_lr_by"):
        ToleranceStopping(reduce_lr_by=1.0)
    with pytest.raises(TypeError, match="score_fn"):
        EpochScore(3)


def test_one_epoch_at_a_time_equals_one_run_with_the_optimiser_kept():
    # partial_fit's meaning on the Trainer: fit(epochs=1) twice == fit(epochs=2)
    X, y = _data()
    weights = []
    for split in (False, True):
        model = _net()
        opt = optim.Adam(model.parameters(), lr=0.01)
        trainer = Trainer(model, loss="cross_entropy", optimizer=opt, verbose=0, generator=3)
        if split:
            trainer.fit(X, y, epochs=1, batch_size=8)
            trainer.fit(X, y, epochs=1, batch_size=8)
        else:
            trainer.fit(X, y, epochs=2, batch_size=8)
        weights.append([p.data.copy() for p in model.parameters()])
        assert opt.state[opt.param_groups[0]["params"][0]]["step"] == 10
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
