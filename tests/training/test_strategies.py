"""Greedy supervised pretraining, FitNets hints (§8.7.4) and continuation (§8.7.6)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.training import (
    ParameterNoise,
    continuation,
    greedy_pretrain,
    hint_loss,
    hint_train,
)


def _data(n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
    return X, y


def _blocks(d=6, w=5, depth=3):
    return [nn.Sequential(nn.Linear(d if i == 0 else w, w), nn.Tanh()) for i in range(depth)]


def _copy(module):
    return [p.data.copy() for p in module.parameters()]


def _changed(module, before):
    return [not np.array_equal(p.data, b) for p, b in zip(module.parameters(), before)]


def _adam(params):
    return cr.optim.Adam(params, lr=1e-2)


def test_greedy_freeze_keeps_lower_blocks_fixed_in_each_stage():
    X, y = _data()
    cr.manual_seed(0)
    blocks = _blocks()
    snapshots = []

    def make_head(k):
        # called at the start of stage k: blocks[:k] are final from here on
        snapshots.append([_copy(b) for b in blocks])
        return nn.Linear(5, 3)

    model, hist = greedy_pretrain(blocks, make_head, X, y, loss="cross_entropy",
                                  make_optimizer=_adam, epochs=2, batch_size=32, verbose=0)
    assert len(hist) == 3 and all(len(h) == 2 for h in hist)
    final = [_copy(b) for b in blocks]
    for k, snap in enumerate(snapshots):
        for j in range(3):
            same = all(np.array_equal(a, b) for a, b in zip(snap[j], final[j]))
            # blocks below k never move again; block k and those above have yet to train
            assert same == (j < k), (k, j)
    # the model is the blocks with the last head, and it is the one object trained
    assert list(model._modules.values())[:3] == blocks
    assert len(list(model.parameters())) == 3 * 2 + 2


def test_greedy_without_freeze_trains_the_lower_blocks_too():
    X, y = _data()
    cr.manual_seed(0)
    blocks = _blocks()
    before = {}

    def make_head(k):
        before[k] = _copy(blocks[0])
        return nn.Linear(5, 3)

    greedy_pretrain(blocks, make_head, X, y, loss="cross_entropy", make_optimizer=_adam,
                    epochs=[1, 1, 1], freeze=False, batch_size=32, verbose=0)
    assert all(_changed(blocks[0], before[2]))  # stage 2 moved block 0


def test_greedy_stage_is_a_fit_of_block_and_head_on_the_frozen_features():
    """Stage 1 = fit(Sequential(block 1, head 1)) on block 0's eval-mode outputs."""
    from chainrule.training import fit

    X, y = _data()
    cr.manual_seed(4)
    blocks = _blocks(depth=2)
    start = {}

    def make_head(k):
        head = nn.Linear(5, 3)
        start[k] = (blocks[k].state_dict(), head.state_dict())
        return head

    model, _ = greedy_pretrain(blocks, make_head, X, y, loss="cross_entropy",
                               make_optimizer=_adam, epochs=3, batch_size=32, verbose=0,
                               generator=3)
    # by hand, from stage 1's starting weights and the same shuffling seed
    block, head = _blocks(depth=1, d=5)[0], nn.Linear(5, 3)
    block.load_state_dict(start[1][0])
    head.load_state_dict(start[1][1])
    with cr.no_grad():
        features = blocks[0](cr.tensor(X)).data
    stage = nn.Sequential(block, head)
    fit(stage, features, y, loss="cross_entropy", optimizer=_adam(list(stage.parameters())),
        epochs=3, batch_size=32, verbose=0, generator=3)
    for a, b in zip(blocks[1].parameters(), block.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    last_head = list(model._modules.values())[-1]
    for a, b in zip(last_head.parameters(), head.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_greedy_runs_are_reproducible_and_bad_input_is_named():
    X, y = _data()

    def run():
        cr.manual_seed(2)
        model, _ = greedy_pretrain(_blocks(), lambda k: nn.Linear(5, 3), X, y,
                                   loss="cross_entropy", make_optimizer=_adam, epochs=1,
                                   batch_size=16, verbose=0)
        return _copy(model)

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="one epochs entry per block"):
        greedy_pretrain(_blocks(), lambda k: nn.Linear(5, 3), X, y, loss="cross_entropy",
                        make_optimizer=_adam, epochs=[1, 2])
    with pytest.raises(TypeError, match="make_head"):
        greedy_pretrain(_blocks(), lambda k: "head", X, y, loss="cross_entropy",
                        make_optimizer=_adam, epochs=1)


def test_hint_loss_is_half_the_mean_squared_row_norm_and_its_gradient():
    rng = np.random.default_rng(1)
    r = rng.normal(size=(7, 4))
    h = rng.normal(size=(7, 4))
    pred = cr.tensor(r, requires_grad=True, dtype=np.float64)
    value = hint_loss(pred, h)
    np.testing.assert_allclose(value.item(), 0.5 * ((h - r) ** 2).sum(axis=1).mean(), rtol=1e-12)
    value.backward()
    np.testing.assert_allclose(pred.grad, (r - h) / 7, rtol=1e-12)
    with pytest.raises(ValueError, match="hint's shape"):
        hint_loss(pred, h[:, :3])


def test_hint_train_fits_the_teacher_and_leaves_it_alone():
    X, _ = _data(n=200)
    cr.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(6, 12), nn.Tanh())
    student = nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 4), nn.Tanh())
    regressor = nn.Linear(4, 12)
    teacher_before = _copy(teacher)
    student_before = _copy(student)
    params = [*student.parameters(), *regressor.parameters()]
    hist = hint_train(student, regressor, teacher, X, optimizer=cr.optim.Adam(params, lr=1e-2),
                      epochs=15, batch_size=32, verbose=0)
    assert all(not c for c in _changed(teacher, teacher_before))
    assert all(_changed(student, student_before))
    losses = hist.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    # the logged loss is the hint loss of the trained pair (up to the last epoch's steps)
    with cr.no_grad():
        hints = teacher(cr.tensor(X)).data
        final = hint_loss(regressor(student(cr.tensor(X))), hints).item()
    assert final < losses[0]


