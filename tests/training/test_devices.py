"""Training on a device, end to end (issue 12, "Done when").

The same model, from the same initial weights (drawn on the host), trained
on NumPy and on another array namespace must give the same losses
(relative 1e-4), with its outputs staying in that namespace:
array_api_strict on its default device and on "device1" (which, like CuPy,
refuses silent conversion to NumPy), and torch CPU tensors through
array-api-compat.  Checkpoints are host arrays and load onto any device.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.training import EarlyStopping, ModelCheckpoint, Trainer, evaluate, fit, predict
from chainrule.training import losses as L
from chainrule.training import metrics as M

xs = pytest.importorskip("array_api_strict")
torch = pytest.importorskip("torch")
xt = pytest.importorskip("array_api_compat.torch")

DEV1 = xs.Device("device1")

#: id -> (namespace, device) the model is moved to
PLACES = {
    "strict": (xs, None),
    "strict-device1": (xs, DEV1),
    "torch": (xt, torch.device("cpu")),
}


def _device(place):
    xp, device = PLACES[place]
    return device if device is not None else xp.__array_namespace_info__().default_device()


def _on(place, a):
    """Host array ``a`` as an array of the place's namespace and device."""
    xp, _ = PLACES[place]
    return xp.asarray(a, device=_device(place))


def _in_place(place, a) -> bool:
    xp, _ = PLACES[place]
    return cr._backend.namespace_of(a) is xp and cr._backend.device_of(a) == _device(place)


def _mlp():
    cr.manual_seed(3)
    return nn.Sequential(
        nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.25), nn.Linear(16, 3)
    )


def _cnn():
    cr.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(48, 3)
    )


def _data(kind: str):
    rng = np.random.default_rng(7)
    if kind == "mlp":
        X = rng.normal(size=(40, 6)).astype(np.float32)
    else:
        X = rng.normal(size=(24, 2, 8, 8)).astype(np.float32)
    return X, rng.integers(0, 3, X.shape[0])


def _optimizer(kind: str, model):
    if kind == "mlp":
        return cr.optim.Adam(model.parameters(), lr=1e-2)
    return cr.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


def _train(kind: str, place=None, device_data=False, **kw):
    model = _mlp() if kind == "mlp" else _cnn()
    if place is not None:
        xp, device = PLACES[place]
        model.to(device, xp=xp)
    X, y = _data(kind)
    if device_data:
        X, y = _on(place, X), _on(place, y)
    hist = fit(
        model, X, y, loss="cross_entropy", optimizer=_optimizer(kind, model), epochs=2,
        batch_size=8, metrics=["accuracy"], generator=5, verbose=0, **kw,
    )
    return model, hist


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("place", list(PLACES))
def test_training_on_a_namespace_gives_numpy_losses(kind, place):
    _, ref = _train(kind)
    model, hist = _train(kind, place)
    assert all(type(v) is float for v in hist.history["loss"] + hist.history["accuracy"])
    np.testing.assert_allclose(hist.history["loss"], ref.history["loss"], rtol=1e-4)
    assert hist.history["accuracy"] == ref.history["accuracy"]
    # the parameters stayed where the model was put, and outputs stay there too
    assert all(_in_place(place, p.data) for p in model.parameters())
    X, _ = _data(kind)
    out = predict(model, _on(place, X))
    assert _in_place(place, out)
    host = predict(model, X)  # NumPy data: NumPy outputs (the API's promise)
    assert isinstance(host, np.ndarray)
    np.testing.assert_allclose(cr._backend.to_host(out), host, rtol=1e-5, atol=1e-6)


