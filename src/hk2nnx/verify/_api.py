"""verify(): runs a Haiku program and its NNX port on the same inputs and compares every leaf."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from hk2nnx.bridge import HaikuModule, materialize
from hk2nnx.bridge._haiku import ApplyEntry, haiku_functions
from hk2nnx.port.api import nnx_variables, port_to_haiku, port_to_nnx
from hk2nnx.port.plan import HaikuKey, Move
from hk2nnx.program.model import Program
from hk2nnx.trace.tracer import trace
from hk2nnx.verify import _sides
from hk2nnx.verify._compare import compare, compare_outputs, magnitude
from hk2nnx.verify._report import Row, VerifyReport

# Streams derived from `seed`, so each side and each purpose gets an independent key.
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
    notes: list[str] = dataclasses.field(default_factory=list)
    dropout: str = "none"

    def haiku(self, params: dict) -> tuple[Any, dict]:
        return self.entry.fn(params, self.state, self.rng, *self.args, **self.mode.haiku_kwargs)

    def nnx(self, model: nnx.Module) -> Any:
        return self.call(model)(*self.args, **self.mode.nnx_kwargs)


def verify(original: Any, converted: Any, *args: Any, method: int | str | tuple | None = None,
           train: bool = False, seed: int = 0, loss: Callable[[Any], jax.Array] | None = None,
           **kwargs: Any) -> VerifyReport:
    """Compares outputs, parameter gradients and state after one call, leaf by leaf.

    `original` is a function using Haiku modules or any hk.transform flavour (`method` picks a
    multi_transform apply by index or name; `(haiku_apply, nnx_method)` names both sides).
    `converted` is an nnx.Module, a zero-argument factory, or a factory taking `rngs`; the
    Haiku weights (initialised with `seed`) are ported into it in place. `args`/`kwargs` are
    arrays, static values, or TensorSpecs (seeded random inputs: normal floats, integers in
    [0, 4), fair booleans). A `training`/`is_training` keyword sets the mode, else `train`.
    Gradients are of `loss(output)`, by default a fixed random projection of every float
    output leaf. Raises PortError if the weights do not fit the NNX model.
    """
    with contextlib.ExitStack() as stack:
        run = _prepare(original, converted, args, kwargs, method, train, seed, stack)
        snapshot = nnx.clone(run.model)
        hk_out, hk_state = run.haiku(run.params)
        nnx_out = run.nnx(run.model)
        rows, notes = compare_outputs(hk_out, nnx_out)
        run.notes.extend(notes)
        rows += _grad_rows(run, snapshot, hk_out, nnx_out, loss, seed)
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
    params, state = functions.init(jax.random.fold_in(key, _INIT), *args, **init_kwargs)
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


def _grad_rows(run: _Run, snapshot: nnx.Module, hk_out: Any, nnx_out: Any,
               loss: Callable | None, seed: int) -> list[Row]:
    if not run.params:
        return []
    if loss is None:
        if not _same_shapes(hk_out, nnx_out):
            run.notes.append("outputs differ in structure or shape; gradients not compared")
            return []
        loss = _projection_loss(hk_out, jax.random.fold_in(jax.random.key(seed), _PROJECTION))
        if loss is None:
            run.notes.append("no float output to differentiate; gradients not compared")
            return []
    hk_grads = jax.grad(lambda p: loss(run.haiku(p)[0]))(run.params)
    nnx_grads = nnx.grad(lambda m: loss(run.nnx(m)))(nnx.clone(snapshot))
    holder = nnx.clone(snapshot)
    nnx.update(holder, nnx_grads)
    back, _ = port_to_haiku(holder, run.program)
    to_nnx, scale = run.labels[0], magnitude(hk_grads)
    return [compare("grad", f"{m}/{n}", to_nnx.get((m, n), "?"), g, back.get(m, {}).get(n),
                    scale) for m, leaves in hk_grads.items() for n, g in leaves.items()]


def _same_shapes(a: Any, b: Any) -> bool:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(x.shape == y.shape for x, y in zip(la, lb))


def _projection_loss(reference: Any, key: jax.Array) -> Callable | None:
    """sum_i <out_i, P_i> over float leaves, P_i fixed normal: sensitive to every element."""
    leaves = jax.tree.leaves(reference)
    projections = [jax.random.normal(jax.random.fold_in(key, i), x.shape, jnp.float32)
                   if jnp.issubdtype(x.dtype, jnp.floating) else None
                   for i, x in enumerate(leaves)]
    if all(p is None for p in projections):
        return None

    def projected(out: Any) -> jax.Array:
        total = jnp.zeros((), jnp.float32)
        with jax.numpy_rank_promotion("raise"), jax.numpy_dtype_promotion("strict"):
            for leaf, p in zip(jax.tree.leaves(out), projections):
                if p is not None:
                    total = total + jnp.sum(leaf.astype(jnp.float32) * p)
        return total

    return projected


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
