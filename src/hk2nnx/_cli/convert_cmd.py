"""`hk2nnx convert PATH…`: delegates to the converter's own command-line module."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hk2nnx.convert import cli

    cli.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from hk2nnx.convert import cli

    return cli.run(args)
