import numpy as np
import pytest
from _namespaces import NAMESPACES, Namespace, make_namespace  # noqa: F401

import chainrule as cr


@pytest.fixture(autouse=True)
def _seed():
    cr.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(params=NAMESPACES)
def namespace(request):
    """Each namespace in turn: NumPy, array_api_strict (two devices), torch CPU."""
    return make_namespace(request.param)


@pytest.fixture
def namespaces():
    """``namespaces(name)``: the :class:`Namespace` of that name (one of NAMESPACES)."""
    return make_namespace
