"""The constructs around a model in a training program: keys, checkpoints, pmapped steps.

HK031 (`hk.PRNGSequence`) and HK032 (pickled params -> Orbax): the converted scripts run
without Haiku, and the converted checkpoint code gives back the weights it saved. HK033
(`jax.pmap` steps): on one CPU device, the converted step takes Haiku's steps.
"""

from __future__ import annotations

import ast

import jax
import numpy as np
from fixture_runner import FIXTURES, all_fixtures, run_module
from flax import nnx

import hk2nnx
from hk2nnx.convert import convert_source
from hk2nnx.port.api import port_to_nnx


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


def test_pmap_step_takes_haikus_steps_on_one_device():
    """The converted pmapped step, from ported weights, gives Haiku's losses for 3 steps."""
    fixture = next(f for f in all_fixtures() if f.id == "training_step/pmap_sgd")
    original = run_module(fixture.source, "original_pmap_sgd")
    result = convert_source(fixture.source, mode=fixture.mode)
    assert "HK033" in [f.code for f in result.findings]
    assert "rest = replicate(rest)" in result.code
    converted = run_module(result.code, "converted_pmap_sgd")
    params = original["net"].init(jax.random.key(0), np.zeros((1, 3), np.float32))
    model = converted["net"]
    port_to_nnx(params, {}, model, program=hk2nnx.trace(original["net"],
                                                        hk2nnx.TensorSpec.parse("f32[1,3]")))
    x = jax.random.normal(jax.random.key(1), (1, 5, 3))
    y = jax.random.normal(jax.random.key(2), (1, 5, 2))
    nnx_params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    rest = nnx.to_pure_dict(nnx.state(model, nnx.Not(nnx.Param)))
    haiku = _steps(original, lambda s: original["update"](*s, x, y), (params,))
    mine = _steps(converted, lambda s: converted["update"](s[0], s[1], s[2], x, y),
                  (nnx_params, rest))
    np.testing.assert_allclose(mine, haiku, rtol=1e-5)
    assert len(set(haiku)) == 3  # the weights moved


def _steps(namespace: dict, step, trees: tuple) -> list[float]:
    """Three steps from `trees` (and a fresh optimizer state), all replicated as the file does."""
    replicate = namespace["replicate"]
    state = [*(replicate(t) for t in trees), replicate(namespace["optimizer"].init(trees[0]))]
    losses = []
    for _ in range(3):
        *state, loss = step(state)
        losses.append(float(loss[0]))
    return losses
