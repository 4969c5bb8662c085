"""Timing and memory measurements, and a description of the machine they were taken on."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path


def proc_status(field_name: str) -> int:
    """A /proc/self/status memory field in bytes (0 where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux), so each phase's peak can be read on its own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def library_versions() -> dict[str, str]:
    """The versions of what the figures depend on, so that a table can say what it was measured with."""
    import keras
    import numpy
    import pyqtgraph
    import PySide6
    import tensorflow

    return {
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "PySide6": PySide6.__version__,
        "pyqtgraph": pyqtgraph.__version__,
    }


def machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    import platform

    return {
        "versions": library_versions(),
        "qt_platform": os.environ.get("QT_QPA_PLATFORM", "Qt's default"),
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem / 2**30, 1),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def median_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000.0


# Pause before each timed run of an interleaved comparison: OpenBLAS threads spin for a while after
# a NumPy matmul, and on 2 cores they slowed the TensorFlow run that came next by up to 2x.
SETTLE_S = 0.15


def timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times
