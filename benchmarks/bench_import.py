"""Import cost: ``import chainrule`` vs ``import torch`` (time and memory).

Run from the repository root:

    PYTHONPATH=src python benchmarks/bench_import.py

Each import runs in a fresh interpreter, several times, alternating the two
libraries; the table gives the median wall time of the import statement
and the peak resident memory of the process (ru_maxrss) after it, with a
bare interpreter as the baseline.  ``chainrule + nn + optim`` imports what
a training script uses.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

SNIPPET = """
import json, resource, time
t = time.perf_counter()
{stmt}
dt = time.perf_counter() - t
print(json.dumps({{"s": dt, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""

CASES = {
    "python (nothing)": "pass",
    "numpy": "import numpy",
    "chainrule": "import chainrule",
    "chainrule + nn + optim": "import chainrule, chainrule.nn, chainrule.optim",
    "torch": "import torch",
}


def measure(stmt: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET.format(stmt=stmt)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args(argv)
    results = {name: [] for name in CASES}
    for _ in range(args.rounds):
        for name, stmt in CASES.items():
            results[name].append(measure(stmt))
    torch_s = statistics.median(r["s"] for r in results["torch"])
    torch_mb = statistics.median(r["rss_kb"] for r in results["torch"]) / 1024
    print(f"{'import':26s} {'time ms':>9s} {'peak RSS MB':>12s} {'time/torch':>11s} {'RSS/torch':>10s}")
    for name, rows in results.items():
        s = statistics.median(r["s"] for r in rows)
        mb = statistics.median(r["rss_kb"] for r in rows) / 1024
        print(f"{name:26s} {s * 1e3:9.1f} {mb:12.1f} {s / torch_s:11.2f} {mb / torch_mb:10.2f}")


if __name__ == "__main__":
    main()
