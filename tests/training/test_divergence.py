"""Divergence through fit: a loss that blows up warns (or stops), non-finite
parameters stop training with an honest message, and no checkpoint holds them."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.training import ModelCheckpoint, NonFiniteLossError, Trainer, fit
from chainrule.training.divergence import DivergenceCheck, DivergenceWarning


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def _model():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 2))


def test_adam_with_a_huge_learning_rate_warns_through_fit():
    X, y = _data()
    model = _model()
    with pytest.warns(DivergenceWarning, match="training diverged: the training loss grew"):
        hist = fit(model, X, y, loss="cross_entropy", optimizer=cr.optim.Adam(
            model.parameters(), lr=1e6), epochs=2, verbose=0)
    assert hist.history["loss"][-1] > 1e3  # it did blow up (the start is about 0.7)


def test_a_sound_run_gives_no_divergence_warning():
    X, y = _data()
    model = _model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(model, X, y, loss="cross_entropy",
            optimizer=cr.optim.Adam(model.parameters(), lr=1e-2), epochs=3, verbose=0)


def test_divergence_check_can_stop_at_the_first_diverged_epoch():
    X, y = _data()
    model = _model()
    with pytest.warns(DivergenceWarning):
        hist = fit(model, X, y, loss="cross_entropy", epochs=5, verbose=0,
                   optimizer=cr.optim.Adam(model.parameters(), lr=1e6),
                   callbacks=[DivergenceCheck(stop=True)])
    assert len(hist) == 1  # stopped after the first epoch, which diverged


def test_lbfgs_refuses_the_non_finite_step_and_fit_stops_with_the_weights_kept(tmp_path):
    X, y = _data()
    model = _model()
    start = {k: v.copy() for k, v in model.state_dict().items()}
    opt = cr.optim.LBFGS(model.parameters(), lr=1e6)
    ck = tmp_path / "ck.npz"
    with pytest.raises(cr.optim.NonFiniteStepError, match=r"LBFGS\.step"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow notes
        fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=3, batch_size=200,
            verbose=0, callbacks=[ModelCheckpoint(ck)])
    for k, v in model.state_dict().items():  # the step was not taken: finite, as before
        np.testing.assert_array_equal(v, start[k])
    assert not ck.exists()  # the failing epoch never reached its checkpoint


class _WritesNaN(cr.optim.SGD):
    """A closure optimiser that evaluates the closure, then writes NaN into a weight."""

    needs_closure = True

    def step(self, closure=None):
        loss = closure()
        self.param_groups[0]["params"][0].data[0, 0] = np.nan
        return loss


def test_a_closure_step_writing_non_finite_parameters_stops_and_rolls_back(tmp_path):
    X, y = _data()
    model = _model()
    start = {k: v.copy() for k, v in model.state_dict().items()}
    ck = tmp_path / "ck.npz"
    wrote = r"_WritesNaN\.step\(closure\) wrote non-finite"
    with pytest.raises(NonFiniteLossError, match=wrote):
        fit(model, X, y, loss="cross_entropy", optimizer=_WritesNaN(model.parameters(), lr=0.1),
            epochs=3, batch_size=200, verbose=0, callbacks=[ModelCheckpoint(ck)])
    for k, v in model.state_dict().items():  # the epoch's start, finite
        np.testing.assert_array_equal(v, start[k])
    assert not ck.exists()


def test_the_error_does_not_claim_finite_parameters_when_they_are_not():
    X, y = _data()
    model = _model()
    model[0].weight.data[0, 0] = np.nan  # non-finite from the start: nothing to fall back on
    with pytest.raises(NonFiniteLossError) as err:
        fit(model, X, y, loss="cross_entropy", verbose=0,
            optimizer=cr.optim.LBFGS(model.parameters()), batch_size=200)
    assert "all finite" not in str(err.value)
    assert "not finite" in str(err.value)


def test_a_checkpoint_never_holds_non_finite_weights(tmp_path):
    X, y = _data()
    model = _model()
    trainer = Trainer(model, loss="cross_entropy", verbose=0,
                      optimizer=cr.optim.SGD(model.parameters(), lr=0.1))
    trainer.fit(X, y, epochs=1)
    path = tmp_path / "c.npz"
    assert trainer.save_checkpoint(path) is True
    good = path.read_bytes()
    model[0].weight.data[1, 2] = np.inf
    with pytest.warns(RuntimeWarning, match="not finite"):
        assert trainer.save_checkpoint(path) is False
    assert path.read_bytes() == good  # the last good one is kept


def test_the_estimators_warn_too():
    from chainrule.sklearn import MLPClassifier

    X, y = _data()
    with pytest.warns(DivergenceWarning, match="training diverged"):
        MLPClassifier(learning_rate_init=1e6, max_iter=3, random_state=0).fit(X, y)
