"""Keep memory freed by a training step in the process for the next one (glibc).

Why: each step allocates the trajectory and its gradient, ``[T, B, H]`` floats (13 MB
each at N=10, 60 MB at N=50), and frees them when the step ends. glibc serves blocks
that large from fresh memory mappings and unmaps them on free, so every step paid the
kernel to map and zero them again (a page fault per 4 KiB): 7% of a training step at
N=10 and 12% at N=50 on the project's 2-core machine. Raising glibc's mmap and trim
thresholds keeps freed blocks in the heap, where the next step finds them. The price:
the process holds on to its peak memory until it exits.
"""

from __future__ import annotations

import ctypes
import platform
import sys

# mallopt parameters, from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# glibc before 2.35 refuses an mmap threshold above 32 MiB; then that is the best we get.
THRESHOLDS = (1 << 30, 32 << 20)

_applied = False


def keep_freed_memory() -> bool:
    """Ask glibc to reuse freed blocks up to 1 GiB instead of unmapping them.

    Returns whether the setting is in force (False on macOS, Windows, or a Linux C
    library other than glibc, where nothing is changed). Safe to call repeatedly.
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    for threshold in THRESHOLDS:
        if mallopt(M_MMAP_THRESHOLD, threshold) == 1:
            mallopt(M_TRIM_THRESHOLD, threshold)
            _applied = True
            break
    return _applied
