"""`hk2nnx port` on big float32 checkpoints: throughput against a plain copy, and peak memory.

The checkpoint is a Haiku `hk.nets.MLP([W] * L)` written as .safetensors (streamed, so the parent
never holds it). The port is the real command, `hk2nnx port CKPT --model MLP.py:model --input
f32[1,W] -o OUT`, run through `hk2nnx.cli.main` in a child process (`python bench/port_bench.py
child ...`) so its peak RSS is the port's own; the copy is `shutil.copyfile` + fsync on the same
disk, because the port's atomic writer fsyncs too. Runs alternate copy/port and the throughput
ratio is the median of per-run copy_time / port_time. safetensors (like npz) is a format the port
streams: each MLP weight is only renamed, so its bytes are copied by the kernel while a second
thread computes the CRC-32 the output carries. Pickle, msgpack and orbax sources are loaded whole
(those formats cannot be read piecewise) and are not measured here.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script (the child): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import FAIL, PENDING, Row, at_least, at_most

THROUGHPUT_TARGET = 0.70  # port bytes/s over copy bytes/s
MEM_FACTOR, MEM_SLACK_MB = 1.25, 200.0  # peak RSS <= 1.25 x largest array + 200 MB
MB = 1e6


@dataclasses.dataclass(frozen=True)
class Size:
    """One checkpoint: `layers` Linear layers of `width` x `width` float32 (plus biases)."""

    label: str
    width: int
    layers: int
    reps: int

    @property
    def nbytes(self) -> int:
        return self.layers * (self.width * self.width + self.width) * 4

    @property
    def largest(self) -> int:
        return self.width * self.width * 4


def sizes(quick: bool) -> list[Size]:
    if quick:  # same row names, ~20 and ~40 MB
        return [Size("1GB", 1024, 5, 1), Size("4GB", 1024, 10, 1)]
    return [Size("1GB", 8192, 4, 3), Size("4GB", 8192, 16, 3)]


def row_names(quick: bool) -> tuple[list[str], dict[str, str]]:
    names, targets = [], {}
    for s in sizes(quick):
        names += [f"port/{s.label}/throughput", f"port/{s.label}/peak_rss"]
        targets[names[-2]] = f">= {THROUGHPUT_TARGET:.2f}x copy"
        targets[names[-1]] = f"<= {MEM_FACTOR} x largest + {MEM_SLACK_MB:.0f} MB"
    return names, targets


# --- the synthetic checkpoint ------------------------------------------------------------------

def _leaves(size: Size) -> list[tuple[str, tuple[int, ...]]]:
    out = []
    for i in range(size.layers):
        out += [(f"mlp/~/linear_{i}/w", (size.width, size.width)),
                (f"mlp/~/linear_{i}/b", (size.width,))]
    return out


def write_checkpoint(path: Path, size: Size, seed: int = 0) -> None:
    """A Haiku-side .safetensors written one tensor at a time (header first, then raw bytes)."""
    header, offset = {}, 0
    for key, shape in _leaves(size):
        n = int(np.prod(shape)) * 4
        header[key] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    block = np.random.default_rng(seed).standard_normal(1 << 20, dtype=np.float32) * 0.01
    with open(path, "wb") as fh:
        fh.write(len(blob).to_bytes(8, "little") + blob)
        for _, shape in _leaves(size):
            n = int(np.prod(shape))
            fh.writelines(block[: min(block.size, n - start)].tobytes()
                          for start in range(0, n, block.size))


# --- the child: one port ----------------------------------------------------------------------

def peak_rss() -> int:
    """Peak RSS of this process in bytes. VmHWM first: Linux keeps `ru_maxrss` across execve, so
    a child forked from the (large) benchmark process would report the parent's size."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


MODEL_FILE = """import haiku as hk


def forward(x):
    return hk.nets.MLP([{width}] * {layers})(x)


model = hk.transform(forward)
"""


