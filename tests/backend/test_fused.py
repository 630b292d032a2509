"""The kernel layer's elementwise kernels: one formula, the same numbers on every path.

The compiled path (numba) against the plain one (the formula on whole NumPy
arrays), in place and fresh outputs, optional arrays, row broadcasting,
float32 and float64, the thread split, the finiteness check, the switch, a
machine without numba, and the CuPy source (compiled here as C++ with g++,
since CuPy is not installed in CI).
"""

import ctypes
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from chainrule._backend import fused
from chainrule._backend.fused import (
    NonFiniteOutput,
    elementwise,
    kernels,
    maximum,
    sqrt,
    tanh,
    where,
)

needs_numba = pytest.mark.skipif(not fused.compiled_available(), reason="numba not importable")


@elementwise(outputs="p m v_max", scalars="lr mu")
def _momentum_max(p, g, m, v_max, lr, mu):
    m = mu * m + g
    if v_max is not None:
        v_max = maximum(v_max, m * m)
        m = m / sqrt(v_max + lr)
    return p - lr * m, m, v_max


@elementwise(outputs="y dy", scalars="one", rows="b")
def _bias_tanh(x, b, one):
    y = tanh(x + b)
    return y, where(y > 0, one - y * y, y)


def _arrays(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    p, g, m = (rng.standard_normal(shape).astype(dtype) for _ in range(3))
    return p, g, m, np.abs(rng.standard_normal(shape)).astype(dtype)


def _both(run):
    out = {}
    for mode in ("compiled", "numpy"):
        with kernels(mode):
            out[mode] = run()
    return out["compiled"], out["numpy"]


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_max", [True, False])
def test_in_place_outputs_equal_on_both_paths(dtype, with_max, monkeypatch):
    monkeypatch.setattr(fused, "PARALLEL_MIN", 64)  # split these small arrays over threads

    def run():
        p, g, m, v = _arrays((37, 11), dtype)
        res = _momentum_max(p, g, m, v if with_max else None, 0.1, 0.9)
        assert res[0] is p and res[1] is m and (res[2] is v if with_max else res[2] is None)
        assert p.dtype == dtype and m.dtype == dtype
        return p, m, v

    for a, b in zip(*_both(run)):
        np.testing.assert_array_equal(a, b)  # + - * / sqrt: the same IEEE operations


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_broadcast_and_fresh_outputs_equal_on_both_paths(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((9, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    (yc, dc), (yn, dn) = _both(lambda: _bias_tanh(x, b, 1.0))
    assert yc.shape == (9, 5) and yc.dtype == dtype
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(yc, np.tanh(x + b), rtol=4 * eps, atol=4 * eps)
    np.testing.assert_allclose(yc, yn, rtol=4 * eps, atol=4 * eps)
    np.testing.assert_allclose(dc, dn, rtol=8 * eps, atol=8 * eps)


@pytest.mark.parametrize("mode", ["compiled", "numpy"])
def test_outputs_go_into_the_arrays_given(mode):
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    b = np.zeros(4, np.float32)
    y, d = np.empty_like(x), np.empty_like(x)
    with kernels(mode):
        ry, rd = _bias_tanh(x, b, 1.0, out={"y": y, "dy": d})
    assert ry is y and rd is d
    np.testing.assert_allclose(y, np.tanh(x), rtol=1e-6)


@pytest.mark.parametrize("mode", ["compiled", "numpy"])
def test_check_refuses_non_finite_outputs(mode):
    p, g, m, _ = _arrays(8, np.float32)
    g[5] = np.inf
    before = p.copy(), m.copy()
    with kernels(mode), pytest.raises(NonFiniteOutput, match="_momentum_max") as info:
        _momentum_max(p, g, m, None, 0.1, 0.9, check=True)
    assert isinstance(info.value, FloatingPointError)
    assert info.value.index == 5 and not np.isfinite(info.value.value)
    # the refused element keeps its first output's value on every path
    # (the plain path writes nothing at all)
    assert p[5] == before[0][5]
    if mode == "numpy":
        np.testing.assert_array_equal(p, before[0])
        np.testing.assert_array_equal(m, before[1])


def test_plain_path_serves_other_namespaces():
    xp = pytest.importorskip("array_api_strict")
    p, g, m, v = (xp.asarray(a) for a in _arrays(6, np.float32))
    expected = [a.copy() for a in _arrays(6, np.float32)]
    with kernels("numpy"):
        _momentum_max(*expected, 0.1, 0.9)
    _momentum_max(p, g, m, v, 0.1, 0.9)
    for a, b in zip((p, m, v), (expected[0], expected[2], expected[3])):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-6)


def test_the_switch_is_public():
    import chainrule as cr
    import chainrule.optim

    before = cr.get_kernels()
    try:
        cr.set_kernels("numpy")
        assert fused.get_kernels() == "numpy"
    finally:
        cr.set_kernels(before)
    assert issubclass(chainrule.optim.NonFiniteStepError, FloatingPointError)


def test_switch_values_are_checked(monkeypatch):
    with pytest.raises(ValueError, match="Expected kernels 'compiled' or 'numpy'"):
        fused.set_kernels("fast")
    monkeypatch.setattr(fused, "_mode", [])
    monkeypatch.setenv("CHAINRULE_KERNELS", "gpu")
    with pytest.raises(ValueError, match="CHAINRULE_KERNELS"):
        fused.get_kernels()
    monkeypatch.setenv("CHAINRULE_KERNELS", "numpy")
    monkeypatch.setattr(fused, "_mode", [])
    assert fused.get_kernels() == "numpy"


def test_without_numba_the_plain_path_runs(monkeypatch):
    monkeypatch.setattr(fused, "_numba", [None])  # as if numba were not importable
    assert not fused.compiled_available()
    p, g, m, v = _arrays(10, np.float32)
    expected = [a.copy() for a in (p, g, m, v)]
    e = expected
    e[2] = 0.9 * e[2] + e[1]
    e[3] = np.maximum(e[3], e[2] * e[2])
    e[2] = e[2] / np.sqrt(e[3] + np.float32(0.1))
    e[0] = e[0] - np.float32(0.1) * e[2]
    _momentum_max(p, g, m, v, 0.1, 0.9)
    np.testing.assert_allclose(p, e[0], rtol=1e-6)
    np.testing.assert_allclose(m, e[2], rtol=1e-6)


def test_import_chainrule_does_not_import_numba():
    code = "import sys, chainrule, chainrule.optim; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ})
    assert out.stdout.strip() == "False"


# --- the CuPy source, compiled as C++ -------------------------------------------------
_PRELUDE = """
#include <cmath>
#include <algorithm>
using std::max; using std::min; using std::sqrt; using std::exp; using std::log;
using std::tanh; using std::log1p; using std::expm1;
typedef float T;
"""


def _cpp_kernel(spec, present, tmp_path):
    """The generated ElementwiseKernel as a C++ loop over n elements, loaded with ctypes."""
    from chainrule._backend._fused_cupy import cuda_source

    ins, outs, body, name = cuda_source(spec, present)
    params = [p.split()[1] for p in (ins + ", " + outs).split(", ") if p]
    scalars = set(spec.scalars)
    args = ", ".join(f"T {n}" if n in scalars else f"T* {n}_a" for n in params)
    refs = "\n".join(f"T& {n} = {n}_a[i];" for n in params if n not in scalars)
    src = (_PRELUDE + f'extern "C" void run({args}, long n) {{\n'
           f"for (long i = 0; i < n; ++i) {{\n{refs}\n{body}\n}}\n}}\n")
    (tmp_path / f"{name}.cpp").write_text(src)
    lib = tmp_path / f"{name}.so"
    subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-o", str(lib), str(tmp_path / f"{name}.cpp")],
                   check=True)
    return ctypes.CDLL(str(lib)).run, params


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler")
@pytest.mark.parametrize("with_max", [True, False])
def test_cupy_source_computes_the_formula(with_max, tmp_path):
    spec = _momentum_max
    present = {"p": True, "g": True, "m": True, "v_max": with_max}
    run, params = _cpp_kernel(spec, present, tmp_path)
    p, g, m, v = _arrays(16, np.float32)
    arrays = {"in_g": g, "io_p": p.copy(), "io_m": m.copy(), "io_v_max": v.copy()}
    scalars = {"lr": 0.1, "mu": 0.9}
    cargs = [ctypes.c_float(scalars[n]) if n in scalars
             else arrays[n].ctypes.data_as(ctypes.c_void_p) for n in params]
    run(*cargs, ctypes.c_long(16))
    with kernels("numpy"):
        _momentum_max(p, g, m, v if with_max else None, 0.1, 0.9)
    np.testing.assert_allclose(arrays["io_p"], p, rtol=1e-6)
    np.testing.assert_allclose(arrays["io_m"], m, rtol=1e-6)
    if with_max:
        np.testing.assert_allclose(arrays["io_v_max"], v, rtol=1e-6)


def _optimiser_kernels():
    from chainrule.optim import adagrad, adam, rmsprop, sgd

    return [adam.adam_update, sgd.sgd_update, rmsprop.rmsprop_update, adagrad.adagrad_update]


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler")
@pytest.mark.parametrize("k", range(4), ids=["adam", "sgd", "rmsprop", "adagrad"])
def test_optimiser_cupy_sources_compute_their_formula(k, tmp_path):
    """Every optimiser update's generated kernel, for every pattern of optional
    state, gives the plain path's numbers."""
    import itertools

    spec = _optimiser_kernels()[k]
    optional = {"adam_update": ["v_max"], "sgd_update": ["v"], "rmsprop_update": ["g_avg", "b"],
                "adagrad_update": []}[spec.name]
    for pattern in itertools.product([True, False], repeat=len(optional)):
        present = {a: True for a in spec.arrays}
        present.update(zip(optional, pattern))
        run, params = _cpp_kernel(spec, present, tmp_path)
        rng = np.random.default_rng(k)
        arrays = {a: np.abs(rng.standard_normal(32)).astype(np.float32) + 0.5 for a in spec.arrays}
        arrays["g"] -= 0.5  # gradients of both signs
        if "g_avg" in arrays:
            arrays["g_avg"] *= 0.01  # centred RMSprop: r − ḡ² > 0
        scalars = {s: float(rng.uniform(0.05, 0.95)) for s in spec.scalars}
        mine = {("in_" if a not in spec.outputs else "io_") + a: v.copy() for a, v in arrays.items()}
        cargs = [ctypes.c_float(scalars[n]) if n in scalars
                 else mine[n].ctypes.data_as(ctypes.c_void_p) for n in params]
        run(*cargs, ctypes.c_long(32))
        with kernels("numpy"):
            spec(*[arrays[a] if present[a] else None for a in spec.arrays],
                 *[scalars[s] for s in spec.scalars])
        for a in spec.outputs:
            if present[a]:
                np.testing.assert_allclose(mine["io_" + a], arrays[a], rtol=2e-6, err_msg=a)


def test_plain_path_in_chunks_gives_the_whole_array_result(monkeypatch):
    """Large NumPy arrays go through the plain formula chunk by chunk (over threads);
    the numbers and a refused element's flat index are those of one whole pass."""
    p, g, m, v = _arrays(1000, np.float32)
    whole = [a.copy() for a in (p, g, m, v)]
    with kernels("numpy"):
        _momentum_max(*whole, 0.1, 0.9)
        monkeypatch.setattr(fused, "PLAIN_CHUNK", 64)
        _momentum_max(p, g, m, v, 0.1, 0.9)
        for a, b in zip((p, m, v), (whole[0], whole[2], whole[3])):
            np.testing.assert_array_equal(a, b)
        g[777] = np.nan
        with pytest.raises(NonFiniteOutput) as info:
            _momentum_max(p, g, m, None, 0.1, 0.9, check=True)
    assert info.value.index == 777
