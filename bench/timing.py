"""Timing that survives a shared machine: interleaved repetitions, medians, paired ratios.

Contestants run in turns inside each repetition (order rotated), so a burst of load from another
process hits all of them alike; the ratio is taken per repetition, then the median. First calls
(tracing + compilation) are timed apart and never mixed into the steady-state numbers.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax

Call = Callable[[], Any]  # one call of the measured code; returns what to block on


@dataclasses.dataclass(frozen=True)
class Settings:
    """How hard to measure: full mode for RESULTS.md, quick mode for the smoke test."""

    reps: int  # interleaved repetitions
    sample_s: float  # wall time one contestant's sample aims at
    warmup: int  # calls after the first, excluded
    max_inner: int = 2000

    @staticmethod
    def of(quick: bool) -> Settings:
        return Settings(reps=3, sample_s=0.02, warmup=1) if quick else Settings(
            reps=30, sample_s=0.1, warmup=5)


def first_call(call: Call) -> tuple[float, Any]:
    """Seconds for the first call (trace + compile + run), and its output."""
    start = time.perf_counter()
    out = jax.block_until_ready(call())
    return time.perf_counter() - start, out


def sample(call: Call, inner: int, block_each: bool) -> float:
    """Seconds per call over `inner` calls: throughput (block at the end) or latency (each)."""
    out = None
    start = time.perf_counter()
    for _ in range(inner):
        out = call()
        if block_each:
            jax.block_until_ready(out)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / inner


def calibrate(call: Call, settings: Settings, block_each: bool) -> int:
    """Calls per sample so one sample takes about `settings.sample_s`."""
    per_call = min(sample(call, 3, block_each) for _ in range(2))
    return max(1, min(settings.max_inner, int(settings.sample_s / max(per_call, 1e-7))))


def interleaved(calls: dict[str, Call], settings: Settings, *, block_each: bool = False,
                reference: str | None = None) -> dict[str, list[float]]:
    """Per-call seconds of each contestant, one entry per repetition, order rotated each time.

    All contestants use the same number of calls per sample, calibrated on `reference` (the
    first contestant by default), so each sample spans a similar stretch of wall time.
    """
    names = list(calls)
    inner = calibrate(calls[reference or names[0]], settings, block_each)
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(settings.reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(sample(calls[name], inner, block_each))
    return times


def paired_ratio(times: dict[str, list[float]], name: str, reference: str) -> float:
    """Median over repetitions of name/reference measured in the same repetition."""
    return statistics.median(a / b for a, b in zip(times[name], times[reference]))


def ratio_spread(times: dict[str, list[float]], name: str, reference: str) -> tuple[float, float]:
    """Quartiles of the paired ratios: how far a verdict near 1.00 is from noise."""
    ratios = sorted(a / b for a, b in zip(times[name], times[reference]))
    if len(ratios) < 4:
        return ratios[0], ratios[-1]
    q = statistics.quantiles(ratios, n=4)
    return q[0], q[2]


def median(values: list[float]) -> float:
    return statistics.median(values)


def warm(call: Call, n: int) -> list[Any]:
    """Runs `n` excluded calls; returns their outputs (the numeric check reads them)."""
    return [jax.block_until_ready(call()) for _ in range(n)]
