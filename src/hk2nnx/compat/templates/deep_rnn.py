"""Haiku's DeepRNN and ResetCore: wrappers around cores the enclosing module holds.

Haiku names the wrapped cores after the module that builds them (`model/lstm`, not
`model/deep_rnn/lstm`), so the converted module keeps them as its own attributes and builds these
wrappers where Haiku did, around them; the wrappers hold no weights and are not graph nodes.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def _is_core(layer: Any) -> bool:
    """A recurrent core (called with a state) rather than a plain function of its input."""
    return callable(getattr(layer, "initial_state", None))


class DeepRNN:
    """hk.DeepRNN: cores and functions in order; the state holds one entry per core."""

    def __init__(self, layers: list[Any] | tuple[Any, ...], name: str | None = None, *,
                 skip_connections: bool = False):
        del name  # Haiku's module name; the layers carry the checkpoint names
        self.layers = list(layers)
        self.skip_connections = skip_connections
        if skip_connections and not all(_is_core(layer) for layer in self.layers):
            raise ValueError(f"skip_connections needs every layer to be a core: {layers}")

    def __call__(self, inputs: Any, state: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
        states = iter(state)
        current, outputs, new_states = inputs, [], []
        for index, layer in enumerate(self.layers):
            if self.skip_connections and index:
                current = jax.tree.map(_joined, inputs, current)
            if _is_core(layer):
                current, layer_state = layer(current, next(states))
                outputs.append(current)
                new_states.append(layer_state)
            else:
                current = layer(current)
        if self.skip_connections:
            current = jax.tree.map(_joined, *outputs)
        return current, tuple(new_states)

    def initial_state(self, batch_size: int | None) -> tuple[Any, ...]:
        return tuple(layer.initial_state(batch_size) for layer in self.layers if _is_core(layer))


def _joined(*parts: jax.Array) -> jax.Array:
    return jnp.concatenate(parts, axis=-1)


def deep_rnn_with_skip_connections(layers: list[Any] | tuple[Any, ...],
                                   name: str | None = None) -> DeepRNN:
    """hk.deep_rnn_with_skip_connections: core i > 0 reads the inputs joined to core i-1's
    output; the output joins every core's."""
    return DeepRNN(layers, name, skip_connections=True)


class ResetCore:
    """hk.ResetCore: called with `(inputs, should_reset)`; where a reset is asked for, the core
    starts from its initial state again (per batch entry, or per state leaf given a tree)."""

    def __init__(self, core: Any, name: str | None = None):
        del name
        self.core = core

    def __call__(self, inputs: tuple[Any, Any], state: Any) -> tuple[Any, Any]:
        inputs, should_reset = inputs
        inputs = jax.tree.map(jnp.asarray, inputs)
        state = jax.tree.map(jnp.asarray, state)
        should_reset = jax.tree.map(jnp.asarray, should_reset)
        if jax.tree_util.treedef_is_leaf(jax.tree.structure(should_reset)):
            should_reset = jax.tree.map(lambda _: should_reset, state)
        batch = jax.tree.leaves(inputs)[0].shape[0] if self._batched(state) else None
        fresh = jax.tree.map(lambda s, f: f.astype(s.dtype), state, self.initial_state(batch))

        def pick(reset: jax.Array, start: jax.Array, current: jax.Array) -> jax.Array:
            if reset.shape != current.shape[:reset.ndim]:
                raise ValueError(f"should_reset {reset.shape} is no prefix of the state "
                                 f"{current.shape}")
            reset = reset.reshape(reset.shape + (1,) * (current.ndim - reset.ndim))
            return jnp.where(reset, start, current)

        state = jax.tree.map(pick, should_reset, fresh, state)
        return self.core(inputs, state)

    def initial_state(self, batch_size: int | None) -> Any:
        return self.core.initial_state(batch_size)

    def _batched(self, state: Any) -> bool:
        leaves = jax.tree.leaves(state)
        if not leaves:
            return False
        one = jax.tree.leaves(self.initial_state(1))
        return all(a.shape[1:] == b.shape[1:] for a, b in zip(one, leaves))
