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


def test_checkpoint_beside_a_training_step_syncs_its_pure_dicts(tmp_path):
    """With HK030's pure dicts, a save takes them into the model first and a load reads them
    back, so training resumes from the restored weights."""
    source = (FIXTURES / "training_step" / "optax_adam.py").read_text(encoding="utf-8")
    path = repr(str(tmp_path / "ck.pkl"))
    step = "update(params, opt_state, jnp.ones((5, 3)), jnp.zeros((5, 2)))"
    source = source.replace("import haiku as hk", "import pickle\n\nimport haiku as hk") + (
        f"with open({path}, 'wb') as f:\n    pickle.dump(params, f)\n"
        f"saved = {step}[-1]\n"  # the loss at the saved weights
        f"for step in range(3):\n    params, opt_state, loss = {step}\n"
        f"with open({path}, 'rb') as f:\n    params = pickle.load(f)\n"
        f"restored = {step}[-1]\n")
    original = run_module(source, "original_adam_checkpoint")
    result = convert_source(source, mode="idiomatic")
    save, load = result.code.split("checkpointer.restore")
    assert "nnx.update(net, params, rest)\n    checkpointer.save(" in save
    assert "params = nnx.to_pure_dict(nnx.state(net, nnx.Param))" in load
    converted = run_module(result.code, "converted_adam_checkpoint")
    for run in (original, converted):  # trained on after the save, then back to it
        assert float(run["loss"]) < float(run["saved"])
        np.testing.assert_allclose(float(run["restored"]), float(run["saved"]), rtol=1e-6)
    leaves = jax.tree.leaves(converted["params"])
    np.testing.assert_array_equal(leaves[0], jax.tree.leaves(nnx.state(converted["net"],
                                                                        nnx.Param))[0])