def child(ckpt: str, out: str, width: int, layers: int) -> None:
    """Runs `hk2nnx port` in this process (its `main`, as the console script does), timing it
    from after the imports; prints one JSON line."""
    import haiku  # noqa: F401  (start-up, not porting: the command imports these lazily)
    import jax

    import hk2nnx.cli
    import hk2nnx.port.api
    import hk2nnx.port.formats
    import hk2nnx.port.stream

    jax.block_until_ready(jax.numpy.zeros(()))  # backend start-up, like the imports
    model = Path(out).with_name(f"mlp_{width}x{layers}.py")
    model.write_text(MODEL_FILE.format(width=width, layers=layers), encoding="utf-8")
    baseline = peak_rss()
    start = time.perf_counter()
    code = hk2nnx.cli.main(["port", ckpt, "--model", f"{model}:model", "--input",
                            f"f32[1,{width}]", "-o", out])
    seconds = time.perf_counter() - start
    if code:
        raise SystemExit(f"hk2nnx port exited with {code}")
    print(json.dumps({"seconds": seconds, "peak": peak_rss(), "baseline": baseline}))


def _port_once(ckpt: Path, out: Path, size: Size) -> dict:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "child", str(ckpt), str(out),
         str(size.width), str(size.layers)],
        capture_output=True, text=True, check=False,
        env={**os.environ, "JAX_PLATFORMS": "cpu"})
    if proc.returncode:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"port child failed: {tail[:200]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _copy_once(src: Path, dst: Path) -> float:
    start = time.perf_counter()
    shutil.copyfile(src, dst)
    fd = os.open(dst, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - start


def bench_size(size: Size, workdir: Path) -> list[Row]:
    ckpt, out, copy = (workdir / f"{size.label}.{n}" for n in ("safetensors", "nnx.safetensors",
                                                              "copy.safetensors"))
    write_checkpoint(ckpt, size)
    nbytes = ckpt.stat().st_size
    ratios, ports, copies, peaks = [], [], [], []
    for rep in range(size.reps):
        for what in (("copy", "port") if rep % 2 == 0 else ("port", "copy")):
            if what == "copy":
                copies.append(_copy_once(ckpt, copy))
                copy.unlink()
            else:
                result = _port_once(ckpt, out, size)
                ports.append(result["seconds"])
                peaks.append(result)
                out.unlink()
        ratios.append(copies[-1] / ports[-1])
    ckpt.unlink()
    port_s, copy_s = statistics.median(ports), statistics.median(copies)
    peak = max(p["peak"] for p in peaks)
    base = statistics.median(p["baseline"] for p in peaks)
    limit = MEM_FACTOR * size.largest + MEM_SLACK_MB * MB
    tag = f"{nbytes / MB:,.0f} MB checkpoint"
    return [
        at_least(f"port/{size.label}/throughput", statistics.median(ratios), THROUGHPUT_TARGET,
                 "x copy", detail=(
                     f"{tag}; port {nbytes / port_s / MB:,.0f} MB/s ({port_s:.2f} s) vs copy+fsync "
                     f"{nbytes / copy_s / MB:,.0f} MB/s ({copy_s:.2f} s); median of {size.reps}; "
                     "port time includes the command's trace of the model")),
        at_most(f"port/{size.label}/peak_rss", peak / MB, limit / MB, " MB", detail=(
            f"{tag}; largest array {size.largest / MB:,.0f} MB; child RSS after imports "
            f"{base / MB:,.0f} MB, growth while porting "
            f"{(peak - base) / MB:,.0f} MB")),
    ]


def run(quick: bool) -> list[Row]:
    names, targets = row_names(quick)
    try:
        from hk2nnx.port import formats
        ready = hasattr(formats, "read_haiku_checkpoint") and hasattr(formats,
                                                                      "write_nnx_checkpoint")
    except ImportError:
        ready = False
    if not ready:
        return [Row(n, targets[n], "-", PENDING, "hk2nnx.port.formats readers/writers not present")
                for n in names]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="hk2nnx-port-bench-") as tmp:
        for size in sizes(quick):
            try:
                rows += bench_size(size, Path(tmp))
            except Exception as err:  # noqa: BLE001  (one size failing keeps the other's rows)
                why = f"error: {type(err).__name__}: {err}"[:200]
                rows += [Row(n, targets[n], "-", FAIL, why) for n in names
                         if n.startswith(f"port/{size.label}/")]
    return rows


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "child":
    child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
