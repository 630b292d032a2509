"""Multi-task (book §7.7) and semi-supervised (§7.6) training through the one loop.

References: the weighted objective computed by hand in NumPy (float64), and
PyTorch for the gradients reaching the shared trunk.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.training import MISSING_LABEL, MultiTaskLoss, Trainer, evaluate, fit, predict


def _model(n_in=5, hidden=4, n_classes=3, n_reg=2):
    trunk = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh())
    heads = {"cls": nn.Linear(hidden, n_classes), "reg": nn.Linear(hidden, n_reg)}
    return nn.MultiTask(trunk, heads)


def _data(n=12, n_in=5, n_classes=3, n_reg=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in)).astype(np.float32)
    return X, {
        "cls": rng.integers(0, n_classes, size=n),
        "reg": rng.normal(size=(n, n_reg)).astype(np.float32),
    }


def _np_log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _np_forward(model, X):
    """The model's forward pass in float64 NumPy (Linear weights are (in, out))."""
    p = {k: v.data.astype(np.float64) for k, v in model.named_parameters()}
    h = np.tanh(X.astype(np.float64) @ p["trunk.0.weight"] + p["trunk.0.bias"])
    return (h @ p["heads.cls.weight"] + p["heads.cls.bias"],
            h @ p["heads.reg.weight"] + p["heads.reg.bias"])


# --- the module ----------------------------------------------------------------
def test_multitask_returns_one_output_per_head_from_the_shared_trunk():
    model = _model()
    X, _ = _data()
    out = model(cr.tensor(X))
    assert list(out) == ["cls", "reg"] == list(model.tasks)
    assert out["cls"].shape == (12, 3) and out["reg"].shape == (12, 2)
    zc, zr = _np_forward(model, X)
    np.testing.assert_allclose(out["cls"].data, zc, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["reg"].data, zr, rtol=1e-5, atol=1e-6)
    names = [n for n, _ in model.named_parameters()]
    assert names[:2] == ["trunk.0.weight", "trunk.0.bias"]
    assert "heads.cls.weight" in names and "heads.reg.bias" in names


@pytest.mark.parametrize("heads, match", [
    ({}, "non-empty dict"),
    ([nn.Linear(2, 2)], "non-empty dict"),
    ({"a.b": nn.Linear(2, 2)}, "identifiers"),
    ({"a": lambda h: h}, "head of task 'a' to be a Module"),
])
def test_multitask_rejects_bad_heads(heads, match):
    with pytest.raises((TypeError, ValueError), match=match):
        nn.MultiTask(nn.Linear(2, 2), heads)


# --- the weighted objective ----------------------------------------------------------
def test_weighted_loss_equals_the_sum_computed_by_hand():
    model = _model()
    X, y = _data()
    loss = MultiTaskLoss({"cls": "cross_entropy", "reg": "mse"}, {"cls": 0.7, "reg": 2.5})
    J = loss(model(cr.tensor(X)), y)
    zc, zr = _np_forward(model, X)
    ce = -_np_log_softmax(zc)[np.arange(12), y["cls"]].mean()
    mse = ((zr - y["reg"]) ** 2).mean()
    assert float(J.data) == pytest.approx(0.7 * ce + 2.5 * mse, rel=1e-5)
    assert loss.parts["cls"] == (pytest.approx(ce, rel=1e-5), 12)
    assert loss.parts["reg"] == (pytest.approx(mse, rel=1e-5), 12)


def test_unnamed_tasks_weigh_one_and_a_zero_weight_drops_a_task():
    model = _model()
    X, y = _data()
    out = model(cr.tensor(X))
    both = float(MultiTaskLoss({"cls": "cross_entropy", "reg": "mse"})(out, y).data)
    only = float(MultiTaskLoss({"cls": "cross_entropy", "reg": "mse"}, {"reg": 0})(out, y).data)
    zc, zr = _np_forward(model, X)
    ce = -_np_log_softmax(zc)[np.arange(12), y["cls"]].mean()
    assert only == pytest.approx(ce, rel=1e-5)
    assert both == pytest.approx(ce + ((zr - y["reg"]) ** 2).mean(), rel=1e-5)


