"""MLPRegressor: learning, output shapes, partial_fit, early stopping."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from chainrule.sklearn import MLPRegressor


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_tr)
    mu, sd = y_tr.mean(), y_tr.std()
    return scaler.transform(X_tr), (y_tr - mu) / sd, scaler.transform(X_te), (y_te - mu) / sd


def quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def test_diabetes_r2(diabetes):
    X_tr, y_tr, X_te, y_te = diabetes
    reg = quiet_fit(MLPRegressor(hidden_layer_sizes=(32,),
                                 learning_rate_init=0.01, max_iter=60, batch_size=32,
                                 alpha=1.0, random_state=0), X_tr, y_tr)
    assert reg.score(X_te, y_te) > 0.3  # sklearn's MLPRegressor: 0.36 here
    assert reg.predict(X_te).shape == (len(y_te),)
    assert reg.out_activation_ == "identity" and reg.n_outputs_ == 1


def test_two_outputs_keep_their_shape(diabetes):
    X_tr, y_tr, _, _ = diabetes
    Y = np.column_stack([y_tr, -2 * y_tr])
    reg = quiet_fit(MLPRegressor(hidden_layer_sizes=(16,), max_iter=30, learning_rate_init=0.01,
                                 random_state=0), X_tr, Y)
    pred = reg.predict(X_tr)
    assert pred.shape == (len(y_tr), 2)
    assert np.corrcoef(pred[:, 0], pred[:, 1])[0, 1] < -0.9
    assert reg.coefs_[-1].shape == (16, 2)
    with pytest.raises(ValueError, match="2 output"):
        reg.partial_fit(X_tr, y_tr)


def test_column_y_warns_and_predicts_1d(diabetes):
    from sklearn.exceptions import DataConversionWarning

    X_tr, y_tr, _, _ = diabetes
    with pytest.warns(DataConversionWarning):
        reg = quiet_fit(MLPRegressor(hidden_layer_sizes=(4,), max_iter=2), X_tr, y_tr[:, None])
    assert reg.predict(X_tr).shape == (len(y_tr),)


def test_learns_a_smooth_function_exactly_enough():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (400, 1))
    y = np.sin(2 * X[:, 0])
    reg = quiet_fit(MLPRegressor(hidden_layer_sizes=(32, 32),
                                 activation="tanh", learning_rate_init=0.01,
                                 max_iter=150, batch_size=50, random_state=0), X, y)
    assert np.sqrt(np.mean((reg.predict(X) - y) ** 2)) < 0.1
    # the reported loss is ½·mean squared error (+ the small penalty)
    assert reg.loss_curve_[-1] == pytest.approx(
        0.5 * np.mean((reg.predict(X) - y) ** 2), rel=0.5, abs=1e-3)


def test_partial_fit_and_early_stopping(diabetes):
    X_tr, y_tr, X_te, y_te = diabetes
    reg = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    for _ in range(20):
        reg.partial_fit(X_tr, y_tr)
    assert len(reg.loss_curve_) == 20 and reg.loss_curve_[-1] < reg.loss_curve_[0]
    es = MLPRegressor(hidden_layer_sizes=(16,),
                      early_stopping=True, learning_rate_init=0.05, tol=0.0,
                      n_iter_no_change=5, max_iter=200, random_state=0).fit(X_tr, y_tr)
    assert es.n_iter_ < 200 and len(es.validation_scores_) == es.n_iter_
    assert es.best_validation_score_ == max(es.validation_scores_)
    assert es.score(X_te, y_te) > 0.2  # sklearn's: 0.33 (0.29 here) with patience 5
