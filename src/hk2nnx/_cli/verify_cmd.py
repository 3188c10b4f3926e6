"""`hk2nnx verify ORIGINAL.py:NAME CONVERTED.py:NAME --input SPEC…`: compare outputs and gradients."""

from __future__ import annotations

import argparse

from hk2nnx._cli.common import add_model_inputs, instantiate_nnx, model_inputs
from hk2nnx._targets import UsageError, load_object


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("original", metavar="ORIGINAL.py:NAME")
    parser.add_argument("converted", metavar="CONVERTED.py:NAME",
                        help="an nnx.Module, or a function returning one")
    add_model_inputs(parser)
    parser.add_argument("--method", metavar="HAIKU[:NNX]",
                        help="multi_transform apply to compare, by index or name, and the NNX "
                             "method it became, e.g. 0:encode")
    parser.add_argument("--train", action="store_true",
                        help="compare in training mode (dropout, batch statistics)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    from hk2nnx.verify import verify

    specs, kwargs = model_inputs(args)
    if not specs:
        raise UsageError("give the model's inputs with --input SPEC (e.g. f32[1,784])")
    converted = instantiate_nnx(load_object(args.converted), args.converted)
    report = verify(load_object(args.original), converted, *specs,
                    method=_method(args.method), train=args.train, seed=args.seed, **kwargs)
    print(report.to_json() if args.json else report.table())
    return 0 if report.passed else 1


def _method(text: str | None) -> int | str | tuple | None:
    """`0:encode` names both sides; `encode` or `0` alone names the Haiku apply."""
    if text is None:
        return None
    haiku, _, nnx_name = text.partition(":")
    selector: int | str = int(haiku) if haiku.isdigit() else haiku
    return (selector, nnx_name) if nnx_name else selector