def test_parameter_noise_gradient_is_the_gradient_at_the_noisy_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(9, 3))
    cr.manual_seed(5)
    lin = nn.Linear(3, 2, dtype=np.float64)  # weight (in, out): y = x W + b
    W0, b0 = lin.weight.data.copy(), lin.bias.data.copy()
    noisy = ParameterNoise(lin, sigma=0.3)
    with cr.random.use_generator(np.random.default_rng(11)):
        out = noisy(cr.tensor(X, dtype=np.float64))
    (out * out).sum().backward()
    g = np.random.default_rng(11)
    eW = g.standard_normal(W0.shape).astype(W0.dtype)
    eb = g.standard_normal(b0.shape).astype(b0.dtype)
    Wn, bn = W0 + 0.3 * eW, b0 + 0.3 * eb
    ref = X @ Wn + bn
    np.testing.assert_allclose(out.data, ref, rtol=1e-12)
    # (the parameters' gradients are kept in float32 even for a float64 layer)
    np.testing.assert_allclose(lin.weight.grad, X.T @ (2 * ref), rtol=1e-6)
    np.testing.assert_allclose(lin.bias.grad, 2 * ref.sum(axis=0), rtol=1e-6)
    # the parameters themselves are untouched; eval mode is the plain module
    np.testing.assert_array_equal(lin.weight.data, W0)
    assert lin.weight is lin._parameters["weight"]
    noisy.eval()
    np.testing.assert_allclose(noisy(cr.tensor(X, dtype=np.float64)).data, X @ W0 + b0,
                               rtol=1e-12)
    with pytest.raises(ValueError, match="sigma"):
        ParameterNoise(lin, sigma=-1.0)


def test_continuation_follows_the_levels_in_order_warm_starting_each():
    X, y = _data()
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = cr.optim.SGD(model.parameters(), lr=0.05)
    seen = []

    def smooth(m, level, loss):
        seen.append((level, _copy(m)))
        return ParameterNoise(m, level), loss

    hist = continuation(model, X, y, levels=[0.5, 0.2, 0.0], loss="cross_entropy",
                        optimizer=opt, epochs_per_level=[2, 1, 3], smooth=smooth,
                        batch_size=30, verbose=0)
    assert [lv for lv, _ in seen] == [0.5, 0.2, 0.0]
    assert [h.level for h in hist] == [0.5, 0.2, 0.0]
    assert [len(h) for h in hist] == [2, 1, 3]
    # each stage starts from where the previous one stopped (warm start)
    for (_, before), (_, after) in itertools.pairwise(seen):
        assert not all(np.array_equal(a, b) for a, b in zip(before, after))
    # the named family gives the same run as the callable
    cr.manual_seed(0)
    model2 = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    continuation(model2, X, y, levels=[0.5, 0.2, 0.0], loss="cross_entropy",
                 optimizer=cr.optim.SGD(model2.parameters(), lr=0.05),
                 epochs_per_level=[2, 1, 3], batch_size=30, verbose=0)
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(ValueError, match="one epochs_per_level entry per level"):
        continuation(model, X, y, levels=[0.1, 0.0], loss="cross_entropy", optimizer=opt,
                     epochs_per_level=[1])
