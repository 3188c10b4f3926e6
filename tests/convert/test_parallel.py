"""parallel_map gives map's results, in order, whichever process converted each job."""

from __future__ import annotations

from hk2nnx.convert.parallel import CHUNK, parallel_map


def test_results_come_back_in_job_order():
    jobs = list(range(-5 * CHUNK, 5 * CHUNK))  # more than the worker's queued chunks
    assert list(parallel_map(abs, jobs, 2)) == [abs(j) for j in jobs]
    assert list(parallel_map(abs, jobs, 1)) == [abs(j) for j in jobs]
    assert list(parallel_map(abs, [], 2)) == []
