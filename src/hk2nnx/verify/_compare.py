"""Leaf comparison with dtype-aware tolerances; shapes and dtypes must match exactly first."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from hk2nnx.program.model import TensorSpec
from hk2nnx.verify._report import Row

# dtype -> (rtol, atol factor). A leaf passes when |nnx - haiku| <= atol + rtol * |haiku|
# elementwise, with atol = factor * max|haiku|: the absolute slack scales with the leaf, so
# near-zero elements of a large tensor do not fail on rounding noise from reordered sums.
TOLERANCES: dict[str, tuple[float, float]] = {
    "float64": (1e-10, 1e-12),
    "float32": (1e-5, 1e-6),
    "complex128": (1e-10, 1e-12),
    "complex64": (1e-5, 1e-6),
    "float16": (2e-3, 1e-3),  # 10 mantissa bits
    "bfloat16": (2e-2, 1e-2),  # 7 mantissa bits
}


def compare(kind: str, haiku: str, nnx_label: str, expected: Any, actual: Any,
            scale: float = 0.0) -> Row:
    """One row; a shape or dtype difference fails without broadcasting or casting.

    `scale` raises the magnitude atol is taken from: gradients pass the largest gradient of the
    model, since a leaf whose true gradient is zero (a bias before BatchNorm) holds only
    cancellation noise, whose size follows the other leaves, not its own.
    """
    expected, actual = _plain(expected), _plain(actual) if actual is not None else None
    spec = _spec(expected)
    if actual is None:
        return Row(kind, haiku, nnx_label, spec, None, None, False, "missing on the NNX side")
    if expected.shape != actual.shape:
        return Row(kind, haiku, nnx_label, spec, None, None, False,
                   f"shape mismatch: NNX {_spec(actual)}, Haiku {spec}")
    if expected.dtype != actual.dtype:
        return Row(kind, haiku, nnx_label, spec, None, None, False,
                   f"dtype mismatch: NNX {_spec(actual)}, Haiku {spec}")
    if not np.issubdtype(expected.dtype, np.inexact) and expected.dtype.name not in TOLERANCES:
        return _exact(kind, haiku, nnx_label, spec, expected, actual)
    return _close(kind, haiku, nnx_label, spec, expected, actual, scale)


def _plain(value: Any) -> np.ndarray:
    if isinstance(value, jax.Array) and jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
        value = jax.random.key_data(value)
    return np.asarray(value)


def _spec(value: np.ndarray) -> str:
    try:
        return str(TensorSpec.of(value))
    except TypeError:
        return f"{value.dtype}[{','.join(map(str, value.shape))}]"


def _exact(kind, haiku, nnx_label, spec, expected, actual) -> Row:
    ok = bool(np.array_equal(expected, actual))
    if expected.dtype == np.bool_:
        diff = float(np.count_nonzero(expected != actual))
    else:
        diff = float(np.max(np.abs(expected.astype(np.float64) - actual.astype(np.float64)),
                            initial=0.0))
    return Row(kind, haiku, nnx_label, spec, diff, None, ok, "exact")


def _close(kind, haiku, nnx_label, spec, expected, actual, floor: float) -> Row:
    rtol, factor = TOLERANCES.get(expected.dtype.name, TOLERANCES["float32"])
    wide = np.complex128 if np.iscomplexobj(expected) else np.float64
    exp, act = expected.astype(wide), actual.astype(wide)
    finite = np.isfinite(exp)
    atol = factor * max(float(np.max(np.abs(exp[finite]), initial=0.0)), floor)
    same_special = (np.isnan(exp) & np.isnan(act)) | (~finite & (exp == act))
    diff = np.where(same_special, 0.0, np.abs(act - exp))
    diff = np.where(np.isnan(diff), np.inf, diff)
    ok = bool(np.all(diff <= atol + rtol * np.abs(np.where(finite, exp, 0.0))))
    max_abs = float(np.max(diff, initial=0.0))
    # |haiku| floored at atol (or the smallest normal), so exact zeros do not divide.
    denom = np.maximum(np.abs(np.where(finite, exp, 1.0)), max(atol, np.finfo(np.float64).tiny))
    max_rel = float(np.max(diff / denom, initial=0.0))
    return Row(kind, haiku, nnx_label, spec, max_abs, max_rel, ok,
               f"rtol {rtol:g}, atol {atol:.2g}")


def path_label(path: tuple) -> str:
    return jax.tree_util.keystr(path) or "out"


def magnitude(tree: Any) -> float:
    """Largest finite |value| over the float leaves of a tree."""
    out = 0.0
    for leaf in jax.tree.leaves(tree):
        x = np.asarray(leaf)
        if np.issubdtype(x.dtype, np.inexact) or x.dtype.name in TOLERANCES:
            x = np.abs(x.astype(np.complex128 if np.iscomplexobj(x) else np.float64))
            out = max(out, float(np.max(x[np.isfinite(x)], initial=0.0)))
    return out


def compare_outputs(expected: Any, actual: Any) -> tuple[list[Row], list[str]]:
    """Rows for every output leaf, and notes. Different containers with the same number of
    leaves are compared in order (a tuple returned as a list is still the same output)."""
    exp, exp_def = jax.tree_util.tree_flatten_with_path(expected)
    act, act_def = jax.tree_util.tree_flatten_with_path(actual)
    notes = []
    if exp_def != act_def:
        if len(exp) != len(act):
            return [Row("output", f"{len(exp)} leaves", f"{len(act)} leaves", "-", None, None,
                        False, f"output structure differs: Haiku {exp_def}, NNX {act_def}")], notes
        notes.append(f"output containers differ (Haiku {exp_def}, NNX {act_def}); leaves "
                     "compared in order")
    rows = [compare("output", path_label(pe), path_label(pa), e, a)
            for (pe, e), (pa, a) in zip(exp, act)]
    return rows, notes