def test_shared_trunk_gradient_sums_both_tasks_contributions_as_torch():
    model = _model()
    X, y = _data()
    w = {"cls": 0.3, "reg": 1.7}
    J = MultiTaskLoss({"cls": "cross_entropy", "reg": "mse"}, w)(model(cr.tensor(X)), y)
    J.backward()
    ours = {k: p.grad.copy() for k, p in model.named_parameters()}

    # torch, float64, on the same weights (torch keeps Linear weights as (out, in))
    tp = {k: torch.tensor(p.data.astype(np.float64), requires_grad=True)
          for k, p in model.named_parameters()}

    def heads_out(trunk_w, trunk_b):
        h = torch.tanh(torch.from_numpy(X.astype(np.float64)) @ trunk_w + trunk_b)
        return h @ tp["heads.cls.weight"] + tp["heads.cls.bias"], \
            h @ tp["heads.reg.weight"] + tp["heads.reg.bias"]

    zc, zr = heads_out(tp["trunk.0.weight"], tp["trunk.0.bias"])
    ce = torch.nn.functional.cross_entropy(zc, torch.from_numpy(y["cls"]))
    mse = torch.nn.functional.mse_loss(zr, torch.from_numpy(y["reg"].astype(np.float64)))
    tw = tp["trunk.0.weight"]
    g_ce = torch.autograd.grad(ce, tw, retain_graph=True)[0].numpy()
    g_mse = torch.autograd.grad(mse, tw, retain_graph=True)[0].numpy()
    (w["cls"] * ce + w["reg"] * mse).backward()
    for k, p in tp.items():
        np.testing.assert_allclose(ours[k], p.grad.numpy(), rtol=2e-4, atol=1e-6, err_msg=k)
    # the trunk gets both tasks' gradients: neither alone gives it
    np.testing.assert_allclose(ours["trunk.0.weight"], w["cls"] * g_ce + w["reg"] * g_mse,
                               rtol=2e-4, atol=1e-6)
    assert np.abs(g_ce).max() > 1e-3 and np.abs(g_mse).max() > 1e-3
    assert not np.allclose(ours["trunk.0.weight"], w["cls"] * g_ce, atol=1e-4)
    assert not np.allclose(ours["trunk.0.weight"], w["reg"] * g_mse, atol=1e-4)


# --- fit with a dict of targets ------------------------------------------------------------
def test_fit_logs_the_weighted_loss_and_each_tasks_loss():
    model = _model()
    X, y = _data(n=20)
    losses = {"cls": "cross_entropy", "reg": "mse"}
    w = {"cls": 2.0, "reg": 0.5}
    before = evaluate(model, X, y, loss=MultiTaskLoss(losses, w))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    # one minibatch per epoch: the first epoch's logs are the loss before the step
    hist = fit(model, X, y, loss=losses, loss_weights=w, optimizer=opt, epochs=3,
               batch_size=20, verbose=0, metrics={"cls": ["accuracy"], "reg": "mae"})
    h = hist.history
    assert set(h) >= {"loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae"}
    assert h["loss"][0] == pytest.approx(before["loss"], rel=1e-5)
    assert h["cls_loss"][0] == pytest.approx(before["cls_loss"], rel=1e-5)
    assert h["reg_loss"][0] == pytest.approx(before["reg_loss"], rel=1e-5)
    for i in range(3):
        assert h["loss"][i] == pytest.approx(2.0 * h["cls_loss"][i] + 0.5 * h["reg_loss"][i],
                                             rel=1e-5)
    assert h["loss"][-1] < h["loss"][0]


