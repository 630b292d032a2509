"""Book algorithms 7.2 and 7.3 on top of training.fit / EarlyStopping."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.ensembles import continue_on_all_data, retrain_on_all_data
from chainrule.optim import SGD
from chainrule.training import LambdaCallback, evaluate, fit


def _data():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((10, 3))
    X = rng.standard_normal((130, 10)).astype(np.float32)
    y = (X @ w + rng.standard_normal((130, 3)) * 2.0).argmax(1)  # noisy labels
    return X[:50], y[:50], X[50:], y[50:]


def _model():
    return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 3))


def _opt(params):
    return SGD(params, lr=0.02, momentum=0.9)


KW = {"loss": "cross_entropy", "optimizer_fn": _opt, "max_epochs": 40, "patience": 3, "batch_size": 16}


def test_algorithm_7_2_retrains_from_scratch_for_exactly_i_star_steps():
    Xtr, ytr, Xva, yva = _data()
    res = retrain_on_all_data(_model, Xtr, ytr, Xva, yva, seed=3, **KW)
    # the search over-fits the small training set and stops early
    n_epochs = len(res.search_history.epoch)
    assert n_epochs == res.best_epoch + 3 < 40
    assert res.best_step == res.best_epoch * math.ceil(50 / 16)
    vals = res.search_history.history["val_loss"]
    assert res.best_score == pytest.approx(min(vals))
    assert res.final_steps == res.best_step
    assert res.best_step % math.ceil(130 / 16) != 0  # so the run ends mid-epoch
    # reference: the same seed, fresh model, all the data, snapshot after i* steps
    X_all, y_all = np.concatenate([Xtr, Xva]), np.concatenate([ytr, yva])
    cr.manual_seed(3)
    ref = _model()
    snap = {}

    def grab(step, logs):
        if step == res.best_step:
            snap.update(ref.state_dict())

    fit(ref, X_all, y_all, loss="cross_entropy", optimizer=_opt(ref.parameters()),
        epochs=math.ceil(res.best_step / math.ceil(130 / 16)), batch_size=16,
        callbacks=[LambdaCallback(on_batch_end=grab)], verbose=0)
    for key, value in res.model.state_dict().items():
        np.testing.assert_array_equal(value, snap[key])
    assert not res.model.training


def test_algorithm_7_2_counting_epochs():
    Xtr, ytr, Xva, yva = _data()
    res = retrain_on_all_data(_model, Xtr, ytr, Xva, yva, seed=3, count="epochs", **KW)
    assert len(res.final_history.epoch) == res.best_epoch
    assert res.final_steps == res.best_epoch * math.ceil(130 / 16)
    with pytest.raises(ValueError, match="count"):
        retrain_on_all_data(_model, Xtr, ytr, Xva, yva, count="passes", **KW)


def test_algorithm_7_3_continues_until_validation_loss_below_epsilon():
    Xtr, ytr, Xva, yva = _data()
    res = continue_on_all_data(_model, Xtr, ytr, Xva, yva, seed=3, max_extra_epochs=60, **KW)
    eps = res.threshold
    losses = res.extra["val_losses"]
    assert losses[0] > eps  # there was something to do
    assert res.reached_threshold
    assert losses[-1] <= eps and all(v > eps for v in losses[:-1])
    assert res.final_steps == (len(losses) - 1) * math.ceil(130 / 16)
    final = evaluate(res.model, Xva, yva, loss="cross_entropy")["loss"]
    assert final == pytest.approx(losses[-1], rel=1e-6)


def test_algorithm_7_3_step_cap_always_ends():
    Xtr, ytr, Xva, yva = _data()
    # validation rows in contradicting pairs: their loss is >= log 2 for any model,
    # while early stopping on the training loss gives a lower epsilon
    Xva = np.concatenate([Xva[:40], Xva[:40]])
    yva = np.concatenate([yva[:40], (yva[:40] + 1) % 3])
    kw = dict(KW, monitor="loss")
    res = continue_on_all_data(_model, Xtr, ytr, Xva, yva, seed=3, max_extra_epochs=2, **kw)
    assert res.threshold < np.log(2)
    assert not res.reached_threshold
    assert len(res.extra["val_losses"]) == 3
    assert min(res.extra["val_losses"]) > np.log(2)
    assert res.final_steps == 2 * math.ceil(130 / 16)
    with pytest.raises(ValueError, match="fit_kwargs without 'epochs'"):
        continue_on_all_data(_model, Xtr, ytr, Xva, yva, fit_kwargs={"epochs": 3}, **KW)
