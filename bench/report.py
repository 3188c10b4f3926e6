"""The one table the harness prints: a row per figure with its target, value and verdict."""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
from collections.abc import Callable, Iterable

PASS, FAIL, PENDING, INFO = "pass", "FAIL", "pending", "info"
PARITY = 1.05  # an informational form counts as "at parity" within this ratio (timing noise)


@dataclasses.dataclass
class Row:
    """One figure. `verdict` is pass / FAIL / pending / info; `detail` says how, or why not."""

    figure: str
    target: str
    measured: str = "-"
    verdict: str = PENDING
    detail: str = ""


def at_most(figure: str, value: float, limit: float, unit: str = "x", detail: str = "") -> Row:
    """Ratios get three decimals, so a FAIL just over 1.00 does not print as "1.00x"."""
    digits = 3 if unit == "x" else 2
    verdict = PASS if value <= limit else FAIL
    return Row(figure, f"<= {limit:.2f}{unit}", f"{value:.{digits}f}{unit}", verdict, detail)


def at_least(figure: str, value: float, limit: float, unit: str = "", detail: str = "",
             fmt: str = "{:.2f}") -> Row:
    verdict = PASS if value >= limit else FAIL
    return Row(figure, ">= " + fmt.format(limit) + unit, fmt.format(value) + unit, verdict, detail)


def info_ratio(figure: str, value: float, detail: str = "") -> Row:
    tag = "at parity" if value <= PARITY else "slower"
    return Row(figure, "-", f"{value:.2f}x", INFO, f"{tag}; {detail}" if detail else tag)


def guarded(names: list[str], targets: dict[str, str],
            run: Callable[[], list[Row]]) -> list[Row]:
    """Runs one section, rows in `names` order; if it raises, every one of its rows is a FAIL
    naming the error, so the table keeps all rows and a broken section cannot hide."""
    try:
        rows = run()
    except Exception as err:  # noqa: BLE001  (a crashed section is reported, the rest runs)
        first = str(err).splitlines()[0][:160] if str(err) else ""
        reason = f"error: {type(err).__name__}: {first}"
        return [Row(n, targets.get(n, "-"), "-", FAIL, reason) for n in names]
    got = {r.figure: r for r in rows}
    extra = [r for r in rows if r.figure not in names]
    return [got.get(n) or Row(n, targets.get(n, "-"), "-", FAIL, "row not produced")
            for n in names] + extra


def render(rows: Iterable[Row]) -> str:
    """A plain-text table (also valid Markdown)."""
    rows = list(rows)
    head = ("figure", "target", "measured", "verdict", "detail")
    cells = [head] + [(r.figure, r.target, r.measured, r.verdict, r.detail) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]

    def line(c: tuple[str, ...]) -> str:
        return "| " + " | ".join(x.ljust(w) for x, w in zip(c[:4], widths)) + f" | {c[4]} |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|---|"
    return "\n".join([line(head), sep] + [line(c) for c in cells[1:]])


def machine() -> dict[str, str]:
    """CPU model, cores, RAM, load and library versions: what a reader needs to weigh the numbers."""
    import flax
    import haiku
    import jax

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")),
                       cpu)
    except OSError:
        pass
    ram = "unknown"
    try:
        with open("/proc/meminfo") as fh:
            kb = int(next(ln for ln in fh if ln.startswith("MemTotal")).split()[1])
            ram = f"{kb / 2**20:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu, "cores": str(os.cpu_count()), "ram": ram, "load (1/5/15 min)": load,
        "python": platform.python_version(), "jax": jax.__version__, "flax": flax.__version__,
        "haiku": haiku.__version__,
    }
