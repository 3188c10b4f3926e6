"""Leaf comparison rules: exact shapes and dtypes, dtype-aware tolerances, NaN and integers."""

import jax.numpy as jnp
import numpy as np

from hk2nnx.verify import TOLERANCES
from hk2nnx.verify._compare import compare, compare_outputs


def test_float32_tolerance_is_relative_with_a_scaled_floor():
    x = np.linspace(-3, 3, 12, dtype=np.float32)
    rtol, _ = TOLERANCES["float32"]
    assert compare("output", "h", "n", x, x * (1 + rtol / 4)).passed
    assert not compare("output", "h", "n", x, x * (1 + rtol * 20)).passed


def test_zero_expected_elements_get_slack_from_the_leaf_magnitude():
    expected = np.array([0.0, 100.0], np.float32)
    assert compare("grad", "h", "n", expected, np.array([1e-5, 100.0], np.float32)).passed
    assert not compare("grad", "h", "n", expected, np.array([1e-2, 100.0], np.float32)).passed


def test_scale_floor_lets_cancellation_noise_pass():
    expected = np.array([1e-13, -1e-13], np.float32)
    noisy = np.array([2e-7, -2e-7], np.float32)
    assert not compare("grad", "h", "n", expected, noisy).passed
    assert compare("grad", "h", "n", expected, noisy, scale=1.0).passed


def test_bfloat16_is_looser_than_float32():
    x = jnp.linspace(1, 2, 8, dtype=jnp.bfloat16)
    y = x * jnp.asarray(1.01, jnp.bfloat16)
    assert compare("output", "h", "n", x, y).passed
    assert not compare("output", "h", "n", x.astype(jnp.float32), y.astype(jnp.float32)).passed


def test_shape_mismatch_fails_even_when_it_would_broadcast():
    row = compare("output", "h", "n", np.zeros((4,), np.float32), np.zeros((4, 1), np.float32))
    assert not row.passed and row.max_abs is None and "shape mismatch" in row.detail


def test_dtype_mismatch_fails():
    row = compare("output", "h", "n", np.zeros(3, np.float32), np.zeros(3, np.float16))
    assert not row.passed and "dtype mismatch" in row.detail


def test_integers_compare_exactly():
    assert compare("state", "h", "n", np.array([1, 2]), np.array([1, 2])).passed
    row = compare("state", "h", "n", np.array([1, 2]), np.array([1, 3]))
    assert not row.passed and row.max_abs == 1.0


def test_nan_matches_nan_only():
    a = np.array([np.nan, 1.0], np.float32)
    assert compare("output", "h", "n", a, a.copy()).passed
    assert not compare("output", "h", "n", a, np.array([0.0, 1.0], np.float32)).passed
    assert not compare("output", "h", "n", np.array([0.0, 1.0], np.float32), a).passed


def test_missing_leaf_fails():
    assert not compare("grad", "h", "n", np.zeros(2, np.float32), None).passed


def test_outputs_pair_by_path_and_report_structure_changes():
    rows, notes = compare_outputs({"a": np.ones(2), "b": np.zeros(3)},
                                  {"a": np.ones(2), "b": np.zeros(3)})
    assert [r.haiku for r in rows] == ["['a']", "['b']"] and all(r.passed for r in rows)
    assert not notes
    rows, notes = compare_outputs((np.ones(2), np.ones(2)), [np.ones(2), np.ones(2)])
    assert all(r.passed for r in rows) and notes
    rows, _ = compare_outputs((np.ones(2), np.ones(2)), np.ones(2))
    assert len(rows) == 1 and not rows[0].passed
