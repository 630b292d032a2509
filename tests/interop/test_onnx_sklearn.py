"""Estimators to ONNX, alone and inside a skl2onnx Pipeline."""

import numpy as np
import pytest

import chainrule as cr

onnx = pytest.importorskip("onnx", reason="needs the onnx extra: pip install 'chainrule[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="needs the onnx extra (onnxruntime)")
pytest.importorskip("sklearn", reason="needs the data extra (scikit-learn)")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n_classes, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 5)).astype(np.float32) * 3 + 1
    y = (X[:, 0] + X[:, 1] > 2).astype(int) if n_classes == 2 else (
        (X[:, 2] > 1).astype(int) + (X[:, 3] > 1))
    return X, y


def _run(proto, X):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X})


@pytest.mark.parametrize("n_classes, labels",
                         [(2, None), (3, None), (3, ["a", "b", "c"]), (2, [False, True])])
def test_classifier(n_classes, labels):
    X, y = _data(n_classes)
    if labels is not None:
        y = np.asarray(labels)[y]
    clf = cr.sklearn.MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, batch_norm=True,
                                   dropout=0.1, random_state=0).fit(X, y)
    label, proba = _run(cr.sklearn.export_onnx(clf, None), X)
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=1e-5, atol=1e-5)
    agree = np.mean(label.astype(str) == clf.predict(X).astype(str))
    assert agree > 0.99  # ties of float32 vs float64 probabilities aside


def test_regressor():
    X, _ = _data(2)
    y = X @ np.arange(5.0) + 0.5
    reg = cr.sklearn.MLPRegressor(hidden_layer_sizes=(6,), max_iter=10, random_state=0).fit(X, y)
    (pred,) = _run(cr.sklearn.export_onnx(reg, None), X)
    assert pred.shape == (len(X),)
    np.testing.assert_allclose(pred, reg.predict(X), rtol=1e-5, atol=1e-4)


def test_unfitted_estimator_is_refused():
    with pytest.raises(ValueError, match="fitted"):
        cr.sklearn.export_onnx(cr.sklearn.MLPClassifier(), None)


@pytest.mark.parametrize("labels", [None, ["low", "mid", "high"]])
def test_pipeline_with_scaler_through_skl2onnx(labels):
    skl2onnx = pytest.importorskip("skl2onnx", reason="needs the onnx extra (skl2onnx)")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data(3, seed=1)
    if labels is not None:
        y = np.asarray(labels)[y]
    pipe = make_pipeline(StandardScaler(),
                         cr.sklearn.MLPClassifier(hidden_layer_sizes=(10,), max_iter=30,
                                                  random_state=0)).fit(X, y)
    cr.sklearn.register_skl2onnx()
    proto = skl2onnx.to_onnx(pipe, X[:1], options={"zipmap": False})
    onnx.checker.check_model(proto)
    label, proba = _run(proto, X)
    np.testing.assert_allclose(proba, pipe.predict_proba(X), rtol=1e-4, atol=1e-5)
    assert np.mean(label.astype(str) == pipe.predict(X).astype(str)) > 0.99


def test_regressor_pipeline_through_skl2onnx():
    skl2onnx = pytest.importorskip("skl2onnx", reason="needs the onnx extra (skl2onnx)")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, _ = _data(2)
    y = X @ np.arange(5.0)
    pipe = make_pipeline(StandardScaler(),
                         cr.sklearn.MLPRegressor(hidden_layer_sizes=(6,), max_iter=10,
                                                 random_state=0)).fit(X, y)
    cr.sklearn.register_skl2onnx()
    (pred,) = _run(skl2onnx.to_onnx(pipe, X[:1]), X)
    np.testing.assert_allclose(pred.ravel(), pipe.predict(X), rtol=1e-4, atol=1e-4)
