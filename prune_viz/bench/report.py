"""The benchmark's results: figures, each against a floor measured in the same run, and their table."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


@dataclass
class Figure:
    """One line of the results table. A target is always a ratio to a floor measured in the same
    run: ``times`` is value/floor (floor/value for an "at least" target such as a speedup)."""

    key: str
    name: str
    value: float
    unit: str
    target: str = ""  # human-readable, e.g. "<= 1.5x floor"
    ratio: float | None = None  # times / the limit (limit / times for "at least" targets); <= 1 passes
    passed: bool | None = None  # None: reported for information, no target
    note: str = ""
    floor: float | None = None  # the floor's own figure, in ``unit``
    floor_name: str = ""  # what the floor is
    times: float | None = None  # the figure as a multiple of its floor (how many times faster, if ``faster``)
    faster: bool = False  # the floor is a slower way: times = floor / value


@dataclass
class BenchReport:
    machine: dict
    options: dict
    figures: list[Figure] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "machine": self.machine,
            "options": self.options,
            "figures": [asdict(f) for f in self.figures],
            "details": self.details,
            "seconds": round(self.seconds, 2),
        }


def vs_floor(key, name, value, unit, floor, floor_name, limit, note="") -> Figure:
    """A figure that passes when it is at most ``limit`` times its floor (same unit, same run)."""
    times = value / floor if floor else math.inf
    return Figure(
        key,
        name,
        value,
        unit,
        f"<= {limit:g}x floor",
        times / limit,
        times <= limit,
        note,
        floor,
        floor_name,
        round(times, 3),
    )


def speedup_vs_floor(key, name, value, unit, floor, floor_name, limit, note="") -> Figure:
    """A figure that passes when its floor (a slower way, same run) takes at least ``limit`` times as long."""
    times = floor / value if value else math.inf
    return Figure(
        key,
        name,
        value,
        unit,
        f">= {limit:g}x faster than floor",
        limit / times,
        times >= limit,
        note,
        floor,
        floor_name,
        round(times, 3),
        faster=True,
    )


def info(key, name, value, unit, note="", floor=None, floor_name="", faster=False) -> Figure:
    """A figure reported without a target (beside its floor, if it has one)."""
    times = None
    if floor and value:
        times = round(floor / value if faster else value / floor, 3)
    return Figure(key, name, value, unit, "", None, None, note, floor, floor_name, times, faster)


def format_table(report: BenchReport) -> str:
    """The figures as a table: each beside its floor, the multiple of the floor, and the target."""
    rows = [("figure", "value", "floor", "x floor", "target", "result", "note")]
    for f in report.figures:
        floor = "" if f.floor is None else f"{f.floor:g} {f.unit} ({f.floor_name})"
        times = "" if f.times is None else f"{f.times:.2f}x" + (" faster" if f.faster else "")
        verdict = "info" if f.passed is None else ("PASS" if f.passed else "FAIL")
        rows.append((f.name, f"{f.value:g} {f.unit}", floor, times, f.target, verdict, f.note))
    columns = len(rows[0]) - 1
    widths = [max(len(r[i]) for r in rows) for i in range(columns)]
    lines = []
    for i, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:columns], widths, strict=True)) + "  " + r[columns])
        if i == 0:
            lines.append("-" * (sum(widths) + 2 * columns + 4))
    m = report.machine
    head = (
        f"prune-viz bench, {m['date_utc']}: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gb']} GB RAM, "
        f"load average {m['load_average_at_start']} at start, {m.get('load_average_at_end')} at end; "
        f"Python {m['python']}, "
        + ", ".join(f"{name} {version}" for name, version in m["versions"].items())
        + f"; Qt platform {m['qt_platform']}"
    )
    failed = sum(1 for f in report.figures if f.passed is False)
    passed = sum(1 for f in report.figures if f.passed)
    tail = f"\n{passed} passed, {failed} failed, {report.seconds:.0f} s"
    return head + "\n\n" + "\n".join(lines) + tail
