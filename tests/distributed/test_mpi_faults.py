"""MPI faults end every rank with one clear line, quickly (issue 23).

- A rank frozen with SIGSTOP (in a plain all_reduce, or in the gradient
  all-reduce of DistributedOptimizer) makes the other rank stop after
  CHAINRULE_MPI_TIMEOUT seconds, naming the collective; the job ends.
- Ranks given data sets of different lengths stop before the first
  collective with a message naming both lengths (not MPI's truncation error).
- The bounded collectives still give the right results.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mpi4py", reason='needs the extra: pip install "chainrule[distributed]"')
MPIEXEC = shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec on PATH (install mpich)")

WORKER = str(Path(__file__).with_name("fault_worker.py"))


def _run(mode, timeout_s="3", limit=90):
    env = dict(os.environ, CHAINRULE_MPI_TIMEOUT=timeout_s)
    start = time.monotonic()
    done = subprocess.run([MPIEXEC, "-n", "2", sys.executable, WORKER, mode],
                          capture_output=True, text=True, timeout=limit, env=env, check=False)
    return done, time.monotonic() - start


@pytest.mark.parametrize("mode, what", [("freeze", "all_reduce"),
                                        ("freeze-grad", "all_reduce")])
def test_a_frozen_rank_stops_the_job_after_the_timeout(mode, what):
    done, elapsed = _run(mode)
    assert done.returncode != 0
    assert re.search(rf"\[rank 0\] chainrule.distributed: {what} \((sum|mean)\) waited more "
                     r"than 3 s", done.stderr), done.stderr
    assert "CHAINRULE_MPI_TIMEOUT" in done.stderr
    assert elapsed < 60, elapsed


def test_data_sets_of_different_lengths_are_named_before_any_collective():
    done, elapsed = _run("lengths", timeout_s="30")
    assert done.returncode != 0
    assert "same number of training rows" in done.stderr
    assert "rank 0: 40, rank 1: 30" in done.stderr
    assert "truncat" not in done.stderr.lower()
    assert elapsed < 60


def test_bounded_collectives_give_the_right_results():
    done, _ = _run("ok", timeout_s="20")
    assert done.returncode == 0, done.stderr
    assert sorted(line.split()[:2] == ["done", r] for r in "01" for line in
                  done.stdout.splitlines()).count(True) == 2
    assert "20.0" in done.stdout


def test_a_bad_timeout_is_named(monkeypatch):
    from chainrule.distributed import _comm

    monkeypatch.setenv("CHAINRULE_MPI_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="CHAINRULE_MPI_TIMEOUT.*seconds > 0.*'soon'"):
        _comm.timeout()
    monkeypatch.setenv("CHAINRULE_MPI_TIMEOUT", "7.5")
    assert _comm.timeout() == 7.5
    with pytest.raises(ValueError, match="timeout"):
        _comm.set_timeout(0)
