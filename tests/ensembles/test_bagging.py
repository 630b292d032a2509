"""Bagging: inverse-variance closed form, vote, OOB variances, seeds, n_jobs."""

import sys
from functools import partial

import cloudpickle
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.ensembles import Bagging, combine_predictions, inverse_variance_weights
from chainrule.optim import SGD

# joblib workers cannot import this test module: ship its functions by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _clf():
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))


def _reg():
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))


_opt = partial(SGD, lr=0.1, momentum=0.5)


def _data(n=90, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6)).astype(np.float32)
    y = (X[:, :3] + 0.5 * rng.standard_normal((n, 3))).argmax(1)
    return X, y


def test_inverse_variance_k2_is_the_closed_form():
    rng = np.random.default_rng(0)
    v1, v2 = 0.3, 1.7
    y1, y2 = rng.standard_normal(20), rng.standard_normal(20)
    w = inverse_variance_weights([v1, v2])
    combined = combine_predictions(np.stack([y1, y2]), "inverse_variance", w)
    closed = v2 / (v1 + v2) * y1 + v1 / (v1 + v2) * y2
    np.testing.assert_allclose(combined, closed, rtol=1e-12)


def test_inverse_variance_weights_minimise_the_variance():
    """For independent estimates Var(Σ wᵢyᵢ) = Σ wᵢ² Varᵢ; its minimum is 1/Σ(1/Varᵢ)."""
    v = np.array([0.5, 2.0, 1.0, 4.0])
    w = inverse_variance_weights(v)
    np.testing.assert_allclose(w.sum(), 1.0)
    best = (w * w * v).sum()
    np.testing.assert_allclose(best, 1 / (1 / v).sum(), rtol=1e-12)
    rng = np.random.default_rng(1)
    for _ in range(20):
        other = rng.dirichlet(np.ones(4))
        assert (other * other * v).sum() >= best - 1e-15
    np.testing.assert_array_equal(inverse_variance_weights([0.0, 1.0, 0.0]), [0.5, 0, 0.5])
    with pytest.raises(ValueError, match="variances >= 0"):
        inverse_variance_weights([1.0, -1.0])


def test_majority_vote_with_ties_to_lower_class():
    labels = np.array([[0, 1, 2, 2], [1, 1, 0, 2], [1, 0, 1, 0]])  # (k=3, N=4)
    np.testing.assert_array_equal(combine_predictions(labels, "vote"), [1, 1, 0, 2])
    probs = np.eye(3)[labels]  # the same as scores
    np.testing.assert_array_equal(combine_predictions(probs, "vote"), [1, 1, 0, 2])


def test_members_bootstrap_oob_variances_and_reproducibility():
    X, y = _data()
    kw = {"loss": "cross_entropy", "optimizer_fn": _opt, "epochs": 3, "batch_size": 16}
    state = cr.get_rng_state()
    bag = Bagging(_clf, k=3, combine="inverse_variance", seed=4, **kw).fit(X, y)
    assert cr.get_rng_state() == state  # the caller's random stream is untouched
    assert bag.bootstrap_indices_.shape == (3, 90)
    assert len(set(bag.seeds_)) == 3
    assert len({r.tobytes() for r in bag.bootstrap_indices_}) == 3
    # OOB variance of member 0 by hand: mean Brier score on the rows it never saw
    oob = np.setdiff1d(np.arange(90), bag.bootstrap_indices_[0])
    p = bag.member_outputs(X[oob])[0]
    brier = ((p - np.eye(3)[y[oob]]) ** 2).sum(1).mean()
    np.testing.assert_allclose(bag.oob_variances_[0], brier, rtol=1e-10)
    np.testing.assert_allclose(bag.weights_, inverse_variance_weights(bag.oob_variances_))
    outs = bag.member_outputs(X)
    np.testing.assert_allclose(bag.predict_proba(X), np.tensordot(bag.weights_, outs, 1))
    np.testing.assert_array_equal(bag.predict(X), bag.predict_proba(X).argmax(1))
    again = Bagging(_clf, k=3, combine="inverse_variance", seed=4, **kw).fit(X, y)
    np.testing.assert_array_equal(again.member_outputs(X), outs)
    other = Bagging(_clf, k=3, combine="inverse_variance", seed=5, **kw).fit(X, y)
    assert not np.array_equal(other.member_outputs(X), outs)


def test_members_differ_from_a_model_trained_on_all_rows():
    X, y = _data()
    bag = Bagging(_clf, k=2, loss="cross_entropy", optimizer_fn=_opt, epochs=2,
                  combine="vote").fit(X, y)
    outs = bag.member_outputs(X)
    assert not np.allclose(outs[0], outs[1])
    votes = bag.predict_proba(X)
    np.testing.assert_allclose(votes.sum(1), 1.0)
    assert set(np.unique(votes)) <= {0.0, 0.5, 1.0}


def test_regression_mean_and_inverse_variance():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((80, 6)).astype(np.float32)
    y = (X[:, :1] - X[:, 1:2] + 0.1 * rng.standard_normal((80, 1))).astype(np.float32)
    kw = {"loss": "mse", "optimizer_fn": _opt, "epochs": 3, "batch_size": 16}
    bag = Bagging(_reg, k=3, **kw).fit(X, y)
    assert bag.task_ == "regression"
    outs = bag.member_outputs(X)
    np.testing.assert_allclose(bag.predict(X), outs.mean(0))
    oob = np.setdiff1d(np.arange(80), bag.bootstrap_indices_[1])
    resid = ((bag.member_outputs(X[oob])[1] - y[oob]) ** 2).mean()
    np.testing.assert_allclose(bag.oob_variances_[1], resid, rtol=1e-10)
    with pytest.raises(ValueError, match="vote"):
        Bagging(_reg, k=2, combine="vote", **kw).fit(X, y)


def test_n_jobs_2_gives_the_same_ensemble_as_n_jobs_1():
    X, y = _data(60)
    kw = {"loss": "cross_entropy", "optimizer_fn": _opt, "epochs": 2, "batch_size": 16, "seed": 7}
    serial = Bagging(_clf, k=2, n_jobs=1, **kw).fit(X, y)
    parallel = Bagging(_clf, k=2, n_jobs=2, **kw).fit(X, y)
    for a, b in zip(serial.members_, parallel.members_):
        for key, value in a.state_dict().items():
            np.testing.assert_array_equal(value, b.state_dict()[key])


def test_bad_arguments():
    X, y = _data(20)
    with pytest.raises(ValueError, match="k >= 1"):
        Bagging(_clf, k=0, loss="cross_entropy", optimizer_fn=_opt).fit(X, y)
    with pytest.raises(RuntimeError, match="not fitted"):
        Bagging(_clf, loss="cross_entropy", optimizer_fn=_opt).predict(X)


def test_threading_backend_gives_the_same_ensemble_as_one_job():
    # members draw from their own scoped generators, so threads do not mix streams
    X, y = _data(60)
    kw = {"loss": "cross_entropy", "optimizer_fn": _opt, "epochs": 2, "batch_size": 16, "seed": 3}
    serial = Bagging(_clf, k=3, n_jobs=1, **kw).fit(X, y)
    threaded = Bagging(_clf, k=3, n_jobs=3, backend="threading", **kw).fit(X, y)
    for a, b in zip(serial.members_, threaded.members_):
        for key, value in a.state_dict().items():
            np.testing.assert_array_equal(value, b.state_dict()[key])
