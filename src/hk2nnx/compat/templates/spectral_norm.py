"""Haiku's SpectralNorm of a value (power iteration state u0, sigma); nnx's wraps a whole layer."""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import nnx


def l2_normalize(x: jax.Array, axis: int | None = None, eps: float = 1e-12) -> jax.Array:
    """Haiku's normaliser: rsqrt of the sum of squares plus eps (not max(norm, eps))."""
    return x * jax.lax.rsqrt((x * x).sum(axis=axis, keepdims=True) + eps)


class SpectralNorm(nnx.Module):
    """hk.SpectralNorm: divides a value by its largest singular value, estimated across calls.

    `shape` is the shape of the value it will normalise (NNX creates u0 eagerly). u0 is drawn
    from a standard normal like Haiku's, from the `params` stream.
    """

    def __init__(self, eps: float = 1e-4, n_steps: int = 1, *, shape: Sequence[int],
                 dtype: Any = jnp.float32, rngs: nnx.Rngs):
        self.eps = eps
        self.n_steps = n_steps
        self.u0 = nnx.BatchStat(jax.random.normal(rngs.params(), (1, shape[-1]), dtype))
        self.sigma = nnx.BatchStat(jnp.ones((), dtype))

    def __call__(self, value: jax.Array, update_stats: bool = True,
                 error_on_non_matrix: bool = False) -> jax.Array:
        value = jnp.asarray(value)
        value_shape = value.shape
        if value.ndim <= 1:
            raise ValueError("Spectral normalization is not well defined for scalar or vector "
                             "inputs.")
        if value.ndim > 2:
            if error_on_non_matrix:
                raise ValueError(f"Input is {value.ndim}D but error_on_non_matrix is True")
            value = jnp.reshape(value, [-1, value.shape[-1]])
        u0 = self.u0[...]
        v0 = u0
        for _ in range(self.n_steps):
            v0 = l2_normalize(jnp.matmul(u0, value.transpose([1, 0])), eps=self.eps)
            u0 = l2_normalize(jnp.matmul(v0, value), eps=self.eps)
        u0 = jax.lax.stop_gradient(u0)
        v0 = jax.lax.stop_gradient(v0)
        sigma = jnp.matmul(jnp.matmul(v0, value), jnp.transpose(u0))[0, 0]
        value_bar = (value / sigma).reshape(value_shape)
        if update_stats:
            self.u0[...] = u0
            self.sigma[...] = sigma
        return value_bar