def test_epoch_task_losses_are_means_over_all_rows_across_minibatches():
    model = _model()
    X, y = _data(n=23)
    losses = {"cls": "cross_entropy", "reg": "mse"}
    opt = cr.optim.SGD(model.parameters(), lr=0.0)  # parameters stay: logs = the mean
    hist = fit(model, X, y, loss=losses, optimizer=opt, epochs=1, batch_size=5, verbose=0,
               validation_data=(X, y))
    ref = evaluate(model, X, y, loss=losses)
    for k in ("loss", "cls_loss", "reg_loss"):
        assert hist.history[k][0] == pytest.approx(ref[k], rel=1e-5)
        assert hist.history[f"val_{k}"][0] == pytest.approx(ref[k], rel=1e-5)


def test_loader_keeps_inputs_and_every_tasks_targets_in_the_same_row_order():
    X = np.arange(30, dtype=np.float32).reshape(10, 3)
    y = {"a": np.arange(10), "b": np.arange(10, dtype=np.float32) * 2.0}
    seen = []

    def spy(xb, yb):
        seen.append((xb.copy(), {k: v.copy() for k, v in yb.items()}))
        return xb, yb

    model = nn.MultiTask(nn.Linear(3, 4), {"a": nn.Linear(4, 10), "b": nn.Linear(4, 1)})
    fit(model, X, y, loss={"a": "cross_entropy", "b": "mse"},
        optimizer=cr.optim.SGD(model.parameters(), lr=0.0), epochs=2, batch_size=3,
        transform=spy, verbose=0, generator=1)
    rows = np.concatenate([xb[:, 0] for xb, _ in seen[:4]]) / 3
    assert sorted(rows) == list(range(10)) and list(rows) != list(range(10))  # shuffled
    for xb, yb in seen:
        np.testing.assert_array_equal(xb[:, 0] / 3, yb["a"])
        np.testing.assert_array_equal(yb["b"], 2.0 * yb["a"])


def test_validation_split_splits_every_task_alike():
    model = _model()
    X, y = _data(n=20)
    y["reg"][:, 0] = y["cls"]  # a row's two targets stay together
    trainer = Trainer(model, loss={"cls": "cross_entropy", "reg": "mse"},
                      optimizer=cr.optim.SGD(model.parameters(), lr=0.0), verbose=0)
    hist = trainer.fit(X, y, validation_split=0.25, epochs=1, batch_size=4)
    ds = trainer.loader.dataset
    assert len(ds) == 15
    np.testing.assert_array_equal(ds.y["reg"][:, 0], ds.y["cls"])
    assert "val_cls_loss" in hist.history


def test_predict_returns_a_dict_of_arrays():
    model = _model()
    X, _ = _data(n=7)
    out = predict(model, X, batch_size=3)
    assert set(out) == {"cls", "reg"} and out["cls"].shape == (7, 3)
    np.testing.assert_allclose(out["reg"], _np_forward(model, X)[1], rtol=1e-5, atol=1e-6)


def test_a_multitask_run_saves_and_resumes_from_a_checkpoint(tmp_path):
    X, y = _data(n=20)
    losses = {"cls": "cross_entropy", "reg": "mse"}
    model = _model()
    trainer = Trainer(model, loss=losses, optimizer=cr.optim.Adam(model.parameters()),
                      verbose=0)
    trainer.fit(X, y, epochs=1, batch_size=8)
    trainer.save_checkpoint(tmp_path / "run.ckpt")
    again = Trainer(_model(), loss=losses, optimizer=cr.optim.Adam(model.parameters()),
                    verbose=0)
    again.load_checkpoint(tmp_path / "run.ckpt")
    assert again.history.history["cls_loss"] == trainer.history.history["cls_loss"]


# --- bad keys and bad data give clear errors ----------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"loss_weights": {"cls": 1.0, "clss": 2.0}}, r"unknown task\(s\) \['clss'\]"),
    ({"loss_weights": {"cls": -1.0}}, "finite weight >= 0 for task 'cls'"),
    ({"loss_weights": [1.0, 2.0]}, "loss_weights as a dict"),
])
def test_bad_loss_weights_are_named(kwargs, match):
    model = _model()
    X, y = _data()
    with pytest.raises((ValueError, TypeError), match=match):
        fit(model, X, y, loss={"cls": "cross_entropy", "reg": "mse"},
            optimizer=cr.optim.SGD(model.parameters(), lr=0.1), verbose=0, **kwargs)