def test_a_dataset_on_the_device_stays_there_and_trains_alike():
    _, ref = _train("mlp", "strict-device1")
    model, hist = _train(
        "mlp", "strict-device1", device_data=True, validation_split=0.25
    )
    assert model.device == DEV1
    _, ref_split = _train("mlp", "strict-device1", validation_split=0.25)
    np.testing.assert_allclose(hist.history["loss"], ref_split.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(hist.history["val_loss"], ref_split.history["val_loss"], rtol=1e-5)
    assert ref.history["loss"] != hist.history["loss"]  # the split really held rows out
    X, y = _data("mlp")
    scores = evaluate(model, _on("strict-device1", X), _on("strict-device1", y),
                      metrics=["accuracy", "log_likelihood"])
    host_scores = evaluate(model, X, y, metrics=["accuracy", "log_likelihood"])
    assert all(type(v) is float for v in scores.values())
    for k in scores:
        assert scores[k] == pytest.approx(host_scores[k], rel=1e-5)


def test_data_of_another_library_is_refused_naming_both():
    model = _mlp().to(xp=xs, device=DEV1)
    X, y = _data("mlp")
    opt = _optimizer("mlp", model)
    with pytest.raises(TypeError, match=r"array_api_strict.*torch"):
        fit(model, torch.asarray(X), torch.asarray(y), loss="cross_entropy", optimizer=opt,
            verbose=0)
    host_model = _mlp()
    with pytest.raises(TypeError, match=r"numpy.*array_api_strict"):
        fit(host_model, _on("strict", X), y, loss="cross_entropy",
            optimizer=_optimizer("mlp", host_model), verbose=0)


@pytest.mark.parametrize("saved_on,loaded_on", [("strict-device1", None), (None, "strict-device1")])
def test_a_checkpoint_loads_onto_any_device_and_resumes(tmp_path, saved_on, loaded_on):
    """Two epochs straight == one epoch, a checkpoint, one more epoch on another device."""
    _, straight = _train("mlp", saved_on)
    X, y = _data("mlp")
    path = tmp_path / "ck.npz"

    def trainer(place, callbacks=()):
        model = _mlp()
        if place is not None:
            xp, device = PLACES[place]
            model.to(device, xp=xp)
        return model, Trainer(model, loss="cross_entropy", optimizer=_optimizer("mlp", model),
                              metrics=["accuracy"], verbose=0, generator=5, callbacks=callbacks)

    _, first = trainer(saved_on, [ModelCheckpoint(path, every_n_epochs=1)])
    first.fit(X, y, epochs=1, batch_size=8)
    saved = cr.training.checkpoint.load_checkpoint(path)
    assert all(isinstance(a, np.ndarray) for a in saved["model"].values())
    model, second = trainer(loaded_on)
    hist = second.fit(X, y, epochs=2, batch_size=8, checkpoint=path)
    np.testing.assert_allclose(hist.history["loss"], straight.history["loss"], rtol=1e-4)
    if loaded_on is not None:
        assert all(_in_place(loaded_on, p.data) for p in model.parameters())
    else:
        assert all(isinstance(p.data, np.ndarray) for p in model.parameters())


def test_early_stopping_keeps_the_best_weights_on_the_device():
    X, y = _data("mlp")
    model = _mlp().to(xp=xs, device=DEV1)
    stop = EarlyStopping(patience=1)
    fit(model, X, y, loss="cross_entropy", optimizer=_optimizer("mlp", model), epochs=3,
        batch_size=8, validation_data=(X, y), callbacks=[stop], verbose=0, generator=5)
    assert stop.best_weights and all(
        cr._backend.device_of(a) == DEV1 for a in stop.best_weights.values()
    )
    got = model.state_dict()
    for k, a in stop.best_weights.items():
        np.testing.assert_array_equal(got[k], cr._backend.to_host(a))


@pytest.mark.parametrize("name", ["cross_entropy", "mse", "bce", "l1"])
def test_losses_take_numpy_or_device_targets(name):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 3)).astype(np.float32)
    if name == "cross_entropy":
        t = rng.integers(0, 3, 6)
    elif name == "bce":
        t = (rng.random((6, 3)) > 0.5).astype(np.float32)
    else:
        t = rng.normal(size=(6, 3)).astype(np.float32)
    fn = L.LOSSES[name]
    want = float(fn(cr.tensor(z), t).data)
    out = cr.tensor(_on("strict-device1", z))
    for target in (t, _on("strict-device1", t)):
        got = fn(out, target).data
        assert cr._backend.device_of(got) == DEV1
        assert float(got) == pytest.approx(want, rel=1e-6)


