"""Data-parallel training over MPI: replicas stay equal and match one process.

These tests start ``mpiexec -n 2`` themselves (mpich from pip), so they
need the ``[distributed]`` extra; without it they skip with that reason.
"""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py", reason='needs the extra: pip install "chainrule[distributed]"')
MPIEXEC = shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec on PATH (install mpich)")

WORKER = str(Path(__file__).with_name("mpi_worker.py"))



def _mpi(n, *args, timeout=120):
    cmd = [MPIEXEC, "-n", str(n), sys.executable, WORKER, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          check=False)


def _load(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def test_two_ranks_equal_replicas_and_one_process(tmp_path):
    done = _mpi(2, str(tmp_path / "two"), "train")
    assert done.returncode == 0, done.stderr
    w0 = _load(f"{tmp_path}/two.rank0.npz")
    w1 = _load(f"{tmp_path}/two.rank1.npz")
    for k in w0:  # identical replicas, bit for bit
        np.testing.assert_array_equal(w0[k], w1[k])
    # one process, no MPI launcher: the same global minibatches
    single = subprocess.run([sys.executable, WORKER, str(tmp_path / "one"), "train"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert single.returncode == 0, single.stderr
    w = _load(f"{tmp_path}/one.rank0.npz")
    diff = max(float(np.max(np.abs(w[k] - w0[k]))) for k in w)
    assert diff <= 1e-4, diff
    moved = max(float(np.max(np.abs(w[k]))) for k in w)
    assert moved > 0.1  # it trained


@pytest.mark.parametrize("mode", ["raise", "kill"])
def test_failure_on_one_rank_ends_the_job(tmp_path, mode):
    start = time.monotonic()
    done = _mpi(2, str(tmp_path / "x"), mode, timeout=60)
    assert done.returncode != 0
    assert time.monotonic() - start < 60
    if mode == "raise":
        assert "rank 1 failed on purpose" in done.stderr
    assert not (tmp_path / "x.rank0.npz").exists()


FIT_WORKER = str(Path(__file__).with_name("fit_worker.py"))


def test_fit_under_mpiexec_is_data_parallel_and_matches_one_process(tmp_path):
    """fit() detects the MPI world: the global batch is sharded, logs are reduced,
    only rank 0 prints and writes; the model equals the one-process run."""
    import json

    cmd = [MPIEXEC, "-n", "2", sys.executable, FIT_WORKER, str(tmp_path / "two")]
    two = subprocess.run(cmd, capture_output=True, text=True, timeout=180,
                         check=False)
    assert two.returncode == 0, two.stderr
    one = subprocess.run([sys.executable, FIT_WORKER, str(tmp_path / "one")],
                         capture_output=True, text=True, timeout=180, check=False)
    assert one.returncode == 0, one.stderr
    w0, w1 = _load(f"{tmp_path}/two.rank0.npz"), _load(f"{tmp_path}/two.rank1.npz")
    w = _load(f"{tmp_path}/one.rank0.npz")
    for k in w:
        np.testing.assert_array_equal(w0[k], w1[k])  # replicas equal
        assert np.max(np.abs(w0[k] - w[k])) <= 1e-4, k  # equal to one process
    h2 = json.loads((tmp_path / "two.rank0.json").read_text())
    h1 = json.loads((tmp_path / "one.rank0.json").read_text())
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(h2[key], h1[key], rtol=1e-4, atol=1e-5)
    # only rank 0 prints its epoch lines (verbose=2), and one checkpoint exists
    assert two.stderr.count("Epoch 3/3") == one.stderr.count("Epoch 3/3") == 1
    # checkpoints named per rank (the rank a launcher gives): only rank 0 wrote one
    assert (tmp_path / "two.ckpt.rank0.npz").exists()
    assert not (tmp_path / "two.ckpt.rank1.npz").exists()


def test_gradients_are_averaged_not_summed_without_an_explicit_share(tmp_path):
    worker = str(Path(__file__).with_name("average_worker.py"))
    done = subprocess.run([MPIEXEC, "-n", "2", sys.executable, worker, str(tmp_path / "avg")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    for r in (0, 1):
        for k, v in _load(f"{tmp_path}/avg.rank{r}.npz").items():
            np.testing.assert_allclose(v, -1.5, err_msg=k)  # mean of 1 and 2; the sum is 3


def test_multitask_fit_under_mpiexec_matches_one_process(tmp_path):
    """A dict of targets is sharded row-aligned; per-task losses are reduced over ranks."""
    import json

    worker = str(Path(__file__).with_name("multitask_fit_worker.py"))
    two = subprocess.run([MPIEXEC, "-n", "2", sys.executable, worker, str(tmp_path / "two")],
                         capture_output=True, text=True, timeout=180, check=False)
    assert two.returncode == 0, two.stderr
    one = subprocess.run([sys.executable, worker, str(tmp_path / "one")],
                         capture_output=True, text=True, timeout=180, check=False)
    assert one.returncode == 0, one.stderr
    w0, w1 = _load(f"{tmp_path}/two.rank0.npz"), _load(f"{tmp_path}/two.rank1.npz")
    w = _load(f"{tmp_path}/one.rank0.npz")
    for k in w:
        np.testing.assert_array_equal(w0[k], w1[k])
        assert np.max(np.abs(w0[k] - w[k])) <= 1e-4, k
    h2 = json.loads((tmp_path / "two.rank0.json").read_text())
    h1 = json.loads((tmp_path / "one.rank0.json").read_text())
    for key in ("loss", "digit_loss", "big_loss", "digit_accuracy", "val_loss",
                "val_digit_loss", "val_big_loss", "val_digit_accuracy"):
        np.testing.assert_allclose(h2[key], h1[key], rtol=1e-4, atol=1e-5, err_msg=key)
