"""The conversion mode (faithful or idiomatic) of the file being converted, and what it needs."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import re
from collections.abc import Iterable, Iterator

from hk2nnx.compat import MODULE_NAME, available
from hk2nnx.mappings.layers import FAITHFUL, IDIOMATIC, MODES

__all__ = ["ALIAS", "FAITHFUL", "IDIOMATIC", "MODES", "MODULE_NAME", "Run", "compat_names",
           "compat_notice", "current", "is_faithful", "qualify", "using"]

ALIAS = "hkc"  # converted code writes `import _haiku_compat as hkc` and `hkc.BatchNorm(...)`


@dataclasses.dataclass
class Run:
    """One file's mode and the compat names its converted code uses (for `_haiku_compat.py`)."""

    mode: str = FAITHFUL
    compat: set[str] = dataclasses.field(default_factory=set)


_RUN: contextvars.ContextVar[Run | None] = contextvars.ContextVar("hk2nnx_convert_run",
                                                                 default=None)


@contextlib.contextmanager
def using(mode: str | None = None) -> Iterator[Run]:
    """Rules deep in the engine read the mode here, so no rule signature has to carry it.

    None keeps the enclosing run's mode: the command line sets it once around code (notebooks,
    folders converted as one program) that calls `convert_source` without passing a mode.
    """
    mode = mode or current().mode
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    run = Run(mode)
    token = _RUN.set(run)
    try:
        yield run
    finally:
        _RUN.reset(token)


def current() -> Run:
    """The active run; outside `using` (rules called directly), faithful like the default."""
    return _RUN.get() or Run()


def is_faithful() -> bool:
    return current().mode == FAITHFUL


def qualify(text: str, names: Iterable[str]) -> str:
    """`shifted(...)` -> `hkc.shifted(...)` for the compat names, recording each as used."""
    for name in names:
        current().compat.add(name)
        text = re.sub(rf"(?<![\w.]){re.escape(name)}\(", f"{ALIAS}.{name}(", text)
    return text


def compat_names(code: str) -> set[str]:
    """The `_haiku_compat` names converted code uses (`hkc.BatchNorm` -> BatchNorm)."""
    return {n for n in re.findall(rf"(?<![\w.]){ALIAS}\.(\w+)", code) if n in available()}


def compat_notice(names: Iterable[str]) -> str:
    """Why and how to get `_haiku_compat.py` when the command line cannot write it itself."""
    return (f"the converted code imports {MODULE_NAME} ({', '.join(sorted(names))}): write it "
            f"beside the file with --compat-out DIR, or convert with -o OUTDIR / --in-place")
