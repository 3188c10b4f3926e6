"""The mnist_dropout project's notebook: converted with its folder, run in a real Jupyter kernel.

One command converts the folder (the notebook with the `models.py` it imports); both notebooks
then run cell by cell in a fresh IPython kernel (nbclient, what `jupyter nbconvert --execute`
runs), the converted one starting from the Haiku notebook's initial weights, ported. Their 20
losses must agree, as the project scripts' do.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from hk2nnx.cli import main
from hk2nnx.convert.notebook import cell_text

PROJECT = Path(__file__).parents[2] / "examples" / "projects" / "mnist_dropout"
# Lines the test adds after the line that creates the weights, on each side.
_DUMP = ("import pickle, numpy as np; pickle.dump(jax.tree.map(np.asarray, params), "
         "open({path!r}, 'wb'))")
SAVE = ("params = model.init(", _DUMP)
LOAD = ("model = ",
        "import pickle, hk2nnx; hk2nnx.port_to_nnx(pickle.load(open({path!r}, 'rb')), None, model)")


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mnist_nb") / "nnx"
    assert main(["convert", str(PROJECT), "-o", str(out)]) == 1
    return out


def test_cells_markdown_metadata_and_magics_survive(converted):
    before = json.loads((PROJECT / "train.ipynb").read_text())
    after = json.loads((converted / "train.ipynb").read_text())
    assert after["metadata"] == before["metadata"]
    assert [(c["id"], c["cell_type"]) for c in after["cells"]] == [
        (c["id"], c["cell_type"]) for c in before["cells"]]
    changed = 0
    for old, new in zip(before["cells"], after["cells"]):
        if old["cell_type"] == "markdown" or cell_text(old) == cell_text(new):
            assert new == old  # untouched cells keep their outputs and counts
        else:
            changed += 1
            assert new["outputs"] == [] and new["execution_count"] is None
    code = [cell_text(c) for c in after["cells"] if c["cell_type"] == "code"]
    assert code[0].count("%precision 4") == 1 and code[-1].startswith("%%time\n")
    assert changed >= 3 and "haiku" not in "".join(code) and "hk2nnx" not in "".join(code)
    assert "model = Classifier(DROPOUT_RATE, rngs=nnx.Rngs(0))" in "".join(code)


def _instrumented(path: Path, after: tuple[str, str], weights: Path) -> nbformat.NotebookNode:
    """The notebook with one line added after the first line starting with `after[0]`."""
    notebook = nbformat.read(path, as_version=4)
    start, line = after
    for cell in notebook.cells:
        lines = cell_text(cell).split("\n")
        hits = [i for i, text in enumerate(lines) if text.startswith(start)]
        if cell.cell_type == "code" and hits:
            lines.insert(hits[0] + 1, line.format(path=str(weights)))
            cell.source = "\n".join(lines)
            return notebook
    raise AssertionError(f"{path}: no line starts with {start!r}")


def _losses(notebook: nbformat.NotebookNode, folder: Path) -> list[float]:
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    printed = [o.text for o in notebook.cells[-2].outputs if o.output_type == "stream"]
    return json.loads(next(ln for ln in "".join(printed).splitlines() if ln.startswith("[")))


def test_converted_notebook_trains_like_the_haiku_notebook(converted, tmp_path, monkeypatch):
    monkeypatch.setenv("DROPOUT_RATE", "0")  # the kernels inherit it, as the project tests run
    weights = tmp_path / "init.pkl"
    haiku = _losses(_instrumented(PROJECT / "train.ipynb", SAVE, weights), PROJECT)
    nnx = _losses(_instrumented(converted / "train.ipynb", LOAD, weights), converted)
    assert len(haiku) == 20 and haiku[-1] < haiku[0]
    assert nnx == pytest.approx(haiku, rel=1e-4)
