"""The GPU check: chainrule on CuPy, tested and timed against PyTorch CUDA in one run.

Run from the repository root on a machine with an NVIDIA GPU:

    python benchmarks/gpu_check.py            # install what is missing, test, time
    python benchmarks/gpu_check.py --names F  # only write CuPy's namespace names to F

What it does, in under 8 minutes:

1. makes sure CuPy and array-api-compat import: a missing one is installed
   with pip, first from wheels in ``.whl/`` (a machine without network),
   else from the package index (CuPy's wheel matching the driver's CUDA
   major version, ``cupy-cuda12x`` or ``cupy-cuda13x``); chainrule itself
   is imported from ``src/`` of this checkout;
2. times one training step (below) first, so the figures come back even if
   a later step runs out of time; runs the README's GPU example; then runs
   the namespace-parametrised tests (op/vjp conformance, layers,
   optimisers against torch, the training step) with the CuPy namespace
   (``CHAINRULE_TEST_NAMESPACES=cupy``), then ``cupy_conformance.py`` (every
   gradcheck case and the CuPy kernel entries against NumPy) and
   ``gpu_optim_check.py`` (the fused optimiser kernels, ``Module.to("cuda")``,
   device masks), ``gpu_train_check.py`` (``fit`` on the GPU against NumPy,
   checkpoints, ``chainrule train --device cuda``);
3. the timed step is (forward, cross-entropy, backward, optimiser
   step) of two MLPs with chainrule+CuPy and with PyTorch CUDA, same
   weights, same data, rounds alternating between the libraries, medians:

   - ``784-1024-1024-10``, batch 128, Adam (launch-bound; target <= 2x torch)
   - ``4096-4096-4096-4096-10``, batch 1024, Adam (compute-bound; target <= 1.2x)

   and checks that 20 steps of both give the same losses (float32, TF32 off
   in both libraries);
4. prints a table with the ratios and exits non-zero if a test failed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELS = ROOT / ".whl"


def _pip(*args) -> bool:
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--retries", "0",
           "--timeout", "10", *args]
    return subprocess.run(cmd, check=False).returncode == 0


def _cuda_major() -> int:
    try:
        out = subprocess.run(["nvidia-smi"], check=False, capture_output=True, text=True).stdout
        version = out.split("CUDA Version:")[1].split()[0]
        return int(version.split(".")[0])
    except (OSError, IndexError, ValueError):
        return 12


def ensure_packages():
    """Import CuPy and array-api-compat, installing a missing one first."""
    target = "/tmp/gpu_check_site"
    if str(target) not in sys.path:
        sys.path.insert(0, target)
    try:
        import array_api_compat  # noqa: F401
    except ImportError:
        if not (WHEELS.is_dir() and _pip("--target", target, "--no-index", "--find-links",
                                         str(WHEELS), "array-api-compat")):
            _pip("--target", target, "array-api-compat")
    try:
        import cupy  # noqa: F401
    except ImportError:
        name = f"cupy-cuda{_cuda_major()}x"
        if not (WHEELS.is_dir() and _pip("--target", target, "--no-index", "--find-links",
                                         str(WHEELS), name)):
            _pip("--target", target, name)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), target, os.environ.get("PYTHONPATH", "")) if p)
    sys.path.insert(0, str(ROOT / "src"))


def write_names(path):
    import array_api_compat.cupy as ccp
    import cupy
    import cupyx

    names = {
        "_about": "Names of CuPy's array-API namespace (array_api_compat.cupy), read on a GPU "
                  "machine with `python benchmarks/gpu_check.py --names`; "
                  "tests/backend/test_cupy_names.py checks that every namespace function "
                  "chainrule's compute modules call exists there, so CI needs no CuPy.",
        "versions": {"cupy": cupy.__version__, "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(),
                     "python": sys.version.split()[0]},
        "namespace": sorted(n for n in dir(ccp) if not n.startswith("_")),
        "linalg": sorted(n for n in dir(ccp.linalg) if not n.startswith("_")),
        "ndarray": sorted(n for n in dir(cupy.ndarray)
                          if not n.startswith("__") or n in ("__dlpack__", "__array_namespace__")),
        "cupyx": sorted(n for n in dir(cupyx) if not n.startswith("_")),
    }
    Path(path).write_text(json.dumps(names, indent=0))
    print(f"wrote {path}")


def _run(cmd, timeout: int, what: str) -> int:
    env = dict(os.environ, CHAINRULE_TEST_NAMESPACES="cupy", PYTHONUNBUFFERED="1")
    print("$", " ".join(cmd), flush=True)
    start = time.perf_counter()
    try:
        rc = subprocess.run(cmd, cwd=ROOT, env=env, timeout=timeout, check=False).returncode
    except subprocess.TimeoutExpired:
        print(f"{what} stopped after {timeout} s")
        rc = 124
    print(f"{what}: exit {rc} in {time.perf_counter() - start:.0f} s", flush=True)
    return rc


def run_tests(timeout: int) -> int:
    """The namespace-parametrised tests with CuPy, then the two kernel scripts."""
    targets = [t for t in ("tests/backend", "tests/autograd", "tests/nn", "tests/optim",
                           "tests/regularization", "tests/training/test_devices.py")
               if (ROOT / t).exists()]
    rc = _run([sys.executable, "-m", "pytest", *targets, "-q", "-k", "cupy", "-p",
               "no:cacheprovider", "--no-header", "-W", "ignore::DeprecationWarning"],
              timeout, "tests")
    for script in ("gpu_train_check.py", "gpu_optim_check.py", "cupy_conformance.py"):
        if (ROOT / "benchmarks" / script).exists():
            rc = _run([sys.executable, str(ROOT / "benchmarks" / script)], 60, script) or rc
    return rc


def run_readme_gpu_example() -> int:
    """The README's GPU example (the ```python gpu block), as written."""
    import re

    blocks = re.findall(r"```python gpu\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    if not blocks:
        print("README has no GPU example")
        return 1
    setup = ("import numpy as np\nimport chainrule as cr\nimport chainrule.nn as nn\n"
             "from chainrule.data import load_dataset\nfrom chainrule.training import fit\n"
             "X, y, X_te, y_te = load_dataset('digits')\n")
    namespace: dict = {}
    try:
        exec(compile(setup + "\n".join(blocks), "README.md (GPU example)", "exec"), namespace)  # noqa: S102
    except Exception:  # noqa: BLE001  (reported; the check goes on)
        import traceback

        traceback.print_exc()
        return 1
    print("README GPU example: ran; last loss", namespace["history"].history["loss"][-1])
    return 0


CASES = {
    "784-1024-1024-10 b128 Adam": {"sizes": [784, 1024, 1024, 10], "batch": 128, "target": 2.0},
    "4096x4 b1024 Adam": {"sizes": [4096, 4096, 4096, 4096, 10], "batch": 1024, "target": 1.2},
}


def _models(sizes, seed=0):
    import cupy
    import torch

    import chainrule as cr
    from chainrule import nn

    cr.manual_seed(seed)
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    ours = nn.Sequential(*layers).to("cuda")
    tl = []
    for i in range(len(sizes) - 1):
        tl.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            tl.append(torch.nn.ReLU())
    theirs = torch.nn.Sequential(*tl).cuda()
    with torch.no_grad():
        mine = [m for m in ours if isinstance(m, nn.Linear)]
        their = [m for m in theirs if isinstance(m, torch.nn.Linear)]
        for a, b in zip(mine, their):
            w = cupy.asarray(a.weight.data).T  # chainrule's Linear weight is (in, out), torch's (out, in)
            b.weight.copy_(torch.from_dlpack(cupy.ascontiguousarray(w)))
            b.bias.copy_(torch.from_dlpack(cupy.asarray(a.bias.data)))
    return ours, theirs


def time_case(name, spec, rounds=7, steps=20, profile=None):
    import cupy
    import torch

    import chainrule as cr
    import chainrule.nn.functional as F

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    sizes, batch = spec["sizes"], spec["batch"]
    ours, theirs = _models(sizes)
    rng = cupy.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0]), dtype=cupy.float32)
    y = rng.integers(0, sizes[-1], batch).astype(cupy.int64)
    tx, ty = torch.from_dlpack(x), torch.from_dlpack(y)
    opt = cr.optim.Adam(ours.parameters(), lr=1e-4)
    topt = torch.optim.Adam(theirs.parameters(), lr=1e-4)
    xt = cr.tensor(x)

    def ours_step():
        opt.zero_grad()
        loss = F.cross_entropy(ours(xt), y)
        loss.backward()
        opt.step()
        return loss

    def theirs_step():
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(theirs(tx), ty)
        loss.backward()
        topt.step()
        return loss

    # same start, same data: the losses of 20 steps agree
    la = [float(ours_step().item()) for _ in range(20)]
    lb = [float(theirs_step().item()) for _ in range(20)]
    agree = max(abs(a - b) / max(abs(b), 1e-6) for a, b in zip(la, lb))

    def clock(step):
        cupy.cuda.Device().synchronize()
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(steps):
            step()
        cupy.cuda.Device().synchronize()
        torch.cuda.synchronize()
        return (time.perf_counter() - t) / steps * 1e3

    for _ in range(2):  # warm-up: kernels compiled, memory pools filled
        clock(ours_step)
        clock(theirs_step)
    a, b = [], []
    for _ in range(rounds):
        a.append(clock(ours_step))
        b.append(clock(theirs_step))
    ma, mb = statistics.median(a), statistics.median(b)
    # the host's share: the time to issue the steps, before waiting for the GPU
    cupy.cuda.Device().synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        ours_step()
    host = (time.perf_counter() - t) / steps * 1e3
    cupy.cuda.Device().synchronize()
    if profile is not None:
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for _ in range(steps):
            ours_step()
        cupy.cuda.Device().synchronize()
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(30)
        with open(profile, "a") as fh:
            fh.write(f"=== {name}: {steps} steps\n{buf.getvalue()}\n")
    return {"case": name, "chainrule_ms": ma, "torch_ms": mb, "ratio": ma / mb,
            "target": spec["target"], "loss_rel_diff": agree, "chainrule_host_ms": host}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", metavar="FILE", help="write CuPy's names to FILE and stop")
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--test-timeout", type=int, default=120)
    parser.add_argument("--json", metavar="FILE", help="also write the timings as JSON")
    parser.add_argument("--profile", metavar="FILE", help="append a profile of chainrule's step")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    ensure_packages()
    if args.names:
        write_names(args.names)
        return 0
    import cupy
    import torch

    props = cupy.cuda.runtime.getDeviceProperties(0)
    device = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    print(f"device: {device}; CuPy {cupy.__version__}; torch {torch.__version__}", flush=True)
    rc = 0
    rows = []
    for name, spec in CASES.items():  # the figures first: they come back even if a test hangs
        try:
            rows.append(time_case(name, spec, profile=args.profile))
        except Exception as exc:  # noqa: BLE001  (report it and go on to the next case)
            import traceback

            traceback.print_exc()
            print(f"{name}: failed: {exc!r}", flush=True)
            rc = rc or 1
    table = [(f"{'case':30s} {'chainrule ms':>13s} {'(host ms)':>9s} {'torch ms':>9s} {'ratio':>6s} "
             f"{'target':>7s} {'loss diff':>9s}")]
    for r in rows:
        ok = "ok" if r["ratio"] <= r["target"] else "MISSED"
        table.append(f"{r['case']:30s} {r['chainrule_ms']:13.3f} {r['chainrule_host_ms']:9.3f} "
                     f"{r['torch_ms']:9.3f} {r['ratio']:6.2f} <={r['target']:<5.1f} "
                     f"{r['loss_rel_diff']:9.1e}  {ok}")
    print("\n" + "\n".join(table), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device, "rows": rows}, indent=1))
    rc = run_readme_gpu_example() or rc
    if not args.skip_tests:
        rc = run_tests(args.test_timeout) or rc
    print("\n" + "\n".join(table))
    print(f"gpu_check: {time.perf_counter() - t0:.0f} s in all, exit {rc}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
