"""Convert a Jupyter notebook's code cells as one program, keeping everything else as it was."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from typing import Any

from hk2nnx.convert.api import ConvertResult, ConvertSyntaxError, convert_source
from hk2nnx.convert.findings import Finding
from hk2nnx.program.model import TensorSpec

_CELL_MARK = "__hk2nnx_cell__ = {}"
_CELL_RE = re.compile(r"^__hk2nnx_cell__ = (\d+)\n", re.MULTILINE)
_MAGIC_MARK = "{}pass  # hk2nnx-magic:{}"
_MAGIC_RE = re.compile(r"^([ \t]*)pass  # hk2nnx-magic:(\d+)$")
_MAGIC_LINE = re.compile(r"^\s*([%!?]|\w[\w.]*\?\??\s*$|[\w, ]+=\s*[%!])")
_PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture")


@dataclasses.dataclass(frozen=True)
class NotebookResult:
    """The converted notebook text, with findings placed at `file[cell N]:line`."""

    code: str
    changed: bool
    findings: list[Finding]
    filename: str
    changed_cells: tuple[int, ...] = ()


@dataclasses.dataclass
class _Masked:
    """Code cells joined into one program; the magics it hides, in order, wait to come back."""

    program: str = ""
    magics: list[str] = dataclasses.field(default_factory=list)
    starts: dict[int, int] = dataclasses.field(default_factory=dict)  # cell -> first program line


@dataclasses.dataclass
class NotebookProgram:
    """A notebook loaded for conversion: its code cells as one masked Python program."""

    text: str
    notebook: dict[str, Any]
    code_cells: list[int]
    masked: _Masked

    @property
    def program(self) -> str:
        return self.masked.program


def convert_notebook(text: str, *, filename: str = "<notebook>",
                     inputs: dict[str, list[TensorSpec]] | None = None) -> NotebookResult:
    """Converts code cells together so a model defined in one cell resolves where another uses it.

    Markdown, raw cells, metadata and ids are left as loaded; only cells whose code changed get
    new source, and their outputs are cleared because they no longer describe that code.
    """
    loaded = load_program(text, filename)
    result = convert_source(loaded.program, filename=filename, inputs=inputs)
    return rebuild(loaded, result.code, result.findings, filename)


def load_program(text: str, filename: str) -> NotebookProgram:
    """Parses the notebook and masks its code cells into one program (see `rebuild`)."""
    notebook = json.loads(text)
    if notebook.get("nbformat") != 4:
        raise ValueError(f"{filename}: only nbformat 4 notebooks can be converted")
    cells = notebook.get("cells", [])
    code_cells = [i for i, cell in enumerate(cells) if cell.get("cell_type") == "code"]
    return NotebookProgram(text, notebook, code_cells, _mask(cells, code_cells))


def rebuild(loaded: NotebookProgram, code: str, findings: list[Finding],
            filename: str) -> NotebookResult:
    """The notebook with `code` (the converted program) cut back into its cells; `findings`
    at program lines are placed at `filename[cell N]:line`."""
    placed = [_place(f, loaded.masked.starts, filename) for f in findings]
    if code == loaded.program:
        return NotebookResult(loaded.text, False, placed, filename)
    notebook = copy.deepcopy(loaded.notebook)
    pieces = _split(_unmask(code, loaded.masked.magics), loaded.code_cells, filename)
    changed = _apply(notebook.get("cells", []), pieces)
    new_text = _dump(notebook, loaded.text) if changed else loaded.text
    return NotebookResult(new_text, bool(changed), placed, filename, tuple(changed))


def cell_text(cell: dict[str, Any]) -> str:
    """A cell's source as one string; nbformat allows a string or a list of lines."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _mask(cells: list[dict[str, Any]], code_cells: list[int]) -> _Masked:
    masked = _Masked()
    parts = []
    line = 1
    for index in code_cells:
        body = _mask_magics(cell_text(cells[index]), masked.magics)
        if not body.endswith("\n"):
            body += "\n"
        parts.append(_CELL_MARK.format(index) + "\n" + body)
        masked.starts[index] = line + 1
        line += 1 + body.count("\n")
    masked.program = "".join(parts)
    return masked


