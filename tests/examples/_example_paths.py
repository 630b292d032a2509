"""Where the example scripts live, and the scope their tests run them in."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

from threadpoolctl import threadpool_limits

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@contextmanager
def examples_folder(folder: Path):
    """``folder`` importable (its scripts import their helpers by plain name), on one BLAS
    thread: the examples' matrices are small, and one thread is far faster on a busy machine."""
    sys.path.insert(0, str(folder))
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        sys.path.remove(str(folder))
