"""Damaged or ill-shaped checkpoints give one clear line; failed writes leave nothing behind."""

import os
import pickle

import numpy as np
import pytest

from hk2nnx.port import formats
from hk2nnx.port.formats import CheckpointError, npz_io, orbax_io, safetensors_io

PARAMS = {"mlp/~/linear_0": {"w": np.arange(64, dtype=np.float32).reshape(8, 8),
                             "b": np.arange(8, dtype=np.float32)}}
FLAT = {"linear.kernel": np.arange(64, dtype=np.float32).reshape(8, 8)}


def _one_line_error(path, *args, reader=formats.read_haiku_checkpoint):
    with pytest.raises(CheckpointError) as err:
        reader(path, *args)
    text = str(err.value)
    assert text.startswith(str(path)) and "\n" not in text
    return text


@pytest.mark.parametrize("name", ["a.npz", "a.safetensors", "a.pkl", "a.msgpack"])
def test_truncated_and_empty_files(tmp_path, name):
    path = formats.write_haiku_checkpoint(tmp_path / name, PARAMS)
    data = path.read_bytes()
    for cut in (len(data) // 2, 7, 0):
        path.write_bytes(data[:cut])
        _one_line_error(path)


@pytest.mark.parametrize("name, where, words", [
    ("a.npz", "weights", "CRC"), ("a.npz", 0, ""), ("a.safetensors", 0.02, ""),
    ("a.safetensors", "weights", "fails its CRC-32 check"), ("a.pkl", 0, ""),
    ("a.msgpack", 0, ""),
])
def test_flipped_bytes(tmp_path, name, where, words):
    """npz has zip CRCs and our safetensors carry CRC-32s, so flips in the weights are caught."""
    path = formats.write_haiku_checkpoint(tmp_path / name, PARAMS)
    data = bytearray(path.read_bytes())
    if where == "weights":
        where = data.index(PARAMS["mlp/~/linear_0"]["w"].tobytes()) + 100
    data[where if isinstance(where, int) else int(len(data) * where)] ^= 0xFF
    path.write_bytes(bytes(data))
    assert words in _one_line_error(path)


def test_corrupted_orbax_directory(tmp_path):
    out = formats.write_nnx_checkpoint(tmp_path / "ckpt", FLAT)
    (out / "_METADATA").write_text("{broken")
    _one_line_error(out, reader=formats.read_nnx_checkpoint)
    (out / "_METADATA").unlink()
    (out / "_CHECKPOINT_METADATA").unlink()
    (out / "manifest.ocdbt").unlink()
    assert "not an orbax checkpoint" in _one_line_error(out, reader=formats.read_nnx_checkpoint)


@pytest.mark.parametrize("obj, words", [
    ({"linear": np.ones(3)}, "'linear' holds a ndarray"),
    ({"linear": {"w": "text"}}, "linear/w holds a str"),
    ([1, 2, 3], "got a list"),
])
def test_trees_that_are_not_haiku_checkpoints(tmp_path, obj, words):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(obj))
    text = _one_line_error(path)
    assert "not a Haiku checkpoint" in text and words in text


def test_non_numeric_arrays_are_refused(tmp_path):
    np.savez(tmp_path / "x.npz", **{"linear/w": np.array(["a"])})
    assert "linear/w has dtype str32" in _one_line_error(tmp_path / "x.npz")


def test_each_side_refuses_the_other_sides_files(tmp_path):
    nnx_file = formats.write_nnx_checkpoint(tmp_path / "n.safetensors", FLAT)
    assert "read_nnx_checkpoint" in _one_line_error(nnx_file)
    haiku_file = formats.write_haiku_checkpoint(tmp_path / "h.npz", PARAMS)
    assert "read_haiku_checkpoint" in _one_line_error(haiku_file,
                                                      reader=formats.read_nnx_checkpoint)
    np.savez(tmp_path / "dotted.npz", **{"linear.kernel": np.ones(2)})
    assert "read_nnx_checkpoint" in _one_line_error(tmp_path / "dotted.npz")


def test_missing_and_unknown_files(tmp_path):
    assert "no such file" in _one_line_error(tmp_path / "nope.npz")
    (tmp_path / "a.h5").write_bytes(b"x")
    assert "readable: safetensors" in _one_line_error(tmp_path / "a.h5")
    with pytest.raises(CheckpointError, match="writable"):
        formats.write_haiku_checkpoint(tmp_path / "dir_out", PARAMS)
    with pytest.raises(CheckpointError, match="writable"):
        formats.write_nnx_checkpoint(tmp_path / "x.pkl", FLAT)