def test_bad_target_and_output_keys_are_named():
    model = _model()
    X, y = _data()
    losses = {"cls": "cross_entropy", "reg": "mse"}
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"missing task\(s\) \['reg'\]"):
        fit(model, X, {"cls": y["cls"]}, loss=losses, optimizer=opt, verbose=0)
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['extra'\]"):
        fit(model, X, {**y, "extra": y["cls"]}, loss=losses, optimizer=opt, verbose=0)
    with pytest.raises(TypeError, match="as a dict"):
        fit(model, X, y["cls"], loss=losses, optimizer=opt, verbose=0)
    with pytest.raises(ValueError, match=r"model outputs with the tasks \['cls', 'other'\]"):
        fit(model, X, {"cls": y["cls"], "other": y["reg"]},
            loss={"cls": "cross_entropy", "other": "mse"}, optimizer=opt, verbose=0)
    with pytest.raises(TypeError, match=r"loss as a dict \{task: loss\} for a MultiTask"):
        fit(model, X, y["cls"], loss="cross_entropy", optimizer=opt, verbose=0)
    with pytest.raises(TypeError, match="return a dict"):
        fit(nn.Linear(5, 3), X, y, loss=losses, optimizer=opt, verbose=0)
    with pytest.raises(ValueError, match="loss_weights only with a dict"):
        fit(model, X, y, loss="mse", loss_weights={"cls": 1.0}, optimizer=opt, verbose=0)
    with pytest.raises(ValueError, match=r"class ids in 0..2.*y\['cls'\]"):
        fit(model, X, {**y, "cls": y["cls"] + 3}, loss=losses, optimizer=opt, verbose=0)
    with pytest.raises(ValueError, match=r"y\['reg'\] with 12 entries"):
        fit(model, X, {**y, "reg": y["reg"][:5]}, loss=losses, optimizer=opt, verbose=0)
    with pytest.raises(ValueError, match="trunk expects 5 entries"):
        fit(model, X[:, :4], y, loss=losses, optimizer=opt, verbose=0)


# --- semi-supervised: unlabelled rows train only the reconstruction term ---------------------
def _autoencoder_classifier(n_in=6, hidden=3, n_classes=3):
    enc = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh())
    return nn.MultiTask(enc, {"label": nn.Linear(hidden, n_classes),
                              "input": nn.Linear(hidden, n_in)})


def _np_semi(model, X):
    p = {k: v.data.astype(np.float64) for k, v in model.named_parameters()}
    h = np.tanh(X.astype(np.float64) @ p["trunk.0.weight"] + p["trunk.0.bias"])
    return (h @ p["heads.label.weight"] + p["heads.label.bias"],
            h @ p["heads.input.weight"] + p["heads.input.bias"])


def test_semi_supervised_loss_matches_its_formula_with_missing_labels():
    rng = np.random.default_rng(3)
    model = _autoencoder_classifier()
    X = rng.normal(size=(10, 6)).astype(np.float32)
    labels = rng.integers(0, 3, size=10)
    labels[[1, 4, 5, 8]] = MISSING_LABEL
    lam = 0.4
    loss = MultiTaskLoss({"label": "cross_entropy", "input": "mse"}, {"input": lam})
    J = float(loss(model(cr.tensor(X)), {"label": labels, "input": X}).data)
    zc, xr = _np_semi(model, X)
    lab = labels != MISSING_LABEL
    sup = -_np_log_softmax(zc)[lab, labels[lab]].mean()  # over the labelled rows only
    unsup = ((xr - X) ** 2).mean()                       # over every row
    assert J == pytest.approx(sup + lam * unsup, rel=1e-5)
    assert loss.parts["label"][1] == 6 and loss.parts["input"][1] == 10


