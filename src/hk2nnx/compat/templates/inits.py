"""Initializers Haiku draws from that jax.nn.initializers spells differently or lacks."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

Initializer = Callable[..., jax.Array]

# hk.Linear and hk.Conv* draw TruncatedNormal(stddev=1/sqrt(fan_in)) truncated at 2 stddev,
# with no variance correction; jax's variance_scaling divides by 0.8796..., so squaring that
# factor into the scale cancels the correction and gives Haiku's distribution.
HAIKU_LINEAR_INIT = jax.nn.initializers.variance_scaling(
    0.87962566103423978**2, "fan_in", "truncated_normal")


def shifted(init: Initializer, offset: float) -> Initializer:
    """Haiku's RandomNormal/TruncatedNormal take a `mean`; jax's normal/truncated_normal do not."""

    def draw(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
        return init(key, shape, dtype) + jnp.asarray(offset, dtype)

    return draw


def random_uniform(minval: float = 0.0, maxval: float = 1.0) -> Initializer:
    """hk.initializers.RandomUniform: jax.nn.initializers.uniform only draws from [0, scale)."""

    def draw(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, minval, maxval)

    return draw


def identity(gain: float = 1.0) -> Initializer:
    """hk.initializers.Identity: jax.nn.initializers has no identity-matrix initializer."""

    def draw(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
        del key
        if len(shape) < 2:
            raise ValueError("Identity initializer requires at least a 2D shape.")
        eye = jnp.broadcast_to(jnp.eye(shape[-2], shape[-1], dtype=dtype), tuple(shape))
        return jnp.asarray(gain, dtype) * eye

    return draw
