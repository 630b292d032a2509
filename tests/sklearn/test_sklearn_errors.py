"""Bad input and bad hyperparameters: clear errors, raised in fit (never in __init__)."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from chainrule.sklearn import MLPClassifier, MLPRegressor

rng = np.random.default_rng(0)
X = rng.standard_normal((30, 4))
y = np.arange(30) % 3


@pytest.mark.parametrize("params, match", [
    ({"hidden_layer_sizes": (10, 0)}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": "wide"}, "hidden_layer_sizes"),
    ({"activation": "gelu"}, r"activation to be one of 'relu'.*Received: activation='gelu'"),
    ({"solver": "newton-cg"}, "solver"),  # lbfgs is a solver since issue 14
    ({"alpha": -1.0}, r"alpha to be a float in \[0, inf\]"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"learning_rate_init": 0.0}, "learning_rate_init"),
    ({"max_iter": 0}, "max_iter"),
    ({"momentum": 1.0}, "momentum"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"beta_2": 1.0}, "beta_2"),
    ({"epsilon": 0.0}, "epsilon"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"dropout": 1.0}, r"dropout to be a float in \[0, 1\)"),
    ({"dropout_mode": "gaussian"}, "dropout_mode"),
    ({"batch_norm": "yes"}, "batch_norm"),
    ({"label_smoothing": 1.5}, "label_smoothing"),
    ({"random_state": -1}, "random_state"),
    ({"shuffle": None}, "shuffle"),
    ({"solver": "rmsprop_nesterov", "momentum": 0.0}, "momentum > 0"),
])
def test_bad_hyperparameters_fail_in_fit(params, match):
    clf = MLPClassifier(**params)  # __init__ stores, never validates
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_bad_data(Est):
    est = Est(hidden_layer_sizes=(4,), max_iter=2)
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.fit(X_nan, y)
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        est.fit(X_inf, y)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        est.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="0 sample"):
        est.fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(X, y[:-1])
    with pytest.raises(NotFittedError):
        est.predict(X)
    est.fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 4"):
        est.predict(X[:, :3])
    with pytest.raises(ValueError, match="X has 3 features"):
        est.partial_fit(X[:, :3], y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.predict(X_nan)


def test_bad_targets():
    y_nan = y.astype(float)
    y_nan[2] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        MLPRegressor(max_iter=2).fit(X, y_nan)
    with pytest.raises(ValueError, match="Input y contains NaN"):
        MLPClassifier(max_iter=2).fit(X, y_nan)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        MLPClassifier(max_iter=2).fit(X, rng.standard_normal(30))
    # one class, as scikit-learn: it is always predicted, with probability 1
    one = MLPClassifier(max_iter=2).fit(X, np.full(30, 7))
    assert one.classes_.tolist() == [7] and np.all(one.predict(X) == 7)
    assert one.predict_proba(X).shape == (30, 1) and np.all(one.predict_proba(X) == 1)
    with pytest.raises(ValueError, match="multilabel"):
        MLPClassifier(max_iter=2).fit(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="could not convert|numeric"):
        MLPRegressor(max_iter=2).fit(X, np.array(["a"] * 30, dtype=object))


def test_tiny_validation_set_and_batch_norm_on_one_row():
    with pytest.raises(ValueError, match="The validation set is too small.*at least 2"):
        MLPRegressor(early_stopping=True, validation_fraction=0.01).fit(X[:12], y[:12])
    with pytest.raises(ValueError, match="test_size = 1 should be greater or equal to the number"):
        MLPClassifier(early_stopping=True, validation_fraction=0.01).fit(X[:12], y[:12])
    with pytest.raises(ValueError, match="batch_norm=True needs"):
        MLPRegressor(batch_norm=True).fit(X[:1], y[:1])


def test_divergence_is_reported():
    big = MLPRegressor(hidden_layer_sizes=(8,),
                       solver="sgd", learning_rate_init=1e6, momentum=0.0, max_iter=20,
                       random_state=0)
    with (pytest.raises(FloatingPointError, match=r"loss became (nan|inf) in epoch \d+, minibatch 1"),
          np.errstate(all="ignore")):
        big.fit(X * 100, y * 1e3)
    # the step that would have written NaN into the weights was not taken
    assert all(np.all(np.isfinite(w)) for w in big.coefs_ + big.intercepts_)


def test_early_stopping_on_six_rows_says_what_it_needs():
    X6 = np.arange(12.0).reshape(6, 2)
    y6 = np.array([0, 1, 0, 1, 0, 1])
    with pytest.raises(ValueError, match="early_stopping=True holds out validation_fraction=0.1 "
                       "of the 6 samples.*each class.*early_stopping=False"):
        MLPClassifier(early_stopping=True).fit(X6, y6)
    with pytest.raises(ValueError, match="too small.*of the 6 samples.*Received: 1 row"):
        MLPRegressor(early_stopping=True).fit(X6, y6.astype(float))
