"""Haiku's dynamic_unroll/static_unroll over an NNX core: Flax has no function with that contract."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import nnx


def swap_batch_time(tree: Any) -> Any:
    """Batch-major <-> time-major: the first two axes of every leaf trade places."""
    return jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), tree)


def _pure(core: Callable[..., Any]) -> Callable[..., Any]:
    """`core` as a function of (inputs, state) that jax.lax.scan may trace: an NNX module is
    split once and merged inside the step, so its variables enter the loop as plain arrays."""
    if not isinstance(core, nnx.Module):
        return core
    graphdef, variables = nnx.split(core)
    return lambda inputs, state: nnx.merge(graphdef, variables)(inputs, state)


def dynamic_unroll(core: Callable[..., Any], input_sequence: Any, initial_state: Any,
                   time_major: bool = True, reverse: bool = False,
                   return_all_states: bool = False, unroll: int = 1) -> tuple[Any, Any]:
    """hk.dynamic_unroll: `core` scanned over the leading (time) axis, outputs stacked.

    Returns (outputs, final_state), or (outputs, every state) with `return_all_states`.
    """
    step_fn = _pure(core)
    if not time_major:
        input_sequence = swap_batch_time(input_sequence)

    def step(state, inputs):
        outputs, next_state = step_fn(inputs, state)
        return next_state, ((outputs, next_state) if return_all_states else outputs)

    final_state, outputs = jax.lax.scan(step, initial_state, input_sequence, reverse=reverse,
                                        unroll=unroll)
    if return_all_states:
        outputs, final_state = outputs
    if not time_major:
        outputs = swap_batch_time(outputs)
    return outputs, final_state


def static_unroll(core: Callable[..., Any], input_sequence: Any, initial_state: Any,
                  time_major: bool = True) -> tuple[Any, Any]:
    """hk.static_unroll: the same contract as `dynamic_unroll`, as a Python loop over time."""
    if not time_major:
        input_sequence = swap_batch_time(input_sequence)
    length = jax.tree.leaves(input_sequence)[0].shape[0]
    state, outputs = initial_state, []
    for t in range(length):
        output, state = core(jax.tree.map(lambda x, t=t: x[t], input_sequence), state)
        outputs.append(output)
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *outputs)
    if not time_major:
        stacked = swap_batch_time(stacked)
    return stacked, state
