"""`port_checkpoint` streams: any format to any format, bit-exact both ways, one move in memory.

The model mixes a rename (MLP weights, copied through as bytes), a split (LSTM gate blocks,
computed) and a many-to-one move with residual leaves (BatchNorm's debiased EMAs).
"""

import os
import tracemalloc

import haiku as hk
import jax
import numpy as np
import pytest

import hk2nnx
from hk2nnx.port import formats
from hk2nnx.port.api import to_nnx_arrays
from hk2nnx.port.formats import spans
from hk2nnx.port.plan import PortError
from hk2nnx.port.stream import port_checkpoint

WIDTH, HIDDEN = 64, 32


def _forward(x):
    x = hk.nets.MLP([WIDTH] * 4)(x)
    core = hk.LSTM(HIDDEN)
    x, _ = core(x, core.initial_state(x.shape[0]))
    return hk.BatchNorm(True, True, 0.9)(x, is_training=True)


MODEL = hk.transform_with_state(_forward)


@pytest.fixture(scope="module")
def program():
    return hk2nnx.trace(MODEL, hk2nnx.TensorSpec.parse(f"f32[2,{WIDTH}]"))


@pytest.fixture(scope="module")
def trees():
    params, state = MODEL.init(jax.random.key(0), np.ones((2, WIDTH), np.float32))
    _, state = MODEL.apply(params, state, None, np.ones((2, WIDTH), np.float32))  # counters != 0
    as_np = jax.tree.map(np.asarray, (params, state))
    return {m: dict(v) for m, v in as_np[0].items()}, {m: dict(v) for m, v in as_np[1].items()}


def _assert_identical(got, want):
    assert {m: set(v) for m, v in got.items()} == {m: set(v) for m, v in want.items()}
    for module, leaves in want.items():
        for name, x in leaves.items():
            y = got[module][name]
            assert y.dtype == x.dtype and y.shape == x.shape, (module, name)
            assert y.tobytes() == x.tobytes(), (module, name)


@pytest.mark.parametrize("haiku_name,nnx_name", [
    ("c.safetensors", "n.safetensors"), ("c.npz", "n.npz"), ("c.safetensors", "n.npz"),
    ("c.npz", "n_orbax"), ("c.pkl", "n.safetensors"), ("c.msgpack", "n.npz"),
])
def test_file_port_is_bit_exact_both_ways(tmp_path, program, trees, haiku_name, nnx_name):
    src = formats.write_haiku_checkpoint(tmp_path / haiku_name, *trees)
    plan = port_checkpoint(src, tmp_path / nnx_name, program)
    flat, residual = formats.read_nnx_checkpoint(tmp_path / nnx_name)
    want_flat, want_residual, _ = to_nnx_arrays(*trees, program)
    assert sum(s.kind == "residual" for s in plan.slots) == len(want_residual) > 0
    _assert_identical({"": flat}, {"": want_flat})
    assert {k: v.tobytes() for k, v in residual.items()} == \
        {k: v.tobytes() for k, v in want_residual.items()}
    back = tmp_path / ("back" + os.path.splitext(haiku_name)[1])
    port_checkpoint(tmp_path / nnx_name, back, program, reverse=True)
    params, state = formats.read_haiku_checkpoint(back)
    _assert_identical(params, trees[0])
    _assert_identical(state, trees[1])


def test_renames_are_copied_through_and_gates_computed(program):
    from hk2nnx.port.formats.lazy import eager
    from hk2nnx.port.stream import forward_plan

    leaves = [eager("params", m, n, np.zeros(v.spec.shape, v.spec.dtype))
              for v in program.variables for m, n in [v.haiku_key]]
    plan = forward_plan(leaves, program)
    through = {s.slots[0].name for s in plan.steps if s.convert is None and s.slots[0].kind == "nnx"}
    computed = {slot.name for s in plan.steps if s.convert is not None for slot in s.slots}
    assert any("linear_0.kernel" in n for n in through)
    assert any("lstm" in n for n in computed) and not any("lstm" in n for n in through)


