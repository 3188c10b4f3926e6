"""The default scalar for gradients: a fixed random projection of every float output element."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


class Projection:
    """loss(out) = sum_i <out_i, P_i> over float output leaves, each P_i fixed standard normal.

    Unlike a plain sum, no element can cancel out or be ignored: every output element reaches
    every gradient with its own weight. Shapes are checked when traced, without broadcasting;
    a mismatch sets `mismatched` and contributes zero, so gradients are then not compared.
    """

    def __init__(self, reference: Any, key: jax.Array):
        leaves = jax.tree.leaves(reference)
        self.shapes = [tuple(x.shape) for x in leaves]
        self.projections = [
            jax.random.normal(jax.random.fold_in(key, i), x.shape, jnp.float32)
            if jnp.issubdtype(x.dtype, jnp.floating) else None
            for i, x in enumerate(leaves)
        ]
        self.mismatched = False

    @classmethod
    def for_outputs(cls, run: Any, key: jax.Array) -> Projection:
        """Built from the abstract shapes of the Haiku output (nothing is computed)."""
        return cls(run.haiku_shapes(), key)

    @property
    def differentiable(self) -> bool:
        return any(p is not None for p in self.projections)

    def __call__(self, out: Any) -> jax.Array:
        leaves = jax.tree.leaves(out)
        if [tuple(x.shape) for x in leaves] != self.shapes:
            self.mismatched = True
            return jnp.zeros((), jnp.float32)
        total = jnp.zeros((), jnp.float32)
        with jax.numpy_rank_promotion("raise"), jax.numpy_dtype_promotion("strict"):
            for leaf, p in zip(leaves, self.projections):
                if p is not None:
                    total = total + jnp.sum(leaf.astype(jnp.float32) * p)
        return total
