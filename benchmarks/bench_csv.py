"""Reading a ~40 MB CSV: chainrule's read_csv vs its exact stdlib path vs np.loadtxt.

The file (230,000 rows: 20 float features and an integer label, or a text
label with --text-target) is written to the temporary folder once and never
committed.  Each reader runs in a fresh process, so imports and peak memory
are its own: time is wall clock, memory the tracemalloc peak (a second run
of the same reader, since tracing slows Python-level code).  Prints each
reader's median time and peak, and the ratio to np.loadtxt.

Run:
    PYTHONPATH=src python benchmarks/bench_csv.py [--repeats 3] [--text-target]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

ROWS, FEATURES = 230_000, 20

CHILD = r"""
import sys, time
import numpy as np
which, path, trace = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
if trace:
    import tracemalloc
    tracemalloc.start()
t = time.perf_counter()
if which == "read_csv":
    from chainrule.data.files import read_csv
    X = read_csv(path)["X"]
elif which == "exact":
    from chainrule.data.files import _read_csv_exact
    X = _read_csv_exact(path, None, None, True)["X"]
else:
    X = np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(X_COLS))
dt = time.perf_counter() - t
peak = tracemalloc.get_traced_memory()[1] if trace else 0
print(dt, peak, X.shape[0])
""".replace("X_COLS", str(FEATURES))


def make_file(text_target: bool) -> str:
    import numpy as np

    name = "chainrule_bench_text.csv" if text_target else "chainrule_bench.csv"
    path = os.path.join(tempfile.gettempdir(), name)
    if os.path.exists(path):
        return path
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, FEATURES))
    labels = rng.integers(0, 3, ROWS)
    with open(path, "w") as f:
        f.write(",".join([f"f{i}" for i in range(FEATURES)] + ["label"]) + "\n")
        text = np.char.mod("%.6f", X)
        names = np.array(["cat", "dog", "bird"])
        f.writelines(",".join(row) + "," + (names[lab] if text_target else str(lab)) + "\n"
                     for row, lab in zip(text, labels))
    return path


def run(which: str, path: str, trace: bool) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, which, path, "1" if trace else "0"],
                         capture_output=True, text=True, check=True)
    seconds, peak, _ = out.stdout.split()
    return float(seconds), float(peak) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--text-target", action="store_true")
    args = parser.parse_args()
    path = make_file(args.text_target)
    print(f"{path}: {os.path.getsize(path) / 2**20:.1f} MiB")
    readers = ["exact", "read_csv"] + ([] if args.text_target else ["loadtxt"])
    times: dict = {w: [] for w in readers}
    for _ in range(args.repeats):  # alternate readers, so load changes hit all alike
        for w in readers:
            times[w].append(run(w, path, trace=False)[0])
    base = statistics.median(times["loadtxt"]) if "loadtxt" in times else None
    for w in readers:
        med = statistics.median(times[w])
        peak = run(w, path, trace=True)[1]
        ratio = f", {med / base:.2f}x np.loadtxt" if base else ""
        print(f"{w:9s} median {med:.2f} s (best {min(times[w]):.2f} s), "
              f"peak {peak:.0f} MiB{ratio}")


if __name__ == "__main__":
    main()
