"""The CuPy optimiser kernels' sources, run on the CPU by a tiny interpreter.

CuPy is not installed in CI, so the ``ElementwiseKernel`` bodies of
``_backend/_cupy.py`` are checked here by an interpreter of the subset of
C they use (declarations, assignments, one ternary, ``sqrt``/``max``),
executed with NumPy float32 arrays: the argument lists must match the
parameter lists, the kernel names must be identifiers, and 100 steps of
every optimiser config must agree with the NumPy entries to float32
rounding (the kernels fuse operations the NumPy entries make one by one).
On a GPU, ``benchmarks/gpu_optim_check.py`` runs the real kernels.
"""

import re
import types

import numpy as np
import pytest
from test_optim_vs_torch import CONFIGS, STEPS, _problem

import chainrule as cr
from chainrule import nn
from chainrule._backend import _cupy
from chainrule._backend.kernels import registered

CONFIGS = [*CONFIGS, ("RMSprop", {"lr": 0.01, "momentum": 0.5, "nesterov": True})]


class _Kernel:
    """An ElementwiseKernel interpreted with NumPy (outputs written in place)."""

    def __init__(self, in_params, out_params, body, name):
        assert re.fullmatch(r"[A-Za-z_]\w*", name), name
        self.ins = [p.split() for p in in_params.split(",")]
        self.outs = [p.split() for p in out_params.split(",")]
        assert all(len(p) == 2 for p in self.ins + self.outs)
        self.code = []
        for stmt in filter(None, (s.strip() for s in body.split(";"))):
            stmt = re.sub(r"^T\s+", "", stmt)
            m = re.fullmatch(r"(\w+)\s*=\s*(\w+)\s*\?\s*(\w+)\s*:\s*(.+)", stmt, re.DOTALL)
            if m:
                stmt = f"{m[1]} = ({m[3]}) if {m[2]} else ({m[4]})"
            assert "?" not in stmt and "{" not in stmt, stmt
            self.code.append(stmt.replace("sqrt(", "np.sqrt(").replace("max(", "np.maximum("))

    def __call__(self, *args):
        params = self.ins + self.outs
        assert len(args) == len(params), f"{len(args)} arguments for {len(params)} parameters"
        dtype = next(a for a in args if isinstance(a, np.ndarray)).dtype
        env = {"np": np}
        for (typ, name), a in zip(params, args):
            if isinstance(a, np.ndarray):
                assert a.dtype == dtype
                env[name] = a.copy()
            else:  # scalars take the arrays' type T (or int32)
                env[name] = dtype.type(a) if typ == "T" else np.int32(a)
        for stmt in self.code:
            exec(stmt, env)  # noqa: S102  (our own kernel sources, translated above)
        for (_, name), a in zip(self.outs, args[len(self.ins):]):
            a[...] = env[name]


@pytest.fixture
def fake_cupy(monkeypatch):
    fake = types.SimpleNamespace(ElementwiseKernel=_Kernel)
    monkeypatch.setattr(_cupy, "_cp", lambda: fake)
    monkeypatch.setattr(_cupy, "_KERNELS", {})
    return fake


def _run(name, kwargs, backend):
    init, curv, noise = _problem()
    params = [nn.Parameter(a.copy()) for a in init]
    opt = getattr(cr.optim, name)(params, **kwargs)
    update = registered(opt._kernel)[backend]
    group = opt.param_groups[0]
    for k in range(STEPS):
        for i, p in enumerate(params):
            g = curv[i] * p.data + noise[k][i]
            state = opt.state[p]
            fresh = not state
            if fresh:
                opt._init_state(group, p, state)
            if opt._counts_steps:
                state["step"] += 1
                step = state["step"]
            else:
                step = 1 if fresh else k + 1
            scratch = (np.empty_like(p.data), np.empty_like(p.data))
            update(np, group, p.data, g, state, step, scratch, **opt._kernel_options)
    return [p.data for p in params], opt


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{k}" for n, k in CONFIGS])
def test_cupy_update_kernels_agree_with_the_numpy_entries(fake_cupy, name, kwargs):
    ours, _ = _run(name, kwargs, "cupy")
    ref, _ = _run(name, kwargs, "numpy")
    for a, b in zip(ours, ref):
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-6 * scale)
    assert max(np.abs(a - b).max() for a, b in zip(ours, _problem()[0])) > 0.1
    assert _cupy._KERNELS  # the kernels were built (and cached by variant)
