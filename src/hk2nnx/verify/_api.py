"""verify(): runs a Haiku program and its NNX port on the same inputs and compares every leaf."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from hk2nnx.bridge import HaikuModule, materialize
from hk2nnx.bridge._haiku import ApplyEntry, haiku_functions, run_init
from hk2nnx.port.api import nnx_variables, port_to_haiku, port_to_nnx
from hk2nnx.port.plan import HaikuKey, Move
from hk2nnx.program.model import Program
from hk2nnx.trace.abstract import split_static
from hk2nnx.trace.tracer import trace
from hk2nnx.verify import _sides
from hk2nnx.verify._compare import compare, compare_outputs, magnitude
from hk2nnx.verify._loss import Projection
from hk2nnx.verify._report import Row, VerifyReport

# Streams derived from `seed`, so each purpose gets an independent key.
_INIT, _INPUTS, _APPLY, _PROJECTION = range(4)


@dataclasses.dataclass
class _Run:
    """Everything both sides share for one verification."""

    program: Program
    entry: ApplyEntry
    model: nnx.Module
    call: Callable[[nnx.Module], Callable]
    args: tuple
    mode: _sides.Mode
    params: dict
    state: dict
    rng: jax.Array
    labels: tuple[dict[HaikuKey, str], dict[str, str]]
    jit: bool = True
    notes: list[str] = dataclasses.field(default_factory=list)
    dropout: str = "none"

    def _forward(self) -> tuple[Callable, tuple]:
        arrays, rebuild = split_static(self.args, self.mode.haiku_kwargs)

        def forward(params, state, rng, arrays):
            a, k = rebuild(arrays)
            return self.entry.fn(params, state, rng, *a, **k)

        return forward, (self.params, self.state, self.rng, arrays)

    def haiku_shapes(self) -> Any:
        forward, inputs = self._forward()
        return jax.eval_shape(forward, *inputs)[0]

    def haiku(self, loss: Callable | None) -> tuple[Any, dict, dict | None]:
        """Output, new state and (with `loss` and parameters) gradients, in one compiled call."""
        forward, inputs = self._forward()
        if loss is None or not self.params:
            return (*_maybe(jax.jit, self.jit)(forward)(*inputs), None)

        def objective(*inputs):
            out, state = forward(*inputs)
            return loss(out), (out, state)

        step = jax.value_and_grad(objective, has_aux=True)
        (_, (out, state)), grads = _maybe(jax.jit, self.jit)(step)(*inputs)
        return out, state, grads

    def nnx(self, loss: Callable | None) -> tuple[Any, nnx.State | None]:
        """Output and gradients w.r.t. nnx.Param; the model's state advances by one call."""
        arrays, rebuild = split_static(self.args, self.mode.nnx_kwargs)

        def objective(model, arrays):
            a, k = rebuild(arrays)
            out = self.call(model)(*a, **k)
            return (jnp.zeros((), jnp.float32) if loss is None else loss(out)), out

        if loss is None or not self.params:
            return _maybe(nnx.jit, self.jit)(objective)(self.model, arrays)[1], None
        step = nnx.value_and_grad(objective, has_aux=True)
        (_, out), grads = _maybe(nnx.jit, self.jit)(step)(self.model, arrays)
        return out, grads


def _maybe(transform: Callable, enabled: bool) -> Callable:
    return transform if enabled else (lambda f: f)


def verify(original: Any, converted: Any, *args: Any, method: int | str | tuple | None = None,
           train: bool = False, seed: int = 0, loss: Callable[[Any], jax.Array] | None = None,
           jit: bool = True, **kwargs: Any) -> VerifyReport:
    """Compares outputs, parameter gradients and state after one call, leaf by leaf.

    `original` is a function using Haiku modules or any hk.transform flavour (`method` picks a
    multi_transform apply by index or name; `(haiku_apply, nnx_method)` names both sides).
    `converted` is an nnx.Module, a zero-argument factory, or a factory taking `rngs`; the
    Haiku weights (initialised with `seed`, in training mode as Haiku requires) are ported into
    it in place. `args`/`kwargs` are arrays, static values, or TensorSpecs (seeded random
    inputs: normal floats, integers in [0, 4), fair booleans). A `training`/`is_training`
    keyword sets the mode, else `train`. Gradients are of `loss(output)`, by default a fixed
    random projection of every float output leaf. Both sides run compiled (`jax.jit` /
    `nnx.jit`) unless `jit=False`, under JAX's default promotion rules: Haiku itself breaks
    under strict dtype promotion (hk.dropout scales by a boolean mask). Silent broadcasting
    still cannot make a comparison pass: shapes and dtypes are compared exactly before values,
    and the default loss runs with rank promotion raising. The model is left holding the ported weights and its state
    after the compared call. Raises PortError if the weights do not fit the NNX model.
    """
    with contextlib.ExitStack() as stack:
        run = _prepare(original, converted, args, kwargs, method, train, seed, stack)
        run.jit = jit
        snapshot = nnx.clone(run.model)
        if loss is None:
            loss = Projection.for_outputs(run, jax.random.fold_in(jax.random.key(seed),
                                                                  _PROJECTION))
        differentiate = loss if getattr(loss, "differentiable", True) else None
        hk_out, hk_state, hk_grads = run.haiku(differentiate)
        nnx_out, nnx_grads = run.nnx(differentiate)
        rows, notes = compare_outputs(hk_out, nnx_out)
        run.notes.extend(notes)
        rows += _grad_rows(run, snapshot, hk_grads, nnx_grads, loss)
        rows += _state_rows(run, snapshot, hk_state)
    return VerifyReport(tuple(rows), "train" if run.mode.training else "eval",
                        tuple(run.notes), run.dropout)


