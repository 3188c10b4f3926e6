"""The emitted form is the converter's own output: a Haiku training loop, converted, run on a model.

`HAIKU_LOOP` is the loop `forms.haiku_step` times, written as a Haiku user writes it
(transform_with_state, a key for dropout, the new state as the loss's aux, optax). `hk2nnx
convert` turns it into NNX; the bench runs that converted `update` on each benchmarked model,
with the model's own graphdef and pure dicts in place of the small model the loop was written
around. So the emitted rows time exactly what the converter writes, not a copy of it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import jax
import optax
from flax import nnx

HAIKU_LOOP = '''"""A Haiku training loop shaped like the benchmark's reference step."""

import haiku as hk
import jax
import jax.numpy as jnp
import optax


class Net(hk.Module):
    def __call__(self, x, training):
        x = hk.dropout(hk.next_rng_key(), 0.1 if training else 0.0, x)
        return hk.Linear(2)(x)


def forward(x, training):
    return Net()(x, training)


model = hk.transform_with_state(forward)
params, state = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)), True)
optimizer = optax.adam(1e-3)
opt_state = optimizer.init(params)


@jax.jit
def update(params, state, opt_state, key, x, y):
    def loss_fn(params):
        logits, new_state = model.apply(params, state, key, x, True)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, new_state

    (loss, state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return params, state, opt_state, loss
'''
SIGNATURE = ["params", "state", "opt_state", "x", "y"]  # the key went: the model's Rngs draw


@functools.cache
def emitted_code() -> str:
    """`hk2nnx convert` of HAIKU_LOOP (converted once per process)."""
    from hk2nnx.convert import convert_source

    return convert_source(HAIKU_LOOP, filename="bench_loop.py", mode="idiomatic").code


def emitted_update(graphdef: nnx.GraphDef, tx: optax.GradientTransformation) -> Callable:
    """The converted `update`, its globals pointing at this model's graphdef and at `tx`."""
    namespace = {"__name__": "bench_emitted"}
    exec(compile(emitted_code(), "<hk2nnx convert output>", "exec"), namespace)  # noqa: S102
    update = namespace["update"]
    got = list(inspect.signature(update).parameters)
    if got != SIGNATURE or "nnx.merge(graphdef" not in emitted_code():
        raise RuntimeError(f"the converter's step changed shape: update{tuple(got)}; "
                           f"bench/emitted.py expects update{tuple(SIGNATURE)}")
    namespace.update(graphdef=graphdef, optimizer=tx)
    return update


def step(model: nnx.Module, tx: optax.GradientTransformation) -> Callable:
    """`run(x, y) -> loss` with the emitted step, carrying params, state and optax state."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    update = emitted_update(graphdef, tx)
    params, rest = nnx.to_pure_dict(params), nnx.to_pure_dict(rest)
    carry = (params, rest, tx.init(params))

    def run(x: jax.Array, y: jax.Array) -> jax.Array:
        nonlocal carry
        *new, loss = update(*carry, x, y)
        carry = tuple(new)
        return loss

    return run
