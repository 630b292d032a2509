"""Sweeps, bagging and grid searches on a local Dask cluster equal their n_jobs=1 results.

A ``LocalCluster`` of two worker processes stands in for a real cluster;
``joblib.parallel_config(backend="dask")`` sends the independent fits there.
Needs the ``[dask]`` extra; without it the module skips with that reason.
"""

import numpy as np
import pytest

pytest.importorskip("dask.distributed", reason='needs the extra: pip install "chainrule[dask]"')
joblib = pytest.importorskip("joblib")

import chainrule as cr
from chainrule import nn
from chainrule.ensembles import Bagging, capacity_sweep, training_size_sweep
from chainrule.training import fit


@pytest.fixture(scope="module")
def dask_client():
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def _data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(np.int64)
    return X[: n // 2], y[: n // 2], X[n // 2 :], y[n // 2 :]


def _build(width):
    return nn.Sequential(nn.Linear(6, width), nn.Tanh(), nn.Linear(width, 2))


def _train(model, X, y):
    fit(model, X, y, loss="cross_entropy", optimizer=cr.optim.Adam(model.parameters(), lr=0.01),
        epochs=5, batch_size=32, verbose=0)


def test_capacity_and_training_size_sweeps_on_dask_equal_one_job(dask_client):
    X_tr, y_tr, X_te, y_te = _data()
    one = capacity_sweep(_build, [2, 8, 32], X_tr, y_tr, X_te, y_te, train=_train, seed=3)
    with joblib.parallel_config(backend="dask"):
        many = capacity_sweep(_build, [2, 8, 32], X_tr, y_tr, X_te, y_te, train=_train,
                              seed=3, n_jobs=2)
    assert many.train_error == one.train_error
    assert many.test_error == one.test_error
    sizes_one = training_size_sweep(lambda: _build(8), [30, 60, 120], X_tr, y_tr, X_te, y_te,
                                    train=_train, seed=1)
    with joblib.parallel_config(backend="dask"):
        sizes_many = training_size_sweep(lambda: _build(8), [30, 60, 120], X_tr, y_tr, X_te,
                                         y_te, train=_train, seed=1, n_jobs=-1)
    assert sizes_many.test_error == sizes_one.test_error


def test_bagging_on_dask_equals_one_job(dask_client):
    X_tr, y_tr, X_te, _ = _data()
    kwargs = {"k": 3, "loss": "cross_entropy", "epochs": 3, "batch_size": 32, "seed": 5,
              "optimizer_fn": lambda ps: cr.optim.SGD(ps, lr=0.1)}
    one = Bagging(lambda: _build(8), n_jobs=1, **kwargs).fit(X_tr, y_tr)
    with joblib.parallel_config(backend="dask"):
        many = Bagging(lambda: _build(8), n_jobs=2, **kwargs).fit(X_tr, y_tr)
    np.testing.assert_array_equal(many.predict_proba(X_te), one.predict_proba(X_te))


def test_grid_search_of_the_estimator_on_dask_equals_one_job(dask_client):
    from sklearn.model_selection import GridSearchCV

    X_tr, y_tr, _, _ = _data()
    grid = {"alpha": [1e-4, 1e-1], "hidden_layer_sizes": [(4,), (16,)]}
    est = cr.sklearn.MLPClassifier(max_iter=15, random_state=0)
    one = GridSearchCV(est, grid, cv=2, n_jobs=1).fit(X_tr, y_tr)
    with joblib.parallel_config(backend="dask"):
        many = GridSearchCV(est, grid, cv=2, n_jobs=2).fit(X_tr, y_tr)
    np.testing.assert_array_equal(many.cv_results_["mean_test_score"],
                                  one.cv_results_["mean_test_score"])
    assert many.best_params_ == one.best_params_


def test_parallel_sweep_without_a_seed_is_refused():
    X_tr, y_tr, X_te, y_te = _data()
    with pytest.raises(ValueError, match="seed="):
        capacity_sweep(_build, [2, 4], X_tr, y_tr, X_te, y_te, train=_train, seed=None,
                       n_jobs=2)
