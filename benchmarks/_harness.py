"""Side-by-side timing for the benchmarks: alternating rounds, ranges, ratios.

``alternate(runners, rounds, steps)`` runs each callable ``steps`` times per
round, the runners taking turns round after round so that all see the same
machine load; the result is each runner's list of per-round medians.
``report`` prints, per runner, the median of those and their range, and the
range of its per-round ratio to a reference runner (the same round's figure):
on a busy machine the ratio within one round is the figure to trust.
``threads(n)`` sets chainrule's and torch's threads (None: the defaults).
"""

from __future__ import annotations

import os
import statistics
import time


def alternate(runners: dict, rounds: int = 7, steps: int = 20, warm: int = 2) -> dict:
    """Per-round median seconds of each runner (``{name: [median per round]}``)."""
    out: dict = {k: [] for k in runners}
    for _ in range(rounds):
        for name, fn in runners.items():
            for _ in range(warm):
                fn()
            times = []
            for _ in range(steps):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            out[name].append(statistics.median(times))
    return out


def report(title: str, results: dict, reference: str | None = None, unit: str = "ms") -> list:
    """Print a table of the runners' times and ratios; return its rows."""
    scale = {"ms": 1e3, "us": 1e6, "s": 1.0}[unit]
    print(f"\n{title}")
    rows = []
    for name, meds in results.items():
        med = statistics.median(meds) * scale
        lo, hi = min(meds) * scale, max(meds) * scale
        line = f"  {name:34s} {med:9.3f} {unit}  [{lo:.3f}-{hi:.3f}]"
        ratio = None
        if reference and name != reference:
            ratios = [a / b for a, b in zip(meds, results[reference])]
            ratio = (statistics.median(ratios), min(ratios), max(ratios))
            line += f"   x{reference}: {ratio[0]:.2f} [{ratio[1]:.2f}-{ratio[2]:.2f}]"
        print(line)
        rows.append((name, med, lo, hi, ratio))
    return rows


def threads(n: int | None) -> None:
    """Use ``n`` threads in chainrule (and BLAS) and torch; None: the machine's cores."""
    import torch

    import chainrule as cr

    n = n or len(os.sched_getaffinity(0))
    cr.set_num_threads(n)
    torch.set_num_threads(n)
