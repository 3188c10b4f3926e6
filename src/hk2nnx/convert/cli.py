"""`hk2nnx convert PATH…`: convert files or folders, print, diff, check or write in place."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
import traceback
from pathlib import Path

from hk2nnx.compat import compat_source
from hk2nnx.convert import modes
from hk2nnx.convert.api import ConvertResult
from hk2nnx.convert.notebook import SUFFIXES, convert_any
from hk2nnx.convert.parallel import parallel_map
from hk2nnx.convert.progress import track
from hk2nnx.convert.project import convert_group, link
from hk2nnx.convert.report.write import renderer, write_run_report
from hk2nnx.convert.safety import encode_like, interrupts_deferred, read_source
from hk2nnx.program.model import TensorSpec

EXIT_CLEAN, EXIT_CHANGED, EXIT_ERROR = 0, 1, 2
_SKIP_DIRS = {"__pycache__", "node_modules"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="Python files or folders")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="OUTDIR", help="write converted files here")
    where.add_argument("--in-place", action="store_true", help="rewrite the files themselves")
    parser.add_argument("--diff", action="store_true", help="print a unified diff, write nothing")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if anything would change")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=SPEC",
                        help="sample input of a transformed function, e.g. forward=f32[1,784]; "
                             "repeat for several inputs, in order")
    parser.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                        help="convert N files at a time")
    parser.add_argument("--report", metavar="FILE",
                        help="write a migration report; .md or .html picks the format")
    parser.add_argument("--no-verify", action="store_true",
                        help="in the --report, skip verifying each model whose sample inputs "
                             "are known against its original")
    parser.add_argument("--mode", choices=modes.MODES, default=modes.FAITHFUL,
                        help="faithful: Haiku's numerics (initializers, compat classes in a "
                             "_haiku_compat.py written beside the output); idiomatic: NNX "
                             "built-ins and defaults, each difference reported")
    parser.add_argument("--compat-out", metavar="DIR",
                        help=f"write {modes.MODULE_NAME}.py into DIR (for output on stdout)")


def parse_inputs(texts: list[str]) -> dict[str, list[TensorSpec]]:
    """`["forward=f32[1,784]"]` -> {"forward": [TensorSpec((1, 784), "float32")]}."""
    out: dict[str, list[TensorSpec]] = {}
    for text in texts:
        name, sep, spec = text.partition("=")
        if not sep or not name.isidentifier():
            raise ValueError(f"--input {text!r}: expected NAME=SPEC, e.g. forward=f32[1,784]")
        try:
            out.setdefault(name, []).append(TensorSpec.parse(spec))
        except ValueError as err:
            raise ValueError(f"--input {text!r}: {err}") from None
    return out


def collect(paths: list[str]) -> list[tuple[Path, Path]]:
    """(file, path relative to its root) for every .py file under the given paths."""
    out = []
    for text in paths:
        root = Path(text)
        if root.is_file():
            out.append((root, Path(root.name)))
        elif root.is_dir():
            for found in sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES):
                parts = found.relative_to(root).parts
                if not any(p.startswith(".") or p in _SKIP_DIRS for p in parts[:-1]):
                    out.append((found, found.relative_to(root)))
        else:
            raise FileNotFoundError(f"{text}: no such file or folder")
    return out


def _convert_one(job: tuple[str, dict, tuple[str, ...], str, bool]
                 ) -> tuple[str, ConvertResult | None, str]:
    """One file's result, or its one-line error: a failing file never stops the others."""
    path, inputs, group, mode, verbose = job
    try:
        with modes.using(mode):
            return _convert_in_mode(path, inputs, group)
    except ValueError as err:  # syntax, encoding, a malformed notebook
        text = str(err)
        return path, None, text if text.startswith(path) else f"{path}: {text}"
    except OSError as err:
        return path, None, f"{path}: cannot read: {err}"
    except Exception as err:  # noqa: BLE001  (a converter bug: report it, convert the rest)
        trace = "\n" + traceback.format_exc().rstrip() if verbose else ""
        return path, None, (f"{path}: internal error, file left unchanged "
                            f"({type(err).__name__}: {err}); please report it with this file"
                            + trace)


