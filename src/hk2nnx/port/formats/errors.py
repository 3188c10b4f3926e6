"""The user-facing checkpoint errors, and the guard that turns library failures into them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed, corrupted or in the wrong layout; one line says why."""


class UnsafePickleError(CheckpointError):
    """A pickle asked for something other than plain data; it was refused before anything ran."""


def short_reason(err: BaseException) -> str:
    """The first line of an exception, short enough for a one-line message."""
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__


@contextlib.contextmanager
def reading(source: str, what: str) -> Iterator[None]:
    """Any failure inside a format library becomes one CheckpointError line naming the file."""
    try:
        yield
    except CheckpointError:
        raise
    except Exception as err:
        raise CheckpointError(f"{source}: cannot read as {what} ({short_reason(err)}); the file "
                              f"is truncated, corrupted or not {what}") from None
