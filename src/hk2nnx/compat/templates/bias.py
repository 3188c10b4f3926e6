"""Haiku's Bias layer (a learned offset over chosen input dims): NNX has no standalone bias."""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from hk2nnx.compat.templates.inits import Initializer


def bias_shape(input_shape: Sequence[int], bias_dims: Sequence[int] | None) -> tuple[int, ...]:
    """hk.Bias's parameter shape for a batched `input_shape`: the batch axis never has a bias."""
    rank = len(input_shape)
    if bias_dims is None:
        return tuple(input_shape[1:])
    if not bias_dims:
        return ()
    shape = [1] * rank
    for dim in bias_dims:
        dim = dim % rank if dim < 0 else dim
        if dim == 0:
            raise ValueError("Cannot apply bias across the minibatch dimension.")
        if dim >= rank:
            raise ValueError(f"Dimension {dim} (bias_dims={tuple(bias_dims)!r}) out of range "
                             f"for input of rank {rank}.")
        shape[dim] = input_shape[dim]
    start = next((d for d in range(1, rank) if shape[d] != 1), rank)
    return tuple(shape[start:])


class Bias(nnx.Module):
    """hk.Bias; `input_size` is the input shape without its batch axis (Haiku's `input_size`)."""

    def __init__(self, output_size: Sequence[int] | None = None,
                 bias_dims: Sequence[int] | None = None, b_init: Initializer | None = None, *,
                 input_size: Sequence[int], dtype: Any = jnp.float32, rngs: nnx.Rngs | None = None):
        if rngs is None and b_init is not None:
            raise ValueError("pass `rngs` with a custom b_init")
        key = rngs.params() if rngs is not None else jax.random.key(0)  # zeros ignore it
        self.output_size = None if output_size is None else tuple(output_size)
        self.input_size = tuple(input_size)
        shape = bias_shape((1, *self.input_size), bias_dims)
        self.b = nnx.Param((b_init or jax.nn.initializers.zeros)(key, shape, dtype))

    def __call__(self, inputs: jax.Array, multiplier: float | jax.Array | None = None) -> jax.Array:
        if inputs.ndim < 2:
            raise ValueError(f"Input to hk.Bias must have rank >= 2, got shape {inputs.shape}")
        if self.output_size is not None and self.output_size != tuple(inputs.shape[1:]):
            raise ValueError(f"Input shape must be {(-1, *self.output_size)} not {inputs.shape}")
        b = jnp.broadcast_to(self.b[...], inputs.shape)
        if multiplier is not None:
            b = b * multiplier
        return inputs + b