def _big_checkpoint(tmp_path, name):
    """Eight 1 MB MLP kernels and a 1.3 MB LSTM matrix: ~9 MB in all."""
    width, hidden = 512, 128

    def forward(x):
        x = hk.nets.MLP([width] * 8)(x)
        core = hk.LSTM(hidden)
        return core(x, core.initial_state(x.shape[0]))[0]

    model = hk.transform(forward)
    program = hk2nnx.trace(model, hk2nnx.TensorSpec.parse(f"f32[1,{width}]"))
    rng = np.random.default_rng(0)
    params = {}
    for v in program.variables:
        params.setdefault(v.module, {})[v.name] = rng.standard_normal(v.spec.shape, np.float32)
    largest = max(x.nbytes for leaves in params.values() for x in leaves.values())
    total = sum(x.nbytes for leaves in params.values() for x in leaves.values())
    src = formats.write_haiku_checkpoint(tmp_path / name, params)
    return src, program, largest, total


@pytest.mark.parametrize("name,out", [("c.safetensors", "n.safetensors"), ("c.npz", "n.npz")])
def test_port_holds_about_one_array_at_a_time(tmp_path, name, out):
    src, program, largest, total = _big_checkpoint(tmp_path, name)
    tracemalloc.start()
    try:
        port_checkpoint(src, tmp_path / out, program)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 6 * largest
    assert peak < 2 * largest, (peak, largest, total)


def test_copy_falls_back_when_the_kernel_refuses(tmp_path, program, trees, monkeypatch):
    def refuse(*args):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(spans.os, "copy_file_range", refuse)
    src = formats.write_haiku_checkpoint(tmp_path / "c.safetensors", *trees)
    port_checkpoint(src, tmp_path / "n.safetensors", program)
    flat, _ = formats.read_nnx_checkpoint(tmp_path / "n.safetensors")
    _assert_identical({"": flat}, {"": to_nnx_arrays(*trees, program)[0]})


def test_a_flipped_byte_in_a_copied_tensor_is_caught(tmp_path, program, trees):
    src = formats.write_haiku_checkpoint(tmp_path / "c.safetensors", *trees)
    data = bytearray(src.read_bytes())
    data[-WIDTH * 4 - 1] ^= 0x40  # inside the last tensor's bytes
    src.write_bytes(bytes(data))
    with pytest.raises(formats.CheckpointError, match="CRC-32"):
        port_checkpoint(src, tmp_path / "n.safetensors", program)
    assert os.listdir(tmp_path) == ["c.safetensors"]


def test_missing_and_extra_leaves_are_listed_before_anything_is_written(tmp_path, program, trees):
    params, state = {m: dict(v) for m, v in trees[0].items()}, trees[1]
    module = next(m for m in params if "linear_1" in m)
    del params[module]["w"]
    params["stray"] = {"w": np.zeros(3, np.float32)}
    src = formats.write_haiku_checkpoint(tmp_path / "c.npz", params, state)
    with pytest.raises(PortError) as err:
        port_checkpoint(src, tmp_path / "n.safetensors", program)
    text = str(err.value)
    assert "\n" not in text and f"{module}/w" in text and "stray/w" in text
    assert not (tmp_path / "n.safetensors").exists()


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_foreign_npz_members_stream_through(tmp_path, program, trees, save):
    flat = {f"{m}/{n}": x for tree in trees for m, leaves in tree.items() for n, x in leaves.items()}
    save(tmp_path / "c.npz", **flat)  # no hk2nnx metadata: state leaves read as params
    port_checkpoint(tmp_path / "c.npz", tmp_path / "n.safetensors", program)
    got, _ = formats.read_nnx_checkpoint(tmp_path / "n.safetensors")
    _assert_identical({"": got}, {"": to_nnx_arrays(*trees, program)[0]})


def _data_starts(path):
    import json

    with open(path, "rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(size))
    return {k: 8 + size + v["data_offsets"][0] for k, v in header.items() if k != "__metadata__"}


def test_copied_tensors_keep_their_place_within_a_page(tmp_path, program, trees):
    src = formats.write_haiku_checkpoint(tmp_path / "c.safetensors", *trees)
    port_checkpoint(src, tmp_path / "n.safetensors", program)
    before, after = _data_starts(src), _data_starts(tmp_path / "n.safetensors")
    pairs = [(after[k], before[f"{m}/w"]) for m in trees[0] for k in after
             if k.endswith(".kernel") and "lstm" not in m and m.endswith(k.split(".")[-2])]
    assert len(pairs) == 4
    assert any(a % 4096 == b % 4096 and a != b for a, b in pairs)  # the header was padded
