"""chainrule changes nothing outside itself: allocator, BLAS threads, threads, memory.

Importing chainrule and training with it must leave the process as it was:
glibc's malloc keeps its settings, BLAS's thread count stays what the
program set (seen from any thread, at any moment of a training loop), no
chainrule thread outlives the work it was started for, and no registry
keeps a deleted model or optimiser alive.  The one explicit switch is
``cr.set_num_threads``.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import threading
import time
import weakref

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController, threadpool_info

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import _threads, nn


def _mlp():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def _cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )


def _train(model, opt, x, y, steps):
    for _ in range(steps):
        loss = F.cross_entropy(model(cr.tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.item())


def _batch(kind, n=64):
    rng = np.random.default_rng(0)
    shape = (n, 64) if kind == "mlp" else (n, 1, 28, 28)
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, 10, n)


def _blas_controllers():
    return ThreadpoolController().select(user_api="blas").lib_controllers


@pytest.fixture
def two_threads(monkeypatch):
    """BLAS on 2 threads and chainrule's own loops on 2, restored afterwards.

    So that a library that switched BLAS to one thread, or started helper
    threads for a batch split, would show it even on a one-core machine.
    """
    libs = _blas_controllers()
    if not libs:
        pytest.skip("no BLAS that threadpoolctl can see")
    saved = [lib.get_num_threads() for lib in libs]
    for lib in libs:
        lib.set_num_threads(2)
    monkeypatch.setattr(_threads, "_num_threads", [2])
    try:
        yield libs
    finally:
        for lib, n in zip(libs, saved):
            lib.set_num_threads(n)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_malloc_settings_untouched_a_large_array_is_still_its_own_mmap():
    """After import and a conv training step, a fresh 12 MiB array is mmap-ed
    (glibc's default for blocks this size) and given back to the OS when
    freed, instead of coming from a heap that an allocator tuning keeps."""
    script = textwrap.dedent("""
        import numpy as np
        import chainrule as cr
        import chainrule.nn
        import chainrule.nn.functional as F
        nn = chainrule.nn

        def mappings_over(lo, hi):
            # NumPy advises huge pages for the aligned part of a large array,
            # so the kernel may split its mapping: collect every piece
            found = []
            with open("/proc/self/maps") as f:
                for line in f:
                    fields = line.split()
                    a, b = (int(v, 16) for v in fields[0].split("-"))
                    if a < hi and b > lo:
                        found.append((a, b, fields[5] if len(fields) > 5 else ""))
            return found

        def covered(pieces, lo, hi):
            return sum(min(b, hi) - max(a, lo) for a, b, _ in pieces)

        cr.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(8 * 14 * 14, 10))
        opt = cr.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x = np.random.default_rng(0).standard_normal((16, 1, 28, 28)).astype(np.float32)
        y = np.arange(16) % 10
        for _ in range(2):
            loss = F.cross_entropy(model(cr.tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

        a = np.empty(12 * 2**20, dtype=np.uint8)
        a.fill(1)
        lo = a.ctypes.data
        hi = lo + a.nbytes
        pieces = mappings_over(lo, hi)
        assert covered(pieces, lo, hi) == a.nbytes, f"array not mapped: {pieces}"
        assert all(name != "[heap]" for _, _, name in pieces), f"array in the heap: {pieces}"
        del a
        after = mappings_over(lo, hi)
        assert covered(after, lo, hi) < hi - lo, f"freed array still mapped: {after}"
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_blas_thread_count_seen_from_another_thread_never_changes(kind, two_threads):
    """A thread polls BLAS's thread count while the main thread trains."""
    libs = two_threads
    expected = [lib.get_num_threads() for lib in libs]
    seen = set()
    polls = [0]
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            seen.add(tuple(lib.get_num_threads() for lib in libs))
            polls[0] += 1

    cr.manual_seed(0)
    model = _mlp() if kind == "mlp" else _cnn()
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    x, y = _batch(kind)
    watcher = threading.Thread(target=poll)
    watcher.start()
    try:
        loss = _train(model, opt, x, y, steps=15)
    finally:
        stop.set()
        watcher.join()
    assert np.isfinite(loss)
    assert polls[0] > 0
    assert seen == {tuple(expected)}
    # and threadpoolctl's own report agrees once the loop is over
    blas = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    assert blas and all(n == 2 for n in blas)


@pytest.mark.parametrize("kind", ["cnn", "wide"])
def test_no_chainrule_thread_alive_a_second_after_training(kind, two_threads):
    """Steps big enough to run on helper threads (a CNN's batch parts, the
    update of a group of 2^18+ parameters); the helpers end when idle."""
    cr.manual_seed(0)
    if kind == "cnn":
        model = _cnn()
        x, y = _batch("cnn", n=64)
    else:
        model = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                              nn.Linear(512, 10))
        x, y = _batch("mlp", n=32)
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)

    def ours():
        return [t for t in threading.enumerate() if t.name.startswith("chainrule")]

    _train(model, opt, x, y, steps=3)
    assert ours(), "the step was expected to use helper threads"
    deadline = time.monotonic() + 1.0 + _threads.IDLE_SECONDS
    while ours() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ours() == []


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_deleted_model_and_optimiser_are_collected(kind):
    cr.manual_seed(0)
    model = _mlp() if kind == "mlp" else _cnn()
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    x, y = _batch(kind, n=16)
    _train(model, opt, x, y, steps=3)
    refs = [weakref.ref(model), weakref.ref(opt)]
    refs += [weakref.ref(p) for p in model.parameters()]
    del model, opt
    gc.collect()
    alive = [r() for r in refs if r() is not None]
    assert alive == []


