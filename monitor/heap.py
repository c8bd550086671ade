"""The C allocator's thresholds, fixed for a process that runs for months (glibc only).

glibc serves an allocation of 128 KB or more from a mapping of its own, given back whole
when freed. But when such a block is freed it raises that threshold to the block's size
(up to 32 MB), so that later ones come from the heap. NumPy's arrays of the stories'
index (LSH's runs, hundreds of KB each, rewritten as they merge) then land among small objects
that outlive them, and the heap cannot shrink past those: the freed pages stay in the
process. Fixing both thresholds at glibc's starting values turns that raise off (setting
either does); measured in docs/performance.md ("Memory").
"""

from __future__ import annotations

import ctypes

# mallopt's parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
THRESHOLD_BYTES = 128 * 1024  # glibc's default for both, before any raise


def fix_allocator_thresholds() -> bool:
    """Fix glibc's mmap and trim thresholds; False where the C library has no `mallopt`
    (macOS) or ignores it (musl), which lose nothing but this."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    fixed = [mallopt(option, THRESHOLD_BYTES) for option in (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD)]
    return all(fixed)
