"""Invertible layout operations between Haiku leaves and NNX leaves, declared once, used both ways.

Every op works on the per-layer (trailing) axes; `lead` leading axes added by layer_stack pass
through untouched, so one declaration serves stacked and unstacked layers alike.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

Shape = tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Op:
    """Base: n Haiku arrays <-> m NNX arrays. Subclasses override the three methods."""

    def predict(self, haiku: Sequence[Shape], attrs: dict) -> list[Shape]:
        """NNX per-layer shapes from Haiku per-layer shapes and the layer's constructor attrs."""
        return list(haiku)

    def forward(self, xs: Sequence[np.ndarray], lead: int, nnx: Sequence[Shape]) -> list:
        return list(xs)

    def inverse(self, ys: Sequence[np.ndarray], lead: int, haiku: Sequence[Shape]) -> list:
        return list(ys)

    def describe(self) -> str:
        return type(self).__name__.lower()


@dataclasses.dataclass(frozen=True)
class Identity(Op):
    def describe(self) -> str:
        return "rename"


def _reshape(x: np.ndarray, lead: int, shape: Shape) -> np.ndarray:
    return x.reshape(tuple(x.shape[:lead]) + tuple(shape))


@dataclasses.dataclass(frozen=True)
class SqueezeLeadingOnes(Op):
    """Haiku norms keep scale and statistics as (1, ..., C); NNX keeps (C,)."""

    def predict(self, haiku, attrs):
        (shape,) = haiku
        return [tuple(shape[-1:]) if shape else ()] if all(d == 1 for d in shape[:-1]) else [
            tuple(shape)]

    def forward(self, xs, lead, nnx):
        return [_reshape(xs[0], lead, nnx[0])]

    def inverse(self, ys, lead, haiku):
        return [_reshape(ys[0], lead, haiku[0])]

    def describe(self) -> str:
        return "reshape (1,...,C)->(C,)"


@dataclasses.dataclass(frozen=True)
class Reshape(Op):
    """A pure reshape whose NNX shape is computed from the layer's attributes."""

    split_axis: int  # axis of the Haiku shape to split (negative counts from the end)
    into: str  # attribute whose value is the leading factor (e.g. "num_heads")
    merge: bool = False  # False: split axis into (into, rest); True: inverse direction declared

    def predict(self, haiku, attrs):
        (shape,) = haiku
        shape = list(shape)
        n = int(attrs[self.into])
        if self.merge:
            axis = self.split_axis % len(shape)
            return [tuple(shape[:axis] + [shape[axis] * shape[axis + 1]] + shape[axis + 2:])]
        axis = self.split_axis % len(shape)
        return [tuple(shape[:axis] + [n, shape[axis] // n] + shape[axis + 1:])]

    def forward(self, xs, lead, nnx):
        return [_reshape(xs[0], lead, nnx[0])]

    def inverse(self, ys, lead, haiku):
        return [_reshape(ys[0], lead, haiku[0])]

    def describe(self) -> str:
        return f"reshape split axis {self.split_axis} by {self.into}"


@dataclasses.dataclass(frozen=True)
class SwapLastTwo(Op):
    """Transposed convolutions: Haiku (..., O, I) vs NNX (..., I, O)."""

    def predict(self, haiku, attrs):
        (shape,) = haiku
        return [tuple(shape[:-2]) + (shape[-1], shape[-2])]

    def forward(self, xs, lead, nnx):
        return [np.swapaxes(xs[0], -1, -2)]

    def inverse(self, ys, lead, haiku):
        return [np.swapaxes(ys[0], -1, -2)]

    def describe(self) -> str:
        return "transpose last two axes"


@dataclasses.dataclass(frozen=True)
class SplitLast(Op):
    """One Haiku array holding several NNX arrays side by side along the last axis (gates)."""

    parts: int
    axis: int = -1

    def predict(self, haiku, attrs):
        (shape,) = haiku
        axis = self.axis % len(shape)
        part = list(shape)
        part[axis] = shape[axis] // self.parts
        return [tuple(part)] * self.parts

    def forward(self, xs, lead, nnx):
        return list(np.split(xs[0], self.parts, axis=self.axis))

    def inverse(self, ys, lead, haiku):
        return [np.concatenate(list(ys), axis=self.axis)]

    def describe(self) -> str:
        return f"split last axis into {self.parts}"


@dataclasses.dataclass(frozen=True)
class DebiasedEma(Op):
    """Haiku's zero-debiased EMA {counter, hidden, average} -> NNX's plain running value.

    Forward keeps `average` (what Haiku reads in eval mode). Inverse, without the residual
    leaves, sets hidden = average and a counter so large that Haiku's debias factor is exactly 1:
    the Haiku EMA then continues exactly as NNX's momentum update does.
    """

    def predict(self, haiku, attrs):
        return SqueezeLeadingOnes().predict([haiku[2]], attrs)

    def forward(self, xs, lead, nnx):
        return [_reshape(xs[2], lead, nnx[0])]

    def inverse(self, ys, lead, haiku):
        average = _reshape(ys[0], lead, haiku[2])
        counter = np.full(tuple(average.shape[:lead]) + tuple(haiku[0]), SATURATED_COUNTER,
                          dtype=np.int32)
        return [counter, average.copy(), average]

    def describe(self) -> str:
        return "debiased EMA: keep average"


# decay**counter underflows to 0 in float32 for any decay <= 1 - 1e-6 at this count.
SATURATED_COUNTER = 2**30
assert 0.999999 ** SATURATED_COUNTER < math.ulp(1.0) / 4
