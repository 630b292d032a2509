"""A training process killed with SIGKILL resumes to bit-identical parameters."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(os.path.dirname(HERE)), "src")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"
    return env


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_sigkill_then_resume_is_bit_identical(tmp_path):
    sys.path.insert(0, HERE)
    try:
        import sigkill_worker
    finally:
        sys.path.remove(HERE)
    script = os.path.join(HERE, "sigkill_worker.py")

    # 1. the uninterrupted run, in this process
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    reference = sigkill_worker.train(str(ref_dir), "full")

    # 2. a run killed with SIGKILL at step 30 (mid-epoch 3; last checkpoint at step 28)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    proc = subprocess.Popen([sys.executable, script, str(run_dir), "run", "30"], env=_env())
    try:
        deadline = time.monotonic() + 60
        while not (run_dir / "reached").exists():
            assert proc.poll() is None, "the worker exited before it was killed"
            assert time.monotonic() < deadline, "the worker never reached step 30"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:  # never leave the hanging worker behind
            proc.kill()
            proc.wait()
    assert (run_dir / "ckpt.npz").exists()
    assert not (run_dir / "final.npz").exists()
    leftovers = [f for f in os.listdir(run_dir) if f.startswith(".tmp-")]
    assert leftovers == []  # saves are atomic: no half-written files were renamed in

    # 3. resume in a fresh process from the checkpoint left on disk
    done = subprocess.run(
        [sys.executable, script, str(run_dir), "resume"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with np.load(run_dir / "final.npz") as f:
        resumed = [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]
    assert len(resumed) == len(reference)
    for a, b in zip(reference, resumed):
        assert a.dtype == b.dtype and np.array_equal(a, b)  # bit-identical
