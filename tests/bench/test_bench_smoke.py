"""The benchmark harness runs end to end and prints every row; timings are never asserted here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VERDICTS = {"pass", "FAIL", "pending", "info"}


def _expected_rows() -> list[str]:
    sys.path.insert(0, str(REPO))
    try:
        from bench.run import all_row_names
    finally:
        sys.path.remove(str(REPO))
    return all_row_names(quick=True)


def test_quick_run_prints_every_row_with_a_verdict():
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--quick"],
                          check=False, capture_output=True, text=True, timeout=600, cwd=REPO,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    cells = [[c.strip() for c in line.strip("|").split("|")]
             for line in proc.stdout.splitlines() if line.startswith("| ")]
    header, body = cells[0], cells[1:]
    assert header[:4] == ["figure", "target", "measured", "verdict"]
    printed = [c[0] for c in body]
    expected = _expected_rows()
    assert printed == expected, set(expected) ^ set(printed)
    assert {c[3] for c in body} <= VERDICTS
    errors = [c for c in body if c[4].startswith("error:")]
    assert not errors, errors  # a crashed section shows as FAIL rows; that is a harness bug
