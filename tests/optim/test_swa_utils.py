"""AveragedModel and update_bn against torch.optim.swa_utils (issue 14, book §8.7.3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.optim.swa_utils import AveragedModel as TAveragedModel
from torch.optim.swa_utils import get_ema_multi_avg_fn
from torch.optim.swa_utils import update_bn as t_update_bn

import chainrule as cr
from chainrule import nn


def _pair(seed=0):
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5),
                                 torch.nn.ReLU(), torch.nn.Linear(5, 2)).double()
    _copy(model, tmodel)
    return model, tmodel


def _copy(model, tmodel):
    with torch.no_grad():
        for (name, p), tp in zip(model.named_parameters(), tmodel.parameters()):
            data = p.data.T if name.endswith("weight") and p.data.ndim == 2 else p.data
            tp.copy_(torch.tensor(np.asarray(data, dtype=np.float64)))


def _perturb(model, tmodel, rng):
    for p in model.parameters():
        p.data[...] += rng.standard_normal(p.shape).astype(p.data.dtype)
    _copy(model, tmodel)


def _params(model):
    return [p.data.T if n.endswith("weight") and p.data.ndim == 2 else p.data
            for n, p in model.named_parameters()]


@pytest.mark.parametrize("decay", [None, 0.9])
def test_equals_torch_averaged_model(decay):
    rng = np.random.default_rng(1)
    model, tmodel = _pair()
    avg = cr.optim.AveragedModel(model, decay=decay)
    tavg = (TAveragedModel(tmodel) if decay is None
            else TAveragedModel(tmodel, multi_avg_fn=get_ema_multi_avg_fn(decay)))
    for _ in range(5):
        _perturb(model, tmodel, rng)
        avg.update_parameters(model)
        tavg.update_parameters(tmodel)
    assert int(avg.n_averaged) == int(tavg.n_averaged) == 5
    for a, b in zip(_params(avg.module), tavg.module.parameters()):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-5, atol=1e-6)
    # the trained model itself is left alone
    assert not np.allclose(_params(model)[0], _params(avg.module)[0])


def test_arithmetic_mean_is_the_mean_of_the_iterates():
    model, _ = _pair()
    avg = cr.optim.AveragedModel(model)
    seen = []
    for k in range(4):
        model[0].weight.data[...] = k * 2.0 + 1.0
        seen.append(model[0].weight.data.copy())
        avg.update_parameters(model)
    np.testing.assert_allclose(avg.module[0].weight.data, np.mean(seen, axis=0))


def test_update_bn_equals_torch():
    rng = np.random.default_rng(2)
    model, tmodel = _pair()
    avg = cr.optim.AveragedModel(model)
    tavg = TAveragedModel(tmodel)
    avg.update_parameters(model)
    tavg.update_parameters(tmodel)
    batches = [rng.standard_normal((8, 4)) for _ in range(3)]
    cr.optim.update_bn([(b.astype(np.float32), None) for b in batches], avg)
    t_update_bn([torch.tensor(b) for b in batches], tavg)
    bn, tbn = avg.module[1], tavg.module[1]
    np.testing.assert_allclose(bn.running_mean, tbn.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), rtol=1e-5, atol=1e-6)
    assert bn.momentum == 0.1 and avg.training


def test_bad_arguments():
    model, _ = _pair()
    with pytest.raises(ValueError, match="decay"):
        cr.optim.AveragedModel(model, decay=1.0)
    with pytest.raises(TypeError, match="Module"):
        cr.optim.AveragedModel(object())
    avg = cr.optim.AveragedModel(model)
    with pytest.raises(ValueError, match="shaped like"):
        avg.update_parameters(nn.Linear(4, 5))


def test_polyak_callback_logs_the_averaged_models_scores():
    from chainrule.training import PolyakAveraging, Trainer

    rng = np.random.default_rng(3)
    X = rng.standard_normal((64, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    cb = PolyakAveraging(validation_data=(X, y), every="epoch")
    trainer = Trainer(model, loss="cross_entropy", optimizer=cr.optim.SGD(
        model.parameters(), lr=0.1), metrics=["accuracy"], callbacks=[cb], verbose=0)
    trainer.fit(X, y, epochs=3, batch_size=16)
    hist = trainer.history.history
    assert len(hist["avg_val_loss"]) == 3 and len(hist["avg_val_accuracy"]) == 3
    assert int(cb.averaged.n_averaged) == 3
    expected = cr.training.evaluate(cb.averaged.module, X, y, metrics=["accuracy"])
    assert hist["avg_val_loss"][-1] == pytest.approx(expected["loss"])
