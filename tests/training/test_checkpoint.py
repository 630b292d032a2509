import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.training import (
    CheckpointError,
    EarlyStopping,
    ModelCheckpoint,
    Trainer,
    fit,
    load_checkpoint,
    load_model_state,
    save_checkpoint,
    save_model,
)
from chainrule.training import checkpoint as ck


def test_round_trip_of_nested_state(tmp_path):
    state = {
        "w": np.arange(6, dtype=np.float32).reshape(2, 3),
        "opt": {"state": {0: {"step": 3, "exp_avg": np.ones(2)}}, "betas": (0.9, 0.999)},
        "rng": cr.get_rng_state(),  # 128-bit integers
        "values": [1, 2.5, None, "x", float("nan"), True],
        "empty": np.zeros((0, 4), np.int64),
        "scalar": np.array(7, np.int64),
        "strided": np.arange(10.0)[::2],
    }
    save_checkpoint(tmp_path / "c.npz", state)
    back = load_checkpoint(tmp_path / "c.npz")
    np.testing.assert_array_equal(back["w"], state["w"])
    assert back["w"].dtype == np.float32
    assert list(back["opt"]["state"]) == [0]  # int keys stay ints
    assert back["opt"]["betas"] == (0.9, 0.999)  # tuples stay tuples
    assert back["rng"] == state["rng"]
    assert back["values"][:4] == [1, 2.5, None, "x"] and np.isnan(back["values"][4])
    assert back["empty"].shape == (0, 4)
    assert back["scalar"].shape == () and back["scalar"] == 7
    np.testing.assert_array_equal(back["strided"], [0, 2, 4, 6, 8])


def test_file_is_plain_npz_readable_without_pickle(tmp_path):
    save_checkpoint(tmp_path / "c.npz", {"a": np.ones(3)})
    with np.load(tmp_path / "c.npz", allow_pickle=False) as f:
        assert set(f.files) == {"a0", "__header__", "__checksum__"}
        assert f["__header__"].dtype == np.uint8
    with pytest.raises(TypeError, match="numeric arrays"):
        save_checkpoint(tmp_path / "d.npz", {"a": np.array([object()])})
    with pytest.raises(TypeError, match="plain data"):
        save_checkpoint(tmp_path / "d.npz", {"a": object()})
    assert not (tmp_path / "d.npz").exists()


def test_truncated_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"a": np.ones(1000)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or damaged"):
        load_checkpoint(path)


def test_tampered_file_fails_the_checksum(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"a": np.zeros(1000, np.float32), "lr": 0.1})
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    # a valid zip with one changed value (the zip's own CRCs are recomputed)
    arrays["a0"] = arrays["a0"].copy()
    arrays["a0"][17] = 1.0
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="checksum .* modified or corrupted"):
        load_checkpoint(path)
    # an edited header (e.g. a different learning rate) is caught the same way
    arrays = {k: v for k, v in arrays.items()}
    arrays["a0"][17] = 0.0
    header = arrays["__header__"].tobytes().replace(b"0.1", b"9.9")
    arrays["__header__"] = np.frombuffer(header, np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(path)


def test_flipped_byte_is_reported(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"a": np.zeros(1000, np.float32)})
    data = bytearray(path.read_bytes())
    data[600] ^= 0xFF  # inside the array's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="damaged|checksum"):
        load_checkpoint(path)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_checkpoint(tmp_path / "nope.npz")
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(CheckpointError, match="header and checksum"):
        load_checkpoint(tmp_path / "plain.npz")


def test_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"a": np.ones(3)})
    before = path.read_bytes()

    def crash(f, **arrays):
        f.write(b"partial garbage")
        raise KeyboardInterrupt  # e.g. interrupted mid-save

    monkeypatch.setattr(ck.np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"a": np.zeros(3)})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.npz"]  # the temporary file was removed


def test_saved_files_follow_the_umask(tmp_path):
    save_checkpoint(tmp_path / "c.npz", {"a": np.ones(1)})
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(tmp_path / "c.npz").st_mode & 0o777 == 0o666 & ~mask


def test_loading_into_another_architecture_names_keys_and_shapes(tmp_path):
    a = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    save_model(tmp_path / "m.npz", a)
    wider = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    before = [p.data.copy() for p in wider.parameters()]
    with pytest.raises(CheckpointError, match=r"0\.weight: \(4, 8\) in .* vs \(4, 16\)"):
        load_model_state(tmp_path / "m.npz", wider)
    for x, p in zip(before, wider.parameters()):  # nothing was written
        np.testing.assert_array_equal(x, p.data)
    deeper = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
    with pytest.raises(CheckpointError, match=r"missing keys \['4.weight', '4.bias'\]"):
        load_model_state(tmp_path / "m.npz", deeper)
    same = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    load_model_state(tmp_path / "m.npz", same)
    for x, y in zip(a.parameters(), same.parameters()):
        np.testing.assert_array_equal(x.data, y.data)


