"""Haiku's batched initial RNN state, shared by the compat recurrent cores."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def add_batch(state: Any, batch_size: int | None) -> Any:
    """hk's add_batch: every leaf broadcast to a leading batch axis (unchanged for None)."""
    if batch_size is None:
        return state
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (batch_size, *x.shape)), state)
