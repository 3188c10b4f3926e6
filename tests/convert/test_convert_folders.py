"""A folder converts as a whole: a module defined in one file and built in another agree."""

from __future__ import annotations

import re
from pathlib import Path

from hk2nnx.cli import main

MODELS = '''"""Models."""

import haiku as hk
import jax


class Mlp(hk.Module):
    def __init__(self, hidden, name=None):
        super().__init__(name=name)
        self.hidden = hidden

    def __call__(self, x):
        x = hk.Flatten()(x)
        return hk.Linear(2, name="out")(jax.nn.relu(hk.Linear(self.hidden, name="h")(x)))
'''
TRAIN = '''"""Training."""

import haiku as hk
import jax
import jax.numpy as jnp
import optax
from models import Mlp


def forward(x):
    return Mlp(8, name="mlp")(x)


model = hk.transform(forward)
params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 3, 4)))
optimizer = optax.sgd(0.1)
opt_state = optimizer.init(params)


@jax.jit
def update(params, opt_state, rng, x):
    def loss_fn(params):
        return model.apply(params, rng, x).sum()

    grads = jax.grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return params, opt_state


def train(params, opt_state, steps=2):
    keys = hk.PRNGSequence(1)
    for _ in range(steps):
        params, opt_state = update(params, opt_state, next(keys), jnp.ones((2, 3, 4)))
    return opt_state


if __name__ == "__main__":
    train(params, opt_state)
'''
PLAIN = "def helper():\n    return 1\n"


def _convert(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name, text in (("models.py", MODELS), ("train.py", TRAIN), ("plain.py", PLAIN)):
        (src / name).write_text(text)
    out = tmp_path / "out"
    assert main(["convert", str(src), "-o", str(out)]) == 1
    return out


def test_the_defining_file_gets_sizes_from_the_using_file(tmp_path):
    models = (_convert(tmp_path) / "models.py").read_text()
    assert "class Mlp(nnx.Module):" in models
    assert "def __init__(self, hidden, rngs: nnx.Rngs):" in models
    assert models.startswith('"""Models."""') and "from flax import nnx" in models
    assert re.search(r"nnx\.Linear\(\s*12, (self\.)?hidden", models)  # 3 * 4, from the trace
    assert "haiku" not in models


def test_the_using_file_builds_the_module_once_and_splits_it_for_the_step(tmp_path):
    out = _convert(tmp_path)
    train = (out / "train.py").read_text()
    assert "model = Mlp(8, rngs=nnx.Rngs(0))" in train
    assert "graphdef, params, rest = nnx.split(model, nnx.Param, ...)" in train
    assert "def train(params, rest, opt_state, steps=2):" in train
    assert "train(params, rest, opt_state)" in train
    assert "PRNGSequence" not in train and "haiku" not in train and "TODO" not in train
    assert "from models import Mlp" in train and "from flax import nnx" in train
    assert (out / "plain.py").read_text() == PLAIN
