"""Same objective and updates as scikit-learn's MLPs, step for step.

Both estimators start one epoch from the same weights (scikit-learn's
``warm_start`` continues from whatever ``coefs_`` hold), on the same
minibatches (``shuffle=False``; 40 rows in batches of 16, 16 and 8, so the
penalty's 1/m' scaling is exercised on a short last batch).  scikit-learn
computes in float64 and chainrule in float32: tolerances are float32's.
"""

import warnings

import numpy as np
import pytest
from sklearn import neural_network as sk_nn
from sklearn.exceptions import ConvergenceWarning

from chainrule.sklearn import MLPClassifier, MLPRegressor

SOLVERS = [
    {"solver": "sgd", "momentum": 0.0, "learning_rate_init": 0.1},
    {"solver": "sgd", "momentum": 0.9, "nesterovs_momentum": False, "learning_rate_init": 0.05},
    {"solver": "sgd", "momentum": 0.9, "nesterovs_momentum": True, "learning_rate_init": 0.05},
    # Adam's δ: sklearn divides by √v + δ with the bias correction folded into
    # the step, PyTorch (and chainrule) by √v̂ + δ; a tiny δ makes the two equal
    {"solver": "adam", "learning_rate_init": 0.01, "epsilon": 1e-12},
]


def _one_epoch_from_same_start(ours, theirs, X, y):
    """Fit ``ours`` one epoch, copy its weights into ``theirs``, run one more epoch in each."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
        theirs.fit(X, y)  # sets up all of sklearn's fitted attributes
        theirs.coefs_ = [c.astype(np.float64) for c in ours.coefs_]
        theirs.intercepts_ = [b.astype(np.float64) for b in ours.intercepts_]
        ours.set_params(warm_start=True).fit(X, y)
        theirs.set_params(warm_start=True).fit(X, y)
    for mine, ref in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(mine, ref, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(ours.loss_curve_[-1], theirs.loss_curve_[-1], rtol=1e-5)


def _common(**kw):
    return dict(hidden_layer_sizes=(7, 5), activation="tanh", alpha=0.3, batch_size=16,
                shuffle=False, max_iter=1, **kw)


@pytest.mark.parametrize("opt", SOLVERS, ids=lambda d: f"{d['solver']}-{d.get('momentum')}-"
                         f"{d.get('nesterovs_momentum')}")
def test_regressor_epoch_matches_sklearn(opt):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 6))
    y = X @ rng.standard_normal(6) + 0.1 * rng.standard_normal(40)
    _one_epoch_from_same_start(MLPRegressor(**_common(**opt), random_state=0),
                               sk_nn.MLPRegressor(**_common(**opt), random_state=0), X, y)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("opt", SOLVERS[::3], ids=lambda d: d["solver"])
def test_classifier_epoch_matches_sklearn(n_classes, opt):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 6))
    y = np.array(["ant", "bee", "cat"])[rng.integers(0, n_classes, 40)]
    _one_epoch_from_same_start(MLPClassifier(**_common(**opt), random_state=0),
                               sk_nn.MLPClassifier(**_common(**opt), random_state=0), X, y)


def test_two_output_regression_gradient_matches_sklearn():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 4))
    Y = np.column_stack([X[:, 0] - X[:, 1], X[:, 2] * 0.5])
    opt = SOLVERS[0]
    ours = MLPRegressor(**_common(**opt), random_state=0)
    theirs = sk_nn.MLPRegressor(**_common(**opt), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, Y)
        theirs.fit(X, Y)
        theirs.coefs_ = [c.astype(np.float64) for c in ours.coefs_]
        theirs.intercepts_ = [b.astype(np.float64) for b in ours.intercepts_]
        ours.set_params(warm_start=True).fit(X, Y)
        theirs.set_params(warm_start=True).fit(X, Y)
    # the updates agree (sklearn's gradient is that of the sum over outputs) ...
    for mine, ref in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(mine, ref, rtol=1e-5, atol=2e-6)
    assert ours.predict(X).shape == (40, 2)
