"""Every catalogue entry traces, and its summary matches the reviewed golden file."""

import difflib

import pytest
from catalogue import ENTRIES
from regen_goldens import REGEN_COMMAND, golden_path, render, stale_files


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.id for e in ENTRIES])
def test_trace_matches_golden(entry):
    path = golden_path(entry)
    actual = render(entry)
    if not path.exists():
        pytest.fail(f"no golden trace for {entry.id!r}; create it with: {REGEN_COMMAND} {entry.id}")
    expected = path.read_text()
    if actual != expected:
        diff = "".join(list(difflib.unified_diff(
            expected.splitlines(True), actual.splitlines(True), "golden", "trace"))[:60])
        pytest.fail(f"trace of {entry.id!r} differs from {path.name}:\n{diff}\n"
                    f"If the change is intended, regenerate with: {REGEN_COMMAND}")


def test_no_stale_goldens():
    stale = stale_files()
    assert not stale, f"golden files without a catalogue entry: {stale}; run {REGEN_COMMAND}"
