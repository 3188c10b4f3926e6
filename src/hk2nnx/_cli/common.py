"""Arguments and loading shared by the subcommands that run a Haiku model."""

from __future__ import annotations

import argparse
from typing import Any

from hk2nnx._targets import UsageError, load_object, parse_kwargs, parse_specs
from hk2nnx.program.model import Program


def add_model_inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", action="append", metavar="SPEC", default=[],
                        help="positional input as dtype[shape], e.g. f32[1,784]; repeat in order")
    parser.add_argument("--kwarg", action="append", metavar="K=V", default=[],
                        help="keyword argument as a Python literal, e.g. training=False")


def model_inputs(args: argparse.Namespace) -> tuple[list, dict[str, Any]]:
    return parse_specs(args.input), parse_kwargs(args.kwarg)


def trace_target(target: str, args: argparse.Namespace) -> tuple[Any, Program]:
    """Loads ORIGINAL.py:NAME and traces it on the given inputs."""
    import hk2nnx

    original = load_object(target)
    specs, kwargs = model_inputs(args)
    if not specs and not kwargs:
        raise UsageError(f"{target}: give the model's inputs with --input SPEC (e.g. f32[1,784])")
    try:
        program = hk2nnx.trace(original, *specs, **kwargs)
    except hk2nnx.TraceError as err:
        raise UsageError(f"{target}: {err}") from err
    if not program.variables and not program.modules:
        raise UsageError(f"{target}: no Haiku modules or parameters found; is this a Haiku model?")
    return original, program


def instantiate_nnx(obj: Any, target: str):
    """An nnx.Module from a target naming an instance, a zero-argument factory, or a class."""
    from flax import nnx

    if isinstance(obj, nnx.Module):
        return obj
    if not callable(obj):
        raise UsageError(f"{target}: not an nnx.Module or a function returning one")
    for call in (lambda: obj(), lambda: obj(rngs=nnx.Rngs(0))):
        try:
            made = call()
        except TypeError:
            continue
        if isinstance(made, nnx.Module):
            return made
    raise UsageError(f"{target}: calling it with no arguments (or rngs=nnx.Rngs(0)) did not "
                     "return an nnx.Module")
