"""CurriculumSampler (book §8.7.6): easy rows first, paced, every row by the end."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.data import CurriculumSampler, DataLoader, TensorDataset
from chainrule.training import Trainer


def _epoch_rows(loader) -> np.ndarray:
    return np.concatenate([xb[:, 0] for xb, _ in loader]).astype(np.int64)


def test_yields_only_the_easiest_fraction_then_every_row():
    n = 50
    rng = np.random.default_rng(3)
    scores = rng.random(n)
    X = np.arange(n, dtype=np.float32)[:, None]  # row i holds i
    sampler = CurriculumSampler(scores, pacing="linear", start=0.2, full_epoch=4)
    loader = DataLoader(TensorDataset(X), batch_size=7, sampler=sampler)
    easiest = np.argsort(scores)
    cr.manual_seed(0)
    for epoch in range(6):
        k = max(1, math.ceil((0.2 + 0.8 * min(epoch / 4, 1.0)) * n - 1e-9))
        assert len(loader) == math.ceil(k / 7)
        rows = _epoch_rows(loader)
        assert len(rows) == k and len(set(rows.tolist())) == k  # no repeats
        assert set(rows.tolist()) == set(easiest[:k].tolist())
        # all the rows in use are no harder than all the rows left out
        left_out = np.setdiff1d(np.arange(n), rows)
        if left_out.size:
            assert scores[rows].max() <= scores[left_out].min()
    assert k == n


def test_order_is_shuffled_within_the_rows_in_use_and_reproducible():
    scores = np.arange(40, dtype=float)
    X = np.arange(40, dtype=np.float32)[:, None]

    def run(seed):
        loader = DataLoader(TensorDataset(X), batch_size=8,
                            sampler=CurriculumSampler(scores, start=0.5, full_epoch=2))
        cr.manual_seed(seed)
        return [_epoch_rows(loader) for _ in range(3)]

    a, b, c = run(0), run(0), run(1)
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea, eb)
    assert not all(np.array_equal(ea, ec) for ea, ec in zip(a, c))
    assert not np.array_equal(a[0], np.sort(a[0]))  # shuffled within the easy half
    unshuffled = CurriculumSampler(scores, start=0.5, full_epoch=2, shuffle=False)
    np.testing.assert_array_equal(unshuffled.indices(0), np.arange(20))


def test_named_and_callable_pacings():
    s = CurriculumSampler(np.zeros(100), pacing="root", start=0.1, full_epoch=4)
    assert s.num_samples(0) == 10 and s.num_samples(4) == 100
    np.testing.assert_allclose(s.fraction(2), math.sqrt(0.01 + 0.99 * 0.5))
    s = CurriculumSampler(np.zeros(100), pacing="step", start=0.3, full_epoch=3)
    assert [s.num_samples(e) for e in range(5)] == [30, 30, 30, 100, 100]
    s = CurriculumSampler(np.zeros(10), pacing=lambda e: 0.1 * (e + 1))
    assert [s.num_samples(e) for e in range(12)] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10]
    # ties keep the row order (stable), so equal scores select the first rows
    np.testing.assert_array_equal(np.sort(s.indices(2)), [0, 1, 2])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="finite scores"):
        CurriculumSampler([0.0, np.nan])
    with pytest.raises(ValueError, match="pacing"):
        CurriculumSampler([0.0, 1.0], pacing="cubic")
    with pytest.raises(ValueError, match="start"):
        CurriculumSampler([0.0, 1.0], start=0.0)
    with pytest.raises(ValueError, match="fraction"):
        CurriculumSampler([0.0, 1.0], pacing=lambda e: -1.0).num_samples(0)
    with pytest.raises(ValueError, match="3 rows"):
        DataLoader(TensorDataset(np.zeros((3, 1))), sampler=CurriculumSampler([0.0, 1.0]))
    with pytest.raises(TypeError, match="indices"):
        DataLoader(TensorDataset(np.zeros((3, 1))), sampler=object())


def test_fit_takes_the_sampler_and_resumes_mid_curriculum(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    scores = np.abs(X[:, 0])

    def trainer():
        cr.manual_seed(1)
        model = nn.Sequential(nn.Linear(3, 2))
        return Trainer(model, loss="cross_entropy",
                       optimizer=cr.optim.SGD(model.parameters(), lr=0.1), verbose=0)

    def sampler():
        return CurriculumSampler(-scores, start=0.25, full_epoch=3)

    full = trainer()
    cr.manual_seed(7)
    full.fit(X, y, epochs=5, batch_size=10, sampler=sampler())
    # the sampler counted 5 epochs; epoch 0 used a quarter of the rows (2 minibatches)
    assert full.loader.state_dict()["epoch"] == 5
    assert full.global_step == 2 + 3 + 5 + 6 + 6  # 15, 30, 45, 60, 60 rows

    part = trainer()
    cr.manual_seed(7)
    part.fit(X, y, epochs=2, batch_size=10, sampler=sampler())
    path = tmp_path / "ck.pkl"
    part.save_checkpoint(path)
    resumed = trainer()
    cr.manual_seed(99)  # the checkpoint restores the generator's state
    resumed.fit(X, y, epochs=5, batch_size=10, sampler=sampler(), checkpoint=path)
    assert resumed.global_step == full.global_step
    for a, b in zip(full.model.parameters(), resumed.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