def test_unlabelled_rows_change_only_the_unsupervised_term():
    rng = np.random.default_rng(4)
    model = _autoencoder_classifier()
    X_l = rng.normal(size=(6, 6)).astype(np.float32)
    y_l = rng.integers(0, 3, size=6)
    X_u = rng.normal(size=(9, 6)).astype(np.float32) * 3.0
    loss = MultiTaskLoss({"label": "cross_entropy", "input": "mse"}, {"input": 0.5})
    loss(model(cr.tensor(X_l)), {"label": y_l, "input": X_l})
    alone = dict(loss.parts)
    X = np.concatenate([X_l, X_u])
    loss(model(cr.tensor(X)), {"label": np.concatenate([y_l, np.full(9, -1)]), "input": X})
    assert loss.parts["label"] == (pytest.approx(alone["label"][0], rel=1e-6), 6)
    assert loss.parts["input"][1] == 15
    assert loss.parts["input"][0] != pytest.approx(alone["input"][0], rel=1e-3)

    # and their gradient reaches the classifier head not at all, the encoder yes
    def grads(X, labels):
        for p in model.parameters():
            p.grad = None
        out = model(cr.tensor(X))
        MultiTaskLoss({"label": "cross_entropy", "input": "mse"}, {"label": 0.0})(
            out, {"label": labels, "input": X}).backward()
        return {k: (None if p.grad is None else p.grad.copy())
                for k, p in model.named_parameters()}

    g = grads(X_u, np.full(9, -1))
    assert g["heads.label.weight"] is None or not np.any(g["heads.label.weight"])
    assert np.abs(g["trunk.0.weight"]).max() > 1e-4


def test_fit_with_unlabeled_rows_appends_them_without_labels():
    rng = np.random.default_rng(5)
    model = _autoencoder_classifier()
    X_l = rng.normal(size=(8, 6)).astype(np.float32)
    y_l = rng.integers(0, 3, size=8)
    X_u = rng.normal(size=(24, 6)).astype(np.float32)
    losses = {"label": "cross_entropy", "input": "mse"}
    trainer = Trainer(model, loss=losses, loss_weights={"input": 0.5},
                      optimizer=cr.optim.SGD(model.parameters(), lr=0.0),
                      metrics={"label": ["accuracy"]}, verbose=0)
    hist = trainer.fit(X_l, {"label": y_l, "input": None}, unlabeled=X_u, epochs=1,
                       batch_size=5)
    ds = trainer.loader.dataset
    assert len(ds) == 32
    np.testing.assert_array_equal(ds.y["label"], np.concatenate([y_l, np.full(24, -1)]))
    np.testing.assert_array_equal(ds.y["input"], ds.X)
    # with the parameters fixed, the supervised term is the labelled rows' mean loss
    # and accuracy, the unsupervised one every row's reconstruction error
    lab = evaluate(model, X_l, {"label": y_l, "input": None}, loss=losses,
                   metrics={"label": ["accuracy"]})
    h = hist.history
    assert h["label_loss"][0] == pytest.approx(lab["label_loss"], rel=1e-5)
    assert h["label_accuracy"][0] == pytest.approx(lab["label_accuracy"])
    _zc, xr = _np_semi(model, np.concatenate([X_l, X_u]))
    assert h["input_loss"][0] == pytest.approx(
        ((xr - np.concatenate([X_l, X_u])) ** 2).mean(), rel=1e-5)


def test_semi_supervised_training_lowers_both_terms():
    rng = np.random.default_rng(6)
    model = _autoencoder_classifier()
    X_l = rng.normal(size=(10, 6)).astype(np.float32)
    y_l = (X_l[:, 0] > 0).astype(np.int64)
    X_u = rng.normal(size=(60, 6)).astype(np.float32)
    hist = fit(model, X_l, {"label": y_l, "input": None},
               loss={"label": "cross_entropy", "input": "mse"}, loss_weights={"input": 1.0},
               unlabeled=X_u, optimizer=cr.optim.Adam(model.parameters(), lr=1e-2),
               epochs=30, batch_size=16, verbose=0, generator=0)
    h = hist.history
    assert h["label_loss"][-1] < 0.7 * h["label_loss"][0]
    assert h["input_loss"][-1] < 0.9 * h["input_loss"][0]


