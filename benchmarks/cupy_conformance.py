"""On a GPU: every gradcheck case on CuPy (through array-api-compat) equals NumPy, and the
CuPy kernel entries equal the NumPy ones.  A plain script (no pytest needed):
``PYTHONPATH=src python benchmarks/cupy_conformance.py`` (``--ns strict`` for a CPU dry run)."""
import importlib.util
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "autograd"))
import chainrule as cr
from chainrule._backend import from_host, kernels, namespace_of, to_host

name = sys.argv[sys.argv.index("--ns") + 1] if "--ns" in sys.argv else "cupy"
if name == "cupy":
    import array_api_compat.cupy as xp
    import cupy
    dev = cupy.cuda.Device(0)
else:
    import array_api_strict as xp
    dev = xp.Device("device1")

import gradcheck_cases

spec = importlib.util.spec_from_file_location("gcc", ROOT / "tests/autograd/gradcheck_cases_conv.py")
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
ALL = [c for cs in gradcheck_cases.CASES.values() for c in cs if c.name != "F.gaussian_nll_loss"]


def asarray(a):
    a = np.asarray(a)
    return from_host(a, xp, dev, a.dtype)


def run(case, xs, u, on):
    mk = asarray if on else (lambda a: a)
    ts = [cr.tensor(mk(x), requires_grad=True, dtype=np.float64) for x in xs]
    out = case.fn(*ts)
    out.backward(mk(u))
    return out, ts


fails = []
t0 = time.time()
for i, case in enumerate(ALL):
    try:
        rng = np.random.default_rng(zlib.crc32(case.id.encode()))
        xs = [gradcheck_cases.make_input(s, rng) for s in case.args]
        with cr.no_grad():
            ref = case.fn(*[cr.tensor(x, dtype=np.float64) for x in xs])
        u = rng.standard_normal(ref.shape)
        want, wts = run(case, xs, u, False)
        got, ts = run(case, xs, u, True)
        assert namespace_of(got.data) is xp, f"output left the namespace: {type(got.data)}"
        np.testing.assert_allclose(to_host(got.data), want.data, rtol=1e-9, atol=1e-12)
        for t, w in zip(ts, wts):
            assert namespace_of(t.grad) is xp
            np.testing.assert_allclose(to_host(t.grad), w.grad, rtol=1e-9, atol=1e-12)
    except Exception as exc:  # noqa: BLE001  (report every case, stop at none)
        fails.append(case.id)
        print(f"FAIL {case.id}: {type(exc).__name__}: {str(exc)[:300]}")
print(f"gradcheck cases on {name}: {len(ALL) - len(fails)}/{len(ALL)} equal NumPy "
      f"({time.time() - t0:.1f} s)")

# kernel entries: the backend's own entry vs NumPy's
rng = np.random.default_rng(3)
INDICES = [np.array([0, 2, 2, 1, 0, 2]), (np.array([0, 1, 1, 2]), np.array([3, 0, 0, 3])),
           (np.array([2, 2, 0]), slice(None)), (slice(None, None, 2), slice(1, 3)),
           rng.random((3, 4)) < 0.5]
kfails = 0
for index in INDICES:
    a = rng.standard_normal((3, 4))
    want = a[index]
    got = kernels.kernel("gather", xp)(xp, asarray(a), index)
    g = rng.standard_normal(want.shape)
    ref = np.zeros((3, 4))
    np.add.at(ref, index, g)
    got_s = kernels.kernel("scatter_add", xp)(xp, asarray(g), (3, 4), index)
    ok = np.allclose(to_host(got), want) and np.allclose(to_host(got_s), ref)
    kfails += not ok
    print("kernel gather/scatter_add", "ok" if ok else "FAIL", type(index).__name__)
for shape, kern, stride, dil in [((2, 6, 5, 3), (3, 2), (1, 1), (1, 1)),
                                 ((2, 7, 6, 6), (2, 3), (2, 1), (1, 2))]:
    xpad = rng.standard_normal(shape)
    out = tuple((p - d * (k - 1) - 1) // s + 1 for p, k, s, d in zip(shape[1:-1], kern, stride, dil))
    for ones in (False, True):
        want = kernels.registered("im2col")["numpy"](np, xpad, out, kern, stride, dil, ones=ones)
        got = kernels.kernel("im2col", xp)(xp, asarray(xpad), out, kern, stride, dil, ones=ones)
        ok = np.allclose(to_host(got), want)
        kfails += not ok
        print("kernel im2col", shape, ones, "ok" if ok else "FAIL")
    slabs = rng.standard_normal((int(np.prod(kern)), shape[0]) + out + (shape[-1],))
    want = kernels.registered("col2im")["numpy"](np, slabs, shape, out, kern, stride, dil)
    got = kernels.kernel("col2im", xp)(xp, asarray(slabs), shape, out, kern, stride, dil)
    ok = np.allclose(to_host(got), want)
    kfails += not ok
    print("kernel col2im", shape, "ok" if ok else "FAIL")
print(f"kernel checks failed: {kfails}; entries used: "
      f"{kernels.kernel('im2col', xp).__name__}, {kernels.kernel('scatter_add', xp).__name__}")
