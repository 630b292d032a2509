"""Randomness without global swaps: ``fit(generator=...)`` and run folders."""

import threading

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.training import fit
from chainrule.training.runs import evaluate_run, load_run, train_run


def _data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((64, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    return X, y


def _train(seed):
    """Build and train a small dropout net with its own generator; its weights."""
    X, y = _data()
    rng = cr.random.new_generator(seed)
    with cr.random.use_generator(rng):
        model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 2))
    opt = optim.SGD(model.parameters(), lr=0.1)
    fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=3, batch_size=8, verbose=0,
        generator=rng)
    return [p.data.copy() for p in model.parameters()]


def test_fit_with_a_generator_leaves_the_default_stream_alone():
    cr.manual_seed(11)
    expected = cr.random.generator().standard_normal(4)
    cr.manual_seed(11)
    _train(5)
    assert np.array_equal(cr.random.generator().standard_normal(4), expected)


def test_fits_on_two_threads_equal_the_same_fits_in_sequence():
    sequential = [_train(1), _train(2)]
    results = {}

    def work(seed):
        results[seed] = _train(seed)

    threads = [threading.Thread(target=work, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed, expected in zip((1, 2), sequential):
        for a, b in zip(results[seed], expected):
            np.testing.assert_array_equal(a, b)
    # and the two seeds really give different runs
    assert not np.array_equal(sequential[0][0], sequential[1][0])


def test_an_int_seed_gives_the_same_run_as_its_generator():
    X, y = _data()
    outs = []
    for generator in (7, cr.random.new_generator(7)):
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 4), nn.Dropout(0.5), nn.Linear(4, 2))
        opt = optim.SGD(model.parameters(), lr=0.1)
        fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=2, batch_size=8,
            verbose=0, generator=generator)
        outs.append(model[0].weight.data.copy())
    np.testing.assert_array_equal(outs[0], outs[1])


def test_loading_and_evaluating_a_run_leave_the_callers_generator_alone(tmp_path):
    out = str(tmp_path / "run")
    train_run({"dataset": "iris", "hidden": [8], "epochs": 2, "label_smoothing": 0.0},
              out, verbose=0)
    rng = cr.random.new_generator(42)
    with cr.random.use_generator(rng):
        before = rng.bit_generator.state
        load_run(out)
        evaluate_run(out)
        assert rng.bit_generator.state == before
    cr.manual_seed(9)
    state = cr.get_rng_state()
    load_run(out)
    assert cr.get_rng_state() == state


def test_a_run_is_reproducible_whatever_the_callers_stream(tmp_path):
    metrics = []
    for i, caller_seed in enumerate((0, 123)):
        cr.manual_seed(caller_seed)
        metrics.append(train_run({"dataset": "iris", "hidden": [8], "epochs": 3, "seed": 4},
                                 str(tmp_path / f"r{i}"), verbose=0))
    assert metrics[0]["loss"] == metrics[1]["loss"]
