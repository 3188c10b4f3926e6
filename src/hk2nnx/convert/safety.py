"""Reads and encodes Python source so that bytes no rule touches go back to disk unchanged."""

from __future__ import annotations

import contextlib
import io
import signal
import threading
import tokenize
from collections.abc import Iterator
from pathlib import Path


class SourceEncodingError(ValueError):
    """The file's bytes cannot be decoded and re-encoded exactly, so converting it could lose text."""


def read_source(path: Path | str) -> str:
    """Decodes with the encoding Python itself would use (PEP 263 cookie or BOM, else UTF-8).

    Decoding bytes (not opening in text mode) keeps CRLF and lone CR endings, and the round-trip
    check refuses a file whose bytes would come back different, rather than mangling it. A UTF-8
    BOM is dropped from the text (the parser rejects U+FEFF); `encode_like` puts it back.
    """
    data = Path(path).read_bytes()
    encoding = _declared_encoding(data, path)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise SourceEncodingError(
            f"{path}:{line}: byte {data[err.start:err.start + 1]!r} is not valid {encoding}; "
            "fix the bytes or declare the right encoding with a '# -*- coding: ... -*-' line"
        ) from None
    if text.encode(encoding) != data:
        raise SourceEncodingError(
            f"{path}: {encoding} does not give the same bytes back after decoding; "
            "convert the file to UTF-8 first")
    return text


def encode_like(original: Path | str, text: str) -> bytes:
    """`text` in the encoding (BOM included) of the file it was converted from."""
    encoding = _declared_encoding(Path(original).read_bytes(), original)
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as err:
        raise SourceEncodingError(
            f"{original}: the converted code has {err.object[err.start:err.end]!r}, which "
            f"{encoding} cannot encode; convert the file to UTF-8 first") from None


def _declared_encoding(data: bytes, path: Path | str) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as err:
        raise SourceEncodingError(f"{path}:1: {err.msg}; declare an encoding Python knows, "
                                  "e.g. '# -*- coding: utf-8 -*-'") from None
    return encoding


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Holds Ctrl-C until the block ends, so an interrupt cannot strand a half-made temporary file.

    The interrupt is not lost: KeyboardInterrupt is raised as soon as the block is done.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
