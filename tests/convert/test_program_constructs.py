"""The constructs around a model in a training program: key plumbing and checkpoints.

HK031 (`hk.PRNGSequence`) and HK032 (pickled params -> Orbax): the converted scripts run
without Haiku, and the converted checkpoint code gives back the weights it saved.
"""

from __future__ import annotations

import ast

import jax
import numpy as np
from fixture_runner import FIXTURES, run_module
from flax import nnx

from hk2nnx.convert import convert_source


def _imports(code: str) -> set[str]:
    tree = ast.parse(code)
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}
    return names | {(n.module or "").split(".")[0] for n in ast.walk(tree)
                    if isinstance(n, ast.ImportFrom)}


def test_prng_sequence_becomes_an_rngs_stream_that_runs_without_haiku():
    source = (FIXTURES / "training_step" / "prng_sequence.py").read_text(encoding="utf-8")
    result = convert_source(source, mode="idiomatic")
    assert "haiku" not in _imports(result.code) and "PRNGSequence(" not in result.code
    converted = run_module(result.code, "converted_prng_sequence")
    assert isinstance(converted["rng_seq"], nnx.Rngs)
    keys = converted["noise_keys"]
    assert isinstance(keys, tuple) and len(keys) == 2
    assert not np.array_equal(*(jax.random.key_data(k) for k in keys))  # two different keys
    assert [o.shape for o in converted["outputs"]] == [(4, 2), (4, 2)]


def test_a_sequence_handed_on_is_left_with_a_todo():
    source = ("import haiku as hk\n\nseq = hk.PRNGSequence(0)\nkey = next(seq)\n"
              "other = consume(seq)\n")
    result = convert_source(source, mode="idiomatic")
    assert "key = seq()" in result.code
    assert [f.code for f in result.findings] == ["HK031"]
    assert "TODO(hk2nnx)" in result.code.split("other =")[0].splitlines()[-1]


CHECKPOINT = '''
import pickle

import haiku as hk
import jax
import jax.numpy as jnp


def mlp(x):
    h = jax.nn.tanh(hk.Linear(8, name="hidden")(x))
    return hk.Linear(2, name="out")(h)


net = hk.without_apply_rng(hk.transform(mlp))
x = jnp.linspace(-1.0, 1.0, 12).reshape(4, 3)
params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))
before = net.apply(params, x)
with open(PATH, "wb") as f:
    pickle.dump(params, f)
params = net.init(jax.random.PRNGKey(1), jnp.zeros((1, 3)))
fresh = net.apply(params, x)
params = pickle.load(open(PATH, "rb"))
after = net.apply(params, x)
'''


def test_checkpoint_round_trips_the_weights_through_orbax(tmp_path):
    source = CHECKPOINT.replace("PATH", repr(str(tmp_path / "params.pkl")))
    original = run_module(source, "original_checkpoint")
    np.testing.assert_array_equal(original["after"], original["before"])
    result = convert_source(source, mode="idiomatic")
    assert {"haiku", "pickle"}.isdisjoint(_imports(result.code))
    assert "ocp.StandardCheckpointer()" in result.code
    assert [f.code for f in result.findings if f.code == "HK032"] == ["HK032", "HK032"]
    assert "hk2nnx port" in result.findings[-1].message
    converted = run_module(result.code, "converted_checkpoint")
    assert (tmp_path / "params.pkl").is_dir()  # Orbax writes a directory
    assert not np.allclose(converted["fresh"], converted["before"])  # the load has work to do
    np.testing.assert_array_equal(converted["after"], converted["before"])
