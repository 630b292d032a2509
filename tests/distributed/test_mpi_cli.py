"""``mpiexec -n 2 chainrule train``: data-parallel with no extra flag, rank 0 writes."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("mpi4py", reason='needs the extra: pip install "chainrule[distributed]"')
MPIEXEC = shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec on PATH (install mpich)")

FLAGS = ["--dataset", "digits", "--seed", "0", "--batch-size", "64", "--epochs", "4",
         "--hidden", "64", "--verbose", "0"]



def _train(out, ranks, *extra, flags=FLAGS):
    cmd = [sys.executable, "-m", "chainrule.cli", "train", *flags, "--out", str(out), *extra]
    if ranks > 1:
        cmd = [MPIEXEC, "-n", str(ranks), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                          check=False)


def _weights(run):
    from chainrule.training import load_checkpoint

    return load_checkpoint(str(run / "model.npz"))["model"]


def test_mpiexec_train_equals_one_process_and_only_rank0_writes(tmp_path):
    two = _train(tmp_path / "two", 2)
    assert two.returncode == 0, two.stderr
    one = _train(tmp_path / "one", 1)
    assert one.returncode == 0, one.stderr
    w2, w1 = _weights(tmp_path / "two"), _weights(tmp_path / "one")
    assert w2.keys() == w1.keys() and w2
    for k in w1:
        assert np.max(np.abs(w2[k] - w1[k])) <= 1e-4, k
    m2 = json.loads((tmp_path / "two" / "metrics.json").read_text())
    m1 = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert m2["accuracy"] == pytest.approx(m1["accuracy"], abs=1e-9)
    # one rank printed: one "run folder" line and one accuracy line
    assert two.stdout.count("run folder:") == 1
    assert two.stdout.count("test accuracy") == 1
    config = json.loads((tmp_path / "two" / "config.json").read_text())
    assert config["data"]["world_size"] == 2
    assert json.loads((tmp_path / "one" / "config.json").read_text())["data"]["world_size"] == 1
    # nothing but rank 0's files (no second writer's temporary files)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == \
        sorted(p.name for p in (tmp_path / "one").iterdir())


def test_mpiexec_resume_continues_on_all_ranks(tmp_path):
    first = _train(tmp_path / "run", 2)
    assert first.returncode == 0, first.stderr
    more = _train(tmp_path / "run", 2, "--resume", "--epochs", "6", "--verbose", "0", flags=[])
    assert more.returncode == 0, more.stderr
    straight = _train(tmp_path / "straight", 2, "--epochs", "6")
    assert straight.returncode == 0, straight.stderr
    a, b = _weights(tmp_path / "run"), _weights(tmp_path / "straight")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_an_error_on_rank0_ends_the_job(tmp_path):
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    done = _train(tmp_path / "foreign", 2)
    assert done.returncode != 0
    assert "error" in done.stderr
    assert (tmp_path / "foreign" / "notes.txt").read_text() == "mine"
