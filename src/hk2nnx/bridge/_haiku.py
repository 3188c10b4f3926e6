"""Puts every kind of Haiku program behind one stateful interface: init, named applies, flags."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from hk2nnx.program.model import TensorSpec
from hk2nnx.trace.abstract import split_static

TRAINING_FLAGS = ("is_training", "training")
# Integer inputs are drawn from [0, INT_HIGH): safe as indices into any table of 4+ rows.
INT_HIGH = 4

InitFn = Callable[..., tuple[dict, dict]]
ApplyFn = Callable[..., tuple[Any, dict]]


@dataclasses.dataclass(frozen=True)
class ApplyEntry:
    """One apply function with state threaded through, and where it takes a training flag."""

    name: str
    fn: ApplyFn = dataclasses.field(compare=False)
    flag: str | None = None  # "is_training" or "training" if the function takes one
    flag_position: int | None = None  # its index among positional arguments, if positional

    def flag_missing(self, args: tuple, kwargs: Mapping) -> bool:
        """True when the caller left the training flag for us to fill."""
        if self.flag is None or self.flag in kwargs:
            return False
        return self.flag_position is None or len(args) <= self.flag_position


@dataclasses.dataclass(frozen=True)
class HaikuFunctions:
    """init(rng, *a, **k) -> (params, state) and each apply(params, state, rng, *a, **k)."""

    init: InitFn = dataclasses.field(compare=False)
    applies: tuple[ApplyEntry, ...]
    init_flag: str | None = None

    def init_kwargs(self, kwargs: Mapping) -> dict:
        """Keyword arguments for init: the training flag forced to True.

        Haiku creates some state only on the training path (BatchNorm's moving averages have
        no initializer), so Haiku programs are initialised in training mode.
        """
        out = dict(kwargs)
        for flag in TRAINING_FLAGS:
            if flag in out:
                out[flag] = True
        if self.init_flag is not None and not any(f in out for f in TRAINING_FLAGS):
            out[self.init_flag] = True
        return out

    def select(self, method: int | str | None) -> ApplyEntry:
        """The apply chosen by name (a dict key, `apply[1]`), index (`1`, `"1"`), or the first."""
        if method is None:
            return self.applies[0]
        named = {e.name: e for e in self.applies}
        if isinstance(method, str) and method in named:
            return named[method]
        index = method
        if isinstance(method, str):  # "apply[1]" for any apply tree, "1" from a command line
            match = re.fullmatch(r"(?:apply\[)?(\d+)\]?", method)
            index = int(match.group(1)) if match else None
        if isinstance(index, int) and not isinstance(index, bool):
            if -len(self.applies) <= index < len(self.applies):
                return self.applies[index]
        raise ValueError(f"no apply method {method!r}; this program has: {', '.join(named)}")


def haiku_functions(original: Any, sample_kwargs: Mapping | None = None) -> HaikuFunctions:
    """Normalizes a function using Haiku modules or any hk.transform flavour.

    `hk.without_apply_rng` results are recognised by their signatures (no `rng` slot).
    """
    sample = dict(sample_kwargs or {})
    if isinstance(original, (hk.MultiTransformed, hk.MultiTransformedWithState)):
        return _multi(original, sample)
    if isinstance(original, (hk.Transformed, hk.TransformedWithState)):
        with_state = isinstance(original, hk.TransformedWithState)
        transformed = original
    elif callable(original):
        with_state, transformed = True, hk.transform_with_state(original)
    else:
        raise TypeError(f"expected a function using Haiku modules or an hk.transform result, "
                        f"got {type(original).__name__}")
    entry = _entry("__call__", transformed.apply, with_state, sample)
    init = transformed.init if with_state else _init_with_state(transformed.init)
    return HaikuFunctions(init, (entry,), entry.flag)


def _multi(original: Any, sample: dict) -> HaikuFunctions:
    with_state = isinstance(original, hk.MultiTransformedWithState)
    if isinstance(original.apply, Mapping):
        named = [(str(k), f) for k, f in original.apply.items()]
    else:
        named = [(f"apply[{i}]", f) for i, f in enumerate(jax.tree.leaves(original.apply))]
    entries = tuple(_entry(name, fn, with_state, sample) for name, fn in named)
    init = original.init if with_state else _init_with_state(original.init)
    init_flag = _flag(_parameters(original.init)[1:], sample)[0]
    return HaikuFunctions(init, entries, init_flag)


def _init_with_state(init: Callable) -> InitFn:
    def stateful(rng, *args, **kwargs):
        return init(rng, *args, **kwargs), {}

    return stateful


def _stateful(apply: Callable, with_state: bool, takes_rng: bool) -> ApplyFn:
    """apply(params, state, rng, *a, **k) -> (out, state) whatever the transform flavour."""

    def stateful(params, state, rng, *args, **kwargs):
        head = (params, state) if with_state else (params,)
        out = apply(*head, *((rng,) if takes_rng else ()), *args, **kwargs)
        return out if with_state else (out, state)

    return stateful


def _parameters(fn: Callable) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []


def _entry(name: str, apply: Callable, with_state: bool, sample: dict) -> ApplyEntry:
    """Reads the rng slot and the training flag off the apply signature (or the sample)."""
    params = _parameters(apply)
    lead = 2 if with_state else 1
    takes_rng = not params or any(p.name == "rng" for p in params[:lead + 1])
    flag, position = _flag(params[lead + takes_rng:], sample)
    return ApplyEntry(name, _stateful(apply, with_state, takes_rng), flag, position)


def _flag(params: list[inspect.Parameter], sample: dict) -> tuple[str | None, int | None]:
    """The training flag the user function takes, and its positional index if positional."""
    for flag in TRAINING_FLAGS:
        for i, p in enumerate(params):
            if p.name == flag and p.kind is not inspect.Parameter.VAR_KEYWORD:
                positional = p.kind in (inspect.Parameter.POSITIONAL_ONLY,
                                        inspect.Parameter.POSITIONAL_OR_KEYWORD)
                return flag, i if positional else None
    return next((f for f in TRAINING_FLAGS if f in sample), None), None


def materialize(args: tuple, kwargs: Mapping, seed: int | jax.Array) -> tuple[tuple, dict]:
    """Concrete inputs: TensorSpec / ShapeDtypeStruct leaves become seeded random arrays.

    Floats are standard normal, integers uniform in [0, INT_HIGH), booleans fair coins; concrete
    arrays and static values pass through unchanged. `seed` is an int or a JAX key.
    """
    is_spec = lambda x: isinstance(x, (TensorSpec, jax.ShapeDtypeStruct))  # noqa: E731
    leaves, treedef = jax.tree.flatten((tuple(args), dict(kwargs)), is_leaf=is_spec)
    key = seed if isinstance(seed, jax.Array) else jax.random.key(seed)
    out = [_random(jax.random.fold_in(key, i), leaf) if is_spec(leaf) else leaf
           for i, leaf in enumerate(leaves)]
    new_args, new_kwargs = jax.tree.unflatten(treedef, out)
    return tuple(new_args), dict(new_kwargs)


def _random(key: jax.Array, spec: TensorSpec | jax.ShapeDtypeStruct) -> jax.Array:
    shape = tuple(spec.shape)
    dtype = jnp.dtype(spec.dtype)
    if jnp.issubdtype(dtype, jnp.floating):
        return jax.random.normal(key, shape, dtype)
    if jnp.issubdtype(dtype, jnp.integer):
        return jax.random.randint(key, shape, 0, INT_HIGH, dtype)
    if dtype == np.bool_:
        return jax.random.bernoulli(key, 0.5, shape)
    return jnp.zeros(shape, dtype)


def run_init(functions: HaikuFunctions, key: jax.Array, args: tuple, kwargs: Mapping, *,
             zeros: bool = False) -> tuple[dict, dict]:
    """Haiku init compiled as one program: much faster than eager dispatch of every initializer.

    Array arguments are traced; everything else (flags, sizes) stays static. With `zeros`, only
    shapes are computed and every leaf is zero (for weights about to be overwritten).
    """
    arrays, rebuild = split_static(tuple(args), dict(kwargs))

    def init(key, arrays):
        a, k = rebuild(arrays)
        return functions.init(key, *a, **k)

    if zeros:
        shapes = jax.eval_shape(init, key, arrays)
        return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
    return jax.jit(init)(key, arrays)
