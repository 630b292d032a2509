"""The kernel path fixture: each test that takes ``path`` runs on the compiled
kernels (numba) and on the plain NumPy path (``CHAINRULE_KERNELS=numpy``)."""

import pytest

from chainrule._backend import fused


@pytest.fixture(params=["compiled", "numpy"])
def path(request):
    """The kernel path the test runs on; 'compiled' also splits small arrays over threads."""
    if request.param == "compiled" and not fused.compiled_available():
        pytest.skip("numba is not importable here")
    with fused.kernels(request.param):
        yield request.param
