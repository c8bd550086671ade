"""glibc's allocation thresholds, fixed (monitor/heap.py): once a large block is freed, a
later one of 1 MB still gets a mapping of its own, where by default it would go to the
heap and stay there. Each case runs in a fresh interpreter: the setting is per process."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

PROBE = """
import ctypes, sys
from monitor.heap import fix_allocator_thresholds

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "fixed":
    assert fix_allocator_thresholds()
freed = bytes(4 << 20)
del freed  # by default glibc now serves blocks up to 4 MB from the heap
mapped = libc.mallinfo2().hblks
block = bytes(1 << 20)
print(libc.mallinfo2().hblks - mapped)
"""


def glibc_version() -> tuple[int, ...]:
    name, version = platform.libc_ver()
    return tuple(int(part) for part in version.split(".")[:2]) if name == "glibc" else ()


glibc_only = pytest.mark.skipif(
    glibc_version() < (2, 33), reason="the thresholds are glibc's (mallinfo2: 2.33 and later)"
)


def mapped_blocks(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


@glibc_only
def test_a_large_block_keeps_its_own_mapping_once_the_thresholds_are_fixed() -> None:
    assert mapped_blocks("default") == 0  # what the fix is for: it went to the heap
    assert mapped_blocks("fixed") == 1
