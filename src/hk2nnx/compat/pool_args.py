"""hk.avg_pool/max_pool as nnx.avg_pool/max_pool arguments, when Flax's pooling can express them.

Flax pools the axes between the batch axes and the last (feature) axis; Haiku pools whatever its
inferred full-rank window covers, channel or not. `flax_pool` answers with the arguments that
make the built-in equal to Haiku (SAME averages need `count_include_pad=False`), or None when
no arguments can: then the converter emits the compat `avg_pool`/`max_pool`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from hk2nnx.compat.templates.pooling import pool_shape


@dataclasses.dataclass(frozen=True)
class FlaxPool:
    """Arguments of nnx.avg_pool / nnx.max_pool equal to one Haiku pooling call."""

    function: str  # "avg_pool" or "max_pool"
    window_shape: tuple[int, ...]
    strides: tuple[int, ...]
    padding: str

    @property
    def kwargs(self) -> dict[str, object]:
        extra = {"count_include_pad": False} if self.function == "avg_pool" else {}
        return {"window_shape": self.window_shape, "strides": self.strides,
                "padding": self.padding, **extra}

    def source(self, value: str) -> str:
        """The call as converted code writes it, e.g. `nnx.avg_pool(x, (2, 2), ...)`."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items() if k != "window_shape")
        return f"nnx.{self.function}({value}, {self.window_shape!r}, {args})"


def flax_pool(function: str, ndim: int, window_shape: int | Sequence[int],
              strides: int | Sequence[int], padding: str,
              channel_axis: int | None = -1) -> FlaxPool | None:
    """The Flax arguments for a Haiku pooling of a rank-`ndim` input, or None if inexpressible."""
    if function not in ("avg_pool", "max_pool"):
        raise ValueError(f"function must be 'avg_pool' or 'max_pool', not {function!r}")
    probe = jax.ShapeDtypeStruct((1,) * ndim, jnp.float32)
    window = pool_shape(probe, window_shape, channel_axis)
    steps = pool_shape(probe, tuple(strides) if not isinstance(strides, int) else strides,
                       channel_axis)
    if window[-1] != 1 or steps[-1] != 1:
        return None  # Flax never pools its last (feature) axis
    batch = next((i for i in range(ndim - 1) if window[i] != 1 or steps[i] != 1), ndim - 1)
    if batch == ndim - 1:
        batch = ndim - 2  # a window of ones still needs one pooled axis in Flax
    return FlaxPool(function, tuple(window[batch:-1]), tuple(steps[batch:-1]), padding)
