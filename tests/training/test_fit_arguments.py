"""fit's Keras-style names, its dtype rule and map-style datasets."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.training import evaluate, fit, predict
from chainrule.training.dtype_policy import DtypeConversionWarning
from chainrule.training.recipes import resolve_name


def _data(n=48, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(dtype)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    return X, y


def _model(dtype=np.float32):
    cr.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    for p in m.parameters():
        p.data = p.data.astype(dtype)
    return m


@pytest.mark.parametrize(
    ("kind", "given", "expected"),
    [
        ("optimizer", "Adam", "adam"),
        ("optimizer", "SGD", "sgd"),
        ("loss", "sparse_categorical_crossentropy", "cross_entropy"),
        ("loss", "categorical_crossentropy", "cross_entropy"),
        ("loss", "binary_crossentropy", "bce"),
        ("loss", "mse", "mse"),
        ("loss", "mean_squared_error", "mse"),
        ("loss", "mae", "l1"),
        ("metric", "acc", "accuracy"),
        ("metric", "sparse_categorical_accuracy", "accuracy"),
        ("metric", "mean_absolute_error", "mae"),
    ],
)
def test_resolve_name_maps_keras_spellings(kind, given, expected):
    assert resolve_name(kind, given) == expected


def test_unknown_names_list_the_accepted_ones():
    X, y = _data()
    with pytest.raises(ValueError, match=r"Expected an optimizer in \[.*'adam'.*'sgd'.*Received: 'adamax'"):
        fit(_model(), X, y, loss="cross_entropy", optimizer="adamax", verbose=0)
    with pytest.raises(ValueError, match=r"Expected a loss in \[.*'sparse_categorical_crossentropy'"):
        fit(_model(), X, y, loss="hinge", optimizer="adam", verbose=0)
    with pytest.raises(ValueError, match=r"Expected a metric in \[.*'acc'.*Received: 'f1'"):
        fit(_model(), X, y, loss="cross_entropy", optimizer="adam", metrics=["f1"], verbose=0)
    with pytest.raises(TypeError, match="optimizer to be a name"):
        fit(_model(), X, y, loss="cross_entropy", optimizer=3, verbose=0)
    m = _model()
    with pytest.raises(ValueError, match="lr only with an optimizer given by name"):
        fit(m, X, y, loss="cross_entropy", optimizer=cr.optim.SGD(m.parameters(), lr=0.1), lr=0.1)


@pytest.mark.parametrize(("name", "cls", "lr"), [
    ("adam", cr.optim.Adam, 0.05), ("sgd", cr.optim.SGD, None), ("rmsprop", cr.optim.RMSprop, 0.002),
])
def test_optimizer_by_name_equals_the_object(name, cls, lr):
    """fit(optimizer=name, lr=...) takes the very steps of the optimiser object."""
    X, y = _data()
    m1 = _model()
    cr.manual_seed(3)
    fit(m1, X, y, loss="cross_entropy", optimizer=name, lr=lr, epochs=2, verbose=0)
    m2 = _model()
    cr.manual_seed(3)
    opt = cls(m2.parameters(), lr=0.01 if lr is None else lr)  # SGD's default: Keras's 0.01
    fit(m2, X, y, loss="cross_entropy", optimizer=opt, epochs=2, verbose=0)
    for a, b in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_keras_loss_and_metric_names_equal_chainrule_ones():
    X, y = _data()
    runs = []
    for loss, metric, target in [
        ("cross_entropy", "accuracy", y),
        ("sparse_categorical_crossentropy", "acc", y),
        ("categorical_crossentropy", "categorical_accuracy", np.eye(2, dtype=np.float32)[y]),
    ]:
        m = _model()
        cr.manual_seed(1)
        hist = fit(m, X, target, loss=loss, optimizer="sgd", lr=0.1, metrics=[metric], epochs=2,
                   validation_data=(X, target), verbose=0)
        runs.append(hist.history)
    for h in runs[1:]:
        assert h == runs[0]
    assert set(runs[0]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_categorical_crossentropy_refuses_soft_targets():
    X, y = _data()
    soft = np.full((len(y), 2), 0.5, np.float32)
    with pytest.raises(ValueError, match="one-hot y of shape"):
        fit(_model(), X, soft, loss="categorical_crossentropy", optimizer="adam", verbose=0)


def test_binary_and_regression_names():
    X, y = _data()
    cr.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 1))
    h = fit(m, X, y.astype(np.float32), loss="binary_crossentropy", optimizer="adam", lr=0.05,
            metrics=["binary_accuracy"], epochs=30, verbose=0)
    assert h.history["accuracy"][-1] > 0.85
    r = nn.Sequential(nn.Linear(4, 1))
    t = X @ np.array([1.0, -2.0, 0.5, 0.0], np.float32)
    h = fit(r, X, t, loss="mae", optimizer="adam", lr=0.05, metrics=["mse", "mean_absolute_error"],
            epochs=40, verbose=0)
    assert h.history["mae"][-1] < 0.5 * h.history["mae"][0]
    np.testing.assert_allclose(h.history["mae"][-1], h.history["loss"][-1], rtol=1e-5)


# --- the dtype rule ---------------------------------------------------------------

def test_float64_model_trains_and_predicts_in_float64_without_notice():
    X, y = _data(dtype=np.float64)
    m = _model(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DtypeConversionWarning)
        fit(m, X, y, loss="cross_entropy", optimizer="sgd", lr=0.1, epochs=2, verbose=0)
    assert all(p.dtype == np.float64 for p in m.parameters())
    out = predict(m, X)
    assert out.dtype == np.float64
    # computed from the float64 rows themselves, not rounded through float32
    W1, b1, W2, b2 = (p.data for p in m.parameters())
    np.testing.assert_allclose(out, np.tanh(X @ W1 + b1) @ W2 + b2, rtol=1e-12, atol=1e-12)
    score = evaluate(m, X, y, loss="cross_entropy")["loss"]
    z = np.tanh(X @ W1 + b1) @ W2 + b2
    ref = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y])
    np.testing.assert_allclose(score, ref, rtol=1e-12)


def test_float64_model_reads_float32_data_widened():
    X, y = _data()
    m = _model(np.float64)
    fit(m, X, y, loss="cross_entropy", optimizer="adam", epochs=1, verbose=0)
    assert predict(m, X).dtype == np.float64


def test_float64_input_to_float32_model_warns_once_per_call_site():
    X, y = _data(dtype=np.float64)
    m = _model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(3):  # one call site
            fit(m, X, y, loss="cross_entropy", optimizer="adam", epochs=1, verbose=0)
    notes = [w for w in caught if issubclass(w.category, DtypeConversionWarning)]
    assert len(notes) == 1
    assert "float64" in str(notes[0].message) and "model.double()" in str(notes[0].message)
    assert notes[0].filename == __file__  # it points at the caller's line
    assert all(p.dtype == np.float32 for p in m.parameters())
    assert predict(m, X).dtype == np.float32


def test_float32_data_to_float32_model_is_silent():
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DtypeConversionWarning)
        fit(_model(), X, y, loss="cross_entropy", optimizer="adam", verbose=0)


# --- map-style datasets ---------------------------------------------------------

class _PairDataset:
    """A torch-style map-style dataset: one (x, y) example per index."""

    def __init__(self, X, y):
        self.X_rows, self.labels = X, y

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.X_rows[i], int(self.labels[i])


def test_fit_takes_a_map_style_dataset_like_its_arrays():
    X, y = _data()
    m1, m2 = _model(), _model()
    cr.manual_seed(2)
    h1 = fit(m1, _PairDataset(X, y), loss="cross_entropy", optimizer="adam", epochs=2,
             batch_size=8, validation_data=_PairDataset(X[:16], y[:16]), verbose=0)
    cr.manual_seed(2)
    h2 = fit(m2, X, y, loss="cross_entropy", optimizer="adam", epochs=2, batch_size=8,
             validation_data=(X[:16], y[:16]), verbose=0)
    assert h1.history == h2.history
    for a, b in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(ValueError, match="y=None with a dataset"):
        fit(m1, _PairDataset(X, y), y, loss="cross_entropy", optimizer="adam", verbose=0)