@pytest.mark.parametrize("case, match", [
    ("plain_loss", "dict of per-task losses with a task that reconstructs"),
    ("no_input_task", "task that reconstructs the input"),
    ("width", r"unlabeled rows shaped like X's, \(6,\)"),
    ("nan", "unlabeled"),
    ("strings", "unlabeled"),
])
def test_unlabeled_errors_are_clear(case, match):
    rng = np.random.default_rng(7)
    model = _autoencoder_classifier()
    X_l = rng.normal(size=(8, 6)).astype(np.float32)
    y_l = rng.integers(0, 3, size=8)
    X_u = rng.normal(size=(5, 6)).astype(np.float32)
    y = {"label": y_l, "input": None}
    loss = {"label": "cross_entropy", "input": "mse"}
    if case == "plain_loss":
        model, y, loss = nn.Linear(6, 3), y_l, "cross_entropy"
    elif case == "no_input_task":
        y = {"label": y_l, "input": X_l}
    elif case == "width":
        X_u = X_u[:, :4]
    elif case == "nan":
        X_u[2, 3] = np.nan
    elif case == "strings":
        X_u = np.array([["a"] * 6] * 5)
    with pytest.raises((ValueError, TypeError), match=match):
        fit(model, X_l, y, loss=loss, unlabeled=X_u, verbose=0,
            optimizer=cr.optim.SGD(model.parameters(), lr=0.1))


def test_tasks_labelled_on_different_rows_train_on_their_own_rows():
    """Pooled examples (§7.7): -1 / NaN mark a row without a task's target."""
    model = _model()
    X, y = _data(n=12)
    y["cls"][6:] = MISSING_LABEL
    y["reg"][:4] = np.nan
    losses = {"cls": "cross_entropy", "reg": "mse"}
    hist = fit(model, X, y, loss=losses, optimizer=cr.optim.SGD(model.parameters(), lr=0.0),
               epochs=1, batch_size=5, verbose=0, metrics={"cls": ["accuracy"]})
    zc, zr = _np_forward(model, X)
    ce = -_np_log_softmax(zc[:6])[np.arange(6), y["cls"][:6]].mean()
    mse = ((zr[4:] - y["reg"][4:]) ** 2).mean()
    assert hist.history["cls_loss"][0] == pytest.approx(ce, rel=1e-5)
    assert hist.history["reg_loss"][0] == pytest.approx(mse, rel=1e-5)
    acc = (zc[:6].argmax(axis=1) == y["cls"][:6]).mean()
    assert hist.history["cls_accuracy"][0] == pytest.approx(acc)
    # a class id out of range on a labelled row is still an error
    y["cls"][3] = 7
    with pytest.raises(ValueError, match=r"Received: 7 in row 3 of y\['cls'\]"):
        fit(model, X, y, loss=losses, optimizer=cr.optim.SGD(model.parameters(), lr=0.0),
            verbose=0)


def test_tensor_dataset_indexes_a_dict_of_targets_together_and_checks_their_rows():
    from chainrule.data import TensorDataset

    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    ds = TensorDataset(X, {"a": np.arange(6), "b": np.arange(6) * 10.0})
    xb, yb = ds[np.array([4, 1])]
    np.testing.assert_array_equal(xb[:, 0], [8, 2])
    np.testing.assert_array_equal(yb["a"], [4, 1])
    np.testing.assert_array_equal(yb["b"], [40.0, 10.0])
    with pytest.raises(ValueError, match=r"y\['b'\] with 6 rows \(as X\). Received: 5 rows"):
        TensorDataset(X, {"a": np.arange(6), "b": np.arange(5)})
    with pytest.raises(ValueError, match="y with 6 rows"):
        TensorDataset(X, np.arange(4))
