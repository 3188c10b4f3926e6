"""Runs a Haiku program abstractly (eval_shape + interceptors + creators) and records a Program."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import re
from collections.abc import Callable
from typing import Any

import haiku as hk
import jax
from haiku._src import base as hk_base
from haiku._src import layer_stack as hk_layer_stack

from hk2nnx.program.build import RawVariable, ancestors, build_program
from hk2nnx.program.model import CallRecord, Program, TensorSpec, TransformRecord
from hk2nnx.trace.abstract import describe, split_static, to_abstract
from hk2nnx.trace.names import describe_initializer, qualified_name

# Haiku functions whose use the trace records, by attribute of the `haiku` namespace.
_RECORDED_FUNCTIONS = ("next_rng_key", "next_rng_keys", "maybe_next_rng_key", "dropout",
                       "scan", "vmap", "remat", "lift", "cond", "switch", "fori_loop", "while_loop",
                       "dynamic_unroll", "static_unroll")
_RNG_FUNCTIONS = {"next_rng_key", "next_rng_keys", "maybe_next_rng_key"}
# Arguments worth recording per transform: (keyword, position or None).
_DETAIL_ARGUMENTS = {
    "dropout": (("rate", 1),),
    "vmap": (("split_rng", None), ("in_axes", 1), ("out_axes", 2)),
    "lift": (("name", None),),
    "scan": (("length", 3), ("reverse", 4)),
    "remat": (("policy", None),),
}
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class TraceError(ValueError):
    """The Haiku program could not be traced; the message says where and why."""


@dataclasses.dataclass
class _Recorder:
    modules: dict[str, dict] = dataclasses.field(default_factory=dict)
    variables: dict[tuple[str, str], RawVariable] = dataclasses.field(default_factory=dict)
    calls: list[CallRecord] = dataclasses.field(default_factory=list)
    rng_users: dict[str, None] = dataclasses.field(default_factory=dict)
    transforms: dict[TransformRecord, None] = dataclasses.field(default_factory=dict)
    stack: list[str] = dataclasses.field(default_factory=list)
    open_stacks: list[tuple[Any, bool]] = dataclasses.field(default_factory=list)
    initialising: int = 0

    def current(self) -> str:
        return self.stack[-1] if self.stack else "~"

    def intercept(self, next_fun, args, kwargs, context: hk.MethodContext):
        module = context.module
        if hk_base.params_frozen() or isinstance(module, hk_base.LiftingModuleType):
            # The apply pass inside lift/layer_stack: names lack the lifted prefix. The init
            # pass of the same modules has already been recorded under the right names.
            out = next_fun(*args, **kwargs)
            if context.method_name == "__init__" and isinstance(module, hk_base.LiftingModuleType):
                self._record_stack(module)
            return out
        if context.method_name == "__init__":
            out = next_fun(*args, **kwargs)
            self._record_module(module, args, kwargs)
            return out
        path = _full_name(module)
        self.stack.append(path)
        try:
            out = next_fun(*args, **kwargs)
        finally:
            self.stack.pop()
        self.calls.append(CallRecord(path, context.method_name, describe((args, kwargs)),
                                     describe(out)))
        return out

    def _record_stack(self, module: hk.Module) -> None:
        """The first lift made inside a layer_stack call is that stack, whatever its name."""
        if not self.open_stacks or self.open_stacks[-1][1] or hk_base.params_frozen():
            return
        count = self.open_stacks[-1][0]
        self.open_stacks[-1] = (count, True)
        prefix = hk_base.get_lift_prefix()  # while it is built, it includes the lift itself
        scope = prefix[:-1] if prefix else module.module_name
        record = TransformRecord("layer_stack", scope, f"num_layers={count}")
        self.transforms[record] = None

    def wrap_layer_stack(self, call: Callable) -> Callable:
        def recorded(stack, *args, **kwargs):
            self.open_stacks.append((getattr(stack, "_count", "?"), False))
            try:
                return call(stack, *args, **kwargs)
            finally:
                self.open_stacks.pop()

        recorded.__wrapped__ = call
        return recorded

    def _record_module(self, module: hk.Module, args, kwargs) -> None:
        cls = type(module)
        path = _full_name(module)
        self.modules.setdefault(path, {
            "cls": qualified_name(cls),
            "bases": [qualified_name(c) for c in cls.__mro__ if issubclass(c, hk.Module)],
            "args": [_short_repr(a) for a in args],
            "kwargs": [(k, _short_repr(v)) for k, v in kwargs.items()],
            "attrs": _with_instance_attrs(_bound_arguments(cls, args, kwargs), module),
        })

    def creator(self, collection: str):
        def create(next_creator, shape, dtype, init, context):
            self.initialising += 1  # initialisers draw keys too; those are not RNG users
            try:
                value = next_creator(shape, dtype, init)
            finally:
                self.initialising -= 1
            module = (context.lifted_prefix_name or "") + (context.module_name or "~")
            key = (module, context.name)
            self.variables[key] = RawVariable(key[0], key[1], collection, TensorSpec.of(value),
                                              describe_initializer(init))
            return value

        return create

    def wrap_key_source(self, fn: Callable) -> Callable:
        """Haiku's one internal source of next_rng_key, however the user imported it."""
        def recorded(*args, **kwargs):
            if not self.initialising:
                self.rng_users[self.current()] = None
            return fn(*args, **kwargs)

        recorded.__wrapped__ = fn
        return recorded

    def wrap_function(self, name: str, fn: Callable) -> Callable:
        def recorded(*args, **kwargs):
            scope = self.current()
            if name in _RNG_FUNCTIONS:
                self.rng_users[scope] = None
            else:
                self.transforms[TransformRecord(name, scope, _detail(name, args, kwargs))] = None
            return fn(*args, **kwargs)

        recorded.__wrapped__ = fn
        return recorded


