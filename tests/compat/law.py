"""Two samples drawn from the same distribution? Two-sample KS plus moments and bounds."""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

# Two-sample Kolmogorov-Smirnov critical value c(alpha) * sqrt((n + m) / (n m)), alpha = 1e-3.
KS_C = 1.95


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.sort(np.ravel(a)), np.sort(np.ravel(b))
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


def law_faults(expected: np.ndarray, actual: np.ndarray, *, bounded: bool = False) -> list[str]:
    """Empty when `actual` looks drawn from the law `expected` was drawn from."""
    e, a = np.ravel(np.asarray(expected, np.float64)), np.ravel(np.asarray(actual, np.float64))
    if e.std() == 0 or a.std() == 0:
        return [] if np.array_equal(np.sort(e), np.sort(a)) else ["constant samples differ"]
    faults = []
    critical = KS_C * np.sqrt((e.size + a.size) / (e.size * a.size))
    ks = ks_statistic(e, a)
    if ks > critical:
        faults.append(f"KS statistic {ks:.4f} > {critical:.4f}")
    mean_tol = 5 * e.std() * np.sqrt(1 / e.size + 1 / a.size)
    if abs(e.mean() - a.mean()) > mean_tol:
        faults.append(f"means {e.mean():.4g} vs {a.mean():.4g}")
    if abs(a.std() / e.std() - 1) > 0.03:
        faults.append(f"std ratio {a.std() / e.std():.4f}")
    if bounded:
        slack = 0.02 * e.std()
        if a.min() < e.min() - slack or a.max() > e.max() + slack:
            faults.append(f"range [{a.min():.4g}, {a.max():.4g}] exceeds Haiku's "
                          f"[{e.min():.4g}, {e.max():.4g}]")
    return faults


def haiku_draw(init, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """One draw of a Haiku initializer (they need Haiku's RNG context)."""
    f = hk.transform(lambda: hk.get_parameter("x", shape, jnp.float32, init=init))
    return np.asarray(f.init(jax.random.key(seed))["~"]["x"])


def jax_draw(init, shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    return np.asarray(init(jax.random.key(seed), shape, jnp.float32))
