"""Atomic output: write beside OUT, fsync, then rename, so OUT is either complete or absent."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from hk2nnx.port.formats.errors import CheckpointError


def _sibling(out: Path, tag: str) -> Path:
    return out.parent / f".{out.name}.hk2nnx-{tag}-{uuid.uuid4().hex[:8]}"


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _fsync(path: Path) -> None:
    """Flushes a file, or every file and directory under a directory, to disk."""
    if path.is_dir():
        for root, _, files in os.walk(path):
            for name in files:
                _fsync_one(Path(root) / name, os.O_RDONLY)
            _fsync_one(Path(root), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    else:
        _fsync_one(path, os.O_RDONLY)


def _fsync_one(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems cannot fsync directories; the rename still orders writes
        pass
    finally:
        os.close(fd)


def _move_into_place(tmp: Path, out: Path) -> None:
    """os.replace; an existing directory (or a file replaced by one) is first moved aside."""
    if not out.exists() or (out.is_file() and tmp.is_file()):
        os.replace(tmp, out)
        return
    old = _sibling(out, "old")
    os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(old, out)
        raise
    remove(old)


def _file_mode(out: Path) -> int:
    """The replaced file's mode, else what a plain open() would give (some writers use 0600)."""
    if out.is_file():
        return out.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def check_writable(out: Path, overwrite: bool) -> None:
    if out.exists() and not overwrite:
        raise CheckpointError(f"{out}: already exists (pass overwrite=True to replace it)")
    if not out.name:
        raise CheckpointError(f"{out}: not a file or directory name")


@contextlib.contextmanager
def atomic_output(out: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yields a fresh path beside `out` to write a file or directory at; on success it becomes
    `out`, on any failure it is removed and `out` is left as it was."""
    check_writable(out, overwrite)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CheckpointError(f"{out}: cannot create its directory ({err.strerror})") from None
    tmp = _sibling(out, "tmp")
    try:
        yield tmp
        if not tmp.exists():
            raise CheckpointError(f"{out}: the writer produced nothing")
        if tmp.is_file():
            os.chmod(tmp, _file_mode(out))
        _fsync(tmp)
        check_writable(out, overwrite)
        _move_into_place(tmp, out)
        _fsync_one(out.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except BaseException:
        remove(tmp)
        raise
