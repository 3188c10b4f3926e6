"""Haiku's pooling: full-rank windows from ints or short tuples; SAME averages skip padding."""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


def pool_shape(x: jax.Array, size: int | Sequence[int],
               channel_axis: int | None = -1) -> tuple[int, ...]:
    """Haiku's window/stride inference: an int covers every axis but batch and channel; a short
    tuple covers the trailing axes (so (2, 2) on NHWC pools W and C, not H and W)."""
    if isinstance(size, int):
        if channel_axis and not 0 <= abs(channel_axis) < x.ndim:
            raise ValueError(f"Invalid channel axis {channel_axis} for {x.shape}")
        if channel_axis and channel_axis < 0:
            channel_axis = x.ndim + channel_axis
        return (1,) + tuple(size if d != channel_axis else 1 for d in range(1, x.ndim))
    if len(size) < x.ndim:
        return (1,) * (x.ndim - len(size)) + tuple(size)
    if len(size) != x.ndim:
        raise ValueError(f"window or stride {tuple(size)} has more axes than input {x.shape}")
    return tuple(size)


def _windows(value: jax.Array, window_shape: int | Sequence[int],
             strides: int | Sequence[int], padding: str,
             channel_axis: int | None) -> tuple[jax.Array, tuple[int, ...], tuple[int, ...]]:
    """The input as an array, with Haiku's full-rank window and strides for it."""
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"Invalid padding '{padding}', must be 'SAME' or 'VALID'.")
    value = jnp.asarray(value)
    return (value, pool_shape(value, window_shape, channel_axis),
            pool_shape(value, strides, channel_axis))


def max_pool(value: jax.Array, window_shape: int | Sequence[int], strides: int | Sequence[int],
             padding: str, channel_axis: int | None = -1) -> jax.Array:
    """hk.max_pool."""
    value, window, steps = _windows(value, window_shape, strides, padding, channel_axis)
    return jax.lax.reduce_window(value, -jnp.inf, jax.lax.max, window, steps, padding)


def avg_pool(value: jax.Array, window_shape: int | Sequence[int], strides: int | Sequence[int],
             padding: str, channel_axis: int | None = -1) -> jax.Array:
    """hk.avg_pool: with SAME padding each average counts only the real (unpadded) elements."""
    value, window, steps = _windows(value, window_shape, strides, padding, channel_axis)
    pooled = jax.lax.reduce_window(value, 0., jax.lax.add, window, steps, padding)
    if padding == "VALID":
        return pooled / np.prod(window)
    ones_shape = [(v if w != 1 else 1) for v, w in zip(value.shape, window)]
    counts = jax.lax.reduce_window(jnp.ones(ones_shape, value.dtype), 0., jax.lax.add, window,
                                   steps, padding)
    return pooled / counts


class Pool(nnx.Module):
    """hk.MaxPool / hk.AvgPool: a pooling function with its arguments fixed at construction."""

    pool = staticmethod(max_pool)

    def __init__(self, window_shape: int | Sequence[int], strides: int | Sequence[int],
                 padding: str, channel_axis: int | None = -1):
        self.window_shape = window_shape
        self.strides = strides
        self.padding = padding
        self.channel_axis = channel_axis

    def __call__(self, value: jax.Array) -> jax.Array:
        return self.pool(value, self.window_shape, self.strides, self.padding, self.channel_axis)


class MaxPool(Pool):
    """hk.MaxPool."""

    pool = staticmethod(max_pool)


class AvgPool(Pool):
    """hk.AvgPool."""

    pool = staticmethod(avg_pool)
