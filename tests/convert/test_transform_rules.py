"""Lifted transforms and key streams: what is refused stays marked, what converts behaves."""

from __future__ import annotations

import textwrap
from pathlib import Path

import jax.numpy as jnp
import pytest
from fixture_runner import run_module

from hk2nnx.convert import convert_source
from hk2nnx.convert.findings import TODO_PREFIX

FIXTURES = Path(__file__).parent / "fixtures" / "transformations"

_CLASS = """
import haiku as hk
import jax


class Net(hk.Module):
    def __call__(self, x, i):
        a = hk.Linear(4, name="a")
        x = a(x)
{body}
"""

REFUSED = {
    # Haiku itself fails on a branch creating its own parameters; we do not guess.
    "cond_builds_in_branch": ("        return hk.cond(i > 0, lambda y: hk.Linear(4)(y), a, x)",
                              "inside a loop, branch or nested function"),
    "vmap_split_unsized": ("        return hk.vmap(lambda y: a(y), split_rng=True)(x * 2)",
                           "split_rng needs the batch size"),
    "vmap_not_applied": ("        f = hk.vmap(lambda y: a(y), split_rng=False)\n        return f(x)",
                         "apply it where it is built"),
    "fori_draws_keys": (("        return hk.fori_loop(0, 2, lambda j, y: hk.dropout("
                        "hk.next_rng_key(), 0.5, a(y)), x)"), "draws keys or updates state"),
    "switch_branch_list_name": ("        branches = [a, a]\n        return hk.switch(i, branches, x)",
                                "list or tuple"),
    "running_init_expression": ("        return a(x) if hk.running_init() else x",
                                "only `if hk.running_init()"),
    "layer_stack_unroll": ("        return hk.experimental.layer_stack(2, unroll=2)(lambda y: a(y))(x)",
                           "only with_per_layer_inputs=True"),
    "layer_stack_passed_on": (("        return jax.jit(hk.experimental.layer_stack(2)("
                              "lambda y: Net(name='n')(y, i)))(x)"), "store the stacked function"),
    "unknown_haiku_in_lambda": ("        return hk.remat(lambda y: hk.BatchApply(jax.nn.relu)(y))(x)",
                                "no rule converts haiku.BatchApply"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_refused_transform_stays_marked(name):
    body, why = REFUSED[name]
    source = textwrap.dedent(_CLASS).format(body=body)
    result = convert_source(source, filename="case.py")
    markers = [ln for ln in result.code.splitlines() if TODO_PREFIX in ln]
    assert any(why in ln for ln in markers), result.code
    assert "class Net(hk.Module)" in result.code


def _converted(name: str) -> dict:
    source = (FIXTURES / f"{name}.py").read_text(encoding="utf-8")
    return run_module(convert_source(source, mode="idiomatic").code, f"converted_{name}")


def test_key_stream_draws_new_noise_each_call_in_train_mode():
    model = _converted("rng_noise")["model"]
    x = jnp.ones((2, 6))
    first, second = model(x, training=True), model(x, training=True)
    assert first.shape == second.shape == (2, 4)
    assert not jnp.allclose(first, second), "the stream must advance between calls"
    assert jnp.allclose(model(x, training=False), model(x, training=False))


def test_branches_take_the_module_so_a_train_mode_switch_reaches_them():
    namespace = _converted("branches_loops")
    model = namespace["model"]
    x = jnp.ones((2, 6))
    outs = [model(x, jnp.array(i)) for i in (0, 1, 2)]
    assert not jnp.allclose(outs[0], outs[1]) and not jnp.allclose(outs[1], outs[2])


WHILE = """
import haiku as hk
import jax
import jax.numpy as jnp


class Grow(hk.Module):
    def __call__(self, x):
        step = hk.Linear(3, name="step")
        if hk.running_init():
            x = step(x)
        else:
            x = hk.while_loop(lambda h: jnp.max(h) < 3.0, lambda h: h + jax.nn.sigmoid(step(h)), x)
        return x


def forward(x):
    return Grow()(x)


model = hk.transform(forward)
params = model.init(jax.random.key(0), jnp.ones((2, 3)))
"""


def test_while_loop_matches_haiku_on_ported_weights():
    """Outputs only: reverse-mode gradients do not pass through a while loop on either side."""
    import jax

    import hk2nnx

    original = run_module(WHILE, "original_while")
    result = convert_source(WHILE, mode="idiomatic")
    assert "nnx.while_loop(" in result.code and "running_init" not in result.code
    converted = run_module(result.code, "converted_while")["model"]
    x = jnp.full((2, 3), 0.5)
    program = hk2nnx.trace(original["model"], hk2nnx.TensorSpec.parse("f32[2,3]"))
    hk2nnx.port_to_nnx(original["params"], {}, converted, program=program)
    expected = original["model"].apply(original["params"], jax.random.key(1), x)
    assert jnp.allclose(converted(x), expected, rtol=1e-5, atol=1e-6)


SPLIT = """
import haiku as hk
import jax
import jax.numpy as jnp


class Noisy(hk.Module):
    def __call__(self, x):
        x = hk.Linear(3, name="proj")(x)
        return hk.vmap(
            lambda y: hk.Linear(3, name="inner")(y) + jax.random.normal(hk.next_rng_key(), y.shape),
            split_rng=(not hk.running_init()))(x)


def forward(x):
    return Noisy()(x)


model = hk.transform(forward)
params = model.init(jax.random.key(0), jnp.ones((4, 3)))
"""


def test_vmap_with_split_rng_draws_a_key_per_example():
    result = convert_source(SPLIT, mode="idiomatic")
    assert "nnx.split_rngs(splits=x.shape[0])" in result.code
    assert "nnx.StateAxes({nnx.RngState: 0, ...: None})" in result.code
    model = run_module(result.code, "converted_split")["model"]
    out = model(jnp.ones((4, 3)))
    assert out.shape == (4, 3)
    assert not jnp.allclose(out[0], out[1]), "rows drew the same key"
