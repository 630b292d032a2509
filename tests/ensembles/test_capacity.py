"""Capacity sweeps and the book's under/overfitting criteria (§5.2)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from chainrule import nn
from chainrule.ensembles.capacity import (
    capacity_sweep,
    classification_error,
    mean_squared_error,
    sweep,
    training_size_sweep,
)


def _load_demo():
    path = Path(__file__).resolve().parents[2] / "examples" / "capacity_sweep.py"
    spec = importlib.util.spec_from_file_location("example_capacity_sweep", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo()


def _table(rows):
    return lambda v: rows[v]


def test_verdicts_follow_the_two_criteria_with_explicit_thresholds():
    rows = {1: (0.50, 0.55), 2: (0.10, 0.12), 3: (0.02, 0.30), 4: (0.40, 0.80)}
    res = sweep([1, 2, 3, 4], _table(rows), param_name="width",
                underfit_threshold=0.2, gap_threshold=0.1)
    assert res.verdicts == ["underfit", "good fit", "overfit", "underfit and overfit"]
    assert res.underfitting() == [1, 4]
    assert res.overfitting() == [3, 4]
    assert res.best_value == 2
    np.testing.assert_allclose(res.gap, [0.05, 0.02, 0.28, 0.40])
    assert res.is_u_shaped()


def test_default_thresholds_are_the_lowest_test_error():
    rows = {1: (0.50, 0.55), 2: (0.10, 0.12), 3: (0.02, 0.30)}
    res = sweep([1, 2, 3], _table(rows))
    assert res.underfit_threshold == res.gap_threshold == 0.12
    assert res.verdicts == ["underfit", "good fit", "overfit"]


def test_monotone_test_error_is_not_u_shaped():
    res = sweep([1, 2, 3], _table({1: (0.5, 0.6), 2: (0.3, 0.4), 3: (0.1, 0.2)}))
    assert not res.is_u_shaped()
    assert res.best_value == 3


def test_summary_and_dict_name_the_verdicts():
    rows = {1: (0.50, 0.55), 2: (0.10, 0.12), 3: (0.02, 0.30)}
    res = sweep([1, 2, 3], _table(rows), param_name="width")
    text = res.summary()
    assert "underfitting (training error > 0.12): width=1" in text
    assert "overfitting (test - train gap > 0.12): width=3" in text
    assert "lowest test error 0.12 at width=2 (U-shaped" in text
    d = json.loads(json.dumps(res.to_dict()))
    assert d["underfitting"] == [1] and d["overfitting"] == [3] and d["best_value"] == 2


def test_bad_sweeps_are_rejected():
    with pytest.raises(ValueError, match="at least one setting"):
        sweep([], _table({}))
    with pytest.raises(ValueError, match="train_error, test_error"):
        sweep([1], lambda v: 0.3)
    with pytest.raises(ValueError, match="finite"):
        sweep([1], lambda v: (np.nan, 0.1))
    X = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match="as many train targets"):
        capacity_sweep(lambda v: None, [1], X, np.zeros(3), X, np.zeros(4), train=None)
    with pytest.raises(ValueError, match="between 1 and 4"):
        training_size_sweep(lambda: None, [2, 9], X, np.zeros(4), X, np.zeros(4), train=None)


def test_polynomial_degree_sweep_is_u_shaped():
    res = demo.polynomial_sweep(small=False)
    # nested least-squares models: training error never rises with the degree
    assert np.all(np.diff(res.train_error) <= 1e-6)
    assert res.train_error[-1] < 1e-3  # degree 14 interpolates the 15 points
    assert res.is_u_shaped()
    assert 3 <= res.best_value <= 9
    assert res.underfitting() == [0, 1, 2]
    assert {12, 13, 14} <= set(res.overfitting())
    assert not set(res.underfitting()) & set(res.overfitting())


def test_plot_writes_a_png(tmp_path):
    res = demo.polynomial_sweep(small=True)
    path = res.plot(tmp_path / "u.png")
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    named = sweep(["small", "big"], _table({"small": (0.3, 0.4), "big": (0.0, 0.5)}))
    assert Path(named.plot(tmp_path / "n.png")).stat().st_size > 1000


def test_hidden_width_sweep_with_fit_underfits_when_narrow():
    res = demo.width_sweep(small=True)
    assert res.values == [1, 2, 8, 64]
    assert res.train_error[0] > 0.5  # one hidden unit cannot separate 10 classes
    assert res.train_error[-1] < 0.05
    assert res.underfitting()[0] == 1
    assert res.best_value == 64


def test_more_training_examples_shrink_the_gap():
    res = demo.size_sweep(small=True)
    assert res.values == [25, 100, 1000]
    assert res.test_error[0] > res.test_error[1] > res.test_error[2]
    assert res.gap[0] > res.gap[2]


def test_error_functions():
    model = nn.Linear(2, 3)
    X = np.eye(2, dtype=np.float32)
    model.weight.data[...] = np.array([[1, 0, 0], [0, 0, 1]], np.float32)
    assert classification_error(model, X, np.array([0, 2])) == 0.0
    assert classification_error(model, X, np.array([1, 2])) == 0.5
    reg = nn.Linear(2, 1)
    reg.weight.data[...] = 1.0
    assert mean_squared_error(reg, X, np.array([1.0, 3.0])) == pytest.approx(2.0)
