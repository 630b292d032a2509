"""MLPClassifier: learning, outputs, partial_fit, early stopping, randomness, our extensions."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import chainrule as cr
from chainrule.sklearn import MLPClassifier


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0,
                                              stratify=y)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), y_tr, scaler.transform(X_te), y_te


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def test_cr_sklearn_is_importable_lazily():
    assert cr.sklearn.MLPClassifier is MLPClassifier


def test_digits_accuracy(digits):
    X_tr, y_tr, X_te, y_te = digits
    clf = quiet_fit(MLPClassifier((64,), max_iter=30, random_state=0), X_tr, y_tr)
    assert clf.score(X_te, y_te) > 0.95
    assert clf.n_iter_ == 30 and len(clf.loss_curve_) == 30
    assert clf.loss_curve_[-1] < clf.loss_curve_[0] / 5
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert [c.shape for c in clf.coefs_] == [(64, 64), (64, 10)]
    assert [b.shape for b in clf.intercepts_] == [(64,), (10,)]
    assert clf.n_layers_ == 3 and clf.n_outputs_ == 10 and clf.out_activation_ == "softmax"
    assert clf.t_ == 30 * X_tr.shape[0]


@pytest.mark.parametrize("solver", ["adam", "sgd", "rmsprop", "rmsprop_nesterov", "adagrad"])
def test_every_solver_learns_iris(iris, solver):
    X, y = iris
    lr = {"sgd": 0.1, "adagrad": 0.1}.get(solver, 0.01)
    clf = quiet_fit(MLPClassifier((16,), solver=solver, learning_rate_init=lr, max_iter=60,
                                  batch_size=32, random_state=0), X, y)
    assert clf.score(X, y) > 0.9


@pytest.mark.parametrize("activation",
                         ["relu", "tanh", "logistic", "identity", "leaky_relu", "softplus", "abs"])
def test_every_activation_learns(iris, activation):
    X, y = iris
    clf = quiet_fit(MLPClassifier((16,), activation=activation, learning_rate_init=0.02,
                                  max_iter=40, batch_size=32, random_state=0), X, y)
    assert clf.score(X, y) > 0.85
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_string_labels_binary_and_probabilities(iris):
    X, y = iris
    mask = y > 0
    labels = np.array(["setosa", "versicolor", "virginica"])[y[mask]]
    clf = quiet_fit(MLPClassifier((8,), max_iter=50, learning_rate_init=0.05,
                                  random_state=0), X[mask], labels)
    assert list(clf.classes_) == ["versicolor", "virginica"]
    assert clf.out_activation_ == "logistic" and clf.coefs_[-1].shape == (8, 1)
    proba = clf.predict_proba(X[mask])
    assert proba.shape == (mask.sum(), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    # (np.log(1 - p) itself carries float64 rounding of 1 - p: compare absolutely)
    np.testing.assert_allclose(clf.predict_log_proba(X[mask]), np.log(proba), atol=1e-12)
    pred = clf.predict(X[mask])
    assert pred.dtype == labels.dtype
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X[mask], labels) > 0.9


def test_log_proba_is_the_log_of_proba_even_where_it_underflows(iris):
    # as scikit-learn (whose check_classifiers_train compares the two, infinities
    # included): -inf exactly where a probability underflows to 0
    X, y = iris
    clf = quiet_fit(MLPClassifier((8,), max_iter=5, random_state=0), X, y)
    far = X[:3] * 1e5  # huge logits: some probabilities underflow to 0
    proba, log_p = clf.predict_proba(far), clf.predict_log_proba(far)
    assert np.any(proba == 0.0)
    np.testing.assert_array_equal(np.isneginf(log_p), proba == 0.0)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(log_p, np.log(proba))
    near = X[:20]
    assert np.all(np.isfinite(clf.predict_log_proba(near)))


def test_multilabel(iris):
    X, y = iris
    Y = np.column_stack([y == 0, y == 2, X[:, 0] > 0]).astype(int)
    clf = quiet_fit(MLPClassifier((32,), max_iter=200, learning_rate_init=0.02,
                                  random_state=0), X, Y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.out_activation_ == "logistic"
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    pred = clf.predict(X)
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    assert clf.score(X, Y) > 0.85  # subset accuracy


def test_partial_fit_matches_fit_with_one_epoch(iris):
    X, y = iris
    params = {"hidden_layer_sizes": (8,), "shuffle": False, "random_state": 3}
    a = MLPClassifier(**params, max_iter=1)
    quiet_fit(a, X, y)
    b = MLPClassifier(**params).partial_fit(X, y, classes=np.unique(y))
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(wa, wb)


def test_partial_fit_improves_and_keeps_optimizer_state(iris):
    X, y = iris
    clf = MLPClassifier((16,), learning_rate_init=0.01, random_state=0)
    for _ in range(30):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 30
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
    assert clf._optimizer.state[clf._optimizer.param_groups[0]["params"][0]]["step"] == 30
    # a batch holding only some of the classes is fine after the first call
    clf.partial_fit(X[y == 1], y[y == 1])


def test_partial_fit_label_errors(iris):
    X, y = iris
    clf = MLPClassifier((4,))
    with pytest.raises(ValueError, match="classes="):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match=r"unseen labels \[2\]"):
        clf.partial_fit(X, y, classes=[0, 1])
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1])
    with pytest.raises(ValueError, match=r"unseen labels \[2\]"):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="classes= to equal classes_"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


def test_warm_start_continues_and_checks_classes(iris):
    X, y = iris
    clf = quiet_fit(MLPClassifier((8,), max_iter=5, warm_start=True, random_state=0), X, y)
    before = [c.copy() for c in clf.coefs_]
    quiet_fit(clf, X, y)
    assert len(clf.loss_curve_) == 10 and clf.n_iter_ == 5
    assert not np.array_equal(before[0], clf.coefs_[0])
    assert clf.loss_curve_[5] < clf.loss_curve_[0]  # continued, not restarted
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X[y < 2], y[y < 2])
    cold = quiet_fit(MLPClassifier((8,), max_iter=5, random_state=0), X, y)
    quiet_fit(cold, X, y)
    assert len(cold.loss_curve_) == 5  # without warm_start, fit starts over


def test_early_stopping_restores_best_weights(digits):
    X_tr, y_tr, _, _ = digits
    seen = []

    class Recording(MLPClassifier):
        def _validation_score(self, X_val, T_val, w_val=None):
            seen.append([c.copy() for c in self.coefs_])
            return super()._validation_score(X_val, T_val, w_val)

    clf = Recording((32,), early_stopping=True, n_iter_no_change=3, tol=0.0,
                    learning_rate_init=0.05, max_iter=60, random_state=0)
    clf.fit(X_tr, y_tr)
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_ == len(seen) < 60
    assert clf.best_validation_score_ == max(scores) and clf.best_loss_ is None
    best = int(np.argmax(scores))
    assert best < len(scores) - 1  # stopped after a plateau, not at the best epoch
    for final, recorded in zip(clf.coefs_, seen[best]):
        np.testing.assert_array_equal(final, recorded)


def test_tol_stops_training_without_warning(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier((8,), tol=10.0, n_iter_no_change=2, max_iter=50).fit(X, y)
    # sklearn's rule: stop once more than n_iter_no_change epochs in a row
    # failed to improve by tol (the first epoch improves on +inf)
    assert clf.n_iter_ == 4
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\)"):
        MLPClassifier((8,), max_iter=3).fit(X, y)


def test_sgd_learning_rate_schedules(iris):
    X, y = iris
    clf = MLPClassifier((8,), solver="sgd", learning_rate="adaptive", tol=10.0,
                        n_iter_no_change=1, max_iter=6, learning_rate_init=0.1)
    quiet_fit(clf, X, y)
    # no improvement of 10 after the first epoch: after epochs 3 and 5 the
    # count exceeds n_iter_no_change and ε is divided by 5 instead of stopping
    assert clf.n_iter_ == 6
    assert clf._optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / 5**2)
    clf = MLPClassifier((8,), solver="sgd", learning_rate="invscaling", power_t=0.5,
                        max_iter=2, learning_rate_init=0.1)
    quiet_fit(clf, X, y)
    assert clf._optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / np.sqrt(301))


def test_random_state_reproducible_and_global_state_untouched(iris):
    X, y = iris
    params = {"hidden_layer_sizes": (8,), "max_iter": 3, "dropout": 0.2, "batch_size": 16}
    cr.manual_seed(123)
    state = cr.get_rng_state()
    a = quiet_fit(MLPClassifier(**params, random_state=7), X, y)
    assert cr.get_rng_state() == state
    b = quiet_fit(MLPClassifier(**params, random_state=7), X, y)
    c = quiet_fit(MLPClassifier(**params, random_state=8), X, y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])
    # a RandomState instance is consumed, as in scikit-learn
    rs = np.random.RandomState(0)
    d = quiet_fit(MLPClassifier(**params, random_state=rs), X, y)
    e = quiet_fit(MLPClassifier(**params, random_state=rs), X, y)
    assert not np.array_equal(d.coefs_[0], e.coefs_[0])


def test_pickle_round_trip_keeps_predictions_and_training_state(iris):
    X, y = iris
    clf = MLPClassifier((8,), random_state=0)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    clf.partial_fit(X, y)
    copy.partial_fit(X, y)  # optimiser moments and random stream came along
    for wa, wb in zip(clf.coefs_, copy.coefs_):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("mode", ["inverted", "weight_scaling"])
def test_dropout_modes_learn_and_predict_deterministically(digits, mode):
    X_tr, y_tr, X_te, y_te = digits
    clf = quiet_fit(MLPClassifier((128,), dropout=0.3, dropout_mode=mode, max_iter=20,
                                  random_state=0), X_tr, y_tr)
    assert clf.score(X_te, y_te) > 0.93
    np.testing.assert_array_equal(clf.predict_proba(X_te), clf.predict_proba(X_te))


def test_weight_scaling_scales_hidden_units_at_inference(iris):
    X, y = iris
    clf = quiet_fit(MLPClassifier((8,), dropout=0.5, dropout_mode="weight_scaling",
                                  max_iter=2, random_state=0), X, y)
    W1, W2 = clf.coefs_
    b1, b2 = clf.intercepts_
    h = np.maximum(X @ W1.astype(np.float64) + b1, 0) * 0.5  # keep probability 1-p
    z = h @ W2 + b2
    np.testing.assert_allclose(clf.predict_log_proba(X),
                               z - np.log(np.exp(z).sum(1, keepdims=True)), rtol=1e-6)


def test_batch_norm_network(digits):
    X_tr, y_tr, X_te, y_te = digits
    clf = quiet_fit(MLPClassifier((64,), batch_norm=True, max_iter=15, learning_rate_init=0.01,
                                  random_state=0),
                    X_tr, y_tr)
    assert isinstance(clf._model[1], cr.nn.BatchNorm1d)
    assert clf.score(X_te, y_te) > 0.94
    # an epoch that would end on a one-row minibatch skips it instead of failing
    quiet_fit(MLPClassifier((4,), batch_norm=True, batch_size=10, max_iter=2), X_tr[:21],
              y_tr[:21])


def test_label_smoothing_caps_confidence(iris):
    X, y = iris
    eps = 0.3
    params = {"hidden_layer_sizes": (32,), "max_iter": 300, "learning_rate_init": 0.02,
                  "random_state": 0}
    sharp = quiet_fit(MLPClassifier(**params), X, y)
    smooth = quiet_fit(MLPClassifier(**params, label_smoothing=eps), X, y)
    target = 1 - eps + eps / 3  # the smoothed target of the true class
    # the smoothed cross-entropy is minimised by predicting the smoothed target
    assert sharp.predict_proba(X).max(axis=1).mean() > 0.97
    assert abs(smooth.predict_proba(X).max(axis=1).mean() - target) < 0.05
    assert smooth.score(X, y) > 0.9


def test_verbose_prints_losses(iris, capsys):
    X, y = iris
    quiet_fit(MLPClassifier((4,), max_iter=2, verbose=True, early_stopping=True,
                            validation_fraction=0.2), X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Validation score: " in out


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fits_on_two_threads_equal_the_same_fits_in_sequence(digits):
    import threading

    X, y = digits[0], digits[1]
    params = {"hidden_layer_sizes": (16,), "max_iter": 4, "dropout": 0.2, "batch_size": 64}
    sequential = [quiet_fit(MLPClassifier(**params, random_state=s), X, y) for s in (1, 2)]
    cr.manual_seed(5)
    expected_stream = cr.random.generator().standard_normal(3)
    cr.manual_seed(5)
    fitted = {}

    def work(seed):
        fitted[seed] = quiet_fit(MLPClassifier(**params, random_state=seed), X, y)

    threads = [threading.Thread(target=work, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed, ref in zip((1, 2), sequential):
        for a, b in zip(fitted[seed].coefs_ + fitted[seed].intercepts_,
                        ref.coefs_ + ref.intercepts_):
            np.testing.assert_array_equal(a, b)
        assert fitted[seed].loss_curve_ == ref.loss_curve_
    # the fits drew nothing from the default generator
    np.testing.assert_array_equal(cr.random.generator().standard_normal(3), expected_stream)


def test_partial_fit_continues_the_estimators_own_stream(iris):
    X, y = iris
    params = {"hidden_layer_sizes": (8,), "dropout": 0.3, "random_state": 0}
    a = MLPClassifier(**params)
    b = MLPClassifier(**params)
    for _ in range(3):
        a.partial_fit(X, y, classes=[0, 1, 2])
        cr.manual_seed(99)  # the caller's generator changes between calls
        b.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
