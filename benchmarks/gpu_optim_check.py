"""GPU check of the optimisers' CuPy entries, Module.to("cuda") and device masks.

On a machine with an NVIDIA GPU, CuPy and array-api-compat (and torch with
CUDA for the timings), from the repository root:

    PYTHONPATH=src python benchmarks/gpu_optim_check.py

Each optimiser config runs 100 steps on CuPy (the ElementwiseKernels that
``_backend/_fused_cupy.py`` generates from each update's formula) and on NumPy from the same start and gradients
and prints the largest relative difference (fused multiply-adds round
differently, so a few 1e-6 are expected); then Module.to("cuda") with the
optimiser's state following, the seeded device generator and dropout, and
the Adam step times against torch CUDA (foreach and fused).  Exit status 1
if a check failed.  Runs in well under a minute.
"""

import itertools
import sys
import time
import traceback

import cupy
import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule._backend import to_host

print("cupy", cupy.__version__, "numpy", np.__version__, flush=True)

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "nesterov": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "betas": (0.5, 0.9), "amsgrad": True}),
    ("Adam", {"lr": 0.01, "eps": 0.1}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.2, "amsgrad": True}),
]
SHAPES = [(7, 5), (5,), (3, 4, 2)]
failures = 0


def problem():
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    curv = [rng.uniform(0.5, 2.0, s).astype(np.float32) for s in SHAPES]
    noise = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(100)]
    return init, curv, noise


def run(name, kw, on_gpu):
    init, curv, noise = problem()
    conv = (lambda a: cupy.asarray(a)) if on_gpu else (lambda a: a.copy())
    ps = [nn.Parameter(conv(a)) for a in init]
    cs = [conv(c) for c in curv]
    opt = getattr(cr.optim, name)(ps, **kw)
    for k in range(100):
        for i, p in enumerate(ps):
            p.grad = cs[i] * p.data + conv(noise[k][i])
        opt.step()
    if on_gpu:
        for p in ps:
            assert isinstance(p.data, cupy.ndarray)
            for v in opt.state[p].values():
                if hasattr(v, "shape"):
                    assert isinstance(v, cupy.ndarray), type(v)
    return [to_host(p.data) for p in ps]


for name, kw in CONFIGS:
    try:
        a, b = run(name, kw, True), run(name, kw, False)
        err = max(float(np.abs(x - y).max() / max(1.0, np.abs(y).max())) for x, y in zip(a, b))
        ok = err < 2e-5
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name} {kw}: max rel err {err:.2e}", flush=True)
    except Exception:  # noqa: BLE001  (report every failed check, then go on)
        failures += 1
        print(f"FAIL {name} {kw}:", flush=True)
        traceback.print_exc()

# Module.to, state_dict, optimiser following, random
try:
    cr.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    before = model.state_dict()
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    model.to("cuda")
    print("Module.to('cuda'): device", model.device,
          type(model[1].running_mean).__module__, flush=True)
    after = model.state_dict()
    assert all(type(v) is np.ndarray and np.array_equal(v, before[k]) for k, v in after.items())
    for p in model.parameters():
        p.grad = cupy.ones(p.shape, cupy.float32)
    opt.step()
    st = opt.state[next(iter(model.parameters()))]
    assert isinstance(st["exp_avg"], cupy.ndarray)
    model.to("cpu")
    opt.step()  # state follows back
    print("ok   Module.to / state_dict / optimiser state follows", flush=True)
except Exception:  # noqa: BLE001  (report every failed check, then go on)
    failures += 1
    traceback.print_exc()

try:
    like = cupy.zeros(3, cupy.float32)
    cr.manual_seed(5)
    u1 = cr.random.rand((1000,), like=like)
    cr.manual_seed(5)
    u2 = cr.random.rand((1000,), like=like)
    n = cr.random.randn((100000,), like=like)
    assert isinstance(u1, cupy.ndarray) and u1.dtype == cupy.float32
    assert bool(cupy.all(u1 == u2)), "not reproducible from the seed"
    print(f"ok   random on cupy: mean(u)={float(u1.mean()):.3f} std(n)={float(n.std()):.3f}",
          flush=True)
    x = cr.tensor(cupy.ones((64, 32), cupy.float32))
    y = cr.nn.functional.dropout(x, 0.25)
    print(f"ok   dropout on cupy: kept {float((y.data != 0).mean()):.3f}", flush=True)
except Exception:  # noqa: BLE001  (report every failed check, then go on)
    failures += 1
    traceback.print_exc()

# timing: Adam step on 784-1024-1024-10 and 4096-wide, cupy kernels vs torch CUDA
try:
    import torch

    for sizes in ([784, 1024, 1024, 10], [4096, 4096, 4096, 10]):
        shapes = [s for a, b in itertools.pairwise(sizes) for s in ((a, b), (b,))]
        rng = np.random.default_rng(0)
        host = [rng.standard_normal(s).astype(np.float32) * 0.05 for s in shapes]
        ps = [nn.Parameter(cupy.asarray(a)) for a in host]
        for p in ps:
            p.grad = cupy.asarray(rng.standard_normal(p.shape).astype(np.float32) * 0.01)
        opt = cr.optim.Adam(ps, lr=1e-3)
        tps = [torch.tensor(a, device="cuda", requires_grad=True) for a in host]
        for t in tps:
            t.grad = torch.randn_like(t) * 0.01
        topts = {"torch-foreach": torch.optim.Adam(tps, lr=1e-3, foreach=True),
                 "torch-fused": torch.optim.Adam(tps, lr=1e-3, fused=True)}

        def timeit(step, sync):
            for _ in range(10):
                step()
            sync()
            t0 = time.perf_counter()
            for _ in range(100):
                step()
            sync()
            return (time.perf_counter() - t0) / 100 * 1e6

        ours = timeit(opt.step, cupy.cuda.Device().synchronize)
        line = f"Adam step {'-'.join(map(str, sizes))}: chainrule+cupy {ours:.1f} us"
        for k, o in topts.items():
            line += f", {k} {timeit(o.step, torch.cuda.synchronize):.1f} us"
        print(line, flush=True)
except Exception:  # noqa: BLE001  (report every failed check, then go on)
    traceback.print_exc()

print("FAILURES", failures)
sys.exit(1 if failures else 0)
