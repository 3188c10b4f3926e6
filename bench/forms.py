"""The training-step and inference forms compared: Haiku's, and each way NNX code can be compiled.

The NNX forms share one step body (nnx.Optimizer) or, for the pure-dict + optax form, the Haiku
loop's own body as the converter emits it (bench/emitted.py); so they differ in how state crosses
the jit boundary, which is the per-call cost measured. A form is built from a ready model (and an optax transformation) and returns
`step(x, y) -> loss` (or `predict(x) -> logits`), carrying its own state between calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import haiku as hk
import jax
import optax
from flax import nnx

from bench import emitted
from bench.models import ModelSpec

Step = Callable[[jax.Array, jax.Array], jax.Array]
Predict = Callable[[jax.Array], jax.Array]
EMITTED = "jax_jit_pure_optax"  # the form the converter emits; its rows carry the targets


def make_tx() -> optax.GradientTransformation:
    return optax.adam(1e-3)


def xent(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


# --- Haiku, the reference --------------------------------------------------------------------

def haiku_step(spec: ModelSpec, params: Any, state: Any, seed: int = 0) -> Step:
    """The usual Haiku loop: jax.jit over (params, state, opt_state[, key]). Only a model with
    dropout carries a key (split inside the step): a key argument costs dispatch time, and a
    Haiku user would not pass one to a model that draws nothing."""
    model, tx = hk.transform_with_state(spec.haiku), make_tx()

    def update(params, state, opt_state, key, x, y):
        def loss_fn(params):
            logits, new_state = model.apply(params, state, key, x, training=True)
            return xent(logits, y), new_state

        (loss, state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), state, opt_state, loss

    @jax.jit
    def step_with_key(params, state, opt_state, key, x, y):
        key, sub = jax.random.split(key)
        params, state, opt_state, loss = update(params, state, opt_state, sub, x, y)
        return params, state, opt_state, key, loss

    @jax.jit
    def step_without_key(params, state, opt_state, x, y):
        return update(params, state, opt_state, None, x, y)

    step = step_with_key if spec.dropout else step_without_key
    carry = (params, state, tx.init(params)) + ((jax.random.key(seed),) if spec.dropout else ())

    def run(x: jax.Array, y: jax.Array) -> jax.Array:
        nonlocal carry
        *rest, loss = step(*carry, x, y)
        carry = tuple(rest)
        return loss

    return run


def haiku_predict(spec: ModelSpec, params: Any, state: Any) -> Predict:
    model = hk.transform_with_state(spec.haiku)
    apply = jax.jit(lambda params, state, x: model.apply(params, state, None, x,
                                                         training=False)[0])
    return lambda x: apply(params, state, x)


# --- NNX step bodies -------------------------------------------------------------------------

def train_step(model: nnx.Module, optimizer: nnx.Optimizer, x: jax.Array,
               y: jax.Array) -> jax.Array:
    """Graph mode: nnx.value_and_grad differentiates the Params and leaves RNG keys alone."""

    def loss_fn(model):
        return xent(model(x), y)

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


def train_step_tree(model: nnx.Module, optimizer: nnx.Optimizer, x: jax.Array,
                    y: jax.Array) -> jax.Array:
    """Tree mode: a gradient over the whole model fails on the uint32 RNG key, so split the
    Params out first and carry the rest (RNG counters, BatchNorm statistics) as aux. The merge
    copies, because the RNG counter may only be bumped by Variables of the gradient's own trace."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss_fn(params):
        model = nnx.merge(graphdef, params, rest, copy=True)
        return xent(model(x), y), nnx.state(model, nnx.Not(nnx.Param))

    (loss, rest), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    nnx.update(model, rest)
    optimizer.update(model, grads)
    return loss


def predict(model: nnx.Module, x: jax.Array) -> jax.Array:
    return model(x)


# --- how the NNX step is compiled --------------------------------------------------------------

def _box(step: Callable, carry: Any) -> Callable:
    """Threads a functional step's carried state through calls: run(*args) -> last output."""

    def run(*args):
        nonlocal carry
        carry, out = step(carry, *args)
        return out

    return run


def _rebuilder(graphdef: Any, *states: nnx.State) -> Callable[..., Any]:
    """Inside jit: fresh Variables from abstract templates, filled from pure dicts, merged."""
    templates = [jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), s)
                 for s in states]

    def rebuild(*pures: dict) -> Any:
        fresh = [jax.tree.map(lambda a: a, t) for t in templates]
        for state, pure in zip(fresh, pures):
            nnx.replace_by_pure_dict(state, pure)
        return nnx.merge(graphdef, *fresh)

    return rebuild