def _detail(name: str, args: tuple, kwargs: dict) -> str:
    """The arguments that change what a transform means for NNX, e.g. `split_rng=False`."""
    wanted = _DETAIL_ARGUMENTS.get(name, ())
    found = []
    for key, position in wanted:
        if key in kwargs:
            found.append(f"{key}={_short_repr(kwargs[key])}")
        elif position is not None and len(args) > position:
            found.append(f"{key}={_short_repr(args[position])}")
    return ", ".join(found)


def _full_name(module: hk.Module) -> str:
    """The module's name as its parameters will be keyed: lifted prefixes (layer_stack) included."""
    return (hk_base.get_lift_prefix() or "") + module.module_name


def _short_repr(value: Any, limit: int = 200) -> str:
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return str(TensorSpec.of(value))
    text = _ADDRESS.sub("", repr(value))  # no memory addresses: traces must be reproducible
    return text if len(text) <= limit else text[: limit - 3] + "..."


_PLAIN = (int, float, bool, str, type(None))


def _with_instance_attrs(bound: list[tuple[str, str]], module: hk.Module) -> list[tuple[str, str]]:
    """Bound arguments, then plain public attributes the constructor set (e.g. `num_heads`).

    Layer rules read attributes by the layer's own names; a subclass with another signature
    (`MyAttention(heads)`) still sets them on the instance.
    """
    names = {k for k, _ in bound} | {"name", "module_name"}
    extra = []
    for key, value in vars(module).items():
        plain = isinstance(value, _PLAIN) or (
            isinstance(value, (tuple, list)) and all(isinstance(v, _PLAIN) for v in value))
        if plain and not key.startswith("_") and key not in names:
            extra.append((key, _short_repr(value)))
    return bound + extra


def _bound_arguments(cls: type, args, kwargs) -> list[tuple[str, str]]:
    try:
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return []
    bound.apply_defaults()
    return [(k, _short_repr(v)) for k, v in list(bound.arguments.items())[1:]]


@contextlib.contextmanager
def _patched(recorder: _Recorder):
    originals = {n: getattr(hk, n) for n in _RECORDED_FUNCTIONS if hasattr(hk, n)}
    key_source = hk_base.next_rng_key_internal
    stack_call = hk_layer_stack._LayerStack.__call__
    try:
        for name, fn in originals.items():
            setattr(hk, name, recorder.wrap_function(name, fn))
        hk_base.next_rng_key_internal = recorder.wrap_key_source(key_source)
        hk_layer_stack._LayerStack.__call__ = recorder.wrap_layer_stack(stack_call)
        yield
    finally:
        for name, fn in originals.items():
            setattr(hk, name, fn)
        hk_base.next_rng_key_internal = key_source
        hk_layer_stack._LayerStack.__call__ = stack_call


