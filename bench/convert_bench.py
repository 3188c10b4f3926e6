"""`hk2nnx convert` on a generated 20,000-line Haiku repository, and an abstract 1e9-parameter trace.

The repository is built from the project's own Haiku sources (guide examples and convert
fixtures), each copy with its top-level classes and functions renamed, so no two files are
identical. Conversion runs on 2 processes, timed from the start to the last file written, as
`hk2nnx convert -j 2` runs it (`hk2nnx.convert.parallel`: this process and one spawned worker,
whose start-up is included).
"""

from __future__ import annotations

import ast
import os
import re
import tempfile
import time
from pathlib import Path

from bench.report import FAIL, PASS, PENDING, Row, at_least

REPO = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = (REPO / "examples" / "guide", REPO / "tests" / "convert" / "fixtures")
LINES_TARGET = 2000.0  # lines/s with -j 2
TRACE_TARGET_S = 10.0
JOBS = 2


def row_names(quick: bool) -> tuple[list[str], dict[str, str]]:
    targets = {"convert/20k_lines_j2": f">= {LINES_TARGET:,.0f} lines/s",
               "trace/1e9_params": f"< {TRACE_TARGET_S:.0f} s"}
    return list(targets), targets


def _templates() -> list[str]:
    sources = []
    for folder in TEMPLATE_DIRS:
        for path in sorted(folder.rglob("*.py")) if folder.exists() else ():
            text = path.read_text(encoding="utf-8")
            if "haiku" in text:
                sources.append(text)
    return sources


def _renamed(source: str, k: int) -> str:
    """Top-level classes and functions get a suffix; attribute uses (`hk.Linear`) stay."""
    names = [n.name for n in ast.parse(source).body
             if isinstance(n, (ast.ClassDef, ast.FunctionDef))]
    for name in names:
        source = re.sub(rf"(?<![\w.]){re.escape(name)}\b", f"{name}_{k}", source)
    return source


def generate_repo(root: Path, lines: int) -> tuple[list[Path], int]:
    """Files under `root/pkgN/` until at least `lines` lines; returns them and the line count."""
    templates = _templates()
    if not templates:
        raise RuntimeError("no Haiku templates found in examples/guide or tests/convert/fixtures")
    files, total, k = [], 0, 0
    while total < lines:
        text = _renamed(templates[k % len(templates)], k)
        path = root / f"pkg{k // 50}" / f"model_{k}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        files.append(path)
        total += text.count("\n")
        k += 1
    return files, total


def _convert_one(job: tuple[str, str]) -> tuple[str | None, float]:
    """Convert one file and write it; returns (error line or None, CPU seconds converting).

    CPU time, not wall time: on a shared machine a process waits for a core, and the per-file
    figure should say how fast the converter is, the row's wall figure how fast the run was."""
    from hk2nnx.convert import convert_source

    src, dst = job
    start = time.process_time()
    try:
        result = convert_source(Path(src).read_text(encoding="utf-8"), filename=src)
    except Exception as err:  # noqa: BLE001  (one bad file is a finding, not the end of the run)
        return f"{Path(src).name}: {type(err).__name__}: {str(err)[:80]}", 0.0
    Path(dst).write_text(result.code, encoding="utf-8")
    return None, time.process_time() - start


def bench_convert(lines: int, workdir: Path) -> Row:
    figure, target = "convert/20k_lines_j2", f">= {LINES_TARGET:,.0f} lines/s"
    try:
        from hk2nnx.convert import convert_source  # noqa: F401
        from hk2nnx.convert.parallel import parallel_map
    except ImportError:
        return Row(figure, target, "-", PENDING, "hk2nnx.convert.convert_source not present")
    src_root, out = workdir / "src", workdir / "out"
    files, total = generate_repo(src_root, lines)
    targets = [out / f.relative_to(src_root) for f in files]
    for path in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results = list(parallel_map(_convert_one, list(zip(map(str, files), map(str, targets))),
                                JOBS))
    seconds = time.perf_counter() - start
    errors = [e for e, _ in results if e]
    busy = sum(t for _, t in results)
    detail = (f"{total:,} lines in {len(files)} files, {seconds:.2f} s wall with {JOBS} processes "
              f"(start-up included); {total / max(busy, 1e-9):,.0f} lines per CPU-second "
              f"converting; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    row = at_least(figure, total / seconds, LINES_TARGET, " lines/s", detail, fmt="{:,.0f}")
    if errors:
        row.detail += f"; {len(errors)} files failed, e.g. {errors[0]}"
        if len(errors) == len(files):
            row.verdict = FAIL
    return row


def bench_trace() -> Row:
    """hk.nets.MLP([8192] * 16) on f32[1,8192]: about 1.07e9 parameters, never allocated."""
    import haiku as hk

    import hk2nnx

    spec = hk2nnx.TensorSpec.parse("f32[1,8192]")
    start = time.perf_counter()
    program = hk2nnx.trace(lambda x: hk.nets.MLP([8192] * 16)(x), spec)
    seconds = time.perf_counter() - start
    return Row("trace/1e9_params", f"< {TRACE_TARGET_S:.0f} s", f"{seconds:.2f} s",
               PASS if seconds < TRACE_TARGET_S else FAIL,
               f"{program.parameter_count():,} parameters, abstract (nothing allocated)")


def run(quick: bool) -> list[Row]:
    names, targets = row_names(quick)
    rows = []
    with tempfile.TemporaryDirectory(prefix="hk2nnx-convert-bench-") as tmp:
        for name, fn in ((names[0], lambda: bench_convert(300 if quick else 20000, Path(tmp))),
                         (names[1], bench_trace)):
            try:
                rows.append(fn())
            except Exception as err:  # noqa: BLE001  (a crash is reported; the other row stays)
                rows.append(Row(name, targets[name], "-", FAIL,
                                f"error: {type(err).__name__}: {err}"[:200]))
    return rows
