"""Which files convert together: every importer of a sibling's Haiku module, each in its group."""

from __future__ import annotations

import json
from pathlib import Path

from hk2nnx.convert.project import link

MODELS = "import haiku as hk\n\n\nclass Net(hk.Module):\n    pass\n"
USER = "import haiku as hk\nfrom models import Net\n"


def _notebook(source: str) -> str:
    cell = {"cell_type": "code", "id": "c", "metadata": {}, "outputs": [],
            "execution_count": None, "source": "%time x = 1\n" + source}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_each_importer_gets_a_group_and_the_definer_goes_with_the_first_script(tmp_path):
    files = {"models.py": MODELS, "a.py": USER, "b.py": USER, "a.ipynb": _notebook(USER),
             "plain.py": "x = 1\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    groups = link(sorted(tmp_path / name for name in files))
    path = {name: str(tmp_path / name) for name in files}
    assert groups[path["a.py"]] == (path["models.py"], path["a.py"])
    assert groups[path["b.py"]] == (path["models.py"], path["b.py"])
    assert groups[path["a.ipynb"]] == (path["models.py"], path["a.ipynb"])
    assert groups[path["models.py"]] == groups[path["a.py"]]  # scripts before notebooks
    assert "plain.py" not in {Path(p).name for p in groups}
