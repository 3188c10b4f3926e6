"""`-j N`: N processes convert at once, this one included, while the others start.

A fresh worker spends a second or more importing libcst, JAX, Flax and Haiku before its first
file. The calling process has them loaded already, so it converts files itself from the start
instead of waiting; N - 1 spawned workers (never forked: JAX is multithreaded) take chunks of a
few files, so each round trip carries several results.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TypeVar

J = TypeVar("J")
R = TypeVar("R")

CHUNK = 4  # files per round trip to a worker
AHEAD = 2  # chunks queued per worker, so none waits for the next one


def _run_chunk(fn: Callable[[J], R], jobs: list[J]) -> list[R]:
    return [fn(job) for job in jobs]


def parallel_map(fn: Callable[[J], R], jobs: Sequence[J], processes: int) -> Iterator[R]:
    """`map(fn, jobs)` in order, on `processes` processes; `fn` must be importable by name."""
    if processes <= 1 or len(jobs) <= 1:
        yield from map(fn, jobs)
        return
    results: dict[int, R] = {}
    pending: dict[Future, range] = {}
    claimed = done = 0  # jobs handed out; results yielded
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes - 1, mp_context=spawn) as pool:
        while done < len(jobs):
            while claimed < len(jobs) and len(pending) < AHEAD * (processes - 1):
                chunk = range(claimed, min(claimed + CHUNK, len(jobs)))
                pending[pool.submit(_run_chunk, fn, [jobs[i] for i in chunk])] = chunk
                claimed = chunk.stop
            if claimed < len(jobs):  # this process takes the next file itself
                results[claimed] = fn(jobs[claimed])
                claimed += 1
                finished = [f for f in pending if f.done()]
            else:
                finished = wait(pending, return_when=FIRST_COMPLETED).done if pending else []
            for future in finished:
                results.update(zip(pending.pop(future), future.result()))
            while done in results:
                yield results.pop(done)
                done += 1
