"""The port reads which target each layer has from the model itself: faithful or idiomatic."""

import sys
from pathlib import Path

import jax.numpy as jnp

import hk2nnx
from hk2nnx._targets import load_object
from hk2nnx.compat import compat_source
from hk2nnx.convert import convert_source

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "guide" / "batch_norm_state.py"


def _converted(tmp_path, mode):
    result = convert_source(EXAMPLE.read_text(), filename=str(EXAMPLE), mode=mode)
    folder = tmp_path / mode
    folder.mkdir()
    (folder / f"bn_{mode}.py").write_text(result.code)
    if result.compat:
        (folder / "_haiku_compat.py").write_text(compat_source(set(result.compat)))
    sys.modules.pop("_haiku_compat", None)
    return load_object(f"{folder / f'bn_{mode}.py'}:model")


def test_faithful_and_idiomatic_conversions_both_take_a_port(tmp_path):
    original = load_object(f"{EXAMPLE}:model")
    x = jnp.linspace(-1.0, 2.0, 35).reshape(5, 7)
    for mode, ema_leaves in (("faithful", True), ("idiomatic", False)):
        report = hk2nnx.verify(original, _converted(tmp_path, mode), x, training=True)
        assert report.passed, report.table(failures_only=True)
        state_paths = [row.nnx for row in report.rows if row.kind == "state"]
        assert any("mean_ema" in p for p in state_paths) is ema_leaves, state_paths
