"""Haiku's Embed lookup: out-of-range ids clamp to the nearest row, where nnx.Embed gives NaN."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from hk2nnx.compat.templates.inits import Initializer


class Embed(nnx.Embed):
    """An nnx.Embed (same `embedding` leaf) whose lookup is hk.Embed's.

    nnx.Embed looks up with `jnp.take`, which fills out-of-range ids with NaN; Haiku indexes
    (`embeddings[ids]`), which wraps negative ids once and clamps the rest. ONE_HOT lookups give
    zero rows for out-of-range ids, as in Haiku. The default init is Haiku's TruncatedNormal(1).
    """

    def __init__(self, vocab_size: int | None = None, embed_dim: int | None = None,
                 embedding_matrix: Any = None, w_init: Initializer | None = None,
                 lookup_style: Any = "ARRAY_INDEX", precision: Any = jax.lax.Precision.HIGHEST,
                 *, dtype: Any = jnp.float32, rngs: nnx.Rngs):
        if embedding_matrix is not None:
            matrix = jnp.asarray(embedding_matrix)
            vocab_size, embed_dim = vocab_size or matrix.shape[0], embed_dim or matrix.shape[1]
            if (vocab_size, embed_dim) != matrix.shape:
                raise ValueError(f"embedding_matrix of shape {matrix.shape} does not match "
                                 f"vocab_size={vocab_size}, embed_dim={embed_dim}")
            w_init, dtype = (lambda key, shape, dtype: matrix), matrix.dtype
        if not (vocab_size and embed_dim):
            raise ValueError("Embed needs `embedding_matrix` or `vocab_size` and `embed_dim`.")
        super().__init__(vocab_size, embed_dim, param_dtype=dtype, rngs=rngs,
                         embedding_init=w_init or jax.nn.initializers.truncated_normal(1.0))
        self.lookup_style = lookup_style
        self.precision = precision

    def __call__(self, ids: jax.Array, lookup_style: Any = None,
                 precision: Any = None) -> jax.Array:
        ids = jnp.asarray(ids)
        if not jnp.issubdtype(ids.dtype, jnp.integer):
            raise ValueError(f"Embed takes integer ids, got {ids.dtype}")
        style = lookup_style or self.lookup_style
        style = getattr(style, "name", style).upper()
        embeddings = self.embedding[...]
        if style == "ARRAY_INDEX":
            return embeddings[(ids,)]
        if style == "ONE_HOT":
            one_hot = jax.nn.one_hot(ids, self.num_embeddings)
            precision = self.precision if precision is None else precision
            return jnp.dot(one_hot, embeddings, precision=precision)
        raise NotImplementedError(f"{style} is not supported by Embed.")