def _mask_magics(source: str, magics: list[str]) -> str:
    """IPython-only lines become a `pass` with a numbered comment, so the cell parses."""
    lines = source.split("\n")
    if lines and lines[0].startswith("%%") and not lines[0].startswith(_PYTHON_CELL_MAGICS):
        magics.append(source)  # a whole-cell magic (%%bash, %%writefile): not Python at all
        return _MAGIC_MARK.format("", len(magics) - 1)
    out = []
    for line in lines:
        if _MAGIC_LINE.match(line) and not _is_python(line):
            magics.append(line)
            indent = line[: len(line) - len(line.lstrip())]
            line = _MAGIC_MARK.format(indent, len(magics) - 1)
        out.append(line)
    return "\n".join(out)


def _is_python(line: str) -> bool:
    """`x = y % z` matches nothing magic; only lines that fail to parse as Python are masked."""
    if line.lstrip().startswith(("%", "!")):
        return False
    try:
        compile(line.strip(), "<line>", "exec", dont_inherit=True)
    except SyntaxError:
        return False
    return True


def _unmask(code: str, magics: list[str]) -> str:
    def restore(line: str) -> str:
        found = _MAGIC_RE.match(line)
        return magics[int(found.group(2))] if found else line

    return "\n".join(restore(line) for line in code.split("\n"))


def _split(code: str, code_cells: list[int], filename: str) -> dict[int, str]:
    """Cuts the converted program back at the cell markers the converter carried through."""
    marks = list(_CELL_RE.finditer(code))
    if [int(mark.group(1)) for mark in marks] != code_cells:
        raise ValueError(f"{filename}: the converter moved code across cell boundaries; "
                         "convert this notebook as a script instead")
    pieces = {}
    head = code[: marks[0].start()] if marks else ""
    for n, mark in enumerate(marks):
        end = marks[n + 1].start() if n + 1 < len(marks) else len(code)
        pieces[int(mark.group(1))] = (head if n == 0 else "") + code[mark.end():end]
    return pieces


def _apply(cells: list[dict[str, Any]], pieces: dict[int, str]) -> list[int]:
    """Writes changed sources back; returns the 1-based numbers of the cells that changed."""
    changed = []
    for index, new in pieces.items():
        cell = cells[index]
        old = cell_text(cell)
        if not old.endswith("\n") and new.endswith("\n"):
            new = new[:-1]
        if new == old:
            continue
        cell["source"] = new.splitlines(keepends=True) if isinstance(
            cell.get("source"), list) else new
        cell["outputs"] = []
        cell["execution_count"] = None
        changed.append(index + 1)
    return changed


def _place(finding: Finding, starts: dict[int, int], filename: str) -> Finding:
    """A program line becomes `filename[cell N]` and the line inside that cell."""
    cell, first = max(((c, s) for c, s in starts.items() if s <= finding.line),
                      key=lambda pair: pair[1], default=(0, 1))
    return dataclasses.replace(finding, file=f"{filename}[cell {cell + 1}]",
                               line=finding.line - first + 1)


def _dump(notebook: dict[str, Any], original: str) -> str:
    """Writes with the input's indent, escaping and final newline so diffs stay small."""
    match = re.match(r"\{\n( +)", original)
    indent = len(match.group(1)) if match else None
    ascii_only = original.isascii() and "\\u" in original
    text = json.dumps(notebook, indent=indent, ensure_ascii=ascii_only)
    return text + "\n" if original.endswith("\n") else text


SUFFIXES = (".py", ".ipynb")


def convert_any(source: str, *, filename: str,
                inputs: dict[str, list[TensorSpec]] | None = None) -> ConvertResult | NotebookResult:
    """The command line's one entry: notebooks by their suffix, everything else as Python."""
    if not filename.endswith(".ipynb"):
        return convert_source(source, filename=filename, inputs=inputs)
    try:
        return convert_notebook(source, filename=filename, inputs=inputs)
    except ConvertSyntaxError:
        raise
    except ValueError as err:  # bad JSON, another nbformat, code moved across cells
        raise ConvertSyntaxError(filename, 1, 1, str(err)) from None
