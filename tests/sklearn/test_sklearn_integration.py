"""The estimators inside scikit-learn's tools: Pipeline, GridSearchCV, cross_val_score, clone."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from chainrule.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def test_pipeline_with_scaler(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=80,
                                                         learning_rate_init=0.02,
                                                         random_state=0))
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.95
    assert pipe.predict_proba(X).shape == (150, 3)
    assert pipe[-1].n_features_in_ == 4


def test_cross_val_score(iris):
    X, y = iris
    est = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=80,
                                                        learning_rate_init=0.02,
                                                        random_state=0))
    scores = cross_val_score(est, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85


def test_grid_search_over_our_and_sklearns_parameters(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=40, random_state=0))
    grid = GridSearchCV(pipe, {
        "mlpclassifier__hidden_layer_sizes": [(4,), (16,)],
        "mlpclassifier__dropout": [0.0, 0.2],
        "mlpclassifier__learning_rate_init": [0.02],
    }, cv=3, error_score="raise")
    grid.fit(X, y)
    assert set(grid.best_params_) == {"mlpclassifier__hidden_layer_sizes",
                                      "mlpclassifier__dropout",
                                      "mlpclassifier__learning_rate_init"}
    assert grid.best_score_ > 0.85
    assert grid.best_estimator_[-1].dropout in (0.0, 0.2)


def test_clone_and_params_round_trip():
    est = MLPRegressor(hidden_layer_sizes=(3, 2), dropout=0.1, batch_norm=True, solver="adagrad")
    params = est.get_params()
    assert params["hidden_layer_sizes"] == (3, 2) and params["solver"] == "adagrad"
    copy = clone(est)
    assert copy.get_params() == params
    copy.set_params(dropout=0.4, dropout_mode="weight_scaling")
    assert copy.dropout == 0.4 and est.dropout == 0.1
    assert "label_smoothing" in MLPClassifier().get_params()


def test_float32_and_float64_inputs_agree(iris):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
        b = MLPClassifier((8,), max_iter=5, random_state=0).fit(X.astype(np.float32), y)
    # as scikit-learn: float64 input trains float64 weights, float32 stays float32
    assert all(c.dtype == np.float64 for c in a.coefs_ + a.intercepts_)
    assert all(c.dtype == np.float32 for c in b.coefs_ + b.intercepts_)
    assert a.predict_proba(X).dtype == b.predict_proba(X.astype(np.float32)).dtype == np.float64
    # the same start (float32 draws) and the same steps, to float32's precision
    np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(a.predict(X), b.predict(X.astype(np.float32)))