def _as_transformed(fn: Any):
    if isinstance(fn, (hk.Transformed, hk.TransformedWithState)):
        return fn, False
    if isinstance(fn, (hk.MultiTransformed, hk.MultiTransformedWithState)):
        return fn, True
    if callable(fn):
        return hk.transform_with_state(fn), False
    raise TraceError(f"cannot trace {fn!r}: expected a function using Haiku modules or an "
                     "hk.transform(...) result")


def trace(fn: Any, *args: Any, **kwargs: Any) -> Program:
    """Traces `fn` on abstract inputs; no weights are allocated.

    `fn` is a function using Haiku modules, or an hk.transform / transform_with_state /
    multi_transform result. Array arguments may be arrays, `jax.ShapeDtypeStruct`s or
    `TensorSpec`s (`TensorSpec.parse("f32[1,784]")`); other arguments are passed as static values.
    """
    transformed, multi = _as_transformed(fn)
    try:
        return _trace_once(transformed, multi, args, kwargs)
    except TraceError as err:
        # Haiku itself cannot init BatchNorm-like state in eval mode ("No value for 'average'");
        # parameters and state have the same shapes in both modes, so trace in training mode.
        flags = {k: True for k, v in kwargs.items() if k in TRAINING_FLAGS and v is False}
        if not flags or "No value for" not in str(err):
            raise
        return _trace_once(transformed, multi, args, {**kwargs, **flags})


TRAINING_FLAGS = ("is_training", "training", "train")


def _trace_once(transformed, multi: bool, args: tuple, kwargs: dict) -> Program:
    recorder = _Recorder()
    arrays, rebuild = split_static(args, kwargs)

    def init(rng, arrays):
        a, k = rebuild(arrays)
        with hk_base.custom_creator_unsafe(recorder.creator("params"), params=True,
                                           state=False), \
                hk_base.custom_creator_unsafe(recorder.creator("state"), params=False,
                                              state=True):
            return transformed.init(rng, *a, **k)

    with hk.intercept_methods(recorder.intercept), _patched(recorder):
        try:
            out = jax.eval_shape(_with_abstract_key(init), to_abstract(arrays))
        except Exception as err:  # the user's program failed; say where, keep the cause
            raise TraceError(f"tracing failed: {type(err).__name__}: {err}") from err
    params, state = out if isinstance(out, tuple) and len(out) == 2 else (out, {})
    _check_complete(recorder, params, state)
    modules = _with_parents(recorder.modules)
    methods = (tuple(f"apply[{i}]" for i in range(len(transformed.apply))) if multi
               else ("__call__",))
    return build_program(
        modules, recorder.variables.values(), calls=tuple(recorder.calls),
        rng_users=tuple(recorder.rng_users), transforms=tuple(recorder.transforms),
        methods=methods,
        inputs=describe(args) + tuple(f"{k}={', '.join(describe(v))}" for k, v in kwargs.items()),
    )


def _with_abstract_key(init):
    """The key is made inside the trace: a concrete `jax.random.key(0)` compiles a program
    (~0.2 s on first use) for a value an abstract run never reads."""
    return lambda arrays: init(jax.random.key(0), arrays)


def _check_complete(recorder: _Recorder, params, state) -> None:
    """Leaves that no creator saw (e.g. set_state without get_state) are recorded from the tree."""
    for collection, tree in (("params", params), ("state", state)):
        for module, leaves in tree.items():
            for name, value in leaves.items():
                key = (module, name)
                spec = TensorSpec.of(value)
                known = recorder.variables.get(key)
                if known is None or known.spec != spec or known.collection != collection:
                    recorder.variables[key] = RawVariable(
                        module, name, collection, spec, known.init if known else None)
    for key in [k for k, v in recorder.variables.items()
                if k[1] not in (params if v.collection == "params" else state).get(k[0], {})]:
        del recorder.variables[key]


def _with_parents(modules: dict[str, dict]) -> dict[str, dict]:
    out = {}
    for path, info in modules.items():
        parents = [a for a in ancestors(path)[:-1] if a in modules]
        out[path] = {**info, "parent": parents[-1] if parents else None}
    return out


def abstract_init(transformed, *args, **kwargs):
    """(params, state) as ShapeDtypeStructs, without tracing module structure."""
    arrays, rebuild = split_static(args, kwargs)
    transformed, _ = _as_transformed(transformed)

    def init(rng, arrays):
        a, k = rebuild(arrays)
        return transformed.init(rng, *a, **k)

    return jax.eval_shape(_with_abstract_key(init), to_abstract(arrays))


