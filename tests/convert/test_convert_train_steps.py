"""Converted training steps take the same steps as the Haiku originals, from ported weights.

A fixture's `step` check names the step function (`fn`, default train_step), its arguments on
each side (`haiku`, `nnx`: names, or array specs given by key), what each side returns
(`haiku_out`, `nnx_out`), and the optax transformation (`tx`) if it has one. Both sides run
STEPS steps, feeding each step's results back in; the params (and losses) must agree.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest
from fixture_runner import all_fixtures, run_module
from flax import nnx

import hk2nnx
from hk2nnx.convert import convert_source
from hk2nnx.port.api import nnx_variables, port_to_nnx, to_nnx_arrays

STEPS = 3
FIXTURES = [f for f in all_fixtures() if "step" in f.check]


def _array(spec: hk2nnx.TensorSpec, key):
    if spec.dtype.startswith("int"):
        return jax.random.randint(key, spec.shape, 0, 2).astype(spec.dtype)
    return jax.random.normal(key, spec.shape, spec.dtype)


def _run(fn, values: dict, args: list[str], outs: list[str], steps: int) -> list:
    """`steps` calls of `fn`, each result bound back into `values` by name; the losses."""
    losses = []
    for _ in range(steps):
        result = fn(*[values[n] for n in args])
        result = result if isinstance(result, tuple) else (result,)
        assert len(result) == len(outs), outs
        values.update(zip(outs, result))
        if "loss" in values:
            losses.append(float(values["loss"]))
    return losses


def _pure(model: nnx.Module, which) -> dict:
    return nnx.to_pure_dict(nnx.state(model, which))


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.id for f in FIXTURES])
def test_steps_move_the_weights_the_same_way(fixture):
    check, step = fixture.check, fixture.check["step"]
    original = run_module(fixture.source, f"original_{fixture.path.stem}")
    code = convert_source(fixture.source, mode=fixture.mode).code
    assert "import hk2nnx" not in code
    converted = run_module(code, f"converted_{fixture.path.stem}")
    var = check.get("var", "model")
    specs = [hk2nnx.TensorSpec.parse(s) for s in check["inputs"]]
    init_kwargs = {k: True for k in check.get("haiku", {})}  # Haiku initialises in training
    samples = [np.zeros(s.shape, s.dtype) for s in specs]
    out = original[var].init(jax.random.key(0), *samples, **init_kwargs)
    params, state = out if isinstance(out, tuple) else (out, {})
    program = hk2nnx.trace(original[var], *specs, **init_kwargs)
    model = converted[var]
    port_to_nnx(params, state, model, program=program)
    arrays = {name: _array(hk2nnx.TensorSpec.parse(text), jax.random.key(i))
              for i, (name, text) in enumerate(step.items())
              if isinstance(text, str) and "[" in text}
    tx = step.get("tx")
    haiku = {"key": jax.random.key(1), "params": params, "state": state,
             "opt_state": original[tx].init(params) if tx else None, **arrays}
    rest = _pure(model, nnx.Not(nnx.Param))
    nnx_params = _pure(model, nnx.Param)
    mine = {"params": nnx_params, "rest": rest, "state": rest, **arrays,
            "opt_state": converted[tx].init(nnx_params) if tx else None}
    fn = step.get("fn", "train_step")
    haiku_losses = _run(original[fn], haiku, step["haiku"], step["haiku_out"], STEPS)
    nnx_losses = _run(converted[fn], mine, step["nnx"], step["nnx_out"], STEPS)
    np.testing.assert_allclose(nnx_losses, haiku_losses, rtol=1e-5)
    nnx.update(model, mine["params"])
    expected, _, _ = to_nnx_arrays(haiku["params"], state, program)
    initial, _, _ = to_nnx_arrays(params, state, program)
    got = nnx_variables(model)
    trained = {v.nnx_path for v in program.params}
    assert trained
    assert any(not np.allclose(expected[p], initial[p]) for p in trained), "nothing moved"
    for path, value in ((p, v) for p, v in expected.items() if p in trained):
        np.testing.assert_allclose(np.asarray(got[path].get_value()), value, rtol=2e-5,
                                   atol=2e-6, err_msg=path)


BASE = '''
import haiku as hk
import jax
import optax


def forward(x, is_training):
    return hk.BatchNorm(True, True, 0.9)(hk.Linear(2)(x), is_training)


model = hk.without_apply_rng(hk.transform_with_state(forward))
params, state = model.init(jax.random.PRNGKey(0), jax.numpy.zeros((1, 3)), True)


@jax.jit
def update(params, state, x):
    def loss_fn(params):
{loss}
    grads = jax.grad(loss_fn{aux})(params)
    return jax.tree.map(lambda p, g: p - 0.1 * g, params, grads)
'''
REFUSED = {
    "state_not_returned": (("        out, new_state = model.apply(params, state, x, True)\n"
                           "        return out.sum()\n"), "", "does not return the new state"),
    "haiku_path_index": (("        out, _ = model.apply(params, state, x, True)\n"
                         "        return out.sum() + params['batch_norm']['scale'].sum()\n"), "",
                         "by Haiku module path"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unusual_steps_are_left_marked(case):
    loss, aux, why = REFUSED[case]
    result = convert_source(BASE.replace("{loss}", loss).replace("{aux}", aux),
                            filename="case.py", mode="idiomatic")
    found = [f for f in result.findings if f.code == "HK030"]
    assert found and why in found[0].message, [str(f) for f in result.findings]
    assert "@jax.jit\ndef update(params, state, x):" in result.code
    assert "nnx.merge" not in result.code and "# TODO(hk2nnx): training step" in result.code


DROPOUT_IN_RETURN = '''
import haiku as hk
import jax
import jax.numpy as jnp


def forward(x):
    return hk.Linear(2)(hk.dropout(hk.next_rng_key(), 0.5, x))


model = hk.transform(forward)
params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))


@jax.jit
def train_step(params, key, x):
    def loss_fn(params):
        return model.apply(params, key, x).sum()

    grads = jax.grad(loss_fn)(params)
    return jax.tree.map(lambda p, g: p - 0.1 * g, params, grads)


for i in range(2):
    params = train_step(params, jax.random.PRNGKey(i), jnp.ones((4, 3)))
'''


def test_the_step_calling_its_loss_itself_takes_the_loss_alone():
    source = DROPOUT_IN_RETURN.replace("    return jax.tree.map", "    report = loss_fn(params)\n"
                                       "    return jax.tree.map")
    code = convert_source(source, filename="case.py", mode="idiomatic").code
    assert "report = loss_fn(params)[0]" in code


def test_the_rng_state_is_read_after_the_model_ran():
    """A loss that applies the model inside its return reads the new state after it: dropout
    draws a fresh mask each step because the RNG count moved on."""
    code = convert_source(DROPOUT_IN_RETURN, filename="case.py", mode="idiomatic").code
    assert "return model(x).sum(), nnx.to_pure_dict(" in code
    converted = run_module(code, "converted_dropout_in_return")
    counts = jax.tree.leaves(converted["rest"])
    assert [int(c) for c in counts if getattr(c, "dtype", None) == np.uint32] == [2]
    assert int(converted["model"].dropout.rngs.count[...]) == 2  # nnx.update after the loop


TRAIN_RETURNS_PARAMS = (Path(__file__).parent / "fixtures" / "training_step" / "optax_adam.py"
                        ).read_text().split("\n\nfor step in range(3):")[0] + """

def train(params, opt_state):
    for _ in range(2):
        params, opt_state, loss = update(params, opt_state, jnp.ones((5, 3)), jnp.zeros((5, 2)))
    return params


params = train(params, opt_state)
prediction = net.apply(params, jnp.ones((1, 3)))
"""


def test_a_module_level_training_call_puts_the_weights_back_into_the_model():
    code = convert_source(TRAIN_RETURNS_PARAMS, filename="case.py", mode="idiomatic").code
    assert ("params = train(params, rest, opt_state)\nnnx.update(net, params)\n"
            "prediction = net(jnp.ones((1, 3)))") in code
    converted = run_module(code, "converted_train_returns_params")
    want = converted["nnx"].to_pure_dict(converted["nnx"].state(converted["net"], nnx.Param))
    for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(converted["params"])):
        np.testing.assert_array_equal(a, b)
