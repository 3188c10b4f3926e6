"""Guide section "Top-level Haiku functions": a model written with get_parameter and get_state."""

import haiku as hk
import jax
import jax.numpy as jnp


def forward(x):
    steps = hk.get_state("steps", shape=[], dtype=jnp.int32, init=jnp.zeros)
    gain = hk.get_parameter("gain", shape=[x.shape[-1]], dtype=x.dtype, init=jnp.ones)
    shift = hk.get_parameter("shift", shape=[], dtype=x.dtype, init=jnp.zeros)
    hk.set_state("steps", steps + 1)
    return x * gain + shift


model = hk.transform_with_state(forward)
params, state = model.init(jax.random.key(0), jnp.ones((3, 4)))
