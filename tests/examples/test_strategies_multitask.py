"""Small runs of the multi-task (§7.7) and semi-supervised (§7.6) examples.

Each example in ``examples/strategies/`` exposes ``run(small, seed)``,
prints a table of mean +- std over seeds, and says in its docstring what
the measurement shows.  On digits neither strategy measurably raises the
accuracy (both examples say so), so these tests assert only what holds:
the shared models learn every task, sharing costs little, the unlabelled
rows do train the reconstruction, and the printed table shows the numbers.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from _example_paths import examples_folder

STRATEGIES = Path(__file__).resolve().parents[2] / "examples" / "strategies"


@pytest.fixture(scope="module", autouse=True)
def _strategies_on_path():
    with examples_folder(STRATEGIES):
        yield


def _run(name, capsys):
    module = importlib.import_module(name)
    result = module.run(small=True, seed=0)
    return result, capsys.readouterr().out


def test_multitask_shared_model_learns_both_tasks_about_as_well_as_alone(capsys):
    r, out = _run("multitask", capsys)
    for setting in ("same", "different"):
        for method in ("alone", "shared"):
            assert r[f"{setting}/digit/{method}"][0] > 0.75  # chance: 0.10
            assert r[f"{setting}/big/{method}"][0] > 0.70    # chance: about 0.5
        # sharing a trunk with the binary task costs the digit task little
        assert r[f"{setting}/digit/shared"][0] > r[f"{setting}/digit/alone"][0] - 0.03
    # more digit labels (100 vs 50) give a better digit classifier
    assert r["different/digit/alone"][0] > r["same/digit/alone"][0]
    assert len(r["runs"]) == 3
    for key in ("same/digit/alone", "different/big/shared"):
        mean, std = r[key]
        assert f"{mean:.4f} +- {std:.4f}" in out
    assert "does not clearly help" in out


def test_semi_supervised_unlabelled_rows_train_the_reconstruction(capsys):
    r, out = _run("semi_supervised", capsys)
    assert sorted(r) == [20, 100]
    for method in ("labels only", "+ reconstruction", "+ unlabelled rows"):
        # more labels, better accuracy; every method far above chance (0.10)
        assert r[100][f"{method}/accuracy"][0] > r[20][f"{method}/accuracy"][0] + 0.15
        assert r[20][f"{method}/accuracy"][0] > 0.4
    # the unlabelled rows do train the shared encoder and the decoder ...
    assert (r[20]["+ unlabelled rows/reconstruction"][0]
            < 0.7 * r[20]["+ reconstruction/reconstruction"][0])
    # ... and cost the classifier little (they do not measurably help on digits)
    for n in (20, 100):
        assert (r[n]["+ unlabelled rows/accuracy"][0]
                > r[n]["labels only/accuracy"][0] - 0.04)
    mean, std = r[20]["+ unlabelled rows/accuracy"]
    assert f"{mean:.4f} +- {std:.4f}" in out
    assert "do not" in out


@pytest.mark.parametrize("name", ["multitask", "semi_supervised"])
def test_strategy_examples_expose_run_small_seed_and_a_main(name):
    import inspect

    params = inspect.signature(importlib.import_module(name).run).parameters
    assert params["small"].default is False and params["seed"].default == 0
    assert 'if __name__ == "__main__":' in (STRATEGIES / f"{name}.py").read_text()