def _convert_in_mode(path: str, inputs: dict, group: tuple[str, ...]
                     ) -> tuple[str, ConvertResult | None, str]:
    source = read_source(path)
    if group:  # its Haiku modules are defined or used in sibling files
        return path, convert_group(group, path, inputs), source
    return path, convert_any(source, filename=path, inputs=inputs), source


def run(args: argparse.Namespace) -> int:
    try:
        inputs = parse_inputs(args.input)
        files = collect(args.paths)
        if args.report:
            renderer(args.report)  # a bad report name fails before anything is written
    except (ValueError, FileNotFoundError) as err:
        print(f"hk2nnx convert: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    to_stdout = not (args.output or args.in_place or args.diff or args.check)
    if to_stdout and (len(files) != 1 or Path(args.paths[0]).is_dir()):
        print("hk2nnx convert: error: several files need -o OUTDIR or --in-place (or --diff / "
              "--check)", file=sys.stderr)
        return EXIT_ERROR
    groups = link([path for path, _ in files])
    verbose = bool(getattr(args, "verbose", False))
    jobs = [(str(path), inputs, groups.get(str(path), ()), args.mode, verbose)
            for path, _ in files]
    results = list(track(parallel_map(_convert_one, jobs, args.jobs), total=len(jobs)))
    status = EXIT_CLEAN
    for (path, relative), (_, result, source) in zip(files, results):
        if result is None:
            print(source, file=sys.stderr)
            status = EXIT_ERROR
            continue
        status = max(status, _report(result, source, path, relative, args, to_stdout))
    write_run_report(files, results, args, inputs)
    _write_compat(files, results, args, to_stdout)
    return status


def _write_compat(files: list[tuple[Path, Path]], results: list, args: argparse.Namespace,
                  to_stdout: bool) -> None:
    """`_haiku_compat.py` beside the converted files that import it (faithful mode)."""
    needed: dict[Path, set[str]] = {}
    for (path, relative), (_, result, _) in zip(files, results):
        names = modes.compat_names(result.code) if result is not None else set()
        if not names or args.diff or args.check:
            continue
        folder = (Path(args.compat_out) if args.compat_out else path.parent if args.in_place
                  else Path(args.output) / relative.parent if args.output else None)
        if folder is None:
            print(f"{path}: note: {modes.compat_notice(names)}", file=sys.stderr)
            continue
        needed.setdefault(folder, set()).update(names)
    for folder, names in needed.items():
        write_atomic(folder / f"{modes.MODULE_NAME}.py", compat_source(names).encode("utf-8"))


def _report(result: ConvertResult, source: str, path: Path, relative: Path,
            args: argparse.Namespace, to_stdout: bool) -> int:
    for finding in result.findings:
        print(finding, file=sys.stderr)
    if args.diff and result.changed:
        sys.stdout.writelines(difflib.unified_diff(
            source.splitlines(keepends=True), result.code.splitlines(keepends=True),
            fromfile=str(path), tofile=str(path)))
    elif args.check and result.changed:
        print(f"would convert {path}", file=sys.stderr)
    elif to_stdout:
        sys.stdout.write(result.code)
    elif not (args.diff or args.check):
        target = path if args.in_place else Path(args.output) / relative
        if result.changed or not args.in_place:
            write_atomic(target, encode_like(path, result.code), mode_from=path)
    return EXIT_CHANGED if result.changed or result.findings else EXIT_CLEAN


def write_atomic(target: Path, data: bytes, mode_from: Path | None = None) -> None:
    """Writes through a temporary file in the same folder and `os.replace`, keeping the mode."""
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = os.stat(mode_from).st_mode & 0o7777 if mode_from and mode_from.exists() else None
    with interrupts_deferred():
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
