"""How verify drives each side: building the NNX model, modes and flags, dropout at rate 0."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import sys
from collections.abc import Callable, Iterator
from typing import Any

import haiku as hk
from haiku._src import basic
from flax import nnx

from hk2nnx.bridge import TRAINING_FLAGS, HaikuModule
from hk2nnx.program.model import Program


def build_model(converted: Any, seed: int) -> nnx.Module:
    """An instance as is; else a zero-argument factory; else a factory taking `rngs`."""
    if isinstance(converted, nnx.Module):
        return converted
    if not callable(converted):
        raise TypeError(f"converted must be an nnx.Module or a factory, got {type(converted)}")
    signature = _signature(converted)
    if signature is None or _binds(signature):
        model = converted()
    elif "rngs" in signature.parameters:
        model = converted(rngs=nnx.Rngs(seed))
    else:
        model = converted(nnx.Rngs(seed))
    if not isinstance(model, nnx.Module):
        raise TypeError(f"the factory returned {type(model).__name__}, not an nnx.Module")
    return model


def _signature(factory: Callable) -> inspect.Signature | None:
    """For classes, the signature of `__init__` (NNX's metaclass hides it behind *args)."""
    try:
        if inspect.isclass(factory):
            init = inspect.signature(factory.__init__)
            return init.replace(parameters=list(init.parameters.values())[1:])
        return inspect.signature(factory)
    except (TypeError, ValueError):
        return None


def _binds(signature: inspect.Signature, *args: Any, **kwargs: Any) -> bool:
    try:
        signature.bind(*args, **kwargs)
    except TypeError:
        return False
    return True


def nnx_method(model: nnx.Module, method: int | str | tuple | None) -> Callable[[nnx.Module], Any]:
    """A getter for the NNX method matching a Haiku apply selector (works on clones too)."""
    if isinstance(model, HaikuModule):
        if method is None:
            return lambda m: m.__call__
        selector = method[0] if isinstance(method, tuple) else method
        return lambda m: (lambda *a, **k: m.apply_method(selector, *a, **k))
    name = method[1] if isinstance(method, tuple) else method
    if name is None:
        return lambda m: m.__call__
    if not isinstance(name, str) or not callable(getattr(model, name, None)):
        raise ValueError(f"the NNX model has no method {name!r}; pass method=(haiku_apply, "
                         "nnx_method_name) to name both sides")
    return lambda m: getattr(m, name)


def haiku_selector(method: int | str | tuple | None) -> int | str | None:
    return method[0] if isinstance(method, tuple) else method


def accepts(fn: Callable, name: str) -> bool:
    """Whether `fn` takes a keyword argument `name` (directly or through **kwargs)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


@dataclasses.dataclass(frozen=True)
class Mode:
    """The training mode and the keyword arguments each side receives."""

    training: bool
    haiku_kwargs: dict
    nnx_kwargs: dict
    note: str = ""


def resolve_mode(kwargs: dict, train: bool, haiku_flag: str | None,
                 nnx_call: Callable) -> Mode:
    """A flag in kwargs decides the mode; otherwise `train` does and fills Haiku's flag.

    The NNX side gets the flag only if its method takes it; otherwise the flag is dropped and
    the mode is set with `model.train()` / `model.eval()` (verify always sets the mode).
    """
    flag = next((f for f in TRAINING_FLAGS if f in kwargs), None)
    training = bool(kwargs[flag]) if flag else train
    haiku_kwargs = dict(kwargs)
    if flag is None and haiku_flag is not None:
        flag = haiku_flag
        haiku_kwargs[flag] = training
    nnx_kwargs = dict(haiku_kwargs)
    note = ""
    if flag is not None and not accepts(nnx_call, flag):
        del nnx_kwargs[flag]
        note = (f"NNX method takes no {flag!r}; mode set with model."
                f"{'train' if training else 'eval'}() instead")
    return Mode(training, haiku_kwargs, nnx_kwargs, note)


def set_mode(model: nnx.Module, training: bool) -> None:
    if training:
        model.train()
    else:
        model.eval()


def uses_dropout(program: Program, model: nnx.Module) -> bool:
    in_haiku = any(t.kind == "dropout" for t in program.transforms)
    in_nnx = any(isinstance(n, nnx.Dropout) and n.rate > 0 for _, n in nnx.iter_graph(model))
    return in_haiku or in_nnx


def rng_beyond_dropout(program: Program) -> list[str]:
    """Modules that draw RNG keys for something other than hk.dropout (sampling, noise)."""
    dropout_scopes = {t.scope for t in program.transforms if t.kind == "dropout"}
    return [scope for scope in program.rng_users if scope not in dropout_scopes]


@contextlib.contextmanager
def nnx_dropout_off(model: nnx.Module) -> Iterator[int]:
    """Sets every nnx.Dropout rate to 0 for the duration; yields how many were changed."""
    layers = [n for _, n in nnx.iter_graph(model) if isinstance(n, nnx.Dropout)]
    rates = [layer.rate for layer in layers]
    try:
        for layer in layers:
            layer.rate = 0.0
        yield len(layers)
    finally:
        for layer, rate in zip(layers, rates):
            layer.rate = rate


@dataclasses.dataclass
class DropoutCalls:
    count: int = 0


@contextlib.contextmanager
def haiku_dropout_off() -> Iterator[DropoutCalls]:
    """Makes `hk.dropout` the identity wherever Haiku code can reach it (incl. hk.nets.MLP).

    Dropout imported under another name by user code (`from haiku import dropout`) is not
    reached; a comparison then fails rather than passing silently.
    """
    calls = DropoutCalls()

    def identity(rng, rate, x, broadcast_dims=()):
        del rng, rate, broadcast_dims
        calls.count += 1
        return x

    original = basic.dropout
    targets = [(hk, "dropout")] if hk.dropout is original else []
    for name, module in list(sys.modules.items()):
        if name.startswith("haiku._src") and module is not None:
            for obj in (module, getattr(module, "hk", None)):
                if getattr(obj, "dropout", None) is original:
                    targets.append((obj, "dropout"))
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr in targets]
    try:
        for obj, attr in targets:
            setattr(obj, attr, identity)
        yield calls
    finally:
        for obj, attr, value in reversed(saved):
            setattr(obj, attr, value)
