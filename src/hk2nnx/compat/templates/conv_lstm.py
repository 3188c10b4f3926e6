"""Haiku's Conv1D/2D/3DLSTM: LSTM gates from two same-padded convolutions; Flax has no such cell."""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from hk2nnx.compat.templates.inits import HAIKU_LINEAR_INIT
from hk2nnx.compat.templates.lstm import LSTMState, lstm_update
from hk2nnx.compat.templates.rnn_state import add_batch


class ConvNDLSTM(nnx.Module):
    """hk.ConvNDLSTM with its `input_to_hidden` and `hidden_to_hidden` convolutions.

    Gates (i, g, f, o) come from the sum of both convolutions; the forget gate gets +1, as in
    Haiku. `input_shape` is Haiku's (the spatial shape of the state); `in_features`, the input
    channels, is what NNX needs eagerly.
    """

    def __init__(self, num_spatial_dims: int, input_shape: Sequence[int], output_channels: int,
                 kernel_shape: int | Sequence[int], *, in_features: int,
                 dtype: Any = jnp.float32, rngs: nnx.Rngs):
        self.input_shape = tuple(input_shape)
        self.output_channels = output_channels
        kernel = (kernel_shape,) * num_spatial_dims if isinstance(kernel_shape, int) \
            else tuple(kernel_shape)

        def conv(features: int) -> nnx.Conv:
            return nnx.Conv(features, 4 * output_channels, kernel, padding="SAME",
                            kernel_init=HAIKU_LINEAR_INIT, param_dtype=dtype, rngs=rngs)

        self.input_to_hidden = conv(in_features)
        self.hidden_to_hidden = conv(output_channels)

    def __call__(self, inputs: jax.Array, state: LSTMState) -> tuple[jax.Array, LSTMState]:
        gates = self.input_to_hidden(inputs) + self.hidden_to_hidden(state.hidden)
        return lstm_update(gates, state.cell)

    def initial_state(self, batch_size: int | None) -> LSTMState:
        shape = self.input_shape + (self.output_channels,)
        return add_batch(LSTMState(jnp.zeros(shape), jnp.zeros(shape)), batch_size)


class Conv1DLSTM(ConvNDLSTM):
    def __init__(self, input_shape: Sequence[int], output_channels: int,
                 kernel_shape: int | Sequence[int], *, in_features: int,
                 dtype: Any = jnp.float32, rngs: nnx.Rngs):
        super().__init__(1, input_shape, output_channels, kernel_shape,
                         in_features=in_features, dtype=dtype, rngs=rngs)


class Conv2DLSTM(ConvNDLSTM):
    def __init__(self, input_shape: Sequence[int], output_channels: int,
                 kernel_shape: int | Sequence[int], *, in_features: int,
                 dtype: Any = jnp.float32, rngs: nnx.Rngs):
        super().__init__(2, input_shape, output_channels, kernel_shape,
                         in_features=in_features, dtype=dtype, rngs=rngs)


class Conv3DLSTM(ConvNDLSTM):
    def __init__(self, input_shape: Sequence[int], output_channels: int,
                 kernel_shape: int | Sequence[int], *, in_features: int,
                 dtype: Any = jnp.float32, rngs: nnx.Rngs):
        super().__init__(3, input_shape, output_channels, kernel_shape,
                         in_features=in_features, dtype=dtype, rngs=rngs)