def test_a_gradient_dropped_after_a_chunked_step_is_freed_at_once(two_threads):
    """The chunked Adam step hands chunks of the gradient to helper threads; once
    the step returns no helper may keep one (nor, through it, the gradient)."""
    cr.manual_seed(0)
    lin = nn.Linear(512, 512)  # 262,144 weights: more than one chunk
    opt = cr.optim.Adam(lin.parameters(), lr=1e-3)
    lin.weight.grad = np.ones(lin.weight.shape, np.float32)
    lin.bias.grad = np.ones(lin.bias.shape, np.float32)
    grad = weakref.ref(lin.weight.grad)
    opt.step()
    lin.weight.grad = None
    gc.collect()
    assert grad() is None


def test_run_parallel_keeps_no_part_after_it_returns(two_threads):
    arrays = [np.arange(8.0) + i for i in range(6)]
    refs = [weakref.ref(a) for a in arrays]
    sums = _threads.run_parallel(lambda v: float(v.sum()), [a[2:] for a in arrays])
    assert sums == [float(a[2:].sum()) for a in arrays]
    del arrays
    gc.collect()
    assert [r() for r in refs if r() is not None] == []


def test_set_num_threads_sets_blas_and_chainrule_threads(monkeypatch):
    libs = _blas_controllers()
    if not libs:
        pytest.skip("no BLAS that threadpoolctl can see")
    saved = [lib.get_num_threads() for lib in libs]
    monkeypatch.setattr(_threads, "_num_threads", [])  # restored after the test
    try:
        for lib in libs:
            lib.set_num_threads(2)
        cr.set_num_threads(1)
        blas = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
        assert blas and all(n == 1 for n in blas)
        assert cr.get_num_threads() == 1
        cr.set_num_threads(2)
        assert all(lib.get_num_threads() == 2 for lib in libs)
        assert cr.get_num_threads() == 2
    finally:
        for lib, n in zip(libs, saved):
            lib.set_num_threads(n)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="Expected an integer number of threads"):
        cr.set_num_threads(bad)


def test_overlapping_estimator_limits_restore_blas_threads(monkeypatch):
    """Two fits on two threads: the first to start limits BLAS, the last to end restores.

    threadpoolctl is replaced by a recorder: what is checked is the order of
    limit and restore, not OpenBLAS's own (per-thread) bookkeeping.
    """
    import threadpoolctl

    calls = []

    class Recorder:
        def __init__(self, limits, user_api):
            calls.append(("limit", limits, user_api))

        def restore_original_limits(self):
            calls.append(("restore",))

    monkeypatch.setattr(threadpoolctl, "threadpool_limits", Recorder)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with _threads.one_blas_thread():
            a_in.set()
            assert b_in.wait(5)
        seen["after_a"] = list(calls)  # b is still inside
        a_out.set()

    def second():
        assert a_in.wait(5)
        with _threads.one_blas_thread():
            b_in.set()
            assert a_out.wait(5)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen["after_a"] == [("limit", 1, "blas")]
    assert calls == [("limit", 1, "blas"), ("restore",)]
