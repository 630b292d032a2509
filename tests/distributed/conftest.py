"""The processes these tests start (mpiexec, workers) import this checkout's chainrule
and run BLAS on one thread each (two ranks share the machine's cores)."""

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _subprocess_env(monkeypatch):
    src = str(Path(__file__).resolve().parents[2] / "src")
    monkeypatch.setenv("PYTHONPATH", src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
