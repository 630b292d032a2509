"""Closure-driven optimisers in the one Trainer and the CLI (issue 14): --optimizer lbfgs."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.cli import main
from chainrule.training import Trainer, recipes


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] > 0).astype(np.int64)
    return X, y


def test_trainer_drives_lbfgs_with_a_full_batch_closure():
    X, y = _data()
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = cr.optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe", max_iter=30)
    start = float(F.cross_entropy(model(cr.tensor(X)), y).data)
    trainer = Trainer(model, loss="cross_entropy", optimizer=opt, verbose=0)
    trainer.fit(X, y, epochs=2, batch_size=len(X), shuffle=False)
    end = float(F.cross_entropy(model(cr.tensor(X)), y).data)
    # the logged loss is the first evaluation of each step: epoch 1 starts from `start`
    assert trainer.history.history["loss"][0] == pytest.approx(start, rel=1e-5)
    assert end < 0.25 * start
    assert opt.state[opt._params[0]]["n_iter"] > 2


@pytest.mark.parametrize("name", ["lbfgs"])
def test_recipe_builds_it_and_rejects_weight_decay(name):
    p = [cr.tensor([1.0], requires_grad=True)]
    assert isinstance(recipes.build_optimizer(name, p, lr=1.0), cr.optim.LBFGS)
    with pytest.raises(ValueError, match="weight_decay=0"):
        recipes.build_optimizer(name, p, lr=1.0, weight_decay=0.1)


def test_cli_trains_with_lbfgs(tmp_path, capsys):
    code = main(["train", "--dataset", "iris", "--out", str(tmp_path / "run"), "--hidden", "8",
                 "--epochs", "5", "--batch-size", "200", "--verbose", "0",
                 "--optimizer", "lbfgs", "--lr", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    acc = float(out.split("test accuracy: ")[1].split()[0])
    assert acc > 0.8
