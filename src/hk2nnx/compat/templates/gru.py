"""Haiku's GRU (reset gate before the recurrent matmul): nnx.GRUCell computes another function."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from hk2nnx.compat.templates.inits import Initializer
from hk2nnx.compat.templates.rnn_state import add_batch


class GRU(nnx.Module):
    """hk.GRU with Haiku's leaves: w_i (input x 3h), w_h (h x 3h), b (3h), gates (z, r, a).

    Haiku applies the reset gate to the state before multiplying by w_h (r * h) @ W; nnx.GRUCell
    applies it after (r * (h @ W)), so no weights make the two equal.
    """

    def __init__(self, hidden_size: int, w_i_init: Initializer | None = None,
                 w_h_init: Initializer | None = None, b_init: Initializer | None = None, *,
                 input_size: int, dtype: Any = jnp.float32, rngs: nnx.Rngs):
        self.hidden_size = hidden_size
        fan_in_init = jax.nn.initializers.lecun_normal()
        self.w_i = nnx.Param((w_i_init or fan_in_init)(
            rngs.params(), (input_size, 3 * hidden_size), dtype))
        self.w_h = nnx.Param((w_h_init or fan_in_init)(
            rngs.params(), (hidden_size, 3 * hidden_size), dtype))
        self.b = nnx.Param((b_init or jax.nn.initializers.zeros)(
            rngs.params(), (3 * hidden_size,), dtype))

    def __call__(self, inputs: jax.Array, state: jax.Array) -> tuple[jax.Array, jax.Array]:
        if inputs.ndim not in (1, 2):
            raise ValueError("GRU input must be rank-1 or rank-2.")
        split = [2 * self.hidden_size]
        w_h_z, w_h_a = jnp.split(self.w_h[...], indices_or_sections=split, axis=1)
        b_z, b_a = jnp.split(self.b[...], indices_or_sections=split, axis=0)
        zr_x, a_x = jnp.split(jnp.matmul(inputs, self.w_i[...]), indices_or_sections=split,
                              axis=-1)
        zr_h = jnp.matmul(state, w_h_z)
        zr = zr_x + zr_h + jnp.broadcast_to(b_z, zr_h.shape)
        z, r = jnp.split(jax.nn.sigmoid(zr), indices_or_sections=2, axis=-1)
        a_h = jnp.matmul(r * state, w_h_a)
        a = jnp.tanh(a_x + a_h + jnp.broadcast_to(b_a, a_h.shape))
        next_state = (1 - z) * state + z * a
        return next_state, next_state

    def initial_state(self, batch_size: int | None) -> jax.Array:
        return add_batch(jnp.zeros([self.hidden_size]), batch_size)
