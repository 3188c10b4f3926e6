"""Measurements of how idiomatic NNX recurrent and normalisation layers drift from Haiku."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from hk2nnx.compat._measure_layers import haiku_init_apply, max_abs, normal, ported

_DECAY, _LR = 0.9, 0.1


def _bn_forward(x: Any, is_training: bool) -> Any:
    return hk.BatchNorm(True, True, _DECAY)(x, is_training)


def _haiku_bn_steps(params: dict, state: dict, steps: range) -> dict:
    apply = hk.transform_with_state(_bn_forward).apply
    for i in steps:
        _, state = apply(params, state, None, normal((8, 4), loc=2.0, scale=3.0, seed=i), True)
    return state


def _bn_eval_gap(start: int, steps: int) -> float:
    """Haiku trains `start` steps, the state is ported to nnx.BatchNorm, both train `steps`."""
    x0 = normal((8, 4), loc=2.0, scale=3.0)
    _, params, state = haiku_init_apply(_bn_forward, x0, True)
    state = _haiku_bn_steps(params, state, range(100, 100 + start))
    model = nnx.BatchNorm(4, momentum=_DECAY, epsilon=1e-5, rngs=nnx.Rngs(0))
    if start:
        ported(_bn_forward, model, params, state, x0, True)
    state = _haiku_bn_steps(params, state, range(steps))
    model.train()
    for i in range(steps):
        model(jnp.asarray(normal((8, 4), loc=2.0, scale=3.0, seed=i)))
    model.eval()
    probe = normal((8, 4), loc=2.0, scale=3.0, seed=99)
    expected, _ = hk.transform_with_state(_bn_forward).apply(params, state, None, probe, False)
    return max_abs(expected, model(jnp.asarray(probe)))


def batch_norm_from_scratch() -> float:
    """Eval outputs after 3 training steps from initialisation (NNX: no zero-debiasing)."""
    return _bn_eval_gap(0, 3)


def batch_norm_after_port() -> float:
    """Ported after 5 Haiku steps (debias factor 0.41), then 3 more steps on each side."""
    return _bn_eval_gap(5, 3)


def _lstm_forward(x: Any, h: Any, c: Any) -> Any:
    out, state = hk.LSTM(4)(x, hk.LSTMState(h, c))
    return out, state.cell


def lstm_without_forget_shift() -> float:
    """nnx.LSTMCell with Haiku's gates ported but no +1 on the forget bias."""
    inputs = normal((2, 3), seed=1), normal((2, 4), seed=2), normal((2, 4), seed=3)
    (expected, _), params, state = haiku_init_apply(_lstm_forward, *inputs)
    model = ported(_lstm_forward, nnx.LSTMCell(3, 4, rngs=nnx.Rngs(0)), params, state, *inputs)
    _, out = model((jnp.asarray(inputs[2]), jnp.asarray(inputs[1])), jnp.asarray(inputs[0]))
    return max_abs(expected, out)


def _gru_cell_from_haiku(params: dict) -> nnx.GRUCell:
    """Best mapping: gates (z, r, a) -> (r, z, n), z negated (NNX's z keeps the old state)."""
    leaves = next(iter(params.values()))
    cell = nnx.GRUCell(3, 4, rngs=nnx.Rngs(0))

    def reorder(w: np.ndarray) -> np.ndarray:
        z, r, a = np.split(np.asarray(w), 3, axis=-1)
        return np.concatenate([r, -z, a], axis=-1)

    cell.dense_i.kernel[...] = jnp.asarray(reorder(leaves["w_i"]))
    cell.dense_h.kernel[...] = jnp.asarray(reorder(leaves["w_h"]))
    cell.dense_i.bias[...] = jnp.asarray(reorder(leaves["b"]))
    return cell


def gru_reset_placement() -> float:
    """nnx.GRUCell under the best weight mapping: only the reset gate's placement differs."""
    x, h = normal((2, 3), seed=1), normal((2, 4), seed=2)
    forward = lambda x, h: hk.GRU(4, b_init=hk.initializers.RandomNormal())(x, h)  # noqa: E731
    (expected, _), params, _ = haiku_init_apply(forward, x, h)
    new_h, _ = _gru_cell_from_haiku(params)(jnp.asarray(h), jnp.asarray(x))
    return max_abs(expected, new_h)


def _sgd_steps(loss: Callable[[Any], jax.Array], params: Any, steps: int) -> Any:
    for _ in range(steps):
        params = jax.tree.map(lambda p, g: p - _LR * g, params, jax.grad(loss)(params))
    return params


def vanilla_rnn_double_bias() -> float:
    """nnx.SimpleCell (one summed bias) after 3 SGD steps beside hk.VanillaRNN (two biases)."""
    x, h = normal((2, 3), seed=1), normal((2, 4), seed=2)
    forward = lambda x, h: hk.VanillaRNN(4)(x, h)[0]  # noqa: E731
    apply = hk.transform_with_state(forward).apply
    _, params, state = haiku_init_apply(forward, x, h)
    cell = ported(forward, nnx.SimpleCell(3, 4, activation_fn=jax.nn.relu, rngs=nnx.Rngs(0)),
                  params, state, x, h)
    probe = normal((2, 4), seed=5)  # a loss whose descent does not just silence the relus
    params = _sgd_steps(lambda p: jnp.sum(apply(p, state, None, x, h)[0] * probe), params, 3)
    graphdef, cell_params = nnx.split(cell)
    cell_params = _sgd_steps(
        lambda p: jnp.sum(nnx.merge(graphdef, p)(jnp.asarray(h), jnp.asarray(x))[1] * probe),
        cell_params, 3)
    _, out = nnx.merge(graphdef, cell_params)(jnp.asarray(h), jnp.asarray(x))
    return max_abs(apply(params, state, None, x, h)[0], out)
