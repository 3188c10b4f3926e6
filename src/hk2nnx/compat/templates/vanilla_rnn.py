"""Haiku's VanillaRNN: two biases trained separately, which nnx.SimpleCell's single bias is not."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from hk2nnx.compat.templates.inits import HAIKU_LINEAR_INIT
from hk2nnx.compat.templates.rnn_state import add_batch


class VanillaRNN(nnx.Module):
    """hk.VanillaRNN: relu(linear(x) + linear_1(h)), both Linears in Haiku's layout.

    With double_bias (Haiku's default) each bias gets the full gradient, so an SGD step moves
    their sum twice as far as nnx.SimpleCell's one bias would move; outputs match, training not.
    """

    def __init__(self, hidden_size: int, double_bias: bool = True, *, input_size: int,
                 dtype: Any = jnp.float32, rngs: nnx.Rngs):
        self.hidden_size = hidden_size
        self.linear = nnx.Linear(input_size, hidden_size, kernel_init=HAIKU_LINEAR_INIT,
                                 param_dtype=dtype, rngs=rngs)
        self.linear_1 = nnx.Linear(hidden_size, hidden_size, use_bias=double_bias,
                                   kernel_init=HAIKU_LINEAR_INIT, param_dtype=dtype, rngs=rngs)

    def __call__(self, inputs: jax.Array, prev_state: jax.Array) -> tuple[jax.Array, jax.Array]:
        out = jax.nn.relu(self.linear(inputs) + self.linear_1(prev_state))
        return out, out

    def initial_state(self, batch_size: int | None) -> jax.Array:
        return add_batch(jnp.zeros([self.hidden_size]), batch_size)
