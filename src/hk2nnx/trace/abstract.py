"""Abstract inputs: split arrays from static values, and describe pytrees by shape and dtype."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from hk2nnx.program.model import TensorSpec


def is_array_like(value: Any) -> bool:
    return isinstance(value, (TensorSpec, jax.ShapeDtypeStruct, jax.Array, np.ndarray))


def to_abstract(tree: Any) -> Any:
    """Every array-like leaf as a ShapeDtypeStruct, so eval_shape allocates nothing."""

    def convert(leaf):
        if isinstance(leaf, TensorSpec):
            return jax.ShapeDtypeStruct(leaf.shape, jax.numpy.dtype(leaf.dtype))
        return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype)

    return jax.tree.map(convert, tree, is_leaf=lambda x: isinstance(x, TensorSpec))


def split_static(args: tuple, kwargs: dict) -> tuple[list, Callable[[list], tuple[tuple, dict]]]:
    """Separates array leaves (traced) from everything else (kept static, e.g. training=False)."""
    leaves, treedef = jax.tree.flatten((args, kwargs), is_leaf=lambda x: isinstance(x, TensorSpec))
    slots = [i for i, leaf in enumerate(leaves) if is_array_like(leaf)]
    arrays = [leaves[i] for i in slots]

    def rebuild(new_arrays: list) -> tuple[tuple, dict]:
        merged = list(leaves)
        for i, value in zip(slots, new_arrays):
            merged[i] = value
        a, k = jax.tree.unflatten(treedef, merged)
        return tuple(a), dict(k)

    return arrays, rebuild


def describe(tree: Any) -> tuple[str, ...]:
    """Each leaf as `f32[8,3]` (arrays) or its repr (static values)."""
    out = []
    for leaf in jax.tree.leaves(tree, is_leaf=lambda x: isinstance(x, TensorSpec)):
        if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
            try:
                out.append(str(TensorSpec.of(leaf)))
                continue
            except TypeError:  # e.g. PRNG key dtypes
                out.append(f"{leaf.dtype}[{','.join(map(str, leaf.shape))}]")
                continue
        out.append(repr(leaf)[:80])
    return tuple(out)