def _setup(seed=11):
    cr.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(5, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Dropout(0.2), nn.Linear(12, 3)
    )
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    sched = cr.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.7)
    return model, opt, sched


def _data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(90, 5)).astype(np.float32)
    return X, (X[:, 0] > X[:, 1]).astype(np.int64) + (X[:, 2] > 1)


@pytest.mark.parametrize("resume_from", ["e2.npz", "s10.npz"])  # epoch boundary, mid-epoch
def test_resume_in_process_is_bit_identical(tmp_path, resume_from):
    X, y = _data()
    kw = {
        "loss": "cross_entropy",
        "epochs": 4,
        "batch_size": 16,
        "validation_split": 0.2,
        "metrics": ["accuracy"],
        "verbose": 0,
    }
    model, opt, sched = _setup()
    hist = fit(
        model,
        X,
        y,
        optimizer=opt,
        scheduler=sched,
        **kw,
        callbacks=[
            EarlyStopping(patience=9),
            ModelCheckpoint(tmp_path / "e{epoch}.npz"),
            ModelCheckpoint(tmp_path / "s{step}.npz", every_n_steps=5, every_n_epochs=0),
        ],
    )
    cr.manual_seed(999)  # the checkpoint, not the current seed, decides what follows
    model2, opt2, sched2 = _setup(seed=5)
    hist2 = fit(
        model2,
        X,
        y,
        optimizer=opt2,
        scheduler=sched2,
        **kw,
        callbacks=[EarlyStopping(patience=9)],
        checkpoint=tmp_path / resume_from,
    )
    assert hist2.history == hist.history
    for (k, a), b in zip(model.state_dict().items(), model2.state_dict().values()):
        assert np.array_equal(a, b), k  # parameters and batch-norm buffers


def test_resume_rejects_other_data_and_weight_only_files(tmp_path):
    X, y = _data()
    model, opt, _ = _setup()
    fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=1,
        verbose=0,
        callbacks=[ModelCheckpoint(tmp_path / "c.npz")],
    )
    with pytest.raises(CheckpointError, match="90 rows.*Received: 60 rows"):
        fit(
            model,
            X[:60],
            y[:60],
            loss="cross_entropy",
            optimizer=opt,
            epochs=2,
            checkpoint=tmp_path / "c.npz",
            verbose=0,
        )
    save_model(tmp_path / "w.npz", model)
    with pytest.raises(CheckpointError, match="training checkpoint"):
        Trainer(model, loss="cross_entropy", optimizer=opt).load_checkpoint(tmp_path / "w.npz")


def test_a_trainer_with_its_own_generator_resumes_bit_identically(tmp_path):
    """``Trainer(generator=seed)``: a checkpoint saved after ``fit`` returns holds that
    generator's state (not the default generator's), so dropout and shuffling resume exactly."""
    X, y = _data()

    def trainer():
        cr.manual_seed(1)
        model = nn.Sequential(nn.Linear(5, 8), nn.Dropout(0.5), nn.Linear(8, 3))
        return Trainer(model, loss="cross_entropy", verbose=0, generator=7,
                       optimizer=cr.optim.SGD(model.parameters(), lr=0.1))

    full = trainer()
    full.fit(X, y, epochs=4, batch_size=16)
    part = trainer()
    part.fit(X, y, epochs=2, batch_size=16)
    part.save_checkpoint(tmp_path / "ck.npz")
    cr.manual_seed(99)  # the default generator plays no part
    resumed = trainer()
    resumed.fit(X, y, epochs=4, batch_size=16, checkpoint=tmp_path / "ck.npz")
    assert resumed.history.history == full.history.history
    for a, b in zip(full.model.parameters(), resumed.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_two_callbacks_of_one_class_each_resume_their_own_state(tmp_path):
    """The k-th callback of a class takes the k-th saved state of that class."""
    X, y = _data()
    kw = {"loss": "cross_entropy", "epochs": 4, "batch_size": 16, "validation_split": 0.2,
          "verbose": 0}

    def stoppers():  # two EarlyStopping with different states: a min and a max watcher
        return [EarlyStopping(monitor="val_loss", patience=9, restore_best_weights=False),
                EarlyStopping(monitor="loss", mode="max", patience=9,
                              restore_best_weights=False)]

    model, opt, _ = _setup()
    straight = stoppers()
    fit(model, X, y, optimizer=opt, **kw,
        callbacks=[*straight, ModelCheckpoint(tmp_path / "e{epoch}.npz")])
    assert straight[0].best != straight[1].best  # states that cannot be mistaken
    model2, opt2, _ = _setup(seed=5)
    resumed = stoppers()
    fit(model2, X, y, optimizer=opt2, **kw, callbacks=resumed,
        checkpoint=tmp_path / "e2.npz")
    for a, b in zip(straight, resumed):
        assert (b.best, b.best_epoch, b.best_step, b.wait) == (
            a.best, a.best_epoch, a.best_step, a.wait)
