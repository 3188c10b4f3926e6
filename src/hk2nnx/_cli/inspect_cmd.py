"""`hk2nnx inspect ORIGINAL.py:NAME --input SPEC…`: the module tree and the NNX name of each leaf."""

from __future__ import annotations

import argparse

from hk2nnx._cli.common import add_model_inputs, trace_target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="ORIGINAL.py:NAME",
                        help="a Haiku function or hk.transform(...) result")
    add_model_inputs(parser)
    parser.add_argument("--json", action="store_true", help="print the traced program as JSON")


def run(args: argparse.Namespace) -> int:
    from hk2nnx.program.summary import summary

    _, program = trace_target(args.target, args)
    print(program.to_json() if args.json else summary(program))
    return 0
