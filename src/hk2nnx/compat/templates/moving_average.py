"""Haiku's zero-debiased ExponentialMovingAverage, with its step counter: NNX has no such EMA."""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import nnx


class ExponentialMovingAverage(nnx.Module):
    """hk.ExponentialMovingAverage, its state (counter, hidden, average) created eagerly.

    Haiku divides the running value by (1 - decay**counter) so early averages are not pulled
    towards the zero they start from; a plain momentum update (nnx.BatchNorm) is.
    """

    def __init__(self, decay: float, zero_debias: bool = True, warmup_length: int = 0, *,
                 shape: Sequence[int] = (), dtype: Any = jnp.float32):
        if warmup_length < 0:
            raise ValueError(f"`warmup_length` is {warmup_length}, but should be non-negative.")
        if warmup_length and zero_debias:
            raise ValueError("Zero debiasing does not make sense when warming up the value of "
                             "the average; set zero_debias=False with a warmup_length.")
        self.decay = decay
        self.zero_debias = zero_debias
        self.warmup_length = warmup_length
        self.counter = nnx.BatchStat(jnp.full((), -warmup_length, jnp.int32))
        self.hidden = nnx.BatchStat(jnp.zeros(tuple(shape), dtype))
        self.average = nnx.BatchStat(jnp.zeros(tuple(shape), dtype))

    def __call__(self, value: jax.Array, update_stats: bool = True) -> jax.Array:
        """The new average; the state moves only with `update_stats`, as in Haiku."""
        value = jnp.asarray(value)
        counter = self.counter[...] + 1
        decay = jax.lax.convert_element_type(self.decay, value.dtype)
        if self.warmup_length > 0:
            decay = jax.lax.select(counter <= 0, jnp.zeros_like(decay), decay)
        one = jnp.ones([], value.dtype)
        hidden = self.hidden[...] * decay + value * (one - decay)
        average = hidden
        if self.zero_debias:
            average = average / (one - jnp.power(decay, counter))
        if update_stats:
            self.counter[...] = counter
            self.hidden[...] = hidden
            self.average[...] = average
        return average
