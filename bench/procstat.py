"""CPU time and peak memory of this process and its live children, read from /proc (Linux).

A pass's CPU is this process's plus its parser workers' (long-lived children: the
kernel adds a child's time to RUSAGE_CHILDREN only when it is reaped, so it is read
from /proc/PID/stat while they run). Peak memory is VmHWM, per process.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def child_pids(exclude: set[int]) -> list[int]:
    """This process's children but `exclude` and multiprocessing's resource tracker: the
    bench's own, started with its feed server (the daemon starts none)."""
    pids = []
    for children in Path("/proc/self/task").glob("*/children"):
        pids += [int(pid) for pid in children.read_text().split() if int(pid) not in exclude]
    return [pid for pid in pids if b"resource_tracker" not in _command(pid)]


def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def peak_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a live process, in MB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass(frozen=True)
class Usage:
    """CPU seconds of this process and of each child, at one moment."""

    wall: float
    own: float
    children: dict[int, float]

    @staticmethod
    def now(exclude: set[int]) -> Usage:
        children = {pid: cpu_seconds(pid) for pid in child_pids(exclude)}
        return Usage(time.perf_counter(), time.process_time(), children)

    def since(self, before: Usage) -> tuple[float, float]:
        """(wall seconds, CPU seconds of this process and its children) since `before`."""
        return self.wall - before.wall, self.own - before.own + self.children_since(before)

    def children_since(self, before: Usage) -> float:
        """CPU seconds of the children since `before`."""
        return sum(s - before.children.get(pid, 0.0) for pid, s in self.children.items())


def peak_total_mb(exclude: set[int]) -> tuple[float, list[float]]:
    """(this process's peak MB, each live child's), children other than `exclude`."""
    return peak_mb(os.getpid()), [peak_mb(pid) for pid in child_pids(exclude)]