def _optimizer(model: nnx.Module, tx: optax.GradientTransformation) -> nnx.Optimizer:
    return nnx.Optimizer(model, tx, wrt=nnx.Param)


def step_nnx_jit(model, tx) -> Step:
    step, optimizer = nnx.jit(train_step), _optimizer(model, tx)
    return lambda x, y: step(model, optimizer, x, y)


def step_nnx_jit_tree(model, tx) -> Step:
    step, optimizer = nnx.jit(train_step_tree, graph=False), _optimizer(model, tx)
    return lambda x, y: step(model, optimizer, x, y)


def step_cached_partial(model, tx) -> Step:
    return nnx.cached_partial(nnx.jit(train_step), model, _optimizer(model, tx))


def step_jit_partial(model, tx) -> Step:
    return nnx.jit_partial(train_step_tree, model, _optimizer(model, tx), graph=False)


def step_jax_jit_state(model, tx) -> Step:
    graphdef, state = nnx.split((model, _optimizer(model, tx)))

    @jax.jit
    def step(state, x, y):
        model, optimizer = nnx.merge(graphdef, state)
        loss = train_step(model, optimizer, x, y)
        return nnx.state((model, optimizer)), loss

    return _box(step, state)


def step_jax_jit_pure(model, tx) -> Step:
    graphdef, state = nnx.split((model, _optimizer(model, tx)))
    rebuild = _rebuilder(graphdef, state)

    @jax.jit
    def step(pure, x, y):
        model, optimizer = rebuild(pure)
        loss = train_step(model, optimizer, x, y)
        return nnx.to_pure_dict(nnx.state((model, optimizer))), loss

    return _box(step, nnx.to_pure_dict(state))


def step_jax_jit_pure_optax(model, tx) -> Step:
    """The Haiku loop's own shape, as `hk2nnx convert` writes it (bench/emitted.py runs the
    converter's output): params and the rest as pure dicts, optax state beside them, the model
    rebuilt inside the loss with `nnx.merge(graphdef, params, rest)`. No nnx.Optimizer: its step
    counter is one more scalar output, which costs XLA:CPU a fixed few tens of microseconds per
    step on scan models (measured: stack5 at width 32, +45%)."""
    return emitted.step(model, tx)


def predict_nnx_jit(model) -> Predict:
    fn = nnx.jit(predict)
    return lambda x: fn(model, x)


def predict_nnx_jit_tree(model) -> Predict:
    fn = nnx.jit(predict, graph=False)
    return lambda x: fn(model, x)


def predict_cached_partial(model) -> Predict:
    return nnx.cached_partial(nnx.jit(predict), model)


def predict_jit_partial(model) -> Predict:
    return nnx.jit_partial(predict, model, graph=False)


def predict_jax_jit_state(model) -> Predict:
    graphdef, state = nnx.split(model)
    fn = jax.jit(lambda state, x: nnx.merge(graphdef, state)(x))
    return lambda x: fn(state, x)


def predict_jax_jit_pure(model) -> Predict:
    graphdef, state = nnx.split(model)
    rebuild = _rebuilder(graphdef, state)
    fn = jax.jit(lambda pure, x: rebuild(pure)(x))
    pure = nnx.to_pure_dict(state)
    return lambda x: fn(pure, x)


# name -> (label, training-step builder, inference builder); the order is the table's order
FORMS: dict[str, tuple[str, Callable[..., Step], Callable[..., Predict]]] = {
    "nnx_jit": ("default @nnx.jit", step_nnx_jit, predict_nnx_jit),
    "nnx_jit_tree": ("nnx.jit(graph=False)", step_nnx_jit_tree, predict_nnx_jit_tree),
    "cached_partial": ("nnx.cached_partial", step_cached_partial, predict_cached_partial),
    "jit_partial": ("nnx.jit_partial(graph=False)", step_jit_partial, predict_jit_partial),
    "jax_jit_state": ("jax.jit over nnx.State", step_jax_jit_state, predict_jax_jit_state),
    "jax_jit_pure": ("jax.jit over pure dict + nnx.Optimizer", step_jax_jit_pure,
                     predict_jax_jit_pure),
    "jax_jit_pure_optax": ("jax.jit over pure dict + optax", step_jax_jit_pure_optax,
                           predict_jax_jit_pure),
}


def nnx_step(form: str, model: nnx.Module) -> Step:
    model.train()
    return FORMS[form][1](model, make_tx())


def nnx_predict(form: str, model: nnx.Module) -> Predict:
    model.eval()
    return FORMS[form][2](model)
