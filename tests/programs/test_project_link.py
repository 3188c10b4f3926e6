"""Which files convert together: every importer of a sibling's Haiku module, each in its group."""

from __future__ import annotations

import json
from pathlib import Path

from hk2nnx.cli import main
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


MODEL = '''import haiku as hk


class {name}(hk.Module):
    def __call__(self, x):
        return hk.Linear(2)(x.reshape((x.shape[0], -1)))
'''
TRAIN = '''import haiku as hk
import jax
import jax.numpy as jnp
from models import {name}


def forward(x):
    return {name}()(x)


model = hk.transform(forward)
params = model.init(jax.random.key(0), jnp.ones((1, {a}, 3)))
'''


def test_two_projects_in_one_run_each_trace_their_own_models(tmp_path, capsys):
    """Both have a `models.py`: the second's trace must not import the first's (cached)."""
    for name, a in (("First", 2), ("Second", 5)):
        folder = tmp_path / "src" / name.lower()
        folder.mkdir(parents=True)
        (folder / "models.py").write_text(MODEL.format(name=name))
        (folder / "train.py").write_text(TRAIN.format(name=name, a=a))
    assert main(["convert", str(tmp_path / "src"), "-o", str(tmp_path / "out")]) == 1
    assert "could not run" not in capsys.readouterr().err
    for name, size in (("first", 6), ("second", 15)):
        converted = (tmp_path / "out" / name / "models.py").read_text()
        assert f"nnx.Linear(\n            {size}, 2," in converted
