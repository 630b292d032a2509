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
    "denoising", "density_estimation", "translation",
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


def test_translation_beats_word_by_word(capsys):
    mod, r, out = _run("translation", capsys)
    for model in ("plain", "weight_noise"):
        for decoder in ("greedy", "beam"):
            assert r[f"{model}_{decoder}_exact"] >= mod.SMALL_EXACT_BAR
            assert r[f"{model}_{decoder}_bleu"] >= r["baseline_bleu"] + mod.SMALL_BLEU_MARGIN
    assert r["baseline_exact"] < 0.1  # French reorders: word by word is rarely all right
    _shows(out, r["plain_greedy_exact"], r["plain_beam_bleu"], r["baseline_bleu"])


def test_translation_corpus_and_bleu():
    numbers = importlib.import_module("_numbers")
    cases = {97: "quatre-vingt-dix-sept", 71: "soixante et onze", 80: "quatre-vingts",
             81: "quatre-vingt-un", 200: "deux cents", 205: "deux cent cinq",
             1000: "mille", 2080: "deux mille quatre-vingts", 21: "vingt et un"}
    for n, written in cases.items():
        assert numbers.french(n) == written
        assert numbers.detokenize(numbers.tokens(written)) == written
    assert numbers.english(342) == "three hundred and forty-two"
    assert numbers.english(1005) == "one thousand and five"
    ref = numbers.tokens("trois cent quarante-deux")
    assert numbers.bleu([ref], [ref]) == 1.0
    assert numbers.bleu([["trois"]], [ref]) == 0.0
    # the last of five tokens wrong: the 1..4-gram precisions are 4/5, 3/4, 2/3 and 1/2
    last_wrong = numbers.bleu([["trois", "cent", "quarante", "-", "un"]], [ref])
    assert abs(last_wrong - (4 / 5 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25) < 1e-12
    one_wrong = numbers.bleu([["a", "b", "c", "d", "x", "f", "g", "h"]],
                        [["a", "b", "c", "d", "e", "f", "g", "h"]])
    # 1..4-gram precisions 7/8, 5/7, 3/6, 1/5; no brevity penalty (equal lengths)
    expected = (7 / 8 * 5 / 7 * 3 / 6 * 1 / 5) ** 0.25
    assert abs(one_wrong - expected) < 1e-12


def test_translation_beam_search_keeps_the_most_likely_phrase():
    """A hand-set decoder whose greedy first choice leads to a less likely whole phrase."""
    import chainrule as cr

    tr = importlib.import_module("translation")
    a, b, end = 3, 4, tr.EOS
    logp = {  # next-token probabilities after each prefix; longer prefixes must end
        0: {a: 0.6, b: 0.4},
        a: {end: 0.3, b: 0.35, a: 0.35},
        b: {end: 0.95, a: 0.05},
    }

    class Table:
        """The recurrent state carries the prefix: 0 none, a or b one token, 9 longer."""

        def eval(self):
            return self

        def encode(self, source):
            n, s = source.shape
            return (np.zeros((n, s, 1)), np.zeros((n, s, 1)), np.zeros((1, n, 1)),
                    np.ones((n, 1, s), dtype=bool))

        def decode(self, previous, state, memory):
            rows, codes = [], []
            for token, code in zip(previous[:, -1], state[0, :, 0].astype(int)):
                if token != tr.BOS:
                    code = token if code == 0 else 9
                row = np.full(5, -1e9)
                for t, p in logp.get(code, {end: 1.0}).items():
                    row[t] = np.log(p)
                rows.append(row)
                codes.append(code)
            return (cr.tensor(np.array(rows)[:, None, :]),
                    np.array(codes, dtype=float).reshape(1, -1, 1))

    source = np.zeros((1, 2), dtype=np.int64)
    greedy = tr.beam_search(Table(), source, beam=1, max_len=4)
    beam = tr.beam_search(Table(), source, beam=2, max_len=4)
    assert list(greedy[0][:3]) == [a, a, end]  # p = 0.6 * 0.35 = 0.21
    assert list(beam[0][:2]) == [b, end]  # p = 0.4 * 0.95 = 0.38
