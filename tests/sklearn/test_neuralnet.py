"""NeuralNetClassifier / NeuralNetRegressor: any module as a scikit-learn estimator."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import chainrule as cr
from chainrule import nn
from chainrule.sklearn import NeuralNetClassifier, NeuralNetRegressor


class TinyNet(nn.Module):
    """in_features -> hidden -> out_features, sizes filled in from the data."""

    def __init__(self, in_features, out_features, hidden=16):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, hidden), nn.Tanh(),
                                  nn.Linear(hidden, out_features))

    def forward(self, x):
        return self.body(x)


CHECKED = [
    NeuralNetClassifier(TinyNet, lr=0.05, max_epochs=12, random_state=0),
    NeuralNetRegressor(TinyNet, lr=0.05, max_epochs=12, random_state=0),
]


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _blobs(n=90, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])
    y = np.repeat(np.arange(3), n // 3)
    X = centers[y] + rng.normal(size=(n, 2))
    return X, y


def test_module_class_with_module_params_and_arbitrary_labels():
    X, y = _blobs()
    labels = np.array(["cat", "dog", "eel"])[y]
    clf = NeuralNetClassifier(TinyNet, module__hidden=5, lr=0.05, max_epochs=30, random_state=0)
    clf.fit(X, labels)
    assert list(clf.classes_) == ["cat", "dog", "eel"]
    assert clf.module_.body[0].weight.shape == (2, 5)  # in_features from X, hidden routed
    assert clf.module_.body[2].weight.shape == (5, 3)  # out_features = number of classes
    assert clf.score(X, labels) > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    assert clf.get_params()["module__hidden"] == 5
    assert clone(clf).get_params()["module__hidden"] == 5
    clf.set_params(module__hidden=7, optimizer__weight_decay=1e-4, lr=0.1)
    assert clf.get_params()["module__hidden"] == 7 and clf.lr == 0.1
    clf.fit(X, labels)
    assert clf.module_.body[0].weight.shape == (2, 7)


def test_module_instance_is_copied_and_refits_from_its_start():
    X, y = _blobs()
    cr.manual_seed(0)
    net = TinyNet(2, 3)
    start = {k: v.copy() for k, v in net.state_dict().items()}
    clf = NeuralNetClassifier(net, lr=0.05, max_epochs=5, random_state=1)
    p1 = clf.fit(X, y).predict_proba(X)
    p2 = clf.fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)  # each fit starts from the instance's weights
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, start[k])  # the user's instance is untouched
    with pytest.raises(ValueError, match="module__ parameters only with a module class"):
        NeuralNetClassifier(net, module__hidden=3).fit(X, y)


def test_same_as_fit_by_hand():
    """The estimator is fit() with the module, loss and optimiser it names."""
    X, y = _blobs()
    clf = NeuralNetClassifier(TinyNet, optimizer="sgd", lr=0.1, max_epochs=3, batch_size=16,
                              optimizer__momentum=0.0, random_state=0).fit(X, y)
    seed = np.random.RandomState(0).randint(2**31 - 1)
    with cr.random.use_generator(int(seed)):
        net = TinyNet(2, 3)
        opt = cr.optim.SGD(net.parameters(), lr=0.1)
        cr.training.fit(net, X.astype(np.float32), y, loss="cross_entropy", optimizer=opt,
                        epochs=3, batch_size=16, verbose=0)
    for a, b in zip(clf.module_.parameters(), net.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_regressor_shapes_optimizer_class_and_float64_module():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    w = np.array([1.0, -2.0, 0.5])
    y = X @ w
    reg = NeuralNetRegressor(nn.Linear, optimizer=cr.optim.Adam, lr=0.1, max_epochs=60,
                             random_state=0).fit(X, y)
    assert reg.predict(X).shape == (80,)
    assert reg.score(X, y) > 0.99
    Y = np.stack([y, -y], axis=1)
    assert reg.fit(X, Y).predict(X).shape == (80, 2)
    cr.manual_seed(0)
    lin = nn.Linear(3, 1)
    for p in lin.parameters():
        p.data = p.data.astype(np.float64)
    reg64 = NeuralNetRegressor(lin, lr=0.1, max_epochs=60, random_state=0).fit(X, y)
    assert reg64.module_.weight.dtype == np.float64
    assert reg64.predict(X).dtype == np.float64


def test_pipeline_grid_search_and_cross_validation():
    X, y = _blobs(120)
    pipe = make_pipeline(StandardScaler(),
                         NeuralNetClassifier(TinyNet, max_epochs=15, random_state=0))
    grid = GridSearchCV(pipe, {"neuralnetclassifier__lr": [1e-4, 0.05],
                               "neuralnetclassifier__module__hidden": [4, 8]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_["neuralnetclassifier__lr"] == 0.05
    assert grid.best_score_ > 0.9
    scores = cross_val_score(NeuralNetRegressor(nn.Linear, lr=0.1, max_epochs=100, random_state=0),
                             X, X @ np.array([1.0, 2.0]), cv=3)
    assert scores.min() > 0.95


def test_bad_arguments_have_clear_errors():
    X, y = _blobs()
    with pytest.raises(TypeError, match="module__<name> or optimizer__<name>"):
        NeuralNetClassifier(TinyNet, hidden=3).fit(X, y)
    with pytest.raises(ValueError, match="Expected an optimizer in"):
        NeuralNetClassifier(TinyNet, optimizer="adamax").fit(X, y)
    with pytest.raises(ValueError, match="max_epochs to be a positive integer"):
        NeuralNetClassifier(TinyNet, max_epochs=0).fit(X, y)
    with pytest.raises(TypeError, match="nn.Module class or instance"):
        NeuralNetClassifier(3).fit(X, y)
