"""Small runs of the optimisation-strategy examples (book §6.4, §8.7).

Each example in ``examples/strategies/`` exposes ``run(small, seed) ->
dict`` and prints a table of mean ± std over seeds.  The assertions are the
directions our measurements support (see docs/ch8_optimization.md and
docs/ch6_feedforward.md for the full runs); where a method did not help,
only what holds is asserted.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
from _example_paths import examples_folder

STRATEGIES = Path(__file__).resolve().parents[2] / "examples" / "strategies"
NAMES = ["curriculum", "depth_vs_width", "polyak", "pretraining"]


@pytest.fixture(scope="module", autouse=True)
def _on_path():
    with examples_folder(STRATEGIES):
        yield


@pytest.fixture(autouse=True)
def _no_download(monkeypatch):
    import mnist1d.data

    def no_download(*args, **kwargs):
        raise AssertionError("mnist1d.get_dataset downloads; use make_dataset")

    monkeypatch.setattr(mnist1d.data, "get_dataset", no_download)


def _run(name, capsys, **kwargs):
    module = importlib.import_module(name)
    result = module.run(small=True, seed=0, **kwargs)
    return module, result, capsys.readouterr().out


def _shows(printed: str, *pairs) -> None:
    for mean, std in pairs:
        assert f"{mean:.4f} ± {std:.4f}" in printed, f"{mean:.4f} not in:\n{printed}"


def test_every_example_has_run_small_seed_and_a_main():
    # every example of the folder (this file's and the other strategy test files')
    files = sorted(p.stem for p in STRATEGIES.glob("*.py") if not p.stem.startswith("_"))
    assert set(NAMES) <= set(files)
    for name in files:
        params = inspect.signature(importlib.import_module(name).run).parameters
        assert params["small"].default is False and params["seed"].default == 0
        assert 'if __name__ == "__main__":' in (STRATEGIES / f"{name}.py").read_text()


def test_greedy_pretraining_beats_training_the_deep_sigmoid_net_from_scratch(capsys):
    _, r, out = _run("pretraining", capsys)
    # measured: greedy pretraining + fine-tuning beats the same network trained from
    # scratch for the same number of epochs, on every seed (the FitNets row, which
    # needs a teacher, is in the full version only; hint_train is tested in
    # tests/training/test_strategies.py)
    per_seed = r["per_seed"]
    for got, base in zip(per_seed["greedy supervised pretraining"], per_seed["from scratch"]):
        assert got > base + 0.01, per_seed
    assert "hints" not in r
    _shows(out, r["scratch"], r["greedy"])


def test_curriculum_with_noisy_labels_beats_random_order_at_equal_epochs(capsys):
    _, r, out = _run("curriculum", capsys)
    noisy = r["noisy"]
    # the pacing reaches every row at the last epoch: 20% -> 100%, about 59% of the steps
    assert 0.55 < noisy["steps_fraction"] < 0.62
    # measured: easy first (the mislabelled rows come last) beats random order at the
    # same number of epochs on every seed; against random order stopped at the same
    # number of steps the gain is within the spread, so it is not asserted
    for got, base in zip(noisy["per_seed"]["curriculum"], noisy["per_seed"]["random"]):
        assert got > base, noisy["per_seed"]
    assert noisy["curriculum"][0] > noisy["random"][0] + 0.015
    _shows(out, noisy["curriculum"], noisy["random"], noisy["same_steps"])


def test_depth_vs_width_runs_at_equal_parameter_counts(capsys, tmp_path):
    mod, r, out = _run("depth_vs_width", capsys, plot=str(tmp_path / "dw.png"))
    counts = [mod.n_params(d, w) for (_, d), w in r["widths"].items()]
    assert max(counts) - min(counts) < 0.05 * 10_000  # equal budgets within 5%
    acc = r["accuracy"]
    # every architecture learns (chance is 10%)
    assert all(m > 0.45 for m, _ in acc.values())
    # measured (small and full runs): two hidden layers beat one at the same
    # parameter count; deeper still is not better at this budget, so not asserted
    assert acc[10_000, 2][0] > acc[10_000, 1][0] + 0.01
    assert (tmp_path / "dw.png").stat().st_size > 0 or "matplotlib" in out
    _shows(out, *acc.values())


def test_averaged_iterates_beat_sgds_last_iterate(capsys):
    _, r, out = _run("polyak", capsys)
    # measured (constant step 0.3): both averages have a lower test loss than the
    # last iterate on every seed, and a higher mean accuracy
    last = r["per_seed_loss"]["SGD, last iterate"]
    for name, losses in r["per_seed_loss"].items():
        if name != "SGD, last iterate":
            assert all(a < b for a, b in zip(losses, last)), r["per_seed_loss"]
    for key in ("polyak", "ema"):
        assert r[f"{key}_loss"][0] < r["last_loss"][0] - 0.1
        assert r[f"{key}_accuracy"][0] > r["last_accuracy"][0]
    _shows(out, r["last_loss"], r["polyak_loss"], r["ema_loss"], r["last_accuracy"])
