"""A progress bar over the files of a run, shown only to a person watching a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")
MIN_FILES = 2  # one file finishes before a bar would be worth drawing


def track(items: Iterable[T], *, total: int, label: str = "converting",
          stream: TextIO | None = None) -> Iterator[T]:
    """Yields `items` unchanged; draws a bar on `stream` (stderr) only when it is a terminal,
    so logs, pipes and CI output stay byte-for-byte what they were without it."""
    stream = stream if stream is not None else sys.stderr
    if total < MIN_FILES or not _is_terminal(stream):
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(file=stream), transient=True) as bar:
        task = bar.add_task(label, total=total)
        for item in items:
            yield item
            bar.advance(task)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
