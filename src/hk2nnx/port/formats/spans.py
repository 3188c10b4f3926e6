"""Copying a leaf's bytes from one file to another without bringing them through Python.

A leaf that a port passes through unchanged (a rename or a reshape) and whose bytes sit at a known
place in the source file (safetensors) is copied by the kernel (`os.copy_file_range`, as
`shutil.copyfile` does); its CRC-32 is computed meanwhile in a second thread that reads the same
range through one small buffer. Where the kernel call is missing or refuses (another
filesystem, an old kernel) the bytes go through `pread`/`write` instead.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import zlib
from typing import IO

from hk2nnx.port.formats.errors import CheckpointError

STEP = 32 << 20  # bytes per pread where the kernel copy is refused
_BUFFER = 1 << 20  # read buffer for the CRC: small enough to stay in cache
DIRECT = hasattr(os, "pread") and hasattr(os, "preadv")  # POSIX; elsewhere, chunks


@dataclasses.dataclass(frozen=True)
class Span:
    """`nbytes` bytes at `offset` of an open file, with the CRC-32 the file claims for them."""

    handle: IO[bytes]
    offset: int
    nbytes: int
    crc: int | None
    source: str
    key: str


def _copy(fd_in: int, fd_out: int, offset_in: int, offset_out: int, nbytes: int) -> None:
    """copy_file_range in the kernel where it works; pread/pwrite where it does not."""
    done = 0
    while done < nbytes:
        try:
            got = os.copy_file_range(fd_in, fd_out, nbytes - done, offset_in + done,
                                     offset_out + done)
        except (AttributeError, OSError):
            got = 0
        if not got:
            data = os.pread(fd_in, min(STEP, nbytes - done), offset_in + done)
            if not data:
                raise OSError(f"source ends {nbytes - done} bytes early")
            got = os.pwrite(fd_out, data, offset_out + done)
        done += got


def _crc_span(fd: int, offset: int, nbytes: int) -> int:
    """CRC-32 of a file range, read with pread into one small reused buffer."""
    view = memoryview(bytearray(min(_BUFFER, nbytes)))
    running = done = 0
    while done < nbytes:
        got = os.preadv(fd, [view[: min(len(view), nbytes - done)]], offset + done)
        if not got:
            raise OSError(f"source ends {nbytes - done} bytes early")
        running = zlib.crc32(view[:got], running)
        done += got
    return running


def copy_span(span: Span, out: IO[bytes], checksum: bool) -> int:
    """Appends the span's bytes to `out` (a real file); returns their CRC-32 (0 unless
    `checksum`); a span whose file claims a CRC is checked against it. The CRC is computed in a
    second thread while the kernel copies (both release the GIL), so it costs no extra time on
    a machine with a free core."""
    check = span.crc is not None
    out.flush()
    position = out.tell()
    fd_in, fd_out = span.handle.fileno(), out.fileno()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        crc = pool.submit(_crc_span, fd_in, span.offset, span.nbytes) if checksum or check \
            else None
        _copy(fd_in, fd_out, span.offset, position, span.nbytes)
        running = crc.result() if crc is not None else 0
    out.seek(position + span.nbytes)
    if check and running != span.crc:
        raise CheckpointError(f"{span.source}: tensor {span.key!r} fails its CRC-32 check; the "
                              "file is corrupted")
    return running if checksum else 0
