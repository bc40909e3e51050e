"""Medians of repeated trials, and this process's memory from the kernel's accounting."""

import math
import statistics
import time
from pathlib import Path


def trials(variants: dict, count: int) -> dict:
    """Time each variant `count` times, interleaved (A B, B A, A B, ...) so drift hits all alike.

    `variants` maps a name to (prepare, run): prepare() is untimed and returns what
    run(prepared) works on; either may be None. Returns {name: {"median", "times"}}.
    """
    names = list(variants)
    times = {name: [] for name in names}
    for trial in range(count):
        for name in names if trial % 2 == 0 else reversed(names):
            prepare, run = variants[name]
            prepared = prepare() if prepare else None
            started = time.perf_counter()
            run(prepared)
            times[name].append(time.perf_counter() - started)
    return {name: {"median": statistics.median(values), "times": values} for name, values in times.items()}


def median_of(run, count: int, prepare=None) -> dict:
    return trials({"only": (prepare, run)}, count)["only"]


def status_kib(field: str, pid: str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def meminfo_kib(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def trial_ratios(a_times: list[float], b_times: list[float]) -> list[float]:
    return [a / b for a, b in zip(a_times, b_times, strict=True)]


def paired_ratio(a_times: list[float], b_times: list[float]) -> float:
    """The median of a/b over trials run back to back (trials() interleaves them).

    A pair shares the machine's state of the moment, so drift on a shared machine,
    which moves single trials by 20% here, cancels out of each pair's ratio.
    """
    return statistics.median(trial_ratios(a_times, b_times))


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float, float] | None:
    """A distribution-free confidence interval for the median: (low, high, coverage), or None if too few values.

    The narrowest pair of order statistics x(k), x(n+1-k) that holds the true median with at least
    `confidence`: the count of values below the median is Binomial(n, 1/2), so the coverage is
    1 - 2 P(Binomial <= k-1). It assumes nothing about the shape of the trials' spread, which on a
    shared machine is far from normal. Five values cannot reach 95% (at best 94%).
    """
    ordered = sorted(values)
    n = len(ordered)
    best = None
    for k in range(1, n // 2 + 1):
        below = sum(math.comb(n, i) for i in range(k)) / 2**n
        coverage = 1 - 2 * below
        if coverage < confidence:
            break
        best = (ordered[k - 1], ordered[n - k], coverage)
    return best
