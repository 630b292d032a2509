"""CuPy entries of the kernel table (imported only when a CuPy namespace asks).

Each entry registered here has a NumPy reference entry in ``kernels.py`` or
beside the op that uses it; the GPU check (``benchmarks/gpu_check.py``)
runs the conformance tests with CuPy to compare them.
"""

from __future__ import annotations
