"""One command, one table: `python bench/run.py [--quick] [--only NAME] [--results PATH]`.

Every figure is a ratio against the Haiku original measured in the same run (or an absolute value
where the target is one), with its target and a verdict: pass, FAIL, pending (a piece of hk2nnx
or an example it needs has not landed; the detail says which) or info (NNX forms the converter
does not emit, shown to justify the one it does). `--quick` is a smoke run: every row, tiny
sizes, few repetitions; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import convert_bench, port_bench, train_bench
from bench.report import Row, guarded, render
from bench.summary import results_markdown

# name -> (row names and targets, runner); the order is the table's order
SECTIONS: dict[str, tuple[Callable, Callable[[bool, str | None], list[Row]]]] = {
    "models": (train_bench.row_names, lambda quick, only: train_bench.run(quick, only)),
    "port": (port_bench.row_names, lambda quick, only: port_bench.run(quick)),
    "convert": (convert_bench.row_names, lambda quick, only: convert_bench.run(quick)),
}


def all_row_names(quick: bool) -> list[str]:
    """Every row the full table has; the smoke test checks the printed table against this."""
    return [n for names, _ in SECTIONS.values() for n in names(quick)[0]]


def _selected(only: str | None) -> list[str]:
    """`--only` picks a section by name, or the models section for a model or row fragment."""
    if only is None:
        return list(SECTIONS)
    if only in SECTIONS:
        return [only]
    return [s for s, (names, _) in SECTIONS.items() if any(only in n for n in names(False)[0])]


def run(quick: bool, only: str | None = None) -> list[Row]:
    rows: list[Row] = []
    for section in _selected(only):
        names_of, runner = SECTIONS[section]
        names, targets = names_of(quick)
        fragment = None if only in (None, section) else only
        wanted = [n for n in names if fragment is None or fragment in n.split("/")]
        got = guarded(names, targets, functools.partial(runner, quick, fragment))
        rows += [r for r in got if r.figure in wanted] if fragment else got
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode: < 60 s, tiny sizes")
    parser.add_argument("--only", metavar="NAME",
                        help="a section (models, port, convert) or a model (stack50)")
    parser.add_argument("--results", metavar="PATH",
                        help="also write the table with machine and versions (RESULTS.md)")
    parser.add_argument("--note", help="a remark for RESULTS.md (e.g. the machine was loaded)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = run(args.quick, args.only)
    table = render(rows)
    elapsed = time.perf_counter() - start
    print(table)
    print(f"\n{len(rows)} rows in {elapsed:.0f} s; "
          + ", ".join(f"{v}: {sum(r.verdict == v for r in rows)}"
                      for v in ("pass", "FAIL", "pending", "info")))
    if args.results:
        Path(args.results).write_text(
            results_markdown(rows, table, elapsed, args.quick, args.note), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
