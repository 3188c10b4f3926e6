"""Running a user's file beside its sibling files, as the converter and the report's verify do.

Its imports must find the siblings in its own folder, not same-named modules an earlier file of
the run loaded from another folder (two projects both have a `models.py`; an original `models`
and its conversion share a name). Everything is undone after, so the next file starts clean.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def importable_from(*folders: Path) -> Iterator[None]:
    """The folders first on sys.path, their module names unloaded for the duration."""
    local = {p.stem for f in folders for p in f.iterdir() if p.suffix == ".py" or p.is_dir()}
    shadowed = {n: sys.modules.pop(n) for n in list(sys.modules) if n.split(".")[0] in local}
    before = set(sys.modules)
    sys.path[:0] = [str(f) for f in folders]
    try:
        yield
    finally:
        for folder in folders:
            if str(folder) in sys.path:
                sys.path.remove(str(folder))
        for name in set(sys.modules) - before:
            if name.split(".")[0] in local:
                del sys.modules[name]
        sys.modules.update(shadowed)
