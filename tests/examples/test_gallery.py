"""The task gallery (book §5.1.1): small runs of each example clear their bars.

Each example in ``examples/tasks/`` exposes ``run(small, seed) -> dict``
and prints its metric next to its baselines.  Here every one runs in its
small version (fewer epochs or examples) with seed 0; the asserted bars
are the ones the example states, and the printed table must show the
numbers returned.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import numpy as np
import pytest
from _example_paths import examples_folder

TASKS = Path(__file__).resolve().parents[2] / "examples" / "tasks"
NAMES = [
    "classification", "missing_inputs", "regression", "transcription",
    "structured_output", "anomaly_detection", "synthesis", "imputation",
    "denoising", "density_estimation",
]


@pytest.fixture(scope="module", autouse=True)
def _tasks_on_path():
    with examples_folder(TASKS):
        yield


def _run(name, capsys, **kwargs):
    module = importlib.import_module(name)
    result = module.run(small=True, seed=0, **kwargs)
    printed = capsys.readouterr().out
    return module, result, printed


def _shows(printed: str, *values: float) -> None:
    for v in values:
        assert f"{v:.4f}" in printed, f"{v:.4f} not in the printed report:\n{printed}"


def test_every_task_file_is_in_the_gallery_with_run_small_seed():
    files = sorted(p.stem for p in TASKS.glob("*.py") if not p.stem.startswith("_"))
    assert files == sorted(NAMES)
    for name in NAMES:
        module = importlib.import_module(name)
        params = inspect.signature(module.run).parameters
        assert params["small"].default is False and params["seed"].default == 0
        assert 'if __name__ == "__main__":' in (TASKS / f"{name}.py").read_text()


def test_classification_digits_and_mnist1d(capsys, monkeypatch):
    import mnist1d.data

    def no_download(*args, **kwargs):
        raise AssertionError("mnist1d.get_dataset downloads; use make_dataset")

    monkeypatch.setattr(mnist1d.data, "get_dataset", no_download)
    mod, r, out = _run("classification", capsys)
    assert r["digits_accuracy"] >= mod.DIGITS_BAR
    assert r["digits_accuracy"] > r["digits_baseline_accuracy"]
    # MNIST-1D: the published MLP figure is 64-68%
    assert r["mnist1d_accuracy"] >= mod.MNIST1D_BAR
    assert r["mnist1d_accuracy"] > r["mnist1d_baseline_accuracy"] + 0.2
    _shows(out, r["digits_accuracy"], r["mnist1d_accuracy"], r["mnist1d_baseline_accuracy"])


def test_missing_inputs_masked_model_beats_mean_imputation(capsys):
    mod, r, out = _run("missing_inputs", capsys)
    assert r["accuracy"] >= r["baseline_accuracy"] + mod.SMALL_MARGIN
    assert r["accuracy"] < r["complete_input_accuracy"]  # half the pixels do cost something
    _shows(out, r["accuracy"], r["baseline_accuracy"])


def test_heteroscedastic_regression_has_lower_nll(capsys):
    _, r, out = _run("regression", capsys)
    assert r["nll"] < r["linear_baseline_nll"]
    assert r["nll"] < r["constant_baseline_nll"] - 0.3
    _shows(out, r["nll"], r["linear_baseline_nll"], r["constant_baseline_nll"])


def test_transcription_reads_three_digit_strings(capsys):
    mod, r, out = _run("transcription", capsys)
    assert r["sequence_accuracy"] >= mod.SMALL_BAR
    assert r["sequence_accuracy"] > 3 * r["baseline_sequence_accuracy"]
    assert r["sequence_accuracy"] > 100 * r["chance"]
    _shows(out, r["sequence_accuracy"], r["baseline_sequence_accuracy"])


def test_transcription_strips_hold_the_labelled_digits():
    tr = importlib.import_module("transcription")
    images = np.zeros((3, 64), np.float32)
    for d in range(3):
        images[d, d] = d + 1.0  # a single marked pixel: row 0, column d
    X, y, starts = tr.make_strips(images, np.arange(3), 50, np.random.default_rng(0))
    strips = X.reshape(-1, 8, 28)
    for j in range(3):
        cols = starts[:, j] + y[:, j]
        np.testing.assert_array_equal(strips[np.arange(50), 0, cols], y[:, j] + 1.0)
    assert starts.min() >= 0 and starts.max() + 8 <= 28
    assert np.all(np.diff(starts, axis=1) >= 8)  # digits never overlap


def test_structured_output_beats_mean_image_and_linear(capsys):
    mod, r, out = _run("structured_output", capsys)
    assert r["mse"] <= mod.BAR_FRACTION * r["mean_image_mse"]
    assert r["mse"] < r["ridge_mse"]
    _shows(out, r["mse"], r["mean_image_mse"], r["ridge_mse"])


def test_anomaly_detection_auc(capsys):
    mod, r, out = _run("anomaly_detection", capsys)
    assert r["auc"] >= mod.AUC_BAR
    assert r["auc"] > r["mean_distance_auc"] and r["auc"] > r["pca_auc"]
    _shows(out, r["auc"], r["mean_distance_auc"], r["pca_auc"])


def test_vae_samples_are_confident_and_diverse(capsys):
    mod, r, out = _run("synthesis", capsys)
    best_base_conf = max(r["noise_confidence"], r["factorised_confidence"])
    best_base_is = max(r["noise_inception_score"], r["factorised_inception_score"])
    assert r["confidence"] >= best_base_conf + mod.CONFIDENCE_MARGIN
    assert r["inception_score"] >= mod.INCEPTION_RATIO * best_base_is
    assert r["diversity"] >= mod.DIVERSITY_BAR
    assert r["confidence"] < r["real_confidence"]  # real digits stay the reference
    _shows(out, r["confidence"], r["diversity"], r["inception_score"])


def test_vae_elbo_matches_a_direct_computation():
    syn = importlib.import_module("synthesis")
    import chainrule as cr

    rng = np.random.default_rng(0)
    k = syn.LATENT
    out = rng.normal(size=(5, 64 + 2 * k)).astype(np.float32)
    x = rng.random((5, 64)).astype(np.float32)
    logits, mu, log_var = out[:, :64], out[:, 64:64 + k], out[:, 64 + k:]
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    recon = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1)
    kl = 0.5 * (mu**2 + np.exp(log_var) - log_var - 1).sum(axis=1)
    got = syn.negative_elbo(cr.tensor(out), x).item()
    np.testing.assert_allclose(got, (recon + kl).mean(), rtol=1e-5)


def test_imputation_beats_mean_imputation(capsys):
    mod, r, out = _run("imputation", capsys)
    assert r["rmse"] <= mod.BAR_FRACTION * r["mean_imputation_rmse"]
    _shows(out, r["rmse"], r["mean_imputation_rmse"], r["knn_rmse"])


def test_denoising_removes_most_of_the_noise(capsys):
    mod, r, out = _run("denoising", capsys)
    assert r["mse"] <= mod.BAR_FRACTION * r["noisy_mse"]
    assert r["mse"] < r["blur_mse"]
    np.testing.assert_allclose(r["noisy_mse"], mod.SIGMA**2, rtol=0.05)
    _shows(out, r["mse"], r["noisy_mse"], r["blur_mse"])


def test_mixture_density_network(capsys):
    mod, r, out = _run("density_estimation", capsys)
    best_sklearn = max(r["gmm_log_likelihood"], r["kde_log_likelihood"])
    assert r["log_likelihood"] >= best_sklearn - mod.SMALL_TOLERANCE
    assert r["log_likelihood"] >= r["regression_log_likelihood"] + mod.GAIN
    assert r["log_likelihood"] >= r["marginal_log_likelihood"] + mod.GAIN
    _shows(out, r["log_likelihood"], r["gmm_log_likelihood"], r["kde_log_likelihood"])


def test_mdn_log_likelihood_matches_scipy():
    de = importlib.import_module("density_estimation")
    from scipy import stats
    from scipy.special import softmax

    import chainrule as cr

    rng = np.random.default_rng(1)
    k = 4
    out = rng.normal(size=(6, 3 * k)).astype(np.float32)
    y = rng.normal(size=(6, 1)).astype(np.float32)
    pi = softmax(out[:, :k].astype(np.float64), axis=1)
    dens = stats.norm(out[:, k:2 * k], np.exp(out[:, 2 * k:].astype(np.float64))).pdf(y)
    ref = np.log((pi * dens).sum(axis=1))
    got = de.mdn_log_likelihood(cr.tensor(out), y).data
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