def _prepare(original, converted, args, kwargs, method, train, seed, stack) -> _Run:
    key = jax.random.key(seed)
    args, kwargs = materialize(args, kwargs, jax.random.fold_in(key, _INPUTS))
    functions = haiku_functions(original, kwargs)
    entry = functions.select(_sides.haiku_selector(method))
    model = _sides.build_model(converted, seed)
    call = _sides.nnx_method(model, method)
    mode = _sides.resolve_mode(kwargs, train, entry.flag, call(model))
    init_kwargs = functions.init_kwargs(mode.haiku_kwargs)
    program = trace(original, *args, **init_kwargs)
    init_key = jax.random.fold_in(key, _INIT)
    params, state = run_init(functions, init_key, *_shifted(args, init_kwargs))
    port = port_to_nnx(params, state, model, program=program)
    _, nnx_view_state = port_to_haiku(model, program)
    _sides.set_mode(model, mode.training)
    run = _Run(program, entry, model, call, args, mode, params, nnx_view_state,
               jax.random.fold_in(key, _APPLY), _labels(port.moves))
    if mode.note:
        run.notes.append(mode.note)
    if port.residual:
        run.notes.append("Haiku EMA state restarted as NNX holds it (hidden = average, counter "
                         "saturated) so both sides update running averages alike")
    _plan_rng(run, stack)
    return run


def _shifted(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Float inputs moved (x / 2 + 1/4) for init only.

    Haiku starts some state from the first value it sees (an EMA's average is the init batch's
    statistic); initialised on the very inputs of the compared call, a running average would
    come out the same whatever the momentum, and a wrong momentum would pass.
    """
    def shift(x):
        if isinstance(x, (jax.Array, np.ndarray)) and jnp.issubdtype(x.dtype, jnp.floating):
            return (jnp.asarray(x) * 0.5 + 0.25).astype(x.dtype)
        return x

    return jax.tree.map(shift, (args, kwargs))


def _plan_rng(run: _Run, stack: contextlib.ExitStack) -> None:
    """Same keys for the bridge; otherwise dropout at rate 0 on both sides in train mode."""
    if isinstance(run.model, HaikuModule):
        run.rng = run.model.peek_rng_key()
        if run.mode.training and _sides.uses_dropout(run.program, run.model):
            run.dropout = "same keys"
            run.notes.append("dropout compared with the same RNG key on both sides (bridge)")
        return
    if run.mode.training and _sides.uses_dropout(run.program, run.model):
        n_nnx = stack.enter_context(_sides.nnx_dropout_off(run.model))
        stack.enter_context(_sides.haiku_dropout_off())
        run.dropout = "rate 0"
        run.notes.append(f"dropout keys cannot be matched between Haiku and NNX: compared at "
                         f"rate 0 (hk.dropout patched to identity, {n_nnx} nnx.Dropout set to 0)")
    others = _sides.rng_beyond_dropout(run.program)
    if others:
        run.notes.append(f"{', '.join(others)} draw RNG keys for more than dropout; NNX keys "
                         "differ from Haiku's, so those results may differ")


def _labels(moves: list[Move]) -> tuple[dict[HaikuKey, str], dict[str, str]]:
    """NNX label of each Haiku key, Haiku label of each NNX path, from the port's own moves."""
    to_nnx: dict[HaikuKey, str] = {}
    to_haiku: dict[str, str] = {}
    for move in moves:
        modules = {m for m, _ in move.haiku}
        if len(move.haiku) == 1:
            haiku = "/".join(move.haiku[0])
        elif len(modules) == 1:
            haiku = f"{modules.pop()}/{{{','.join(n for _, n in move.haiku)}}}"
        else:
            haiku = ", ".join("/".join(k) for k in move.haiku)
        to_nnx.update({k: ", ".join(move.nnx) for k in move.haiku})
        to_haiku.update({t: haiku for t in move.nnx})
    return to_nnx, to_haiku


def _grad_rows(run: _Run, snapshot: nnx.Module, hk_grads: dict | None,
               nnx_grads: nnx.State | None, loss: Callable) -> list[Row]:
    """Haiku gradients against NNX gradients mapped back to Haiku layout by the port."""
    if isinstance(loss, Projection) and not loss.differentiable:
        run.notes.append("no float output to differentiate; gradients not compared")
        return []
    if hk_grads is None or nnx_grads is None:
        return []
    if isinstance(loss, Projection) and loss.mismatched:
        run.notes.append("NNX outputs differ in structure or shape; gradients not compared")
        return []
    holder = nnx.clone(snapshot)
    nnx.update(holder, nnx_grads)
    back, _ = port_to_haiku(holder, run.program)
    to_nnx, scale = run.labels[0], magnitude(hk_grads)
    return [compare("grad", f"{m}/{n}", to_nnx.get((m, n), "?"), g, back.get(m, {}).get(n),
                    scale) for m, leaves in hk_grads.items() for n, g in leaves.items()]


def _state_rows(run: _Run, snapshot: nnx.Module, hk_state: dict) -> list[Row]:
    """Haiku's new state ported into a copy of the model, against the model after its call."""
    actual = {p: v for p, v in nnx_variables(run.model).items() if not isinstance(v, nnx.Param)}
    if not actual:
        return []
    holder = nnx.clone(snapshot)
    port_to_nnx(run.params, hk_state, holder, program=run.program)
    expected = nnx_variables(holder)
    to_haiku = run.labels[1]
    return [compare("state", to_haiku.get(path, "?"), path, expected[path].get_value(),
                    var.get_value()) for path, var in actual.items()]
