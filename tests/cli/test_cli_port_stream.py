"""`hk2nnx port` end to end on a small MLP: streamed both ways, bit-exact, `--into` checked first."""

import numpy as np
import pytest

from hk2nnx import cli
from hk2nnx.port import formats

MODEL = """import haiku as hk

def forward(x):
    return hk.nets.MLP([6, 4])(x)

model = hk.transform(forward)
"""
NNX = """from flax import nnx

class Net(nnx.Module):
    def __init__(self, rngs=None):
        self.linear_0 = nnx.Linear(3, 6, rngs=nnx.Rngs(0))
        self.linear_1 = nnx.Linear(6, {out}, rngs=nnx.Rngs(0))
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "m.py").write_text(MODEL)
    rng = np.random.default_rng(0)
    params = {"mlp/~/linear_0": {"w": rng.standard_normal((3, 6), np.float32),
                                 "b": rng.standard_normal(6, np.float32)},
              "mlp/~/linear_1": {"w": rng.standard_normal((6, 4), np.float32),
                                 "b": rng.standard_normal(4, np.float32)}}
    formats.write_haiku_checkpoint(tmp_path / "c.safetensors", params)
    return tmp_path, params


def _port(tmp_path, *args):
    return cli.main(["port", *args, "--model", f"{tmp_path / 'm.py'}:model",
                     "--input", "f32[1,3]"])


def test_port_and_reverse_are_bit_exact(files, capsys):
    tmp_path, params = files
    out = str(tmp_path / "n.safetensors")
    assert _port(tmp_path, str(tmp_path / "c.safetensors"), "-o", out) == 0
    assert "wrote" in capsys.readouterr().out
    flat, _ = formats.read_nnx_checkpoint(tmp_path / "n.safetensors")
    assert flat["linear_1.kernel"].tobytes() == params["mlp/~/linear_1"]["w"].tobytes()
    assert _port(tmp_path, str(tmp_path / "n.safetensors"), "--reverse",
                 "-o", str(tmp_path / "back.npz")) == 0
    back, _ = formats.read_haiku_checkpoint(tmp_path / "back.npz")
    for module, leaves in params.items():
        for name, x in leaves.items():
            y = back[module][name]
            assert y.tobytes() == x.tobytes() and y.shape == x.shape and y.dtype == x.dtype


def test_into_match_passes(files):
    tmp_path, _ = files
    (tmp_path / "n.py").write_text(NNX.format(out=4))
    assert _port(tmp_path, str(tmp_path / "c.safetensors"), "-o", str(tmp_path / "n.npz"),
                 "--into", f"{tmp_path / 'n.py'}:Net") == 0


def test_into_mismatch_is_one_line_and_writes_nothing(files, capsys):
    tmp_path, _ = files
    (tmp_path / "n.py").write_text(NNX.format(out=5))
    code = _port(tmp_path, str(tmp_path / "c.safetensors"), "-o", str(tmp_path / "n.safetensors"),
                 "--into", f"{tmp_path / 'n.py'}:Net")
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "linear_1.kernel" in err
    assert not (tmp_path / "n.safetensors").exists()
