"""The `hk2nnx` command: parse arguments, call the library, render, set the exit code."""

from __future__ import annotations

import argparse
import sys
import traceback

from hk2nnx import __version__
from hk2nnx._cli import convert_cmd, inspect_cmd, port_cmd, verify_cmd

_COMMANDS = {
    "convert": (convert_cmd, "rewrite Haiku source into Flax NNX source"),
    "port": (port_cmd, "move a checkpoint between Haiku and NNX layouts"),
    "verify": (verify_cmd, "check that a Haiku model and its NNX version compute the same"),
    "inspect": (inspect_cmd, "show a Haiku model's modules, parameters and NNX names"),
}

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hk2nnx", description="Migrate Haiku models to Flax NNX, provably.")
    parser.add_argument("--version", action="version", version=f"hk2nnx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
        try:
            module.add_arguments(p)
        except ImportError as err:  # one broken component must not take the others down
            p.add_argument("rest", nargs=argparse.REMAINDER)
            p.set_defaults(_run=_unavailable(name, err))
            continue
        p.set_defaults(_run=module.run)
    return parser


def _unavailable(name: str, err: ImportError):
    def run(args: argparse.Namespace) -> int:
        raise RuntimeError(f"the {name} command cannot load ({err}); reinstall hk2nnx")

    return run


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        print("hk2nnx: interrupted; nothing partial was written", file=sys.stderr)
        return 130
    except Exception as err:  # every user-facing failure ends here as one line
        if getattr(args, "verbose", False):
            traceback.print_exc()
        print(f"hk2nnx {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_ERROR


def _one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    first = text.splitlines()[0]
    return first if len(first) <= 400 else first[:397] + "..."


if __name__ == "__main__":
    sys.exit(main())
