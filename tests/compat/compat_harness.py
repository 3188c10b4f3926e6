"""Runs a Haiku program and its faithful NNX port side by side: verify, then N SGD steps.

Faithful mode (`targets(FAITHFUL)`) routes trace, port and verify through the compat targets
of the layer table. `train_both` ports Haiku's initial weights into the NNX model, takes the
same plain SGD steps on both sides with the same inputs, and returns every mismatch: outputs
at each step, then all parameters and state (mapped back to Haiku's layout by the port).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import hk2nnx
from hk2nnx.mappings.layers import FAITHFUL, targets
from hk2nnx.program.model import TensorSpec

RTOL, ATOL_FACTOR = 1e-5, 1e-6  # f32, as hk2nnx.verify compares


@dataclasses.dataclass(frozen=True)
class Case:
    """A Haiku forward function and the NNX model that should compute it exactly."""

    id: str
    group: str  # test file that runs it (test_compat_<group>.py), so each file stays short
    forward: Callable[..., Any]
    model: Callable[[nnx.Rngs], nnx.Module]
    specs: tuple[str, ...]  # TensorSpec texts, e.g. "f32[2,3]"
    int_range: tuple[int, int] = (0, 4)

    @property
    def tensor_specs(self) -> tuple[TensorSpec, ...]:
        return tuple(TensorSpec.parse(s) for s in self.specs)

    @property
    def takes_flag(self) -> bool:
        return "is_training" in inspect.signature(self.forward).parameters

    def inputs(self, seed: int) -> tuple[np.ndarray, ...]:
        rng = np.random.default_rng(seed)
        out = []
        for spec in self.tensor_specs:
            dtype = np.dtype(spec.dtype)
            if dtype == np.bool_:
                out.append(rng.random(spec.shape) < 0.7)
            elif np.issubdtype(dtype, np.integer):
                out.append(rng.integers(*self.int_range, spec.shape).astype(dtype))
            else:
                out.append(rng.standard_normal(spec.shape).astype(dtype))
        return tuple(out)


def faithful_verify(case: Case, *, train: bool = True) -> hk2nnx.VerifyReport:
    with targets(FAITHFUL):
        return hk2nnx.verify(case.forward, case.model, *case.inputs(0), train=train)


def close(expected: Any, actual: Any) -> bool:
    """hk2nnx.verify's rule: same shape and dtype, |a - e| <= rtol |e| + atol (atol ~ max|e|)."""
    e, a = np.asarray(expected), np.asarray(actual)
    if e.shape != a.shape or e.dtype != a.dtype:
        return False
    if not np.issubdtype(e.dtype, np.inexact):
        return bool(np.array_equal(e, a))
    atol = ATOL_FACTOR * float(np.max(np.abs(e), initial=0.0))
    return bool(np.all(np.abs(a - e) <= atol + RTOL * np.abs(e)))


def _projection(outputs: Any) -> Callable[[Any], jax.Array]:
    """A fixed random linear loss over every float output leaf."""
    leaves = jax.tree.leaves(outputs)
    keys = jax.random.split(jax.random.key(7), max(len(leaves), 1))
    weights = [jax.random.normal(k, jnp.shape(x)) if jnp.issubdtype(x.dtype, jnp.floating)
               else None for k, x in zip(keys, leaves)]

    def loss(out: Any) -> jax.Array:
        return sum((jnp.sum(x * w) for x, w in zip(jax.tree.leaves(out), weights)
                    if w is not None), jnp.zeros((), jnp.float32))

    return loss


def _sgd(params: Any, grads: Any, lr: float) -> Any:
    return jax.tree.map(lambda p, g: p - lr * g, params, grads)


def _haiku_step(case: Case, flags: dict, loss: Callable, lr: float) -> Callable:
    apply = hk.transform_with_state(case.forward).apply

    def step(params, state, inputs):
        def objective(p):
            out, new_state = apply(p, state, None, *inputs, **flags)
            return loss(out), (out, new_state)

        (_, (out, new_state)), grads = jax.value_and_grad(objective, has_aux=True)(params)
        return _sgd(params, grads, lr), new_state, out

    return jax.jit(step)


def _nnx_step(loss: Callable, lr: float) -> Callable:
    def step(model, inputs):
        def objective(m):
            out = m(*inputs)
            return loss(out), out

        (_, out), grads = nnx.value_and_grad(objective, has_aux=True)(model)
        nnx.update(model, _sgd(nnx.state(model, nnx.Param), grads, lr))
        return out

    return nnx.jit(step)


def train_both(case: Case, *, steps: int = 3, lr: float = 0.1) -> list[str]:
    """Mismatches after `steps` SGD steps from the same start (empty when faithful)."""
    flags = {"is_training": True} if case.takes_flag else {}
    with targets(FAITHFUL):
        program = hk2nnx.trace(case.forward, *case.tensor_specs, **flags)
        transformed = hk.transform_with_state(case.forward)
        params, state = transformed.init(jax.random.key(0), *case.inputs(0), **flags)
        model = case.model(nnx.Rngs(1))
        hk2nnx.port_to_nnx(params, state, model, program=program)
        model.train()
        loss = _projection(jax.eval_shape(lambda: transformed.apply(
            params, state, None, *case.inputs(0), **flags)[0]))
        hk_step, nnx_step = _haiku_step(case, flags, loss, lr), _nnx_step(loss, lr)
        faults = []
        for i in range(steps):
            inputs = case.inputs(i + 1)
            params, state, hk_out = hk_step(params, state, inputs)
            nnx_out = nnx_step(model, inputs)
            faults += _compare(f"step {i} output", hk_out, nnx_out)
        back_params, back_state = hk2nnx.port_to_haiku(model, program)
        if flags:
            faults += _compare_eval(case, model, params, state, case.inputs(steps + 1))
    faults += _compare("params", params, back_params)
    faults += _compare("state", state, back_state)
    return faults


def _compare_eval(case: Case, model: nnx.Module, params: Any, state: Any,
                  inputs: tuple) -> list[str]:
    """After training, an eval-mode call (running averages, no updates) must agree too."""
    apply = hk.transform_with_state(case.forward).apply
    expected, _ = jax.jit(lambda p, s, x: apply(p, s, None, *x, is_training=False))(
        params, state, inputs)
    model.eval()
    return _compare("eval output", expected, model(*inputs))


def _compare(label: str, expected: Any, actual: Any) -> list[str]:
    e_leaves, e_tree = jax.tree.flatten_with_path(expected)
    a_leaves, a_tree = jax.tree.flatten_with_path(actual)
    if len(e_leaves) != len(a_leaves):
        return [f"{label}: {len(e_leaves)} Haiku leaves, {len(a_leaves)} NNX leaves"]
    faults = []
    for (path, e), (_, a) in zip(e_leaves, a_leaves):
        if not close(e, a):
            diff = (np.max(np.abs(np.asarray(a, float) - np.asarray(e, float)))
                    if np.shape(a) == np.shape(e) else "shape")
            faults.append(f"{label} {jax.tree_util.keystr(path)}: max abs diff {diff}")
    return faults

