"""Notebooks convert cell by cell: structure, metadata and magics survive; changed cells are cleared."""

from __future__ import annotations

import json
from pathlib import Path

from hk2nnx.cli import main
from hk2nnx.convert.notebook import cell_text, convert_notebook

NOTEBOOK = Path(__file__).parent / "notebooks" / "haiku_mlp.ipynb"
LOOP_CELL = "class Stack(hk.Module):\n    def __call__(self, x, n):\n        for _ in range(n):\n" \
            "            x = hk.Linear(4)(x)\n        return x\n"


def _convert(text: str | None = None):
    return convert_notebook(text or NOTEBOOK.read_text(), filename="mlp.ipynb")


def _run_cells(notebook: dict) -> dict:
    """Executes code cells in order in a fresh namespace, skipping IPython-only lines."""
    namespace: dict = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            lines = [ln for ln in cell_text(cell).split("\n") if not ln.startswith(("%", "!"))]
            exec(compile("\n".join(lines), "<cell>", "exec"), namespace)  # noqa: S102
    return namespace


def test_structure_ids_markdown_and_metadata_survive():
    before, after = json.loads(NOTEBOOK.read_text()), json.loads(_convert().code)
    assert [c["id"] for c in after["cells"]] == [c["id"] for c in before["cells"]]
    assert after["metadata"] == before["metadata"]
    for old, new in zip(before["cells"], after["cells"]):
        assert new["metadata"] == old["metadata"]
        if old["cell_type"] == "markdown" or cell_text(old) == cell_text(new):
            assert new == old


def test_changed_cells_are_cleared_and_magics_restored():
    result = _convert()
    cells = json.loads(result.code)["cells"]
    assert result.changed and 3 in result.changed_cells and 8 not in result.changed_cells
    for number in result.changed_cells:
        assert cells[number - 1]["outputs"] == [] and cells[number - 1]["execution_count"] is None
    assert "%matplotlib inline" in cell_text(cells[1]) and "!echo trained" in cell_text(cells[6])
    assert "haiku" not in result.code and "class Mlp(nnx.Module)" in cell_text(cells[2])


def test_format_matches_the_input():
    text = _convert().code
    assert text.endswith("}\n") and text.startswith('{\n "cells": [\n  {')
    assert "—" in text  # non-ASCII stays as written, not escaped


def test_converted_cells_run_in_order():
    namespace = _run_cells(json.loads(_convert().code))
    losses = namespace["losses"]
    assert len(losses) == 5 and losses[-1] < losses[0]


def test_idempotent():
    once = _convert().code
    twice = convert_notebook(once, filename="mlp.ipynb")
    assert not twice.changed and twice.code == once


def test_findings_point_at_cell_and_line():
    notebook = json.loads(NOTEBOOK.read_text())
    notebook["cells"][7]["source"] = LOOP_CELL
    result = _convert(json.dumps(notebook, indent=1))
    placed = [f for f in result.findings if f.file == "mlp.ipynb[cell 8]"]
    assert placed and all(1 <= f.line <= 5 for f in placed)


def test_cli_converts_a_notebook_and_verifies_its_model(tmp_path):
    out, report = tmp_path / "out", tmp_path / "r.md"
    assert main(["convert", str(NOTEBOOK.parent), "-o", str(out), "--report", str(report)]) == 1
    converted = json.loads((out / "haiku_mlp.ipynb").read_text())
    assert "nnx" in cell_text(converted["cells"][2])
    assert "haiku_mlp.ipynb net: PASS outputs 1/1" in report.read_text()