def test_writer_rejects_bad_keys_before_writing(tmp_path):
    with pytest.raises(CheckpointError, match="must not contain '/'"):
        formats.write_haiku_checkpoint(tmp_path / "a.npz", {"m": {"a/b": np.ones(1)}})
    with pytest.raises(CheckpointError, match="both a leaf and a prefix|under another leaf"):
        formats.write_nnx_checkpoint(tmp_path / "ckpt", {"a": np.ones(1), "a.b": np.ones(1)})
    with pytest.raises(CheckpointError, match="dtype object"):
        formats.write_nnx_checkpoint(tmp_path / "a.npz", {"a": np.array([None])})
    assert os.listdir(tmp_path) == []


def _fail_on_second(real):
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)
    return wrapper


def _fail_after_partial_write(tmp, *args, **kwargs):
    with open(tmp, "wb") as handle:
        handle.write(b"partial")
    raise KeyboardInterrupt


def _interrupt_mid_payload(handle, *args, **kwargs):
    handle.write(b"partial")
    raise KeyboardInterrupt


@pytest.mark.parametrize("case", ["npz", "safetensors", "pickle", "orbax"])
def test_failed_write_leaves_nothing_at_out(tmp_path, monkeypatch, case):
    out = tmp_path / {"npz": "a.npz", "safetensors": "a.safetensors", "pickle": "a.pkl",
                      "orbax": "ckpt"}[case]
    write = formats.write_nnx_checkpoint if case in ("orbax",) else formats.write_haiku_checkpoint
    data = FLAT if case == "orbax" else PARAMS
    if case == "npz":
        monkeypatch.setattr(npz_io, "write_payload", _fail_on_second(npz_io.write_payload))
    elif case == "safetensors":
        monkeypatch.setattr(safetensors_io, "write_payload", _interrupt_mid_payload)
    elif case == "pickle":
        monkeypatch.setattr(pickle, "dump", lambda obj, handle, **kw: _fail_after_partial_write(
            handle.name))
    else:
        monkeypatch.setattr(orbax_io.safetensors_io, "write_leaves", _fail_on_second(
            lambda *a: (_ for _ in ()).throw(OSError(5, "I/O error"))))
    with pytest.raises((CheckpointError, KeyboardInterrupt)):
        write(out, data)
    assert not out.exists()
    assert os.listdir(tmp_path) == []


def test_orbax_leftovers_are_removed_when_orbax_fails(tmp_path, monkeypatch):
    def crash(target, tree):
        (target.parent / f"{target.name}.orbax-checkpoint-tmp-1").mkdir()
        raise RuntimeError("orbax exploded")

    monkeypatch.setattr(orbax_io, "_save", crash)
    with pytest.raises(CheckpointError, match="orbax exploded"):
        formats.write_nnx_checkpoint(tmp_path / "ckpt", FLAT)
    assert os.listdir(tmp_path) == []


def test_writer_checks_the_trees_it_is_given(tmp_path):
    with pytest.raises(CheckpointError, match="'linear' holds a ndarray"):
        formats.write_haiku_checkpoint(tmp_path / "a.npz", {"linear": np.ones(3)})
    with pytest.raises(CheckpointError, match="state is a list"):
        formats.write_haiku_checkpoint(tmp_path / "a.npz", PARAMS, [])
    assert os.listdir(tmp_path) == []


def test_failed_overwrite_keeps_the_old_file(tmp_path, monkeypatch):
    out = formats.write_haiku_checkpoint(tmp_path / "a.npz", PARAMS)
    before = out.read_bytes()
    monkeypatch.setattr(npz_io, "write_payload", _fail_on_second(npz_io.write_payload))
    with pytest.raises(CheckpointError, match="No space left"):
        formats.write_haiku_checkpoint(out, PARAMS, overwrite=True)
    assert out.read_bytes() == before and os.listdir(tmp_path) == ["a.npz"]


@pytest.mark.parametrize("name", ["a.npz", "a.safetensors", "ckpt"])
def test_existing_out_needs_overwrite(tmp_path, name):
    out = formats.write_nnx_checkpoint(tmp_path / name, FLAT)
    with pytest.raises(CheckpointError, match="already exists"):
        formats.write_nnx_checkpoint(out, {"other": np.zeros(1, np.int8)})
    assert set(formats.read_nnx_checkpoint(out)[0]) == {"linear.kernel"}
    formats.write_nnx_checkpoint(out, {"other": np.zeros(1, np.int8)}, overwrite=True)
    assert set(formats.read_nnx_checkpoint(out)[0]) == {"other"}
    assert sorted(os.listdir(tmp_path)) == [name]


def test_written_files_get_the_ordinary_mode(tmp_path):
    """safetensors writes 0600 files; ours follow the umask like any other file the user makes."""
    import os

    import numpy as np

    from hk2nnx.port.formats import write_nnx_checkpoint

    umask = os.umask(0o022)
    try:
        out = write_nnx_checkpoint(tmp_path / "m.safetensors", {"a.kernel": np.ones((2,), np.float32)})
    finally:
        os.umask(umask)
    assert (os.stat(out).st_mode & 0o777) == 0o644
