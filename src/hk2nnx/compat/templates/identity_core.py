"""Haiku's IdentityCore: an RNN core passing inputs through with an empty state."""

from __future__ import annotations

from typing import Any

from flax import nnx


class IdentityCore(nnx.Module):
    """hk.IdentityCore: `(inputs, state) -> (inputs, state)`, initial state `()`; NNX's RNN
    cells all hold weights, so none stands in for it."""

    def __call__(self, inputs: Any, state: Any) -> tuple[Any, Any]:
        return inputs, state

    def initial_state(self, batch_size: int | None) -> tuple[()]:
        del batch_size
        return ()
