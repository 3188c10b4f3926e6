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
class PureReshape(Op):
    """Base of ops that only reshape one leaf: subclasses say the NNX shape in `predict`."""

    def forward(self, xs, lead, nnx):
        return [_reshape(xs[0], lead, nnx[0])]

    def inverse(self, ys, lead, haiku):
        return [_reshape(ys[0], lead, haiku[0])]


@dataclasses.dataclass(frozen=True)
class SqueezeLeadingOnes(PureReshape):
    """Haiku norms keep scale and statistics as (1, ..., C); NNX keeps (C,)."""

    def predict(self, haiku, attrs):
        (shape,) = haiku
        return [tuple(shape[-1:]) if shape else ()] if all(d == 1 for d in shape[:-1]) else [
            tuple(shape)]

    def describe(self) -> str:
        return "reshape (1,...,C)->(C,)"


@dataclasses.dataclass(frozen=True)
class Reshape(PureReshape):
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
        return Flatten().predict([haiku[2]], attrs)

    def forward(self, xs, lead, nnx):
        return [_reshape(xs[2], lead, nnx[0])]

    def inverse(self, ys, lead, haiku):
        average = _reshape(ys[0], lead, haiku[2])
        counter = np.full(tuple(average.shape[:lead]) + tuple(haiku[0]), SATURATED_COUNTER,
                          dtype=np.int32)
        return [counter, average.copy(), average]

    def describe(self) -> str:
        return "debiased EMA: keep average"


@dataclasses.dataclass(frozen=True)
class Flatten(PureReshape):
    """Haiku keeps norm scales and NCHW biases broadcastable ((1, 1, C), (C, 1, 1), (H, W));
    NNX keeps one flat feature axis. A scalar stays a scalar."""

    def predict(self, haiku, attrs):
        (shape,) = haiku
        return [(math.prod(shape),) if shape else ()]

    def describe(self) -> str:
        return "flatten"


@dataclasses.dataclass(frozen=True)
class GateBlocks(Op):
    """One fused gate matrix <-> one array per gate (and per input/hidden row block).

    Haiku fuses `parts` gates side by side on the last axis, in its own order; NNX cells keep
    one layer per gate. `order[k]` is the Haiku block that becomes NNX gate k. With
    `split_rows`, the rows are [input; hidden] (hidden rows = columns / parts) and NNX gets all
    input-row gates first, then all hidden-row gates.
    """

    parts: int
    order: tuple[int, ...]
    split_rows: bool = False

    def predict(self, haiku, attrs):
        (shape,) = haiku
        hidden = shape[-1] // self.parts
        if not self.split_rows:
            return [tuple(shape[:-1]) + (hidden,)] * self.parts
        inputs = shape[-2] - hidden
        return [(inputs, hidden)] * self.parts + [(hidden, hidden)] * self.parts

    def forward(self, xs, lead, nnx):
        x = xs[0]
        rows = np.split(x, [x.shape[-2] - x.shape[-1] // self.parts], axis=-2) \
            if self.split_rows else [x]
        out = []
        for block in rows:
            gates = np.split(block, self.parts, axis=-1)
            out.extend(gates[k] for k in self.order)
        return out

    def inverse(self, ys, lead, haiku):
        blocks = [ys[i: i + self.parts] for i in range(0, len(ys), self.parts)]
        rows = []
        for gates in blocks:
            fused = [None] * self.parts
            for k, source in enumerate(self.order):
                fused[source] = gates[k]
            rows.append(np.concatenate(fused, axis=-1))
        return [np.concatenate(rows, axis=-2) if self.split_rows else rows[0]]

    def describe(self) -> str:
        rows = ", rows [input; hidden]" if self.split_rows else ""
        return f"split {self.parts} gates, order {self.order}{rows}"


@dataclasses.dataclass(frozen=True)
class Sum(Op):
    """Several Haiku biases added at call time <-> the one NNX bias that is their sum.

    Inverse puts the sum in the first and zeros in the others: the same function; the port
    keeps the originals as residual so the way back can be bit-exact.
    """

    def predict(self, haiku, attrs):
        return [tuple(haiku[0])]

    def forward(self, xs, lead, nnx):
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return [np.asarray(total, dtype=np.asarray(xs[0]).dtype)]

    def inverse(self, ys, lead, haiku):
        y = np.asarray(ys[0])
        lead_shape = tuple(y.shape[:lead])
        return [_reshape(y, lead, haiku[0])] + [
            np.zeros(lead_shape + tuple(shape), dtype=y.dtype) for shape in haiku[1:]]

    def describe(self) -> str:
        return "sum of biases"


# decay**counter underflows to 0 in float32 for any decay <= 1 - 1e-6 at this count.
SATURATED_COUNTER = 2**30
assert 0.999999 ** SATURATED_COUNTER < math.ulp(1.0) / 4
