"""scikit-learn's MLP behaviours beyond check_estimator (issue 17).

Same random_state → the same run as scikit-learn (initial weights, row
order, validation split); dtype kept; sparse input; sample weights;
Poisson loss; weights users assign; n_iter_no_change=inf; divergence.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import neural_network as sk_nn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import PoissonRegressor

from chainrule.sklearn import MLPClassifier, MLPRegressor

rng = np.random.default_rng(5)
X = rng.standard_normal((60, 5))
y_reg = X @ rng.standard_normal(5) + 0.1 * rng.standard_normal(60)
y_cls = np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5])


def quiet(est, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kw)


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_same_random_state_same_run_as_sklearn(momentum, early_stopping):
    # float64, shuffled minibatches: nothing but the arithmetic is shared
    kw = {"hidden_layer_sizes": (6,), "solver": "sgd", "momentum": momentum,
          "batch_size": 16, "learning_rate_init": 0.05, "max_iter": 15, "random_state": 3,
          "early_stopping": early_stopping, "validation_fraction": 0.2}
    ours = quiet(MLPRegressor(**kw), X, y_reg)
    theirs = quiet(sk_nn.MLPRegressor(**kw), X, y_reg)
    assert ours.n_iter_ == theirs.n_iter_
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)


def test_binary_validation_split_is_sklearns():
    # (scikit-learn leaves multiclass splits unstratified, against its docs; ours are
    # stratified, so only the binary split is the same)
    kw = {"hidden_layer_sizes": (6,), "solver": "sgd", "batch_size": 20,
          "learning_rate_init": 0.1, "max_iter": 8, "random_state": 7, "early_stopping": True,
          "validation_fraction": 0.25}
    y = np.where(y_cls > 0, "yes", "no")
    ours = quiet(MLPClassifier(**kw), X, y)
    theirs = quiet(sk_nn.MLPClassifier(**kw), X, y)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    reg = quiet(MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0),
                X.astype(dtype), y_reg)
    assert all(w.dtype == dtype for w in reg.coefs_ + reg.intercepts_)
    assert reg.predict(X.astype(dtype)).dtype == dtype
    clf = quiet(MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0),
                X.astype(dtype), y_cls)
    # probabilities are float64 whatever the fit (finite logs near 0 and 1)
    assert clf.predict_proba(X.astype(dtype)).dtype == np.float64


@pytest.mark.parametrize("fmt", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
def test_sparse_input_equals_dense(fmt):
    Xs = X.copy()
    Xs[np.abs(Xs) < 0.7] = 0.0
    kw = {"hidden_layer_sizes": (5,), "max_iter": 10, "batch_size": 16, "random_state": 0}
    dense = quiet(MLPClassifier(**kw), Xs, y_cls)
    sparse = quiet(MLPClassifier(**kw), fmt(Xs), y_cls)
    for a, b in zip(dense.coefs_, sparse.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(sparse.predict_proba(fmt(Xs)), dense.predict_proba(Xs),
                               rtol=1e-12)


def test_integer_sample_weights_equal_repeated_rows():
    # one minibatch per epoch: weight 2 is the row twice, weight 0 the row removed
    w = rng.integers(0, 3, len(y_reg))
    kw = {"hidden_layer_sizes": (4,), "solver": "sgd", "batch_size": 200, "max_iter": 20,
          "shuffle": False, "random_state": 0, "learning_rate_init": 0.05, "alpha": 0.01}
    weighted = quiet(MLPRegressor(**kw), X, y_reg, sample_weight=w)
    repeated = quiet(MLPRegressor(**kw), np.repeat(X, w, axis=0), np.repeat(y_reg, w))
    for a, b in zip(weighted.coefs_, repeated.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    clf_w = quiet(MLPClassifier(**kw), X, y_cls, sample_weight=w)
    clf_r = quiet(MLPClassifier(**kw), np.repeat(X, w, axis=0), np.repeat(y_cls, w))
    np.testing.assert_allclose(clf_w.predict_proba(X), clf_r.predict_proba(X), rtol=1e-9)


def test_poisson_loss_fits_a_log_linear_model():
    x = np.linspace(0, 1, 100)
    counts = np.random.default_rng(0).poisson(np.exp(x + 1))
    glm = PoissonRegressor(alpha=0, tol=1e-8).fit(x[:, None], counts)
    mlp = quiet(MLPRegressor(loss="poisson", hidden_layer_sizes=(1,), activation="identity",
                             alpha=0, learning_rate_init=0.01, max_iter=3000, tol=1e-10,
                             n_iter_no_change=50, batch_size=100, random_state=1),
                x[:, None], counts)
    assert mlp.out_activation_ == "exp"
    np.testing.assert_allclose(mlp.predict(x[:, None]), glm.predict(x[:, None]), rtol=1e-3)
    with pytest.raises(ValueError, match="y >= 0 with loss='poisson'"):
        MLPRegressor(loss="poisson").fit(x[:, None], -counts - 1)


def test_assigned_weights_are_used():
    reg = quiet(MLPRegressor(hidden_layer_sizes=(3,), max_iter=5, random_state=0), X, y_reg)
    reg.coefs_ = [np.zeros_like(c) for c in reg.coefs_]
    reg.intercepts_ = [b + 1.5 for b in [np.zeros_like(b) for b in reg.intercepts_]]
    np.testing.assert_allclose(reg.predict(X), 1.5)  # relu(0 + 1.5) * 0 + 1.5
    # warm start continues from assigned weights: one epoch of lr 0 keeps them
    reg.set_params(warm_start=True, max_iter=1, learning_rate_init=1e-300)
    quiet(reg, X, y_reg)
    np.testing.assert_allclose(reg.predict(X), 1.5)
    with pytest.raises(ValueError, match="expected coefs_ entries of shapes"):
        reg.coefs_ = [np.zeros((2, 2))] + reg.coefs_[1:]
        reg.predict(X)


def test_n_iter_no_change_inf_runs_max_iter_and_warns():
    reg = MLPRegressor(hidden_layer_sizes=(3,), max_iter=12, tol=10.0, n_iter_no_change=np.inf,
                       random_state=0)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        reg.fit(X, y_reg)
    assert reg.n_iter_ == 12


def test_partial_fit_only_for_stochastic_solvers():
    assert hasattr(MLPClassifier(solver="sgd"), "partial_fit")
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    with pytest.raises(ValueError, match="max_fun"):
        MLPRegressor(max_fun=0).fit(X, y_reg)


def test_divergence_with_early_stopping_stops_warns_and_keeps_best():
    reg = MLPRegressor(hidden_layer_sizes=(20,), activation="identity", solver="sgd",
                       learning_rate_init=1.0, max_iter=20, early_stopping=True,
                       random_state=0)
    with np.errstate(all="ignore"), pytest.warns(ConvergenceWarning, match="became"):
        reg.fit(X * 50, y_reg * 50)
    assert np.isnan(reg.validation_scores_[-1]) and reg.n_iter_ < 20
    assert len(reg.validation_scores_) == reg.n_iter_
    assert all(np.all(np.isfinite(w)) for w in reg.coefs_ + reg.intercepts_)


def test_multilabel_log_proba_ranks_as_proba():
    Y = np.column_stack([y_cls == 0, y_cls == 1, y_cls == 2]).astype(int)
    clf = quiet(MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0), X, Y)
    # saturated logits (60 and 80: both probabilities round to 1.0)
    clf.coefs_ = [np.zeros_like(c) for c in clf.coefs_]
    clf.intercepts_ = [np.zeros(3), np.array([60.0, 80.0, -5.0])]
    proba, log_proba = clf.predict_proba(X), clf.predict_log_proba(X)
    assert np.all(proba[:, :2] == 1.0)
    np.testing.assert_array_equal(proba.argmax(axis=1), log_proba.argmax(axis=1))
    np.testing.assert_allclose(log_proba, np.log(proba))


def test_onnx_export_of_poisson_and_float64_fits():
    pytest.importorskip("onnx", reason="needs the onnx extra")
    ort = pytest.importorskip("onnxruntime", reason="needs the onnx extra (onnxruntime)")
    from chainrule.sklearn import export_onnx

    counts = np.random.default_rng(1).poisson(np.exp(0.3 * X[:, 0]))
    reg = quiet(MLPRegressor(loss="poisson", hidden_layer_sizes=(4,), max_iter=20,
                             random_state=0), X, counts)  # float64 fit
    proto = export_onnx(reg, None)
    session = ort.InferenceSession(proto.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    (pred,) = session.run(None, {session.get_inputs()[0].name: X.astype(np.float32)})
    np.testing.assert_allclose(pred, reg.predict(X), rtol=1e-4)
    one = quiet(MLPClassifier(hidden_layer_sizes=(2,), max_iter=2), X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="at least 2 classes"):
        export_onnx(one, None)
