"""Faithful vs idiomatic conversion: fresh-init statistics, BatchNorm training, _haiku_compat."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fixture_runner import compat_importable, run_module

import hk2nnx
from hk2nnx.cli import main
from hk2nnx.compat import compat_source
from hk2nnx.convert import Severity, convert_source
from hk2nnx.mappings.layers import targets

LINEAR = '''import haiku as hk
import jax
import jax.numpy as jnp


class Net(hk.Module):
    def __call__(self, x):
        return hk.Linear(256)(x)


def forward(x):
    return Net()(x)


net = hk.transform(forward)
params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 256)))
'''

BATCH_NORM = '''import haiku as hk
import jax
import jax.numpy as jnp


class Net(hk.Module):
    def __call__(self, x, is_training):
        return hk.BatchNorm(True, True, 0.9)(x, is_training)


def forward(x, is_training):
    return Net()(x, is_training)


net = hk.transform_with_state(forward)
params, state = net.init(jax.random.PRNGKey(0), jnp.zeros((8, 4)), True)
'''


def _build(source: str, mode: str, tmp_path: Path) -> tuple[dict, object]:
    result = convert_source(source, mode=mode)
    with compat_importable(result.compat, tmp_path):
        return run_module(source, "original"), run_module(result.code, f"converted_{mode}")


def _haiku_kernel_std() -> float:
    stds = [float(np.std(hk.transform(lambda x: hk.Linear(256)(x)).init(
        jax.random.PRNGKey(seed), jnp.zeros((1, 256)))["linear"]["w"])) for seed in range(3)]
    return float(np.mean(stds))


@pytest.mark.parametrize("mode, close", [("faithful", True), ("idiomatic", False)])
def test_fresh_linear_kernel_std_matches_haiku_only_in_faithful_mode(mode, close, tmp_path):
    _, converted = _build(LINEAR, mode, tmp_path)
    ratio = float(np.std(converted["net"].linear.kernel[...])) / _haiku_kernel_std()
    assert (abs(ratio - 1) < 0.1) is close, ratio


def test_idiomatic_mode_reports_the_measured_init_difference():
    findings = convert_source(LINEAR, mode="idiomatic").findings
    assert any(f.severity is Severity.INFO and "1.137" in f.message for f in findings)
    assert not any("1.137" in f.message for f in convert_source(LINEAR).findings)


def test_faithful_batch_norm_keeps_haiku_leaves(tmp_path):
    _, converted = _build(BATCH_NORM, "faithful", tmp_path)
    norm = converted["net"].batch_norm
    for ema in (norm.mean_ema, norm.var_ema):
        assert {"counter", "hidden", "average"} <= set(vars(ema))


def _train_three_steps(original: dict, model) -> tuple[np.ndarray, np.ndarray]:
    """Eval outputs of both sides after three training steps of state from a fresh init."""
    xs = [2.0 + 3.0 * jax.random.normal(jax.random.PRNGKey(i), (8, 4)) for i in range(4)]
    net, params, state = original["net"], original["params"], original["state"]
    for x in xs[:3]:
        _, state = net.apply(params, state, None, x, True)
        model.train()
        model(x)
    hk_out, _ = net.apply(params, state, None, xs[3], False)
    model.eval()
    return np.asarray(hk_out), np.asarray(model(xs[3]))


def test_faithful_batch_norm_running_stats_equal_haiku_after_three_steps(tmp_path):
    original, converted = _build(BATCH_NORM, "faithful", tmp_path)
    hk_out, nnx_out = _train_three_steps(original, converted["net"])
    np.testing.assert_allclose(nnx_out, hk_out, atol=1e-5)


def test_idiomatic_batch_norm_drifts_and_says_so(tmp_path):
    original, converted = _build(BATCH_NORM, "idiomatic", tmp_path)
    hk_out, nnx_out = _train_three_steps(original, converted["net"])
    assert np.max(np.abs(nnx_out - hk_out)) > 0.5
    messages = [f.message for f in convert_source(BATCH_NORM, mode="idiomatic").findings]
    assert any("zero-debiased" in m for m in messages)


def test_faithful_batch_norm_verifies_in_training(tmp_path):
    result = convert_source(BATCH_NORM)
    with compat_importable(result.compat, tmp_path), targets("faithful"):
        original = run_module(BATCH_NORM, "original")
        converted = run_module(result.code, "converted")
        report = hk2nnx.verify(original["net"], converted["net"],
                               hk2nnx.TensorSpec.parse("f32[8,4]"), is_training=True)
    assert report.passed, report.table()


def test_emitted_compat_module_imports_without_hk2nnx(tmp_path):
    (tmp_path / "_haiku_compat.py").write_text(compat_source(convert_source(BATCH_NORM).compat))
    code = "import sys; sys.modules['hk2nnx'] = None; import _haiku_compat; _haiku_compat.BatchNorm"
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)


def test_cli_writes_compat_beside_output_and_notes_it_on_stdout(tmp_path, capsys):
    source = tmp_path / "model.py"
    source.write_text(BATCH_NORM)
    main(["convert", str(source), "-o", str(tmp_path / "out")])
    assert (tmp_path / "out" / "_haiku_compat.py").exists()
    main(["convert", str(source)])
    assert "--compat-out" in capsys.readouterr().err
    main(["convert", str(source), "--mode", "idiomatic", "-o", str(tmp_path / "plain")])
    assert not (tmp_path / "plain" / "_haiku_compat.py").exists()
