"""Per-op cost of the tape: a recorded Tensor op minus the bare NumPy call.

On tiny arrays the NumPy call is almost free, so the difference is what the
engine adds per op (argument unpacking, the vjp closure, the result
Tensor).  Backward is timed per node of a long chain of multiplications.
The best of many repeats is reported, which filters out a busy machine.
``--timer cpu`` counts the thread's CPU time instead of wall time: on a
machine shared by more processes than cores, time spent waiting for a core
is then left out.

Run: ``PYTHONPATH=src python benchmarks/bench_tape_overhead.py [--timer cpu]``
"""

from __future__ import annotations

import argparse
import time
import timeit

import numpy as np

import chainrule as cr

#: the clock: wall time, or the thread's CPU time (``--timer cpu``)
CLOCK = timeit.default_timer


def best_us(stmt, env, number=10_000, repeat=150):
    """Best time per call in microseconds (short runs, many tries: on a
    shared machine the minimum is the run nobody interrupted)."""
    times = timeit.repeat(stmt, number=number, repeat=repeat, globals=env, timer=CLOCK)
    return min(times) / number * 1e6


def pair_us(raw, ours, env, rounds=60, number=10_000):
    """Best times of ``raw`` and ``ours``, measured alternately."""
    t_raw = t_ours = float("inf")
    timer_raw = timeit.Timer(raw, globals=env, timer=CLOCK)
    timer_ours = timeit.Timer(ours, globals=env, timer=CLOCK)
    for _ in range(rounds):
        t_raw = min(t_raw, timer_raw.timeit(number))
        t_ours = min(t_ours, timer_ours.timeit(number))
    return t_raw / number * 1e6, t_ours / number * 1e6


def main():
    global CLOCK
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timer", choices=("wall", "cpu"), default="wall")
    if parser.parse_args().timer == "cpu":
        CLOCK = time.thread_time
    a_np = np.ones(4, np.float32)
    b_np = np.full(4, 2.0, np.float32)
    env = {
        "np": np,
        "a_np": a_np,
        "b_np": b_np,
        "a": cr.tensor(a_np, requires_grad=True),
        "b": cr.tensor(b_np, requires_grad=True),
        "c": cr.tensor(a_np),
        "w_np": np.ones((4, 3), np.float32),
        "w": cr.tensor(np.ones((4, 3), np.float32), requires_grad=True),
    }
    rows = [
        ("a + b", "a_np + b_np", "a + b"),
        ("a * 2.0", "a_np * 2.0", "a * 2.0"),
        ("relu(a)", "np.maximum(a_np, 0)", "a.relu()"),
        ("a @ W", "a_np @ w_np", "a @ w"),
        ("sum(a)", "a_np.sum()", "a.sum()"),
        ("c + b (c constant)", "a_np + b_np", "c + b"),
    ]
    print(f"{'op':<20}{'numpy µs':>10}{'tensor µs':>11}{'overhead µs':>13}")
    for name, raw, ours in rows:
        t_raw, t_ours = pair_us(raw, ours, env)
        print(f"{name:<20}{t_raw:>10.3f}{t_ours:>11.3f}{t_ours - t_raw:>13.3f}")

    with cr.no_grad():
        t_raw, t_ours = pair_us("a_np + b_np", "a + b", env)
    print(f"{'a + b (no_grad)':<20}{t_raw:>10.3f}{t_ours:>11.3f}{t_ours - t_raw:>13.3f}")

    # backward: per node of a 1000-op chain, against the NumPy work it does
    length, runs = 1000, 30
    best = float("inf")
    for _ in range(runs):
        y = env["a"]
        for _ in range(length):
            y = y * 1.0001
        g = np.ones(4, np.float32)
        start = CLOCK()
        y.backward(g)
        best = min(best, (CLOCK() - start) / length * 1e6)
    t_mul = best_us("a_np * 1.0001", env)
    print(f"backward per node: {best:.3f} µs (its NumPy work, one multiply: {t_mul:.3f} µs; "
          f"overhead {best - t_mul:.3f} µs)")


if __name__ == "__main__":
    main()
