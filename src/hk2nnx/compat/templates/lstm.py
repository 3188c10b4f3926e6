"""Haiku's LSTM: one fused linear, gates (i, g, f, o) and a +1 forget bias; nnx.LSTMCell differs."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from hk2nnx.compat.templates.inits import HAIKU_LINEAR_INIT
from hk2nnx.compat.templates.rnn_state import add_batch


class LSTMState(NamedTuple):
    """hk.LSTMState: the (hidden, cell) pair, in Haiku's field order."""

    hidden: jax.Array
    cell: jax.Array


def lstm_update(gates: jax.Array, cell: jax.Array) -> tuple[jax.Array, LSTMState]:
    """Haiku's LSTM step from fused gates (i, g, f, o): the forget gate gets +1."""
    i, g, f, o = jnp.split(gates, indices_or_sections=4, axis=-1)
    f = jax.nn.sigmoid(f + 1)
    c = f * cell + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return h, LSTMState(h, c)


class LSTM(nnx.Module):
    """hk.LSTM with its `linear` ((input + hidden) x 4*hidden) in Haiku's layout.

    nnx.LSTMCell keeps eight gate kernels, orders gates (i, f, g, o), adds no +1 to the forget
    gate and initialises differently; here a checkpoint moves by a rename and trains the same.
    """

    def __init__(self, hidden_size: int, *, input_size: int, dtype: Any = jnp.float32,
                 rngs: nnx.Rngs):
        self.hidden_size = hidden_size
        self.linear = nnx.Linear(input_size + hidden_size, 4 * hidden_size,
                                 kernel_init=HAIKU_LINEAR_INIT, param_dtype=dtype, rngs=rngs)

    def __call__(self, inputs: jax.Array, prev_state: LSTMState) -> tuple[jax.Array, LSTMState]:
        if len(inputs.shape) > 2 or not inputs.shape:
            raise ValueError("LSTM input must be rank-1 or rank-2.")
        x_and_h = jnp.concatenate([inputs, prev_state.hidden], axis=-1)
        return lstm_update(self.linear(x_and_h), prev_state.cell)

    def initial_state(self, batch_size: int | None) -> LSTMState:
        zeros = jnp.zeros([self.hidden_size])
        return add_batch(LSTMState(hidden=zeros, cell=zeros), batch_size)