def test_metrics_sum_on_the_device_and_come_to_the_host_once(monkeypatch):
    rng = np.random.default_rng(1)
    calls = []
    to_host = M.to_host
    monkeypatch.setattr(M, "to_host", lambda a: calls.append(1) or to_host(a))
    host = [M.Accuracy(), M.LogLikelihood(), M.MeanSquaredError(), M.MeanAbsoluteError()]
    dev = [M.Accuracy(), M.LogLikelihood(), M.MeanSquaredError(), M.MeanAbsoluteError()]
    for _ in range(3):
        z = rng.normal(size=(5, 3)).astype(np.float32)
        ids = rng.integers(0, 3, 5)
        values = rng.normal(size=(5, 3)).astype(np.float32)
        for i, (h, d) in enumerate(zip(host, dev)):
            t = ids if i < 2 else values
            h.update(z, t)
            d.update(_on("strict-device1", z), _on("strict-device1", t))
    assert not calls  # nothing came to the host while accumulating
    for h, d in zip(host, dev):
        assert d.result() == pytest.approx(h.result(), rel=1e-6)
    assert len(calls) == 4  # one sum per metric, once


def test_cli_device_cuda_without_cupy_is_one_line(tmp_path, capsys):
    try:
        import cupy  # noqa: F401
    except ImportError:
        pass
    else:  # pragma: no cover - a GPU machine
        pytest.skip("CuPy is installed here")
    from chainrule.cli import main

    out = tmp_path / "run"
    assert main(["train", "--dataset", "iris", "--device", "cuda", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "chainrule[cuda]"' in err[0]
    assert not out.exists()
    assert main(["train", "--dataset", "iris", "--device", "tpu", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Unknown device 'tpu'" in err[0] and "cuda:N" in err[0]
    assert not out.exists()


def test_a_run_resumes_onto_another_device(tmp_path, monkeypatch):
    """A run folder holds host arrays: a CPU run resumed on device1 ends as the CPU run."""
    from chainrule.training.history import History
    from chainrule.training.runs import train_run

    def no_plot(*args, **kwargs):  # the learning-curve figure is not what is tested here
        raise ImportError("no matplotlib in this test")

    monkeypatch.setattr(History, "plot", no_plot)
    X, y = _data("mlp")
    data = tmp_path / "d.npz"
    np.savez(data, X=X, y=y)
    cfg = {"dataset": str(data), "hidden": [8], "epochs": 2, "seed": 1, "batch_size": 8}
    quiet = {"verbose": 0, "log": lambda *a: None}
    straight = train_run(cfg, str(tmp_path / "a"), **quiet)
    train_run({**cfg, "epochs": 1}, str(tmp_path / "b"), **quiet)
    resumed = train_run(cfg, str(tmp_path / "b"), resume=True, xp=xs, device=DEV1, **quiet)
    for k in ("accuracy", "loss"):
        assert resumed[k] == pytest.approx(straight[k], rel=1e-4)
    saved = json.loads((tmp_path / "b" / "config.json").read_text())
    assert "device1" in saved["data"]["device"] and saved["data"]["device"].startswith("array_api")


@pytest.mark.parametrize("place", list(PLACES))
def test_multitask_training_with_missing_targets_on_a_namespace(place):
    """A shared trunk with two heads, tasks labelled on different rows (-1, NaN), on a device:
    NumPy's per-task losses, and the missing rows found on the device."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(48, 5)).astype(np.float32)
    ya = (X[:, 0] > 0).astype(np.int64)
    yb = X[:, 1:2] * 2.0
    ya[::3] = -1  # no class id on every third row
    yb[1::4] = np.nan  # no real target on every fourth row

    def run(moved):
        cr.manual_seed(0)
        model = nn.MultiTask(nn.Sequential(nn.Linear(5, 8), nn.ReLU()),
                             {"a": nn.Linear(8, 2), "b": nn.Linear(8, 1)})
        if moved:
            xp, device = PLACES[place]
            model.to(device, xp=xp)
        hist = fit(model, X, {"a": ya, "b": yb}, loss={"a": "cross_entropy", "b": "mse"},
                   loss_weights={"b": 0.5}, optimizer=cr.optim.Adam(model.parameters(), lr=1e-2),
                   epochs=2, batch_size=16, generator=1, verbose=0)
        return model, hist.history

    _, want = run(False)
    model, got = run(True)
    assert _in_place(place, next(model.parameters()).data)
    for key in ("loss", "a_loss", "b_loss"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, err_msg=key)
