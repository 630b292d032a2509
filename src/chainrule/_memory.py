"""Keep freed memory for reuse instead of returning it to the OS (glibc only).

A training step allocates and frees the same large arrays (im2col
matrices, feature maps, their gradients: megabytes each) again and again.
With glibc's default settings, large blocks are mmap-ed and unmapped, or
the heap top is trimmed as soon as a few hundred kilobytes are free, so
every step touches fresh pages: thousands of page faults per step, which
cost more than the arithmetic of a small CNN.  PyTorch avoids this with
its own allocators; here we ask glibc to behave like a caching allocator:
blocks up to 32 MiB come from the heap, and up to 256 MiB of free heap is
kept.  Set the environment variable ``CHAINRULE_KEEP_MEMORY=0`` to opt out.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 256 * 1024 * 1024

_done = False


def keep_freed_memory() -> bool:
    """Tune glibc's malloc once per process; True if it was tuned."""
    global _done
    if _done:
        return True
    if os.environ.get("CHAINRULE_KEEP_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...): leave it alone
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    _done = bool(ok)
    return _done
