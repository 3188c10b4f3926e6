"""Haiku's MultiHeadAttention: (D, H*K) projections and any value_size; nnx's needs one qkv size."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from hk2nnx.compat.templates.inits import Initializer


class MultiHeadAttention(nnx.Module):
    """hk.MultiHeadAttention with its `query`, `key`, `value` and `linear` projections.

    nnx.MultiHeadAttention has one qkv_features for queries, keys and values and one input size
    for keys and values; Haiku allows value_size != key_size and different key/value inputs.
    `in_features`, `key_features` and `value_features` are the input sizes NNX needs eagerly.
    """

    def __init__(self, num_heads: int, key_size: int, w_init_scale: float | None = None, *,
                 w_init: Initializer | None = None, with_bias: bool = True,
                 b_init: Initializer | None = None, value_size: int | None = None,
                 model_size: int | None = None, in_features: int,
                 key_features: int | None = None, value_features: int | None = None,
                 dtype: Any = jnp.float32, rngs: nnx.Rngs):
        if w_init is not None and w_init_scale is not None:
            raise ValueError("Please provide only `w_init`, not `w_init_scale`.")
        if w_init is None and w_init_scale is None:
            raise ValueError("Please provide a weight initializer: `w_init`.")
        if w_init is None:
            w_init = jax.nn.initializers.variance_scaling(w_init_scale, "fan_in",
                                                          "truncated_normal")
        self.num_heads = num_heads
        self.key_size = key_size
        self.value_size = value_size or key_size
        self.model_size = model_size or key_size * num_heads
        key_features = key_features or in_features
        value_features = value_features or key_features

        def linear(features: int, size: int) -> nnx.Linear:
            return nnx.Linear(features, size, use_bias=with_bias, kernel_init=w_init,
                              bias_init=b_init or jax.nn.initializers.zeros,
                              param_dtype=dtype, rngs=rngs)

        self.query = linear(in_features, num_heads * key_size)
        self.key = linear(key_features, num_heads * key_size)
        self.value = linear(value_features, num_heads * self.value_size)
        self.linear = linear(num_heads * self.value_size, self.model_size)

    def __call__(self, query: jax.Array, key: jax.Array, value: jax.Array,
                 mask: jax.Array | None = None) -> jax.Array:
        *leading_dims, sequence_length, _ = query.shape
        query_heads = self._heads(self.query, query, self.key_size)
        key_heads = self._heads(self.key, key, self.key_size)
        value_heads = self._heads(self.value, value, self.value_size)
        attn_logits = jnp.einsum("...thd,...Thd->...htT", query_heads, key_heads)
        attn_logits = attn_logits / np.sqrt(self.key_size).astype(key.dtype)
        if mask is not None:
            if mask.ndim != attn_logits.ndim:
                raise ValueError(f"Mask dimensionality {mask.ndim} must match logits "
                                 f"dimensionality {attn_logits.ndim}.")
            attn_logits = jnp.where(mask, attn_logits, -1e30)
        attn_weights = jax.nn.softmax(attn_logits)
        attn = jnp.einsum("...htT,...Thd->...thd", attn_weights, value_heads)
        attn = jnp.reshape(attn, (*leading_dims, sequence_length, -1))
        return self.linear(attn)

    def _heads(self, projection: nnx.Linear, x: jax.Array, head_size: int) -> jax.Array:
        y = projection(x)
        return y.reshape((*x.shape[:-1], self.num_heads, head_size))
