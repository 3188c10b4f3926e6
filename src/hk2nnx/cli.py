"""The `hk2nnx` command: parse arguments, call the library, render, set the exit code.

Each subcommand's module is imported only when that command runs (`convert` pulls in libcst,
about a second), so `hk2nnx port` does not pay for the converter; `--help` lists them all.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from hk2nnx import __version__

_COMMANDS = {
    "convert": ("hk2nnx._cli.convert_cmd", "rewrite Haiku source into Flax NNX source"),
    "port": ("hk2nnx._cli.port_cmd", "move a checkpoint between Haiku and NNX layouts"),
    "verify": ("hk2nnx._cli.verify_cmd",
               "check that a Haiku model and its NNX version compute the same"),
    "inspect": ("hk2nnx._cli.inspect_cmd",
                "show a Haiku model's modules, parameters and NNX names"),
}

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _chosen(argv: list[str] | None) -> str | None:
    """The subcommand named on the command line: the first argument that is a command name."""
    for arg in sys.argv[1:] if argv is None else argv:
        if arg in _COMMANDS:
            return arg
        if not arg.startswith("-"):
            return None
    return None


def build_parser(
    argv: list[str] | None = None, *, load_all: bool = False,
) -> argparse.ArgumentParser:
    """The full parser; only the command `argv` names (or every one, with `load_all`) gets its
    arguments, so only that command's module is imported."""
    parser = argparse.ArgumentParser(
        prog="hk2nnx", description="Migrate Haiku models to Flax NNX, provably.")
    parser.add_argument("--version", action="version", version=f"hk2nnx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = _chosen(argv)
    for name, (module_name, help_text) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
        if load_all or name == chosen:
            _add_command(p, name, module_name)
    return parser


def _add_command(p: argparse.ArgumentParser, name: str, module_name: str) -> None:
    try:
        module = importlib.import_module(module_name)
        module.add_arguments(p)
    except ImportError as err:  # one broken component must not take the others down
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(_run=_unavailable(name, err))
        return
    p.set_defaults(_run=module.run)


def _unavailable(name: str, err: ImportError):
    def run(args: argparse.Namespace) -> int:
        raise RuntimeError(f"the {name} command cannot load ({err}); reinstall hk2nnx")

    return run


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        print("hk2nnx: interrupted; nothing partial was written", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001  (every user-facing failure ends here as one line)
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
