"""solver="lbfgs" (issue 14): scikit-learn's semantics, its estimator checks, its accuracy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from chainrule.sklearn import MLPClassifier, MLPRegressor


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([
    MLPClassifier(solver="lbfgs", max_iter=100, random_state=0),
    MLPRegressor(solver="lbfgs", max_iter=100, random_state=0),
])
def test_sklearn_estimator_checks_lbfgs(estimator, check):
    check(estimator)


def _digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, random_state=0)


def test_digits_accuracy_is_within_001_of_sklearns_lbfgs():
    Xtr, Xte, ytr, yte = _digits()
    kw = {"hidden_layer_sizes": (64,), "solver": "lbfgs", "max_iter": 200, "alpha": 1e-4,
          "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(**kw).fit(Xtr, ytr)
        theirs = SkMLPClassifier(**kw).fit(Xtr, ytr)
    assert ours.score(Xte, yte) >= theirs.score(Xte, yte) - 0.01
    assert 1 <= ours.n_iter_ <= 200
    assert ours.loss_ < 0.05  # a full-batch optimiser drives the training loss down


def test_max_iter_counts_lbfgs_iterations_and_warns():
    Xtr, _, ytr, _ = _digits()
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        est = MLPClassifier((16,), solver="lbfgs", max_iter=3, random_state=0).fit(Xtr, ytr)
    assert est.n_iter_ == 3


def test_max_fun_limits_the_evaluations():
    Xtr, _, ytr, _ = _digits()
    with pytest.warns(ConvergenceWarning):
        est = MLPClassifier((16,), solver="lbfgs", max_iter=500, max_fun=10,
                            random_state=0).fit(Xtr, ytr)
    assert est.n_iter_ < 10


def test_alpha_is_the_l2_penalty_of_the_whole_data_objective():
    X, y = make_regression(60, 5, noise=1.0, random_state=0)
    y = y / y.std()
    small = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", alpha=0.0, max_iter=300, random_state=0).fit(X, y)
    big = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", alpha=10.0, max_iter=300, random_state=0).fit(X, y)
    norm = lambda est: sum(float(np.sum(w ** 2)) for w in est.coefs_)
    assert norm(big) < 0.5 * norm(small)


def test_partial_fit_is_not_available():
    est = MLPClassifier(solver="lbfgs")
    assert not hasattr(est, "partial_fit")
    assert hasattr(MLPClassifier(solver="adam"), "partial_fit")
