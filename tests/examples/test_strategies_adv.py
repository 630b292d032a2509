"""Strategy examples of chapter 7 (§7.10, §7.13, §7.14): small runs show their effects.

Each example in ``examples/strategies/`` here exposes ``run(small, seed)
-> dict`` and prints a table of mean ± std over seeds.  The small versions
run with seed 0; the assertions are the directions the full runs measured
(docs/ch7_regularization.md), and only those: augmentation on the 8x8
digits is reported, not asserted to help, because it does not.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
from _example_paths import examples_folder

STRATEGIES = Path(__file__).resolve().parents[2] / "examples" / "strategies"
NAMES = ["adversarial_digits", "tangent_prop_digits", "sparse_representation"]


@pytest.fixture(scope="module", autouse=True)
def _strategies_on_path():
    with examples_folder(STRATEGIES):
        yield


def _run(name, capsys):
    module = importlib.import_module(name)
    result = module.run(small=True, seed=0)
    printed = capsys.readouterr().out
    return module, result, printed


def _shows(printed: str, *values: float) -> None:
    for v in values:
        assert f"{v:.4f}" in printed, f"{v:.4f} not in the printed report:\n{printed}"


def test_each_example_has_run_small_seed_and_a_main():
    for name in NAMES:
        module = importlib.import_module(name)
        params = inspect.signature(module.run).parameters
        assert params["small"].default is False and params["seed"].default == 0
        assert 'if __name__ == "__main__":' in (STRATEGIES / f"{name}.py").read_text()


def test_adversarial_training_resists_fgsm_and_pgd_at_the_same_clean_accuracy(capsys):
    _, r, out = _run("adversarial_digits", capsys)
    plain, adv = r["plain"], r["adversarial"]
    # attacks hurt the plain network a lot
    assert plain["fgsm"][0] < plain["clean"][0] - 0.25
    assert plain["pgd"][0] <= plain["fgsm"][0] + 0.01
    # adversarial training: much better under both attacks, clean accuracy kept
    assert adv["fgsm"][0] > plain["fgsm"][0] + 0.15
    assert adv["pgd"][0] > plain["pgd"][0] + 0.15
    assert adv["clean"][0] > plain["clean"][0] - 0.02
    _shows(out, plain["fgsm"][0], adv["fgsm"][0], plain["pgd"][0], adv["pgd"][0])


def test_tangent_prop_gains_a_little_and_augmentation_is_only_reported(capsys):
    _, r, out = _run("tangent_prop_digits", capsys)
    assert r["per_class"] == 5
    plain, tp, aug = r["plain"], r["tangent prop"], r["augmentation"]
    assert tp["accuracy"][0] > plain["accuracy"][0]
    assert tp["gain"][0] > 0 and plain["gain"] == (0.0, 0.0)
    assert 0.5 < aug["accuracy"][0] < 1.0  # trained and scored; no direction claimed
    _shows(out, plain["accuracy"][0], tp["accuracy"][0], aug["accuracy"][0])


def test_activity_penalties_make_the_representation_sparse_without_losing_accuracy(capsys):
    _, r, out = _run("sparse_representation", capsys)
    plain, l1, st = r["plain"], r["L1"], r["Student-t"]
    assert l1["near_zero"][0] > plain["near_zero"][0] + 0.3
    assert st["near_zero"][0] > plain["near_zero"][0] + 0.2
    assert l1["active_units"][0] < 0.5 * plain["active_units"][0]
    assert l1["accuracy"][0] > plain["accuracy"][0] - 0.01
    assert st["accuracy"][0] > plain["accuracy"][0] - 0.01
    _shows(out, plain["near_zero"][0], l1["near_zero"][0], l1["accuracy"][0])
