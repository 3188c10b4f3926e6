"""Resolves command-line targets: `FILE.py:NAME` objects, `dtype[shape]` specs and `K=V` kwargs."""

from __future__ import annotations

import ast
import importlib.util
import sys
import uuid
from pathlib import Path
from typing import Any

from hk2nnx.program.model import TensorSpec


class UsageError(ValueError):
    """A command-line argument is wrong; the message says which and how to write it."""


def load_object(target: str) -> Any:
    """Imports FILE.py and returns its attribute NAME (dotted names walk attributes)."""
    file_part, sep, name = target.rpartition(":")
    if not sep or not file_part or not name:
        raise UsageError(f"{target!r}: expected FILE.py:NAME, e.g. examples/guide/mlp.py:model")
    path = Path(file_part)
    if not path.is_file():
        raise UsageError(f"{file_part}: no such file")
    module = _import_file(path)
    obj: Any = module
    for part in name.split("."):
        if not hasattr(obj, part):
            defined = sorted(n for n in vars(module) if not n.startswith("_"))[:12]
            raise UsageError(f"{path}: defines no {name!r} (it defines: {', '.join(defined)})")
        obj = getattr(obj, part)
    return obj


def _import_file(path: Path):
    source = path.read_text(encoding="utf-8")
    try:
        compile(source, str(path), "exec")
    except SyntaxError as err:
        raise UsageError(f"{path}:{err.lineno}:{err.offset}: syntax error: {err.msg}") from None
    # Classes keep readable qualified names (`layer_stack.Tower`) unless the stem is taken.
    module_name = path.stem if path.stem.isidentifier() and path.stem not in sys.modules \
        else f"_hk2nnx_target_{path.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    parent = str(path.resolve().parent)
    sys.path.insert(0, parent)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        line = _error_line(err, path)
        raise UsageError(f"{path}{line}: importing failed: {type(err).__name__}: {err}") from err
    finally:
        if sys.path and sys.path[0] == parent:
            sys.path.pop(0)
    return module


def _error_line(err: BaseException, path: Path) -> str:
    tb = err.__traceback__
    line = ""
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == path.resolve():
            line = f":{tb.tb_lineno}"
        tb = tb.tb_next
    return line


def parse_specs(texts: list[str] | None) -> list[TensorSpec]:
    try:
        return [TensorSpec.parse(t) for t in texts or ()]
    except ValueError as err:
        raise UsageError(f"--input: {err}") from None


def parse_kwargs(texts: list[str] | None) -> dict[str, Any]:
    """`training=False` -> {"training": False}; values are Python literals."""
    out: dict[str, Any] = {}
    for text in texts or ():
        key, sep, value = text.partition("=")
        if not sep or not key.isidentifier():
            raise UsageError(f"--kwarg {text!r}: expected NAME=VALUE, e.g. training=False")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise UsageError(f"--kwarg {text!r}: VALUE must be a Python literal "
                             "(True, 3, 0.5, 'text')") from None
    return out
